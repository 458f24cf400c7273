// RNN-T loss: loss and gradient parity with torchaudio's rnnt_loss and NeMo's FastEmit reference
// (test/fixtures/rnnt), both gradient routes (closed-form beta pass and autograd), hand-computed lattices, uneven
// lengths, input checks and tensor leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { readNpy } from '../../src/torch/serialize/npy.js';
import { rnntLattice, rnntLoss, type RnntLossOptions, type RnntReduction } from '../../src/asr/index.js';
import { REPO_ROOT, compare } from '../helpers/assert.js';

const DIR = join(REPO_ROOT, 'test', 'fixtures', 'rnnt');

interface RnntCase {
  id: string;
  source: string;
  shape: [number, number, number, number];
  targets: number[];
  logit_lengths: number[];
  target_lengths: number[];
  blank: number;
  clamp: number;
  reduction: RnntReduction;
  fastemit_lambda: number;
  loss: number[];
}

const CASES = (JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as { cases: RnntCase[] }).cases;

function inputs(c: RnntCase): { logits: Tensor; targets: Tensor; tl: Tensor; ul: Tensor } {
  const [b, , u1] = c.shape;
  const logits = readNpy(join(DIR, `${c.id}.logits.npy`));
  logits.requiresGrad = true;
  return {
    logits,
    targets: t.tensor(Int32Array.from(c.targets), [b, u1 - 1]),
    tl: t.tensor(Int32Array.from(c.logit_lengths), [b]),
    ul: t.tensor(Int32Array.from(c.target_lengths), [b]),
  };
}

/** Loss and gradient of one fixture case by one gradient route; the largest errors against the fixture. */
function runCase(c: RnntCase, gradient: 'beta' | 'autograd'): { lossRel: number; gradAbs: number; gradScale: number } {
  return t.tidy(() => {
    const { logits, targets, tl, ul } = inputs(c);
    const o: RnntLossOptions = { blank: c.blank, clamp: c.clamp, reduction: c.reduction, fastemitLambda: c.fastemit_lambda, gradient };
    const loss = rnntLoss(logits, targets, tl, ul, o);
    (c.reduction === 'none' ? loss.sum() : loss).backward();
    const want = readNpy(join(DIR, `${c.id}.grad.npy`));
    const g = logits.grad!;
    assert.deepEqual(g.shape, c.shape);
    const l = compare(loss.reshape([-1]), c.loss);
    return { lossRel: l.maxRel, gradAbs: compare(g, want).maxAbs, gradScale: want.abs().max().item() };
  });
}

for (const gradient of ['beta', 'autograd'] as const) {
  test(`rnntLoss (${gradient}): loss and gradient equal the fixtures (torchaudio; NeMo for FastEmit)`, () => {
    const before = t.liveTensorCount();
    for (const c of CASES) {
      const r = runCase(c, gradient);
      assert.ok(r.lossRel < 1e-5, `${c.id}: loss relative error ${r.lossRel}`);
      // float32 reference kernels: absolute error relative to the largest gradient entry
      assert.ok(r.gradAbs <= 2e-5 * Math.max(1, r.gradScale), `${c.id}: gradient max abs error ${r.gradAbs} (scale ${r.gradScale})`);
    }
    assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
  });
}

