// Component tests: attention masks (spec 04 §4.3 worked examples), context validation, stochastic depth,
// subsampling lengths, rel_shift, state-dict names, configuration variants and deterministic memory release.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { calcContextSizes, contextAllowed, createMasks, type AttContextSize, type AttContextStyle } from '../../src/model/attention-context.js';
import { ConformerEncoder, stochasticDepthDropProbs, type ConformerEncoderConfig } from '../../src/model/conformer-encoder.js';
import { resolveEncoderConfig } from '../../src/model/encoder-config.js';
import { RelPositionMultiHeadAttention } from '../../src/model/attention.js';
import { subsampledLength, ConvSubsampling } from '../../src/model/subsampling.js';
import { sinusoidTable } from '../../src/model/positional-encoding.js';
import { assertClose } from '../helpers/assert.js';

/** Rows of '1'/'.' for the batch item b of a [B, T, T] blocked-mask. */
function grid(attMask: t.Tensor, b: number): string[] {
  const m = attMask.select(0, b);
  const n = m.size(0);
  const v = m.toArray();
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (v[i * n + j] ? '.' : '1')).join(''));
}
function masks(size: AttContextSize, style: AttContextStyle, len: number, tmax: number): string[] {
  return t.tidy(() => grid(createMasks(size, style, t.tensor([len], [1], { dtype: 'int64' }), tmax).attMask, 0));
}

test('masks: worked examples of spec 04 §4.3', () => {
  assert.deepEqual(masks([-1, 0], 'regular', 8, 8), ['1.......', '11......', '111.....', '1111....', '11111...', '111111..', '1111111.', '11111111']);
  assert.deepEqual(masks([-1, 4], 'regular', 8, 8).slice(0, 4), ['11111...', '111111..', '1111111.', '11111111']);
  assert.deepEqual(masks([5, 0], 'regular', 8, 8).slice(5), ['111111..', '.111111.', '..111111']);
  assert.deepEqual(masks([4, 1], 'chunked_limited', 8, 8), ['11......', '11......', '1111....', '1111....', '111111..', '111111..', '..111111', '..111111']);
  assert.deepEqual(masks([3, 2], 'chunked_limited', 8, 9), [
    '111......',
    '111......',
    '111......',
    '111111...',
    '111111...',
    '111111...',
    '...11111.',
    '...11111.',
    '.........',
  ]);
  assert.deepEqual(masks([2, 1], 'regular', 6, 8), ['11......', '111.....', '1111....', '.1111...', '..1111..', '...111..', '........', '........']);
});

test('masks: padding mask and streaming offset', () => {
  t.tidy(() => {
    const { padMask, attMask } = createMasks([-1, 0], 'regular', t.tensor([5, 3], [2], { dtype: 'int64' }), 6, t.tensor([2, 0], [2], { dtype: 'int64' }));
    assert.deepEqual(padMask.toArray(), [1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1]);
    assert.deepEqual(grid(attMask, 0)[4], '..111.');
    assert.deepEqual(contextAllowed([-1, -1], 'regular', 3).toArray(), [1, 1, 1, 1, 1, 1, 1, 1, 1]);
  });
});

