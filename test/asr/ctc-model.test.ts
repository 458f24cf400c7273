// CTC model parts: vocabulary, greedy decoding and timestamps, ConvASRDecoder names/shapes/init, NeMo's
// 'mean_batch' loss reduction, SpecAugment ranges and reproducibility, encoder init from a pretrained state dict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import {
  CharVocabulary,
  ConvAsrDecoder,
  CtcModel,
  SpecAugment,
  greedyDecode,
  greedyStep,
  initGreedyState,
  readSpecAugmentConfig,
  tokensToText,
  wordTimings,
  type CtcModelArgs,
} from '../../src/asr/index.js';

function args(seed = 3, specAugment: CtcModelArgs['specAugment'] = null): CtcModelArgs {
  return {
    preprocessor: { sample_rate: 16000, normalize: 'NA', features: 80, dither: 0.00001, pad_to: 16 },
    encoder: {
      feat_in: 80,
      n_layers: 1,
      d_model: 16,
      n_heads: 2,
      subsampling: 'dw_striding',
      subsampling_factor: 4,
      subsampling_conv_channels: 8,
      causal_downsampling: true,
      conv_kernel_size: 5,
      conv_norm_type: 'layer_norm',
      conv_context_size: 'causal',
      att_context_size: [-1, 0],
    },
    labels: CharVocabulary.english().labels,
    specAugment,
    seed,
  };
}

test('vocabulary: english labels, blank last, encode drops unknown characters, fromTexts', () => {
  const v = CharVocabulary.english();
  assert.equal(v.size, 28);
  assert.equal(v.blank, 28);
  assert.deepEqual(v.encode("Hi, it's 7!"), { ids: [8, 9, 0, 9, 20, 27, 19, 0], dropped: 1 }); // "hi it's 7": the digit is dropped
  const w = CharVocabulary.fromTexts(['Ab c', 'b, d!']);
  assert.deepEqual(w.labels, [' ', 'a', 'b', 'c', 'd']);
  assert.throws(() => new CharVocabulary(['a', 'a']), /appears twice/);
  assert.throws(() => new CharVocabulary(['ab']), /not a single character/);
});

test('greedy CTC: argmax ids -> merge repeats -> drop blanks; chunked decoding equals whole decoding', () => {
  const v = new CharVocabulary([' ', 'a', 'b']); // blank = 3
  const ids = [3, 1, 1, 3, 1, 2, 2, 0, 0, 3, 2, 3, 3];
  const tokens = greedyDecode(ids, v.blank);
  assert.equal(tokensToText(tokens, v), 'aab b');
  assert.deepEqual(
    tokens.map((x) => x.frame),
    [1, 4, 5, 7, 10],
  );
  let s = initGreedyState();
  for (const piece of [
    [3, 1],
    [1, 3, 1, 2],
    [2, 0],
    [0, 3, 2, 3, 3],
  ])
    s = greedyStep(piece, v.blank, s);
  assert.deepEqual(s.tokens, tokens);
  // timestamps: 'aab' from frame 1 to the end of frame 5, 'b' at frame 10; 40 ms frames
  assert.deepEqual(wordTimings(tokens, v, 0.04), [
    { word: 'aab', start: 0.04, end: 0.24 },
    { word: 'b', start: 0.4, end: 0.44 },
  ]);
});

test("ConvASRDecoder: NeMo's state-dict names and shapes, blank appended, log-probabilities", () => {
  const before = t.liveTensorCount();
  const d = new ConvAsrDecoder({ feat_in: 16, num_classes: 28 }, { generator: new t.Generator(1) });
  const sd = d.stateDict();
  assert.deepEqual([...sd.keys()], ['decoder_layers.0.weight', 'decoder_layers.0.bias']);
  assert.deepEqual(sd.get('decoder_layers.0.weight')!.shape, [29, 16, 1]);
  t.tidy(() => {
    const lp = d.forward(t.randn([2, 16, 7], { generator: new t.Generator(2) }));
    assert.deepEqual(lp.shape, [2, 7, 29]);
    assert.ok(lp.exp().sum(-1).sub(1).abs().max().item() < 1e-5);
    // Xavier-uniform bound sqrt(6 / (fan_in + fan_out)) = sqrt(6 / (16 + 29))
    assert.ok(d.decoder_layers.items[0]!.weight.abs().max().item() <= Math.sqrt(6 / 45) + 1e-6);
  });
  d.dispose();
  assert.equal(t.liveTensorCount(), before);
});