test('rnntLoss: T=1, U=0 is -log p(blank); T=2, U=1 sums the two alignments (by hand)', () => {
  const before = t.liveTensorCount();
  t.tidy(() => {
    // T=1, U=0: the only path emits blank at (0, 0)
    const one = t.tensor([0.3, -1.2, 2.0], [1, 1, 1, 3]);
    const lp1 = t.logSoftmax(one, -1).toArray();
    const l1 = rnntLoss(one, t.zeros([1, 0], { dtype: 'int64' }), t.tensor([1], [1], { dtype: 'int64' }), t.tensor([0], [1], { dtype: 'int64' }), {
      reduction: 'none',
    });
    assert.ok(Math.abs(l1.item() + lp1[2]!) < 1e-6, `${l1.item()} vs ${-lp1[2]!}`);
    // T=2, U=1, label 1, blank 2: P = e(0,0) b(0,1) b(1,1) + b(0,0) e(1,0) b(1,1)
    const x = t.randn([1, 2, 2, 3], { generator: new t.Generator(4), dtype: 'float64' });
    const p = t.softmax(x, -1).toArray();
    const at = (tt: number, u: number, k: number): number => p[(tt * 2 + u) * 3 + k]!;
    const prob = at(0, 0, 1) * at(0, 1, 2) * at(1, 1, 2) + at(0, 0, 2) * at(1, 0, 1) * at(1, 1, 2);
    const y = t.tensor([1], [1, 1], { dtype: 'int64' });
    const tl = t.tensor([2], [1], { dtype: 'int64' });
    const ul = t.tensor([1], [1], { dtype: 'int64' });
    const l2 = rnntLoss(x, y, tl, ul, { reduction: 'none' });
    assert.equal(l2.dtype, 'float64');
    assert.ok(Math.abs(l2.item() + Math.log(prob)) < 1e-12, `${l2.item()} vs ${-Math.log(prob)}`);
    // alpha by hand: alpha(0,1) = log e(0,0), alpha(1,0) = log b(0,0), alpha(1,1) = log(e(0,0) b(0,1) + b(0,0) e(1,0))
    const lat = rnntLattice(x, y, tl, ul);
    const alpha = lat.alpha.toArray();
    const want = [0, Math.log(at(0, 0, 1)), Math.log(at(0, 0, 2)), Math.log(at(0, 0, 1) * at(0, 1, 2) + at(0, 0, 2) * at(1, 0, 1))];
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(alpha[i]! - want[i]!) < 1e-12, `alpha[${i}] ${alpha[i]} vs ${want[i]}`);
    assert.ok(Math.abs(lat.logLikelihood.item() - Math.log(prob)) < 1e-12);
    // the gradient of -log P w.r.t. the logits is (by finite differences) what rnntLoss hands to autograd
    const xg = x.clone();
    xg.requiresGrad = true;
    rnntLoss(xg, y, tl, ul, { reduction: 'sum' }).backward();
    const g = xg.grad!.toArray();
    const base = x.toArray();
    for (const i of [0, 4, 7, 11]) {
      const eps = 1e-6;
      const bumped = base.slice();
      bumped[i]! += eps;
      const lp = rnntLoss(t.tensor(Float64Array.from(bumped), [1, 2, 2, 3]), y, tl, ul, { reduction: 'sum' }).item();
      assert.ok(Math.abs((lp - l2.item()) / eps - g[i]!) < 1e-5, `d/dx[${i}]: ${(lp - l2.item()) / eps} vs ${g[i]}`);
    }
  });
  assert.equal(t.liveTensorCount(), before);
});

test('rnntLoss: an utterance in a padded batch costs what it costs alone; padding gets no gradient', () => {
  const before = t.liveTensorCount();
  t.tidy(() => {
    const g = new t.Generator(11);
    const logits = t.randn([3, 7, 5, 6], { generator: g });
    logits.requiresGrad = true;
    const targets = t.tensor([1, 2, 3, 4, 2, 0, 0, 0, 3, 1, 9, 9], [3, 4], { dtype: 'int64' }); // padding 0 and 9 (never read)
    const tl = t.tensor([7, 4, 2], [3], { dtype: 'int64' });
    const ul = t.tensor([4, 1, 2], [3], { dtype: 'int64' });
    const costs = rnntLoss(logits, targets, tl, ul, { reduction: 'none', blank: 5 });
    costs.sum().backward();
    const grad = logits.grad!;
    const shapes = [
      [7, 4],
      [4, 1],
      [2, 2],
    ] as const;
    shapes.forEach(([T, U], b) => {
      const alone = t.narrow(t.narrow(t.narrow(logits.detach(), 0, b, 1), 1, 0, T), 2, 0, U + 1).contiguous();
      alone.requiresGrad = true;
      const y = t.narrow(t.narrow(targets, 0, b, 1), 1, 0, U).contiguous();
      const c = rnntLoss(alone, y, t.tensor([T], [1], { dtype: 'int64' }), t.tensor([U], [1], { dtype: 'int64' }), { reduction: 'sum', blank: 5 });
      c.backward();
      assert.ok(Math.abs(c.item() - costs.toArray()[b]!) < 1e-5 * c.item(), `utterance ${b}`);
      const gb = t.narrow(grad, 0, b, 1);
      const inside = t.narrow(t.narrow(gb, 1, 0, T), 2, 0, U + 1);
      assert.ok(compare(inside, alone.grad!).maxAbs < 1e-6, `utterance ${b} gradient`);
      const outside = gb.clone();
      t.narrow(t.narrow(outside, 1, 0, T), 2, 0, U + 1).zero_();
      assert.equal(outside.abs().max().item(), 0, `utterance ${b}: gradient outside its lattice`);
    });
    // no gradient requested: same value, nothing recorded
    const plain = rnntLoss(logits.detach(), targets, tl, ul, { reduction: 'none', blank: 5 });
    assert.equal(plain.requiresGrad, false);
    assert.ok(compare(plain, costs.detach()).maxAbs === 0);
  });
  assert.equal(t.liveTensorCount(), before);
});