test('calcContextSizes: NeMo checks and defaults', () => {
  const base = { attContextProbs: null, attContextStyle: 'regular' as const, convContextSize: null, convKernelSize: 9 };
  assert.deepEqual(calcContextSizes({ ...base, attContextSize: null }), { all: [[-1, -1]], probs: [1], convContextSize: [4, 4] });
  assert.deepEqual(calcContextSizes({ ...base, attContextSize: [-1, 0], convContextSize: 'causal' }).convContextSize, [8, 0]);
  assert.deepEqual(
    calcContextSizes({
      ...base,
      attContextSize: [
        [16, 3],
        [16, 0],
      ],
    }).probs,
    [0.5, 0.5],
  );
  assert.doesNotThrow(() => calcContextSizes({ ...base, attContextStyle: 'chunked_limited', attContextSize: [16, 3] }));
  assert.throws(() => calcContextSizes({ ...base, attContextStyle: 'chunked_limited', attContextSize: [10, 3] }), /should be zero/);
  assert.throws(() => calcContextSizes({ ...base, attContextStyle: 'chunked_limited', attContextSize: [-1, -1] }), /can not be unlimited/);
  assert.doesNotThrow(() =>
    calcContextSizes({
      ...base,
      attContextStyle: 'chunked_limited',
      attContextSize: [
        [-1, -1],
        [8, 3],
      ],
    }),
  );
  assert.throws(
    () =>
      calcContextSizes({
        ...base,
        attContextSize: [
          [8, 3],
          [8, 0],
        ],
        attContextProbs: [0.5],
      }),
    /same as att_context_size/,
  );
  assert.throws(
    () =>
      calcContextSizes({
        ...base,
        attContextSize: [
          [8, 3],
          [8, 0],
        ],
        attContextProbs: [0.5, 0.6],
      }),
    /sum/,
  );
  assert.throws(() => calcContextSizes({ ...base, attContextSize: [-1, 0], convContextSize: [3, 3] }), /Invalid conv_context_size/);
  assert.deepEqual(calcContextSizes({ ...base, attContextSize: [-1, 0], convContextSize: [6, 2] }).convContextSize, [6, 2]);
});

test('stochastic depth probabilities (linear / uniform, start layer)', () => {
  assert.deepEqual(stochasticDepthDropProbs(4, 0.3, 'linear', 1), [0, (1 / 3) * 0.3, (2 / 3) * 0.3, (3 / 3) * 0.3]);
  assert.deepEqual(stochasticDepthDropProbs(4, 0.3, 'uniform', 2), [0, 0, 0.3, 0.3]);
  assert.deepEqual(stochasticDepthDropProbs(3, 0, 'linear', 1), [0, 0, 0]);
  assert.throws(() => stochasticDepthDropProbs(3, 1.0), /\[0, 1\)/);
  assert.throws(() => stochasticDepthDropProbs(3, 0.1, 'linear', 4), /start_layer/);
});

test("subsampling lengths: calc_length closed forms and F'", () => {
  const g = (m: number) => Math.floor((m - 1) / 2) + 1;
  const gc = (m: number) => Math.floor(m / 2) + 1;
  for (const m of [1, 2, 7, 8, 9, 16, 17, 297, 298, 1000]) {
    assert.equal(subsampledLength(m, 8, false), g(g(g(m))));
    assert.equal(subsampledLength(m, 8, true), gc(gc(gc(m))));
    assert.equal(subsampledLength(m, 4, true), gc(gc(m)));
    assert.equal(subsampledLength(m, 16, false), g(g(g(g(m)))));
  }
  const mk = (isCausal: boolean, factor: number) =>
    new ConvSubsampling({ subsampling: 'dw_striding', subsamplingFactor: factor, featIn: 80, featOut: 16, convChannels: 4, isCausal });
  for (const [c, f, fOut] of [
    [false, 8, 10],
    [true, 8, 11],
    [false, 4, 20],
    [true, 16, 6],
  ] as [boolean, number, number][]) {
    const s = mk(c, f);
    assert.equal(s.freqOut, fOut);
    assert.deepEqual(s.out.weight.shape, [16, 4 * fOut]);
    t.tidy(() => {
      const r = t.noGrad(() => s.forward(t.randn([2, 37, 80]), t.tensor([37, 20], [2], { dtype: 'int64' })));
      assert.deepEqual(r.x.shape, [2, subsampledLength(37, f, c), 16]);
      assert.deepEqual(r.lengths.toArray(), [subsampledLength(37, f, c), subsampledLength(20, f, c)]);
    });
    s.dispose();
  }
});

