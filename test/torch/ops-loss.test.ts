// Losses: cross-entropy (weights, label smoothing, ignore_index), NLL, CTC, MSE, L1 — values against JS references
// or numbers from PyTorch, gradients by finite differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { assertClose } from '../helpers/assert.js';
import { gradcheck } from '../helpers/gradcheck.js';

const scoped = (fn: () => void) => () => {
  const before = t.liveTensorCount();
  t.tidy(fn);
  assert.equal(t.liveTensorCount(), before, 'the test leaked tensors');
};
const f64 = (xs: number[], shape?: number[]) => t.tensor(xs, shape, { dtype: 'float64' });
const i64 = (xs: number[], shape?: number[]) => t.tensor(xs, shape, { dtype: 'int64' });

// logits[i] = 2 sin(0.7 i), shape [4, 3]; targets [0, 2, 1, 2]
const LOGITS = Array.from({ length: 12 }, (_, i) => Math.sin(i * 0.7) * 2);
function logSoftmaxRows(xs: number[], c: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < xs.length / c; r++) {
    const row = xs.slice(r * c, r * c + c);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
    out.push(...row.map((v) => v - lse));
  }
  return out;
}

test(
  'crossEntropy: per-sample values are -log softmax[target]; mean and sum reductions',
  scoped(() => {
    const lg = f64(LOGITS, [4, 3]);
    const tgt = i64([0, 2, 1, 2]);
    const ls = logSoftmaxRows(LOGITS, 3);
    const per = [0, 2, 1, 2].map((c, n) => -ls[n * 3 + c]!);
    // F.cross_entropy(lg, tgt, reduction='none') in torch 1.13
    const torchNone = [2.4684584650011856, 2.7897804552432692, 1.4508638422506996, 0.5061827910469004];
    assertClose(per, torchNone, 1e-14, 0, 'JS reference agrees with PyTorch');
    assertClose(t.crossEntropy(lg, tgt, { reduction: 'none' }), torchNone, 1e-14);
    assertClose([t.crossEntropy(lg, tgt).item()], [per.reduce((a, b) => a + b) / 4], 1e-14);
    assertClose([t.crossEntropy(lg, tgt, { reduction: 'sum' }).item()], [per.reduce((a, b) => a + b)], 1e-14);
    assert.deepEqual(t.crossEntropy(lg, tgt).shape, []);
    // [N, C, T] layout: classes in dim 1
    const lg3 = lg.reshape([2, 2, 3]).permute([0, 2, 1]); // [N=2, C=3, T=2]
    assertClose(t.crossEntropy(lg3, i64([0, 2, 1, 2], [2, 2]), { reduction: 'none' }), [torchNone[0]!, torchNone[1]!, torchNone[2]!, torchNone[3]!], 1e-14);
    gradcheck((x) => t.crossEntropy(x, tgt), [lg], { name: 'cross_entropy' });
    gradcheck((x) => t.crossEntropy(x, i64([0, 2, 1, 2], [2, 2])), [lg3.contiguous()], { name: 'cross_entropy [N, C, T]' });
  }),
);

test(
  'crossEntropy: class weights, label smoothing, ignore_index (numbers from PyTorch 1.13)',
  scoped(() => {
    const lg = f64(LOGITS, [4, 3]);
    const tgt = i64([0, 2, 1, 2]);
    const w = f64([1, 2, 0.5]);
    assertClose([t.crossEntropy(lg, tgt, { weight: w }).item()], [1.7545419431619176], 1e-14, 0, 'weighted mean divides by the summed weights');
    assertClose([t.crossEntropy(lg, tgt, { labelSmoothing: 0.1 }).item()], [1.7590054177884793], 1e-14);
    assertClose([t.crossEntropy(lg, tgt, { weight: w, labelSmoothing: 0.2 }).item()], [1.723876951373593], 1e-14);
    assertClose([t.crossEntropy(lg, i64([0, -100, 1, 2])).item()], [1.4751683660995951], 1e-14, 0, 'ignored rows leave the mean');
    assertClose([t.crossEntropy(lg, i64([0, 1, -100, 2]), { weight: w }).item()], [1.5880072170368784], 1e-14);
    assert.equal(t.crossEntropy(lg, i64([0, 7, 1, 2]), { ignoreIndex: 7, reduction: 'none' }).toArray()[1], 0);
    assert.ok(Number.isNaN(t.crossEntropy(lg, i64([-100, -100, -100, -100])).item()), 'everything ignored: 0/0');
    assertClose([t.crossEntropy(f64([1, NaN, 0], [1, 3]), i64([0])).item()], [NaN], 0, 0, 'NaN logit propagates');
    assert.throws(() => t.crossEntropy(lg, f64([0, 1, 1, 2])), /aten::cross_entropy_loss: expected scalar type Long but found Double/);
    assert.throws(() => t.crossEntropy(lg, i64([0, 3, 1, 2])), /aten::cross_entropy_loss: .*Target 3 is out of bounds/);
    assert.throws(() => t.crossEntropy(lg, tgt, { reduction: 'avg' as never }), /reduction must be 'none', 'mean' or 'sum', got 'avg'/);
    gradcheck((x) => t.crossEntropy(x, i64([0, 1, -100, 2]), { weight: w, labelSmoothing: 0.2 }), [lg], { name: 'cross_entropy weighted smoothed' });
  }),
);