test('rnntLoss: fusedLogSoftmax false takes log-probabilities and differentiates w.r.t. them', () => {
  t.tidy(() => {
    const x = t.randn([2, 3, 3, 4], { generator: new t.Generator(2) });
    const y = t.tensor([0, 1, 2, 0], [2, 2], { dtype: 'int64' });
    const tl = t.tensor([3, 2], [2], { dtype: 'int64' });
    const ul = t.tensor([2, 1], [2], { dtype: 'int64' });
    const lp = t.logSoftmax(x, -1).detach();
    lp.requiresGrad = true;
    const a = rnntLoss(lp, y, tl, ul, { fusedLogSoftmax: false });
    a.backward();
    const lpAuto = lp.detach();
    lpAuto.requiresGrad = true;
    rnntLoss(lpAuto, y, tl, ul, { fusedLogSoftmax: false, gradient: 'autograd' }).backward();
    assert.ok(Math.abs(a.item() - rnntLoss(x, y, tl, ul).item()) < 1e-5);
    assert.ok(compare(lp.grad!, lpAuto.grad!).maxAbs < 1e-6);
    // only the blank and the next label get gradient: at most 2 non-zeros per lattice node
    assert.ok(t.all(lp.grad!.ne(0).sum(-1).le(2)).item() === 1);
  });
});

test('rnntLoss: bad input is refused with a message naming it', () => {
  t.tidy(() => {
    const x = t.zeros([1, 2, 3, 4]);
    const y = t.tensor([1, 2], [1, 2], { dtype: 'int64' });
    const len = (v: number): Tensor => t.tensor([v], [1], { dtype: 'int64' });
    assert.throws(() => rnntLoss(t.zeros([2, 3, 4]), y, len(2), len(2)), /logits must be \[B, T, U\+1, V\]/);
    assert.throws(() => rnntLoss(x, t.tensor([1], [1, 1], { dtype: 'int64' }), len(2), len(1)), /targets must be \[B, U\] = \[1, 2\]/);
    assert.throws(() => rnntLoss(x, y, len(0), len(2)), /logitLengths\[0\] = 0 is outside \[1, 2\]/);
    assert.throws(() => rnntLoss(x, y, len(2), len(3)), /targetLengths\[0\] = 3 is outside \[0, 2\]/);
    assert.throws(() => rnntLoss(x, t.tensor([1, 3], [1, 2], { dtype: 'int64' }), len(2), len(2)), /targets\[0\]\[1\] = 3 is the blank/);
    assert.throws(() => rnntLoss(x, t.tensor([7, 1], [1, 2], { dtype: 'int64' }), len(2), len(2)), /targets\[0\]\[0\] = 7 is outside \[0, 4\)/);
    assert.throws(() => rnntLoss(x, y, len(2), len(2), { blank: 4 }), /blank 4 is out of range/);
    assert.throws(() => rnntLoss(x, y, len(2), len(2), { reduction: 'mean_batch' as RnntReduction }), /reduction must be/);
    assert.throws(() => rnntLoss(x, y, len(2), len(2), { fastemitLambda: -1 }), /fastemitLambda must be >= 0/);
  });
});