test('subsampling masks padded time steps before every layer (legacyFrontEnd does not)', () => {
  const make = (legacy: boolean) =>
    new ConvSubsampling({
      subsampling: 'dw_striding',
      subsamplingFactor: 4,
      featIn: 16,
      featOut: 8,
      convChannels: 3,
      isCausal: false,
      legacyFrontEnd: legacy,
      init: { generator: new t.Generator(1) },
    });
  const masked = make(false);
  const legacy = make(true);
  t.tidy(() => {
    const x = t.randn([1, 20, 16], { generator: new t.Generator(2) });
    const junk = t.cat([x.narrow(1, 0, 13), t.randn([1, 7, 16], { generator: new t.Generator(3) })], 1); // other values beyond length 13
    const len = t.tensor([13], [1], { dtype: 'int64' });
    const valid = subsampledLength(13, 4, false); // 4
    const a = t.noGrad(() => masked.forward(x, len).x.narrow(1, 0, valid));
    const b = t.noGrad(() => masked.forward(junk, len).x.narrow(1, 0, valid));
    assert.deepEqual(a.toArray(), b.toArray(), 'valid outputs ignore padded input frames');
    const c = t.noGrad(() => legacy.forward(x, len).x.narrow(1, 0, valid));
    const d = t.noGrad(() => legacy.forward(junk, len).x.narrow(1, 0, valid));
    assert.notDeepEqual(c.toArray(), d.toArray(), 'legacy front end lets padded frames leak into the last valid frame');
  });
  masked.dispose();
  legacy.dispose();
});

/** dw_striding by 8, 16 features -> 8, 3 channels (seed 4). */
const smallSubsampling = (isCausal: boolean): ConvSubsampling =>
  new ConvSubsampling({
    subsampling: 'dw_striding',
    subsamplingFactor: 8,
    featIn: 16,
    featOut: 8,
    convChannels: 3,
    isCausal,
    init: { generator: new t.Generator(4) },
  });

test('subsampling with no padded frame (masks left out) gives what the masked batch gives for that row', () => {
  for (const isCausal of [true, false]) {
    const s = smallSubsampling(isCausal);
    t.tidy(() => {
      const x = t.randn([1, 37, 16], { generator: new t.Generator(5) });
      const other = t.randn([1, 37, 16], { generator: new t.Generator(6) });
      const alone = t.noGrad(() => s.forward(x, t.tensor([37], [1], { dtype: 'int64' }))); // no padding: no masks
      const batch = t.noGrad(() => s.forward(t.cat([x, other], 0), t.tensor([37, 20], [2], { dtype: 'int64' }))); // row 1 padded: masks
      assert.deepEqual(alone.lengths.toArray(), [batch.lengths.toArray()[0]]);
      assertClose(alone.x, batch.x.narrow(0, 0, 1), 1e-6, 1e-6, `isCausal ${isCausal}`);
    });
    s.dispose();
  }
});

test('subsampling at inference (channels last; the first convolution and its ReLU as one product of windows) gives what it gives with gradients on', () => {
  for (const [isCausal, subsampling, kernel] of [
    [true, 'dw_striding', true],
    [false, 'dw_striding', true],
    [true, 'striding', true],
    [true, 'dw_striding', false],
  ] as const) {
    const was = t.useSmallProductKernel(kernel); // off: oneDNN's convolution at inference too
    const s = new ConvSubsampling({
      subsampling,
      subsamplingFactor: 8,
      featIn: 80,
      featOut: 176,
      convChannels: 64,
      isCausal,
      init: { generator: new t.Generator(4) },
    });
    t.tidy(() => {
      const x = t.randn([3, 41, 80], { generator: new t.Generator(5) });
      const len = t.tensor([41, 41, 30], [3], { dtype: 'int64' });
      const inference = t.noGrad(() => s.forward(x, len));
      const training = t.enableGrad(() => s.forward(x, len));
      assertClose(inference.x, training.x.detach(), 1e-5, 1e-5, `isCausal ${isCausal}, ${subsampling}, kernel ${kernel}`);
      assert.deepEqual(inference.lengths.toArray(), training.lengths.toArray());
    });
    s.dispose();
    t.useSmallProductKernel(was);
  }
});

