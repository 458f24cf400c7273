// Causality properties: perturbing the features after frame m leaves every encoder frame before
// outputReach(config, m + 1) bitwise unchanged, and does change the frame at the reach (so the check can fail);
// leaking configurations are caught by the same check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { ConformerEncoder, type ConformerEncoderConfig } from '../../src/model/conformer-encoder.js';
import { conformerEncoderArgs, resolveEncoderConfig } from '../../src/model/encoder-config.js';
import { loadConfig } from '../../src/config/index.js';
import { outputReach, subsamplingReach, attentionReach } from '../../src/model/receptive-field.js';
import type { AttContextSize } from '../../src/model/attention-context.js';

const BASE: ConformerEncoderConfig = {
  feat_in: 80,
  n_layers: 2,
  d_model: 32,
  n_heads: 2,
  subsampling: 'dw_striding',
  subsampling_factor: 8,
  subsampling_conv_channels: 16,
  causal_downsampling: true,
  conv_kernel_size: 5,
  conv_norm_type: 'layer_norm',
  conv_context_size: 'causal',
  att_context_size: [-1, 0],
  att_context_style: 'regular',
  dropout: 0,
  dropout_pre_encoder: 0,
  dropout_emb: 0,
  dropout_att: 0,
};
const T = 200; // feature frames -> 26 causal encoder frames
const CUTS = [40, 97, 150]; // perturb every feature frame > cut

/** Encoder output as per-frame rows: [T'][D] Float32Arrays. */
function frames(enc: ConformerEncoder, x: Tensor): Float32Array[] {
  return t.tidy(() => {
    const { encoded } = t.noGrad(() => enc.forward(x, t.tensor([T], [1], { dtype: 'int64' })));
    const rows = encoded.select(0, 0).transpose(0, 1).contiguous(); // [D, T'] -> [T', D]
    const n = rows.size(0);
    const d = rows.size(1);
    const all = rows.data() as Float32Array;
    return Array.from({ length: n }, (_, i) => all.slice(i * d, (i + 1) * d));
  });
}