test("loss: NeMo's mean_batch = mean over utterances of the (un-normalised) CTC loss, zero_infinity", () => {
  const before = t.liveTensorCount();
  const m = new CtcModel(args());
  t.tidy(() => {
    const g = new t.Generator(5);
    const logProbs = t.logSoftmax(t.randn([2, 12, 29], { generator: g }), -1);
    const f = { logProbs, encodedLen: t.tensor(BigInt64Array.of(12n, 9n), [2]) };
    const targets = t.tensor(BigInt64Array.of(1n, 2n, 3n, 4n, 5n, 0n), [2, 3]);
    const tl = t.tensor(BigInt64Array.of(3n, 2n), [2]);
    const loss = m.lossOf(f, targets, tl).item();
    const per = t.ctcLoss(logProbs.transpose(0, 1), targets, f.encodedLen, tl, { blank: 28, reduction: 'none' }).toArray();
    assert.ok(Math.abs(loss - (per[0]! + per[1]!) / 2) < 1e-4, `${loss} vs ${per}`);
    const torchMean = t.ctcLoss(logProbs.transpose(0, 1), targets, f.encodedLen, tl, { blank: 28, reduction: 'mean' }).item();
    assert.ok(Math.abs(loss - torchMean) > 1e-2, "not torch's per-target-length mean");
    // an impossible alignment (more labels than frames) contributes 0, not inf
    const short = { logProbs, encodedLen: t.tensor(BigInt64Array.of(12n, 1n), [2]) };
    assert.ok(Math.abs(m.lossOf(short, targets, tl).item() - per[0]! / 2) < 1e-4);
  });
  m.dispose();
  assert.equal(t.liveTensorCount(), before);
});

test('SpecAugment: NeMo keys, masks within their ranges, reproducible with the same generator', () => {
  const before = t.liveTensorCount();
  const cfg = readSpecAugmentConfig({
    _target_: 'nemo.collections.asr.modules.SpectrogramAugmentation',
    freq_masks: 2,
    time_masks: 3,
    freq_width: 10,
    time_width: 0.05,
  });
  assert.throws(() => readSpecAugmentConfig({ freq_mask: 2 }), /freq_mask: unknown key/);
  assert.throws(() => readSpecAugmentConfig({ rect_masks: 1 }), /SpecCutout/);
  const sa = new SpecAugment(cfg);
  t.tidy(() => {
    const x = t.ones([2, 80, 200]);
    const len = t.tensor(BigInt64Array.of(200n, 120n), [2]);
    const a = sa.forward(x, len, new t.Generator(9));
    const b = sa.forward(x, len, new t.Generator(9));
    assert.equal(a.sub(b).abs().sum().item(), 0, 'same generator state, same masks');
    const masked = a.eq(0);
    // frequency bands: at most 2 x 10 rows fully masked; time spans: at most 3 x floor(200 * 0.05) = 30 columns
    const rows = masked.sum(2).eq(200).sum(1).toArray(); // [B, F] fully masked rows
    const cols = masked.sum(1).eq(80).sum(1).toArray(); // [B, T] fully masked columns
    for (const r of rows) assert.ok(r <= 20, `rows ${r}`);
    assert.ok(cols[0]! <= 30 && cols[1]! <= 3 * 6, `cols ${cols}`);
    assert.ok(masked.sum().item() > 0, 'something was masked');
  });
  assert.equal(t.liveTensorCount(), before);
});

test('init from a pretrained state dict: encoder + preprocessor copied, decoder untouched, mismatches named', () => {
  const before = t.liveTensorCount();
  const src = new CtcModel(args(11));
  const dst = new CtcModel(args(12));
  const sd = src.stateDict();
  const decBefore = t.tidy(() => dst.decoder.decoder_layers.items[0]!.weight.clone());
  const n = dst.loadEncoderFrom(new Map([...sd].filter(([k]) => !k.startsWith('decoder.'))));
  assert.ok(n > 10);
  t.tidy(() => {
    for (const [k, v] of dst.stateDict()) if (k.startsWith('encoder.')) assert.equal(v.sub(sd.get(k)!).abs().max().item(), 0, k);
    assert.equal(dst.decoder.decoder_layers.items[0]!.weight.sub(decBefore).abs().max().item(), 0);
  });
  decBefore.dispose();
  const bad = new Map(sd);
  bad.delete('encoder.pre_encode.out.weight');
  assert.throws(() => dst.loadEncoderFrom(bad), /lacks encoder.pre_encode.out.weight/);
  src.dispose();
  dst.dispose();
  assert.equal(t.liveTensorCount(), before);
});