test('subsampling dropFront leaves out leading frames before the projection: the kept frames and the lengths are unchanged', () => {
  const s = smallSubsampling(true);
  t.tidy(() => {
    const x = t.randn([2, 41, 16], { generator: new t.Generator(5) });
    const len = t.tensor([41, 30], [2], { dtype: 'int64' });
    const full = t.noGrad(() => s.forward(x, len)); // [2, 6, 8]
    for (const drop of [1, 2]) {
      const r = t.noGrad(() => s.forward(x, len, drop));
      assert.deepEqual(r.x.shape, [2, full.x.size(1) - drop, 8]);
      assertClose(r.x, full.x.narrow(1, drop, full.x.size(1) - drop), 1e-6, 1e-6, `dropFront ${drop}`);
      assert.deepEqual(r.lengths.toArray(), full.lengths.toArray());
    }
  });
  s.dispose();
});

test('rel_shift equals the direct relative-position indexing bd[i][j] = bd0[i][j + T - 1 - i], with all 2Tk - 1 positions or only the Tk + Tq - 1 it reads', () => {
  t.tidy(() => {
    for (const [tq, tk, p] of [
      [5, 5, 9],
      [3, 7, 13],
      [3, 7, 9],
      [1, 7, 7],
    ] as [number, number, number][]) {
      const x = t.randn([2, 3, tq, p], { generator: new t.Generator(tq) });
      const shifted = RelPositionMultiHeadAttention.relShift(x).narrow(3, 0, tk).contiguous();
      const xs = x.toArray();
      const ys = shifted.toArray();
      for (let bh = 0; bh < 6; bh++) {
        for (let i = 0; i < tq; i++) {
          for (let j = 0; j < tk; j++) {
            assert.equal(ys[(bh * tq + i) * tk + j], xs[(bh * tq + i) * p + (j + tq - 1 - i)], `bh ${bh} i ${i} j ${j}`);
          }
        }
      }
    }
  });
});

test('sinusoid table: f32 argument as NeMo computes it', () => {
  t.tidy(() => {
    const pe = sinusoidTable([0, 1, -3, 1000], 8);
    assert.deepEqual(pe.shape, [4, 8]);
    const v = pe.toArray();
    assert.deepEqual(v.slice(0, 8), [0, 1, 0, 1, 0, 1, 0, 1]);
    const w1 = Math.fround(Math.exp(Math.fround(2 * Math.fround(-(Math.log(10000) / 8)))));
    assertClose([v[8 + 2]!, v[8 + 3]!], [Math.sin(w1), Math.cos(w1)], 1e-6);
    assertClose([v[16]!, v[17]!], [Math.sin(-3), Math.cos(-3)], 1e-6);
  });
});

const NEST_LIKE: ConformerEncoderConfig = {
  feat_in: 80,
  n_layers: 2,
  d_model: 32,
  n_heads: 4,
  subsampling: 'dw_striding',
  subsampling_factor: 8,
  subsampling_conv_channels: 16,
  causal_downsampling: true,
  conv_kernel_size: 9,
  conv_norm_type: 'batch_norm',
  dropout: 0.1,
  dropout_pre_encoder: 0.1,
  dropout_emb: 0.0,
  dropout_att: 0.1,
};

