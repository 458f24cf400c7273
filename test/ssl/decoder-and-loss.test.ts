// MultiSoftmaxDecoder and MultiMLMLoss: seeded init and log-prob parity, loss parity, selection rule, empty batches, causal alignment, gradients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { readNpy } from '../../src/torch/serialize/npy.js';
import { MultiSoftmaxDecoder } from '../../src/ssl/multi-softmax-decoder.js';
import { MultiMLMLoss } from '../../src/ssl/mlm-loss.js';
import { GOLDEN, assertClose } from '../helpers/assert.js';

const scoped = (fn: () => void) => () => {
  const before = t.liveTensorCount();
  t.tidy(fn);
  assert.equal(t.liveTensorCount(), before, 'the test leaked tensors');
};

const SSL = join(GOLDEN, 'ssl');

const DECODERS = [
  { name: 'decoder_64x2', C: 64, H: 2, squeeze: false, seed: 32, shape: [2, 9, 64, 2] },
  { name: 'decoder_256x1_squeeze', C: 256, H: 1, squeeze: true, seed: 33, shape: [2, 9, 256] },
];

for (const d of DECODERS) {
  test(
    `golden ssl/${d.name}: weights from torch.manual_seed(${d.seed}), log-probs at 1e-5`,
    scoped(() => {
      const dec = new MultiSoftmaxDecoder(
        { featIn: 64, numClasses: d.C, numDecoders: d.H, useBias: true, squeezeSingle: d.squeeze, initMode: 'xavier_uniform' },
        { generator: new t.Generator(d.seed) },
      );
      try {
        assert.deepEqual([...dec.stateDict().keys()], ['decoder_layers.0.weight', 'decoder_layers.0.bias']);
        assert.deepEqual(dec.stateDict().get('decoder_layers.0.weight')!.toArray(), readNpy(join(SSL, d.name, 'weight.npy')).toArray());
        assert.deepEqual(dec.stateDict().get('decoder_layers.0.bias')!.toArray(), readNpy(join(SSL, d.name, 'bias.npy')).toArray());
        const out = dec.forward(readNpy(join(SSL, 'decoder_input_encoder_output.npy'))); // (2, 64, 9) in
        assert.deepEqual(out.shape, d.shape);
        assertClose(out, readNpy(join(SSL, d.name, 'logprobs.npy')), 1e-5, 1e-5, 'logprobs');
      } finally {
        dec.dispose();
      }
    }),
  );
}

test(
  'decoder channel layout: channel o = c*H + h (class-major, book-minor), log_softmax over classes',
  scoped(() => {
    const dec = new MultiSoftmaxDecoder({ featIn: 3, numClasses: 4, numDecoders: 2, useBias: true }, { generator: new t.Generator(0) });
    try {
      const x = t.randn([1, 3, 2], { generator: new t.Generator(1) });
      const out = dec.forward(x); // (1, 2, 4, 2)
      const w = dec.decoderLayers.conv.weight.toArray(); // (8, 3, 1)
      const b = dec.decoderLayers.conv.bias!.toArray();
      const xv = x.toArray();
      const o = out.toArray();
      for (let tt = 0; tt < 2; tt++) {
        for (let h = 0; h < 2; h++) {
          const logits = [0, 1, 2, 3].map((c) => b[c * 2 + h]! + [0, 1, 2].reduce((s, j) => s + w[(c * 2 + h) * 3 + j]! * xv[j * 2 + tt]!, 0));
          const lse = Math.log(logits.reduce((s, v) => s + Math.exp(v), 0));
          for (let c = 0; c < 4; c++) assert.ok(Math.abs(o[(tt * 4 + c) * 2 + h]! - (logits[c]! - lse)) < 1e-5);
        }
      }
      const noBias = new MultiSoftmaxDecoder({ featIn: 3, numClasses: 4 });
      assert.equal(noBias.decoderLayers.conv.bias, null, "NeMo's class default use_bias=false");
      noBias.dispose();
    } finally {
      dec.dispose();
    }
  }),
);