function same(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

interface Probe {
  /** Frames < claimed reach that changed (a leak if non-empty). */
  leaked: number[];
  /** Whether the frame at the claimed reach changed. */
  reachChanged: boolean;
  outFrames: number;
}

function probe(config: ConformerEncoderConfig, cut: number, claimedReach: number, pair?: AttContextSize, seed = 3): Probe {
  const enc = new ConformerEncoder(resolveEncoderConfig(config), { init: { generator: new t.Generator(seed) } }).eval();
  if (pair) enc.setDefaultAttContextSize(pair);
  try {
    return t.tidy(() => {
      const g = new t.Generator(seed + 100);
      const x = t.randn([1, 80, T], { generator: g });
      const noise = t.randn([1, 80, T - cut - 1], { generator: g });
      const pert = t.cat([x.narrow(2, 0, cut + 1), x.narrow(2, cut + 1, T - cut - 1).add(noise)], 2); // frames > cut change
      const a = frames(enc, x);
      const b = frames(enc, pert);
      const leaked: number[] = [];
      for (let i = 0; i < Math.min(claimedReach, a.length); i++) if (!same(a[i]!, b[i]!)) leaked.push(i);
      const reachChanged = claimedReach < a.length && !same(a[claimedReach]!, b[claimedReach]!);
      return { leaked, reachChanged, outFrames: a.length };
    });
  } finally {
    enc.dispose();
  }
}

const MULTILATENCY = conformerEncoderArgs(loadConfig('tiny_multilatency').config.model.encoder);
const MULTILATENCY_PAIRS = MULTILATENCY.att_context_size as AttContextSize[];

test('tiny_multilatency trains at least 3 pairs (look-ahead 0, 1 and 4 frames) with one left context', () => {
  assert.ok(MULTILATENCY_PAIRS.length >= 3);
  assert.deepEqual(
    MULTILATENCY_PAIRS.map((p) => p[1]),
    [0, 1, 4],
  );
  assert.equal(new Set(MULTILATENCY_PAIRS.map((p) => p[0])).size, 1);
  assert.equal(MULTILATENCY.feat_in, 80, 'probe() feeds 80 features');
});

const CAUSAL: { name: string; config: ConformerEncoderConfig; pairs?: AttContextSize[] }[] = [
  { name: 'fully causal [-1,0]', config: { ...BASE } },
  { name: 'look-ahead regular [-1,2], causal conv', config: { ...BASE, att_context_size: [-1, 2] } },
  {
    name: 'look-ahead regular [-1,2], symmetric conv (batch_norm)',
    config: { ...BASE, att_context_size: [-1, 2], conv_context_size: null, conv_norm_type: 'batch_norm' },
  },
  { name: 'limited context [6,0]', config: { ...BASE, att_context_size: [6, 0] } },
  { name: 'chunked_limited [8,3]', config: { ...BASE, att_context_size: [8, 3], att_context_style: 'chunked_limited' } },
  {
    name: 'multi-lookahead chunked_limited [[8,3],[8,0]]',
    config: {
      ...BASE,
      att_context_size: [
        [8, 3],
        [8, 0],
      ],
      att_context_style: 'chunked_limited',
    },
    pairs: [
      [8, 3],
      [8, 0],
    ],
  },
  { name: 'striding subsampling x4, causal', config: { ...BASE, subsampling: 'striding', subsampling_factor: 4 } },
  // dynamic chunk training: every pair the tiny_multilatency preset trains (its own sizes, random weights)
  { name: 'tiny_multilatency preset', config: MULTILATENCY, pairs: MULTILATENCY_PAIRS },
];

for (const c of CAUSAL) {
  for (const pair of c.pairs ?? [undefined]) {
    test(`causality: ${c.name}${pair ? ` using [${pair.join(',')}]` : ''}`, () => {
      for (const cut of CUTS) {
        const reach = outputReach(resolveEncoderConfig(c.config), cut + 1, pair);
        const r = probe(c.config, cut, reach, pair);
        assert.ok(reach < r.outFrames, `reach ${reach} must lie inside the ${r.outFrames} output frames`);
        assert.deepEqual(r.leaked, [], `cut ${cut}: frames before the reach ${reach} changed`);
        assert.ok(r.reachChanged, `cut ${cut}: the frame at the reach ${reach} did not change (the check would be vacuous)`);
      }
    });
  }
}

test('outputReach: hand-derived values', () => {
  // causal stage: o reads [2o-2, 2o] -> first reader ceil(m/2); three stages for x8.
  assert.equal(subsamplingReach(resolveEncoderConfig(BASE), 97), Math.ceil(Math.ceil(Math.ceil(97 / 2) / 2) / 2)); // 49 -> 25 -> 13
  assert.equal(subsamplingReach(resolveEncoderConfig({ ...BASE, causal_downsampling: false }), 97), 12); // ceil((m-1)/2): 48 -> 24 -> 12 (reads 1 frame ahead per stage)
  assert.equal(attentionReach([-1, 2], 'regular', 13), 11);
  assert.equal(attentionReach([8, 3], 'chunked_limited', 13), 12);
  assert.equal(attentionReach([-1, -1], 'regular', 13), 0);
  assert.equal(outputReach(resolveEncoderConfig({ ...BASE, att_context_size: [-1, 2], conv_context_size: null }), 97), 13 - 2 * (2 + 2));
  assert.equal(
    outputReach(
      resolveEncoderConfig({
        ...BASE,
        att_context_size: [
          [8, 3],
          [8, 0],
        ],
        att_context_style: 'chunked_limited',
      }),
      97,
      [8, 0],
    ),
    13,
  );
});

test('multi-lookahead: training draws the pair from the RNG passed in; eval uses the default', () => {
  const config: ConformerEncoderConfig = {
    ...BASE,
    att_context_size: [
      [8, 3],
      [8, 0],
    ],
    att_context_style: 'chunked_limited',
    att_context_probs: [0.5, 0.5],
  };
  const enc = new ConformerEncoder(resolveEncoderConfig(config), { init: { generator: new t.Generator(5) } });
  try {
    assert.deepEqual(enc.context.choose(false), [8, 3]);
    assert.throws(() => enc.context.choose(true), /RNG/);
    const draw = (seed: number): string[] => {
      const g = new t.Generator(seed);
      return Array.from({ length: 40 }, () => enc.context.choose(true, g).join(','));
    };
    assert.deepEqual(draw(11), draw(11), 'same seed, same draws');
    const d = draw(11);
    assert.ok(d.includes('8,3') && d.includes('8,0'), 'both pairs are drawn');
    assert.deepEqual(enc.setDefaultAttContextSize([8, 0]), { known: true });
    assert.deepEqual(enc.context.choose(false), [8, 0]);
    assert.deepEqual(enc.setDefaultAttContextSize([4, 1]), { known: false });
  } finally {
    enc.dispose();
  }
});

// Leaking configurations: claiming the fully-causal reach must fail the same check.
const LEAKS: { name: string; config: ConformerEncoderConfig }[] = [
  { name: 'bidirectional attention [-1,-1]', config: { ...BASE, att_context_size: [-1, -1] } },
  { name: 'symmetric depthwise conv with [-1,0] attention', config: { ...BASE, conv_context_size: null } },
  { name: 'non-causal subsampling', config: { ...BASE, causal_downsampling: false } },
  { name: 'one frame of look-ahead [-1,1]', config: { ...BASE, att_context_size: [-1, 1] } },
];
for (const c of LEAKS) {
  test(`causality check detects a leak: ${c.name}`, () => {
    const cut = 97;
    const claimed = outputReach(resolveEncoderConfig(BASE), cut + 1); // what a fully causal model would guarantee
    const honest = outputReach(resolveEncoderConfig(c.config), cut + 1);
    assert.ok(honest < claimed, `the leaking configuration's own reach ${honest} is earlier than the causal ${claimed}`);
    const r = probe(c.config, cut, claimed);
    assert.ok(r.leaked.length > 0, 'the perturbation reached frames before the causal reach');
    const own = probe(c.config, cut, honest);
    assert.deepEqual(own.leaked, [], 'but nothing before its own reach changed');
  });
}