test('state dict: NeMo names and order for a bare encoder', () => {
  const enc = new ConformerEncoder(resolveEncoderConfig(NEST_LIKE));
  const keys = [...enc.stateDict().keys()];
  assert.deepEqual(keys.slice(0, 12), [
    'pre_encode.out.weight',
    'pre_encode.out.bias',
    'pre_encode.conv.0.weight',
    'pre_encode.conv.0.bias',
    'pre_encode.conv.2.weight',
    'pre_encode.conv.2.bias',
    'pre_encode.conv.3.weight',
    'pre_encode.conv.3.bias',
    'pre_encode.conv.5.weight',
    'pre_encode.conv.5.bias',
    'pre_encode.conv.6.weight',
    'pre_encode.conv.6.bias',
  ]);
  const layer0 = keys.filter((k) => k.startsWith('layers.0.')).map((k) => k.slice('layers.0.'.length));
  assert.deepEqual(layer0, [
    'norm_feed_forward1.weight',
    'norm_feed_forward1.bias',
    'feed_forward1.linear1.weight',
    'feed_forward1.linear1.bias',
    'feed_forward1.linear2.weight',
    'feed_forward1.linear2.bias',
    'norm_conv.weight',
    'norm_conv.bias',
    'conv.pointwise_conv1.weight',
    'conv.pointwise_conv1.bias',
    'conv.depthwise_conv.weight',
    'conv.depthwise_conv.bias',
    'conv.batch_norm.weight',
    'conv.batch_norm.bias',
    'conv.batch_norm.running_mean',
    'conv.batch_norm.running_var',
    'conv.batch_norm.num_batches_tracked',
    'conv.pointwise_conv2.weight',
    'conv.pointwise_conv2.bias',
    'norm_self_att.weight',
    'norm_self_att.bias',
    'self_attn.pos_bias_u',
    'self_attn.pos_bias_v',
    'self_attn.linear_q.weight',
    'self_attn.linear_q.bias',
    'self_attn.linear_k.weight',
    'self_attn.linear_k.bias',
    'self_attn.linear_v.weight',
    'self_attn.linear_v.bias',
    'self_attn.linear_out.weight',
    'self_attn.linear_out.bias',
    'self_attn.linear_pos.weight',
    'norm_feed_forward2.weight',
    'norm_feed_forward2.bias',
    'feed_forward2.linear1.weight',
    'feed_forward2.linear1.bias',
    'feed_forward2.linear2.weight',
    'feed_forward2.linear2.bias',
    'norm_out.weight',
    'norm_out.bias',
  ]);
  assert.deepEqual(enc.stateDict().get('pre_encode.out.weight')!.shape, [32, 16 * 11]);
  enc.dispose();
});

test('configuration variants: use_bias false, shared pos biases, group_norm, abs_pos, feat_out, striding', () => {
  const noBias = new ConformerEncoder(resolveEncoderConfig({ ...NEST_LIKE, use_bias: false }));
  const k = [...noBias.stateDict().keys()];
  for (const n of ['feed_forward1.linear1.bias', 'self_attn.linear_q.bias', 'conv.pointwise_conv1.bias', 'conv.depthwise_conv.bias'])
    assert.ok(!k.includes(`layers.0.${n}`), n);
  for (const n of ['norm_out.bias', 'conv.batch_norm.bias']) assert.ok(k.includes(`layers.0.${n}`), n);
  assert.ok(k.includes('pre_encode.conv.0.bias'));
  noBias.dispose();

  const tied = new ConformerEncoder(resolveEncoderConfig({ ...NEST_LIKE, untie_biases: false }));
  const sd = tied.stateDict();
  assert.equal(sd.get('layers.0.self_attn.pos_bias_u'), sd.get('layers.1.self_attn.pos_bias_u'), 'one tensor under every layer key');
  assert.equal(tied.parameters().filter((p) => p === sd.get('layers.0.self_attn.pos_bias_u')).length, 1, 'handed to an optimiser once');
  tied.dispose();

  for (const cfg of [
    { ...NEST_LIKE, conv_norm_type: 'group_norm4' as const },
    { ...NEST_LIKE, self_attention_model: 'abs_pos' as const },
    { ...NEST_LIKE, feat_out: 24 },
    { ...NEST_LIKE, subsampling: 'striding' as const, subsampling_factor: 4 },
    { ...NEST_LIKE, xscaling: false, conv_norm_type: 'layer_norm' as const, conv_context_size: [6, 2] as [number, number] },
  ]) {
    const enc = new ConformerEncoder(resolveEncoderConfig(cfg), { init: { generator: new t.Generator(4) } }).eval();
    t.tidy(() => {
      const { encoded, lengths } = t.noGrad(() => enc.forward(t.randn([2, 80, 50]), t.tensor([50, 33], [2], { dtype: 'int64' })));
      const tp = subsampledLength(50, cfg.subsampling_factor ?? 4, true);
      assert.deepEqual(encoded.shape, [2, cfg.feat_out ?? 32, tp]);
      assert.deepEqual(lengths.toArray(), [tp, subsampledLength(33, cfg.subsampling_factor ?? 4, true)]);
      assert.equal(t.all(t.isfinite(encoded)).item(), 1);
    });
    enc.dispose();
  }
  assert.throws(() => new ConformerEncoder(resolveEncoderConfig({ ...NEST_LIKE, conv_norm_type: 'instance_norm' as never })), /not supported/);
});