test(
  'golden ssl/mlm_loss_2dec and ssl/mlm_loss_squeeze: loss at 1e-5 (targets right-padded with 0)',
  scoped(() => {
    const masks = readNpy(join(SSL, 'mlm_masks.npy')); // (2, 80, 72)
    const l2 = new MultiMLMLoss({ combineTimeSteps: 8, maskThreshold: 0.8, numDecoders: 2, squeezeSingle: false });
    const loss2 = l2.forward(masks, readNpy(join(SSL, 'decoder_64x2', 'logprobs.npy')), readNpy(join(SSL, 'mlm_loss_2dec', 'targets.npy')));
    assert.deepEqual(loss2.shape, []);
    assertClose([loss2.item()], readNpy(join(SSL, 'mlm_loss_2dec', 'loss.npy')).toArray(), 1e-5, 1e-5, 'loss 2dec');
    const l1 = new MultiMLMLoss({ combineTimeSteps: 8, maskThreshold: 0.8, numDecoders: 1, squeezeSingle: true });
    const loss1 = l1.forward(masks, readNpy(join(SSL, 'decoder_256x1_squeeze', 'logprobs.npy')), readNpy(join(SSL, 'mlm_loss_squeeze', 'targets.npy')));
    assertClose([loss1.item()], readNpy(join(SSL, 'mlm_loss_squeeze', 'loss.npy')).toArray(), 1e-5, 1e-5, 'loss squeeze');
    // masked frames per group [[8,7,6,0,8,8,1,7,0],[0,8,8,8,6,7,0,0,5]]: >= 7 of 8 selected (7/8 > 0.8 >= 6/8);
    // batch 1 group 6 has 40 of 80 rows masked (mean 0.5): not selected
    assert.deepEqual(l2.selectedGroups(masks).toArray(), [1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0]);
  }),
);

test(
  'loss = mean NLL over all selected positions, averaged over decoders; gradient -1/(N H) at the targets',
  scoped(() => {
    const B = 2,
      G = 3,
      C = 5,
      H = 2,
      c = 2,
      D = 3;
    const logits = t.randn([B, G, C, H], { generator: new t.Generator(3) });
    const logp = t.logSoftmax(logits, 2).detach();
    logp.requiresGrad = true;
    const targets = t.tensor([0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1], [B, G, H], { dtype: 'int64' });
    const sel = [
      [1, 0, 1],
      [0, 0, 1],
    ];
    const mbt = new Float32Array(B * G * c);
    sel.forEach((row, b) => {
      row.forEach((s, g) => {
        if (s) mbt[b * G * c + g * c] = mbt[b * G * c + g * c + 1] = 1;
      });
    });
    const masks = t
      .tensor(mbt, [B, 1, G * c])
      .expand([B, D, G * c])
      .contiguous();
    const loss = new MultiMLMLoss({ combineTimeSteps: c, numDecoders: H }).forward(masks, logp, targets);
    const lp = logp.toArray();
    const tg = targets.toArray();
    let expect = 0;
    const N = 3;
    for (let h = 0; h < H; h++) {
      let s = 0;
      sel.forEach((row, b) => {
        row.forEach((on, g) => {
          if (on) s -= lp[((b * G + g) * C + tg[(b * G + g) * H + h]!) * H + h]!;
        });
      });
      expect += s / N;
    }
    assert.ok(Math.abs(loss.item() - expect / H) < 1e-6);
    loss.backward();
    const gr = logp.grad!.toArray();
    gr.forEach((v, i) => {
      const h = i % H;
      const cc = Math.floor(i / H) % C;
      const bg = Math.floor(i / (H * C));
      const on = sel[Math.floor(bg / G)]![bg % G] === 1 && tg[bg * H + h] === cc;
      assert.ok(Math.abs(v - (on ? -1 / (N * H) : 0)) < 1e-7, `grad[${i}] = ${v}`);
    });
  }),
);

