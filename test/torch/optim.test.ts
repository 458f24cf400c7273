// Optimizers against PyTorch: AdamW and SGD over several steps (fixtures from tools/make_optim_fixtures.py),
// AdamW's state-dict round trip, and gradient clipping by total norm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { assertClose, REPO_ROOT } from '../helpers/assert.js';

interface StepFixture {
  optimizer: string;
  options: Record<string, unknown>;
  params: { shape: number[]; init: number[] }[];
  steps: { grads: (number[] | null)[]; params_after: number[][] }[];
  state_after: (Record<string, number | number[] | null> | null)[];
}
const load = <T>(name: string): T => JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'optim', `${name}.json`), 'utf8')) as T;

function makeParams(fx: StepFixture): Tensor[] {
  return fx.params.map((p) => t.keep(t.tensor(p.init, p.shape, { requiresGrad: true })));
}
function setGrads(params: Tensor[], grads: (number[] | null)[]): void {
  t.tidy(() =>
    params.forEach((p, i) => {
      p.grad = grads[i] ? t.tensor(grads[i]!, p.shape) : null;
    }),
  );
}
// float32 through the same op sequence as PyTorch: agreement to float32 rounding.
const TOL = 2e-7;

function adamwOptions(fx: StepFixture): t.AdamWOptions {
  const o = fx.options as { lr: number; betas: [number, number]; eps: number; weight_decay: number };
  return { lr: o.lr, betas: o.betas, eps: o.eps, weightDecay: o.weight_decay };
}

for (const name of ['adamw_default', 'adamw_custom']) {
  test(`AdamW matches torch.optim.AdamW step by step (${name}), including skipped gradients and the final state`, () => {
    const before = t.liveTensorCount();
    const fx = load<StepFixture>(name);
    const params = makeParams(fx);
    const opt = new t.AdamW(params, adamwOptions(fx));
    fx.steps.forEach((s, k) => {
      setGrads(params, s.grads);
      opt.step();
      params.forEach((p, i) => {
        assertClose(p, s.params_after[i]!, TOL, TOL, `step ${k + 1} param ${i}`);
      });
    });
    const sd = opt.stateDict();
    fx.state_after.forEach((st, i) => {
      const mine = sd.state.get(i)!;
      assert.equal(mine.step, st!.step, `param ${i} step count`);
      assertClose(mine.exp_avg, st!.exp_avg as number[], TOL, TOL, `exp_avg ${i}`);
      assertClose(mine.exp_avg_sq, st!.exp_avg_sq as number[], TOL, TOL, `exp_avg_sq ${i}`);
    });
    assert.deepEqual(sd.param_groups[0]!.params, [0, 1]);
    opt.dispose();
    params.forEach((p) => {
      p.dispose();
    });
    assert.equal(t.liveTensorCount(), before);
  });
}

test('AdamW state dict round trip: a fresh optimizer loaded mid-run continues identically', () => {
  const fx = load<StepFixture>('adamw_default');
  const a = makeParams(fx);
  const optA = new t.AdamW(a, adamwOptions(fx));
  const k0 = 3; // the second parameter has no gradient at step 3, so its step count lags
  for (let k = 0; k < k0; k++) {
    setGrads(a, fx.steps[k]!.grads);
    optA.step();
  }
  const sd = optA.stateDict();
  assert.deepEqual([...sd.state.keys()], [0, 1]);
  assert.deepEqual([sd.state.get(0)!.step, sd.state.get(1)!.step], [3, 2]);
  const b = a.map((p) => t.keep(t.noGrad(() => p.clone())));
  b.forEach((p) => {
    p.requiresGrad = true;
  });
  const optB = new t.AdamW(b, { ...adamwOptions(fx), lr: 0.5 });
  optB.loadStateDict(sd);
  assert.equal(optB.lr, fx.options.lr as number, 'the learning rate comes from the state dict');
  for (let k = k0; k < fx.steps.length; k++) {
    setGrads(a, fx.steps[k]!.grads);
    setGrads(b, fx.steps[k]!.grads);
    optA.step();
    optB.step();
    b.forEach((p, i) => {
      assert.deepEqual(p.toArray(), a[i]!.toArray(), `step ${k + 1} param ${i}: bit-identical`);
      assertClose(p, fx.steps[k]!.params_after[i]!, TOL, TOL);
    });
  }
  // loading a state for a different parameter list fails clearly
  const one = [t.keep(t.zeros([3], { requiresGrad: true }))];
  const wrongCount = new t.AdamW(one);
  assert.throws(() => wrongCount.loadStateDict(optA.stateDict()), /AdamW\.loadStateDict: the saved state has 2 parameters, this optimizer 1/);
  const two = [t.keep(t.zeros([3], { requiresGrad: true })), t.keep(t.zeros([3], { requiresGrad: true }))];
  const wrongShape = new t.AdamW(two);
  const sdA = optA.stateDict();
  assert.throws(() => wrongShape.loadStateDict(sdA), /AdamW\.loadStateDict: state of parameter 0 has shape \[2,3\], parameter \[3\]/);
  // an empty state resets
  optB.loadStateDict({ state: new Map(), param_groups: sdA.param_groups });
  assert.equal(optB.stateDict().state.size, 0);
  for (const o of [optA, optB, wrongCount, wrongShape]) o.dispose();
  for (const p of [...a, ...b, ...one, ...two]) p.dispose();
  assert.throws(() => new t.AdamW([], { lr: -1 }), /AdamW: invalid learning rate -1/);
  assert.throws(() => new t.AdamW([], { betas: [0.9, 1] }), /AdamW: betas must be in \[0, 1\)/);
});

