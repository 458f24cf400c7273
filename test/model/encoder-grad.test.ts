// Gradient parity with NeMo (grad/* cases: J = sum over valid frames of encoded * R, eval mode) and a float64
// central-difference check of the whole encoder on a tiny configuration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { ConformerEncoder, type ConformerEncoderConfig } from '../../src/model/conformer-encoder.js';
import { resolveEncoderConfig } from '../../src/model/encoder-config.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { buildGoldenEncoder, golden, goldenCases, type GoldenFile } from './encoder-fixtures.js';

interface GradTolerance {
  rtol_l2: number;
  atol_l2: number;
  J: { atol: number; rtol: number };
}

function l2(x: Float64Array | Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s);
}

/** ||g - ref|| <= rtol ||ref|| + atol, and elementwise |g - ref| <= 1e-4 max|ref| + atol. */
function checkTensor(name: string, g: Tensor, ref: Tensor, tol: GradTolerance): number {
  assert.deepEqual(g.shape, ref.shape, `${name}: shape`);
  const a = Float64Array.from(g.toArray());
  const e = Float64Array.from(ref.toArray());
  const diff = a.map((v, i) => v - e[i]!);
  const refNorm = l2(e);
  const err = l2(diff);
  assert.ok(
    err <= tol.rtol_l2 * refNorm + tol.atol_l2,
    `${name}: ||g - ref|| = ${err.toExponential(3)} > ${tol.rtol_l2} * ${refNorm.toExponential(3)} + ${tol.atol_l2}`,
  );
  let maxRef = 0;
  for (const v of e) maxRef = Math.max(maxRef, Math.abs(v));
  const bound = 1e-4 * maxRef + tol.atol_l2;
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(diff[i]!) <= bound)) assert.fail(`${name}[${i}]: ${a[i]} vs ${e[i]} (elementwise bound ${bound})`);
  }
  return refNorm > 0 ? err / refNorm : err;
}

const gradCases = goldenCases('grad/', 'gradient').filter((c) => c.config.encoder !== undefined && c.inputs.R !== undefined);

test('there are encoder gradient cases', () => {
  assert.ok(gradCases.length >= 6, `found ${gradCases.length}`);
});

for (const c of gradCases) {
  test(`${c.id}: d J / d every parameter and d J / d features match NeMo`, () => {
    const enc = buildGoldenEncoder(c);
    const tol = c.tolerance as unknown as GradTolerance;
    const omitted = new Set(((c.param_grads_omitted as { keys?: string[] } | undefined)?.keys ?? []).map((k) => k.replace(/^encoder\./, '')));
    const refGrads = c.outputs.param_grads as Record<string, GoldenFile>;
    t.tidy(() => {
      const x = golden(c.inputs.audio_signal!.file);
      x.requiresGrad = true;
      const len = golden(c.inputs.length!.file);
      const { encoded, lengths } = enc.forward(x, len);
      const tp = encoded.size(2);
      const valid = t.arange(tp).unsqueeze(0).lt(lengths.unsqueeze(1)).unsqueeze(1); // [B, 1, T']
      const r = golden(c.inputs.R!.file).mul(valid.to({ dtype: 'float32' })); // R on valid frames, 0 on padding
      const J = encoded.double().mul(r.double()).sum();
      const refJ = golden((c.outputs.J as GoldenFile).file).item();
      assert.ok(Math.abs(J.item() - refJ) <= tol.J.atol + tol.J.rtol * Math.abs(refJ), `J ${J.item()} vs NeMo ${refJ}`);

      const named = [...enc.namedParameters()];
      const grads = t.grad(J, [...named.map(([, p]) => p), x], { allowUnused: true });
      let checked = 0;
      for (const [i, [name]] of named.entries()) {
        const key = `encoder.${name}`;
        const ref = refGrads[key];
        if (!ref) {
          assert.ok(omitted.has(name), `${key}: no reference gradient and not listed as omitted`);
          continue;
        }
        const g = grads[i] ?? t.zerosLike(named[i]![1]);
        checkTensor(key, g, golden(ref.file), tol);
        checked++;
      }
      assert.equal(checked, Object.keys(refGrads).length, 'every stored gradient belongs to a parameter');

      const dx = grads[named.length]!;
      checkTensor('d_audio_signal', dx, golden((c.outputs.d_audio_signal as GoldenFile).file), tol);
      const lens = len.toArray();
      for (let b = 0; b < lens.length; b++) {
        const pad = dx.select(0, b).narrow(1, lens[b]!, x.size(2) - lens[b]!);
        assert.equal(pad.abs().sum().item(), 0, `d_audio_signal is exactly 0 on padded frames of item ${b}`);
      }
    });
    enc.dispose();
  });
}

const TINY: ConformerEncoderConfig = {
  feat_in: 6,
  n_layers: 1,
  d_model: 8,
  n_heads: 2,
  subsampling: 'dw_striding',
  subsampling_factor: 4,
  subsampling_conv_channels: 3,
  causal_downsampling: true,
  conv_kernel_size: 3,
  conv_norm_type: 'batch_norm',
  conv_context_size: null,
  att_context_size: [-1, 1],
  ff_expansion_factor: 2,
  dropout: 0,
  dropout_pre_encoder: 0,
  dropout_emb: 0,
  dropout_att: 0,
};

for (const [name, config] of [
  ['causal subsampling, [-1,1], batch_norm', TINY],
  [
    'non-causal subsampling, chunked_limited [2,1], layer_norm, shared pos biases',
    {
      ...TINY,
      causal_downsampling: false,
      att_context_size: [2, 1],
      att_context_style: 'chunked_limited',
      conv_norm_type: 'layer_norm',
      untie_biases: false,
    },
  ],
] as [string, ConformerEncoderConfig][]) {
  test(`float64 central differences: encoder input gradient (${name})`, () => {
    const enc = new ConformerEncoder(resolveEncoderConfig(config), { init: { dtype: 'float64', generator: new t.Generator(7) } }).eval();
    try {
      t.tidy(() => {
        // Non-trivial pos biases and norm statistics so that every term of the graph carries gradient.
        t.noGrad(() => {
          for (const [n, p] of enc.namedParameters())
            if (n.includes('pos_bias') || n.includes('norm')) p.add_(t.randn(p.shape, { generator: new t.Generator(n.length), dtype: 'float64' }).mul(0.3));
        });
        const x = t.randn([2, 6, 21], { generator: new t.Generator(9), dtype: 'float64' });
        const len = t.tensor([21, 15], [2], { dtype: 'int64' });
        gradcheck((xx) => enc.forward(xx, len).encoded, [x, len], { wrt: [0], atol: 1e-6, rtol: 1e-4, name });
      });
    } finally {
      enc.dispose();
    }
  });
}