test(
  'no selected position: NaN as NeMo (onEmpty nan), or 0 with zero gradients (onEmpty zero)',
  scoped(() => {
    const masks = t.zeros([1, 2, 8]);
    const logp = t.logSoftmax(t.randn([1, 4, 3], { generator: new t.Generator(0) }), 2).detach();
    logp.requiresGrad = true;
    const targets = t.zeros([1, 4], { dtype: 'int64' });
    const nan = new MultiMLMLoss({ combineTimeSteps: 2, squeezeSingle: true }).forward(masks, logp, targets);
    assert.ok(Number.isNaN(nan.item()));
    const zero = new MultiMLMLoss({ combineTimeSteps: 2, squeezeSingle: true, onEmpty: 'zero' }).forward(masks, logp, targets);
    assert.equal(zero.item(), 0);
    zero.backward();
    assert.ok(logp.grad!.toArray().every((v) => v === 0));
  }),
);

test(
  'causal downsampling: the extra trailing encoder frame is dropped (frame k <-> group k); without the flag a clear error',
  scoped(() => {
    const masks = t.ones([2, 4, 16]); // 2 groups of 8, all selected
    const logp = t.logSoftmax(t.randn([2, 3, 5], { generator: new t.Generator(2) }), 2); // T' = G + 1
    const targets = t.tensor([1, 2, 3, 4], [2, 2], { dtype: 'int64' });
    const causal = new MultiMLMLoss({ combineTimeSteps: 8, squeezeSingle: true, causalDownsampling: true });
    const plain = new MultiMLMLoss({ combineTimeSteps: 8, squeezeSingle: true });
    const a = causal.forward(masks, logp, targets).item();
    const b = plain.forward(masks, logp.narrow(1, 0, 2), targets).item();
    assert.equal(a, b);
    assert.throws(() => plain.forward(masks, logp, targets), /3 frames but the masks have 2 token groups.*causalDownsampling: true/);
    assert.throws(() => causal.forward(masks, logp.narrow(1, 0, 2), targets), /expected 3/);
    assert.throws(() => plain.forward(t.ones([2, 4, 12]), logp, targets), /12 mask frames are not divisible by combine_time_steps 8/);
  }),
);

test(
  "target_alignment 'whole_group': frame k + 1 scores group k (frame 0 dropped); 'first_frames' keeps frames 0..G-1",
  scoped(() => {
    const masks = t.ones([2, 4, 16]); // 2 groups of 8, all selected
    const logp = t.logSoftmax(t.randn([2, 3, 5], { generator: new t.Generator(3) }), 2); // T' = G + 1
    const targets = t.tensor([1, 2, 3, 4], [2, 2], { dtype: 'int64' });
    const plain = new MultiMLMLoss({ combineTimeSteps: 8, squeezeSingle: true });
    const whole = new MultiMLMLoss({ combineTimeSteps: 8, squeezeSingle: true, causalDownsampling: true, alignment: 'whole_group' });
    const first = new MultiMLMLoss({ combineTimeSteps: 8, squeezeSingle: true, causalDownsampling: true, alignment: 'first_frames' });
    assert.equal(whole.forward(masks, logp, targets).item(), plain.forward(masks, logp.narrow(1, 1, 2), targets).item());
    assert.equal(first.forward(masks, logp, targets).item(), plain.forward(masks, logp.narrow(1, 0, 2), targets).item());
    assert.notEqual(whole.forward(masks, logp, targets).item(), first.forward(masks, logp, targets).item());
    // without causal downsampling there is no extra frame, and the alignment changes nothing
    const noCausal = new MultiMLMLoss({ combineTimeSteps: 8, squeezeSingle: true, alignment: 'whole_group' });
    assert.equal(noCausal.forward(masks, logp.narrow(1, 0, 2), targets).item(), plain.forward(masks, logp.narrow(1, 0, 2), targets).item());
    assert.throws(() => new MultiMLMLoss({ alignment: 'middle' as never }), /alignment must be 'first_frames' or 'whole_group'/);
  }),
);