for (const name of ['sgd_plain', 'sgd_momentum', 'sgd_nesterov']) {
  test(`SGD matches torch.optim.SGD step by step (${name})`, () => {
    const before = t.liveTensorCount();
    const fx = load<StepFixture>(name);
    const params = makeParams(fx);
    const o = fx.options as { lr: number; momentum?: number; dampening?: number; weight_decay?: number; nesterov?: boolean };
    const opt = new t.SGD(params, { lr: o.lr, momentum: o.momentum, dampening: o.dampening, weightDecay: o.weight_decay, nesterov: o.nesterov });
    fx.steps.forEach((s, k) => {
      setGrads(params, s.grads);
      opt.step();
      params.forEach((p, i) => {
        assertClose(p, s.params_after[i]!, TOL, TOL, `step ${k + 1} param ${i}`);
      });
    });
    const bufs = opt.momentumBuffers();
    fx.state_after.forEach((st, i) => {
      const want = st?.momentum_buffer ?? null;
      if (want === null) assert.equal(bufs[i], null, `param ${i}: no momentum buffer`);
      else assertClose(bufs[i]!, want as number[], TOL, TOL, `momentum buffer ${i}`);
    });
    opt.dispose();
    params.forEach((p) => {
      p.dispose();
    });
    assert.equal(t.liveTensorCount(), before);
  });
}

test('SGD option checks', () => {
  assert.throws(() => new t.SGD([], { lr: 0.1, nesterov: true }), /SGD: nesterov needs momentum > 0 and dampening 0/);
  assert.throws(() => new t.SGD([], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }), /nesterov/);
});

interface ClipFixture {
  cases: { max_norm: number; norm_type: number | 'inf'; shapes: number[][]; grads: number[][]; total_norm: number; clipped: number[][] }[];
}

test('clipGradNorm matches torch.nn.utils.clip_grad_norm_ (2-, 1-, 3- and inf-norms, clipping and not)', () => {
  const fx = load<ClipFixture>('clip_grad_norm');
  t.tidy(() => {
    for (const c of fx.cases) {
      const params = c.shapes.map((s) => t.zeros(s, { requiresGrad: true }));
      setGrads(params, c.grads);
      const normType = c.norm_type === 'inf' ? Infinity : c.norm_type;
      const total = t.clipGradNorm(params, c.max_norm, normType);
      assertClose([total], [c.total_norm], 1e-6, 1e-6, `total ${c.norm_type}-norm`);
      params.forEach((p, i) => {
        assertClose(p.grad!, c.clipped[i]!, TOL, TOL, `clipped grad ${i} (${c.norm_type}-norm, max ${c.max_norm})`);
      });
    }
    assert.ok(fx.cases.some((c) => c.total_norm > c.max_norm) && fx.cases.some((c) => c.total_norm < c.max_norm), 'both branches covered');
    // parameters without gradients are ignored; none at all gives 0
    const p = t.zeros([2], { requiresGrad: true });
    const q = t.zeros([2], { requiresGrad: true });
    q.grad = t.tensor([3, 4]);
    assert.equal(t.clipGradNorm([p, q], 1), 5);
    assertClose(q.grad!, [0.6, 0.8], 1e-6);
    assert.equal(p.grad, null);
    assert.equal(t.clipGradNorm([p], 1), 0);
    // a NaN gradient gives a NaN norm (as PyTorch with error_if_nonfinite=False)
    q.grad = t.tensor([NaN, 1]);
    assert.ok(Number.isNaN(t.clipGradNorm([q], 1)));
  });
});