test('training mode: dropout and stochastic depth are reproducible from the generators passed in; eval is deterministic', () => {
  const cfg: ConformerEncoderConfig = {
    ...NEST_LIKE,
    n_layers: 3,
    stochastic_depth_drop_prob: 0.5,
    att_context_size: [
      [8, 1],
      [8, 0],
    ],
    att_context_style: 'chunked_limited',
  };
  const run = (seed: number): number[] => {
    const enc = new ConformerEncoder(resolveEncoderConfig(cfg), { init: { generator: new t.Generator(1) }, dropoutGenerator: new t.Generator(seed) }).train();
    try {
      return t.tidy(() =>
        enc
          .forward(t.randn([1, 80, 40], { generator: new t.Generator(2) }), t.tensor([40], [1], { dtype: 'int64' }), { rng: new t.Generator(seed) })
          .encoded.toArray(),
      );
    } finally {
      enc.dispose();
    }
  };
  assert.deepEqual(run(5), run(5));
  assert.notDeepEqual(run(5), run(6));
  const enc = new ConformerEncoder(resolveEncoderConfig(cfg), { init: { generator: new t.Generator(1) } });
  assert.throws(() => t.tidy(() => enc.forward(t.randn([1, 80, 40]), t.tensor([40], [1], { dtype: 'int64' }))), /RNG/);
  enc.dispose();
});

test('forward, backward and streamStep release every tensor they create', () => {
  const enc = new ConformerEncoder(
    resolveEncoderConfig({
      ...NEST_LIKE,
      att_context_size: [8, 1],
      att_context_style: 'chunked_limited',
      conv_context_size: 'causal',
      conv_norm_type: 'layer_norm',
    }),
  ).eval();
  const x = t.randn([2, 80, 60]);
  const len = t.tensor([60, 41], [2], { dtype: 'int64' });
  // Warm up the positional table (a cached, module-owned tensor).
  t.tidy(() => {
    t.noGrad(() => enc.forward(x, len));
  });
  const before = t.liveTensorCount();
  t.tidy(() => {
    t.noGrad(() => enc.forward(x, len));
  });
  t.tidy(() => {
    const out = enc.forward(x, len).encoded.sum();
    t.grad(out, enc.parameters(), { allowUnused: true });
  });
  t.tidy(() => {
    const st = enc.streamingConfig();
    let cache = enc.initCache(2, st);
    for (let i = 0; i < 3; i++)
      cache = t.noGrad(() =>
        enc.streamStep(x.narrow(2, 0, 25), t.tensor([25, 25], [2], { dtype: 'int64' }), cache, {
          streaming: st,
          dropExtraPreEncoded: i === 0 ? 0 : 2,
          keepAllOutputs: false,
        }),
      ).cache;
    assert.equal(cache.layers.length, 2);
  });
  assert.equal(t.liveTensorCount(), before);
  x.dispose();
  len.dispose();
  enc.dispose();
});
