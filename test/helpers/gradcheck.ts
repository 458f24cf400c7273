// A float64 central-difference gradient check, like torch.autograd.gradcheck: the autograd gradient of
// a function of one or more tensors is compared, element by element, with (f(x + eps) - f(x - eps)) / 2eps.
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';

export interface GradcheckOptions {
  /** Finite-difference step (default 1e-6). */
  eps?: number;
  /** Absolute and relative tolerance of |analytic - numeric| (defaults 1e-5 and 1e-3). */
  atol?: number;
  rtol?: number;
  /** Indices of the inputs to differentiate (default: every floating-point input). */
  wrt?: readonly number[];
  /** Seed of the fixed random projection that turns a non-scalar output into a scalar. */
  seed?: number;
  /** Require some gradient element to be non-zero, so that the check is not vacuous (default true). */
  requireNonzero?: boolean;
  /** Name used in failure messages. */
  name?: string;
}

export interface GradcheckResult {
  analytic: Float64Array[];
  numeric: Float64Array[];
}

const FLOATS = new Set(['float32', 'float64', 'float16', 'bfloat16']);

function fresh(x: Tensor, data?: Float64Array): Tensor {
  if (!FLOATS.has(x.dtype)) return x.clone();
  return t.tensor(data ?? Float64Array.from(x.toArray()), x.shape, { dtype: 'float64' });
}

/**
 * Checks autograd against central differences for `fn` over `inputs` (floating inputs are copied to float64;
 * integer inputs are passed through as constants). A non-scalar output y is reduced to sum(y * w) with a fixed
 * N(0, 1) tensor w, so every output element's gradient is tested. Throws an AssertionError naming the input
 * and element where the two disagree.
 */
export function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[], o: GradcheckOptions = {}): GradcheckResult {
  const eps = o.eps ?? 1e-6;
  const atol = o.atol ?? 1e-5;
  const rtol = o.rtol ?? 1e-3;
  const name = o.name ?? 'gradcheck';
  const wrt = o.wrt ?? inputs.map((x, i) => (FLOATS.has(x.dtype) ? i : -1)).filter((i) => i >= 0);
  assert.ok(wrt.length > 0, `${name}: no floating-point input to differentiate`);
  return t.tidy(() => {
    let weight: Tensor | null = null;
    const reduce = (y: Tensor): Tensor => {
      assert.equal(y.dtype, 'float64', `${name}: the output is ${y.dtype}; gradcheck needs float64 end to end`);
      if (y.numel === 1) return y.sum();
      if (weight === null) weight = t.randn(y.shape, { generator: new t.Generator(o.seed ?? 1234), dtype: 'float64' });
      assert.deepEqual(y.shape, weight.shape, `${name}: the output shape changed between evaluations`);
      return y.mul(weight).sum();
    };

    // Analytic gradients through autograd.
    const base = inputs.map((x) => fresh(x));
    for (const i of wrt) base[i]!.requiresGrad = true;
    const out = reduce(fn(...base));
    const grads = t.grad(
      out,
      wrt.map((i) => base[i]!),
      { allowUnused: true },
    );
    const analytic = grads.map((g, k) => (g === null ? new Float64Array(base[wrt[k]!]!.numel) : Float64Array.from(g.toArray())));

    // Numeric gradients by central differences.
    const numeric: Float64Array[] = [];
    t.noGrad(() => {
      for (const i of wrt) {
        const x0 = Float64Array.from(base[i]!.toArray());
        const num = new Float64Array(x0.length);
        const evalAt = (j: number, v: number): number =>
          t.tidy(() => {
            const d = Float64Array.from(x0);
            d[j] = v;
            const xs = base.map((b, k) => (k === i ? fresh(b, d) : b.detach()));
            return reduce(fn(...xs)).item();
          });
        for (let j = 0; j < x0.length; j++) num[j] = (evalAt(j, x0[j]! + eps) - evalAt(j, x0[j]! - eps)) / (2 * eps);
        numeric.push(num);
      }
    });

    let anyNonzero = false;
    wrt.forEach((i, k) => {
      const a = analytic[k]!;
      const n = numeric[k]!;
      for (let j = 0; j < a.length; j++) {
        if (n[j] !== 0 || a[j] !== 0) anyNonzero = true;
        const tol = atol + rtol * Math.abs(n[j]!);
        if (!(Math.abs(a[j]! - n[j]!) <= tol)) {
          assert.fail(
            `${name}: gradient of input ${i} (shape [${inputs[i]!.shape}]) at element ${j}: autograd ${a[j]} vs finite difference ${n[j]} (tol ${tol.toExponential(2)})`,
          );
        }
      }
    });
    if (o.requireNonzero ?? true) assert.ok(anyNonzero, `${name}: every gradient is zero, so the check proves nothing`);
    return { analytic, numeric };
  });
}

/** A float64 tensor of the given shape with N(0, 1) values from a seeded generator (for gradcheck inputs). */
export function rnd(shape: readonly number[], seed = 0, scale = 1, offset = 0): Tensor {
  return t.tidy(() =>
    t
      .randn(shape, { generator: new t.Generator(seed), dtype: 'float64' })
      .mul(scale)
      .add(offset),
  );
}