test(
  'nllLoss on log-probabilities; mse and l1',
  scoped(() => {
    const lp = t.logSoftmax(f64(LOGITS, [4, 3]), 1);
    const ls = logSoftmaxRows(LOGITS, 3);
    assertClose(t.nllLoss(lp, i64([0, 2, 1, 2]), { reduction: 'none' }), [-ls[0]!, -ls[5]!, -ls[7]!, -ls[11]!], 1e-14);
    assertClose([t.nllLoss(lp, i64([2, 2, 2, 2]), { reduction: 'sum' }).item()], [-(ls[2]! + ls[5]! + ls[8]! + ls[11]!)], 1e-14);
    assertClose([t.nllLoss(lp, i64([0, 2, 1, 2]), { weight: f64([1, 2, 0.5]) }).item()], [1.7545419431619176], 1e-14, 0, 'same as weighted cross-entropy');
    gradcheck((x) => t.nllLoss(x, i64([1, 0, 2, 2])), [f64(LOGITS, [4, 3])], { name: 'nll_loss' });
    const a = f64([1, 2, 3]);
    const b = f64([1.5, 0, 5]);
    assertClose([t.mseLoss(a, b).item()], [(0.25 + 4 + 4) / 3], 1e-15);
    assertClose(t.mseLoss(a, b, 'none'), [0.25, 4, 4]);
    assertClose([t.l1Loss(a, b, 'sum').item()], [4.5]);
    assert.ok(Number.isNaN(t.mseLoss(t.zeros([0]), t.zeros([0])).item()), 'mean over nothing');
    gradcheck((x, y) => t.mseLoss(x, y), [a, b], { name: 'mse' });
    gradcheck((x, y) => t.l1Loss(x, y), [a, b], { name: 'l1' });
  }),
);

// CTC inputs: raw[i] = 1.5 cos(0.37 i), shape [T=5, N=2, C=4], log-softmax over C.
const CTC_RAW = Array.from({ length: 40 }, (_, i) => Math.cos(i * 0.37) * 1.5);

test(
  'ctcLoss: per-sample negative log-likelihood, reductions, concatenated targets, blank index (PyTorch 1.13 numbers)',
  scoped(() => {
    const lp = t.logSoftmax(f64(CTC_RAW, [5, 2, 4]), 2);
    const tg = i64([1, 2, 0, 3, 3, 1], [2, 3]);
    const il = i64([5, 4]);
    const tl = i64([2, 3]);
    const none = [3.322884944426004, 8.684733793526524];
    assertClose(t.ctcLoss(lp, tg, il, tl, { reduction: 'none' }), none, 1e-12);
    assertClose([t.ctcLoss(lp, tg, il, tl).item()], [2.2781768683609216], 1e-12, 0, "'mean' divides by target lengths, then averages");
    assertClose([(none[0]! / 2 + none[1]! / 3) / 2], [2.2781768683609216], 1e-14);
    assertClose([t.ctcLoss(lp, tg, il, tl, { reduction: 'sum' }).item()], [12.007618737952528], 1e-12);
    assertClose(t.ctcLoss(lp, i64([1, 2, 3, 3, 1]), il, tl, { reduction: 'none' }), none, 1e-12, 0, 'concatenated 1-D targets');
    assertClose(t.ctcLoss(lp, i64([1, 2, 0, 0, 0, 1], [2, 3]), il, tl, { blank: 3, reduction: 'none' }), [3.397149854647557, 4.180299766533548], 1e-12);
    // a brute-force check of sample 0: sum over all T=5 alignments that collapse to [1, 2]
    const lpa = lp.toArray();
    let total = 0;
    const paths = 4 ** 5;
    for (let p = 0; p < paths; p++) {
      const seq: number[] = [];
      let v = p;
      for (let s = 0; s < 5; s++) {
        seq.push(v % 4);
        v = Math.floor(v / 4);
      }
      const collapsed = seq.filter((c, i) => c !== 0 && (i === 0 || c !== seq[i - 1]));
      if (collapsed.length === 2 && collapsed[0] === 1 && collapsed[1] === 2) {
        total += Math.exp(seq.reduce((a, c, s) => a + lpa[(s * 2 + 0) * 4 + c]!, 0));
      }
    }
    assertClose([-Math.log(total)], [none[0]!], 1e-12, 0, 'brute-force alignment sum');
  }),
);

test(
  'ctcLoss: impossible alignments give inf, zeroInfinity gives 0; gradients through log_softmax',
  scoped(() => {
    const lp = t.logSoftmax(f64(CTC_RAW, [5, 2, 4]), 2);
    const tg = i64([1, 2, 0, 3, 3, 1], [2, 3]);
    const tl = i64([2, 3]);
    assertClose(t.ctcLoss(lp, tg, i64([5, 2]), tl, { reduction: 'none' }), [3.322884944426004, Infinity], 1e-12);
    assertClose(t.ctcLoss(lp, tg, i64([5, 2]), tl, { reduction: 'none', zeroInfinity: true }), [3.322884944426004, 0], 1e-12);
    assert.throws(() => t.ctcLoss(lp.float(), tg, i64([6, 4]), tl), /aten::ctc_loss.*Expected input_lengths to have value at most 5, but got value 6/);
    gradcheck((x) => t.ctcLoss(t.logSoftmax(x, 2), tg, i64([5, 4]), tl), [f64(CTC_RAW, [5, 2, 4])], { name: 'ctc_loss mean' });
    gradcheck((x) => t.ctcLoss(t.logSoftmax(x, 2), tg, i64([5, 2]), tl, { reduction: 'sum', zeroInfinity: true }), [f64(CTC_RAW, [5, 2, 4])], {
      name: 'ctc_loss zero_infinity',
    });
  }),
);
