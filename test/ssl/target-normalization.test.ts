// model.target_normalize: the quantizer's input against float64 references computed here element by element, padded
// frames, the affine invariance that makes per_utterance independent of the encoder's normalisation, and no leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { normalizeTargetFeatures } from '../../src/ssl/target-normalization.js';
import { degenerateTargetsWarning } from '../../src/ssl/target-health.js';
import { assertClose } from '../helpers/assert.js';

const B = 2;
const F = 5;
const T = 7;
const LENS = [7, 4];

/** Seeded features [B, F, T] as nested float64 arrays (values with a large offset and scale, like log-mel). */
function features(): number[][][] {
  let s = 7;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 2 - 1;
  };
  return Array.from({ length: B }, () => Array.from({ length: F }, (_, f) => Array.from({ length: T }, () => -12 + 3 * f + 4 * rnd())));
}

function toTensor(x: number[][][]): t.Tensor {
  return t.tensor(x.flat(2), [B, F, T]);
}

test('per_utterance: every feature centred and scaled over the valid frames (unbiased std + 1e-5), padding 0', () => {
  const x = features();
  const expected = x.map((b, i) =>
    b.map((row) => {
      const v = row.slice(0, LENS[i]);
      const mean = v.reduce((a, c) => a + c, 0) / v.length;
      const std = Math.sqrt(v.reduce((a, c) => a + (c - mean) ** 2, 0) / (v.length - 1)) + 1e-5;
      return row.map((c, k) => (k < LENS[i]! ? (c - mean) / std : 0));
    }),
  );
  const live = t.liveTensorCount();
  t.tidy(() => {
    const y = normalizeTargetFeatures(toTensor(x), t.tensor(LENS, [B], { dtype: 'int64' }), 'per_utterance');
    assertClose(y, expected.flat(2), 1e-5, 1e-5, 'per_utterance');
  });
  assert.equal(t.liveTensorCount(), live);
});

test('per_frame: every frame centred and scaled over its features (biased variance, eps 1e-5 inside the root), padding 0', () => {
  const x = features();
  const expected = x.map((b, i) => {
    const out = b.map((row) => row.slice());
    for (let k = 0; k < T; k++) {
      const col = b.map((row) => row[k]!);
      const mean = col.reduce((a, c) => a + c, 0) / F;
      const v = col.reduce((a, c) => a + (c - mean) ** 2, 0) / F;
      for (let f = 0; f < F; f++) out[f]![k] = k < LENS[i]! ? (col[f]! - mean) / Math.sqrt(v + 1e-5) : 0;
    }
    return out;
  });
  t.tidy(() => {
    const y = normalizeTargetFeatures(toTensor(x), t.tensor(LENS, [B], { dtype: 'int64' }), 'per_frame');
    assertClose(y, expected.flat(2), 1e-5, 1e-5, 'per_frame');
  });
});

test("none is the identity (NeMo's behaviour); per_utterance ignores any per-feature affine change of the input", () => {
  t.tidy(() => {
    const x = toTensor(features());
    const lens = t.tensor(LENS, [B], { dtype: 'int64' });
    assert.deepEqual(normalizeTargetFeatures(x, lens, 'none').toArray(), x.toArray());
    // loudness (+offset) and a per-feature gain, as fixed statistics or a different channel would apply
    const gain = t.tensor([1, 2, 0.5, 3, 1.5], [1, F, 1]);
    const moved = x.mul(gain).add(7);
    assertClose(normalizeTargetFeatures(moved, lens, 'per_utterance'), normalizeTargetFeatures(x, lens, 'per_utterance'), 1e-4, 1e-4, 'affine invariance');
    // per_frame removes a per-frame offset (loudness) but not a per-feature gain
    assertClose(normalizeTargetFeatures(x.add(5), lens, 'per_frame'), normalizeTargetFeatures(x, lens, 'per_frame'), 1e-4, 1e-4, 'loudness invariance');
  });
});

test('the degenerate-targets warning: fires below 10% of min(classes, targets) with the cause and fix; silent above', () => {
  const raw = degenerateTargetsWarning({ perplexity: 2.6, targets: 176, numClasses: 128, preprocessorNormalize: 'NA', targetNormalize: 'none' });
  assert.match(raw!, /degenerate targets: .*perplexity 2\.6 over 176 targets, below 10% of min\(num_classes 128, targets 176\) = 12\.8/);
  assert.match(raw!, /Cause: the quantizer sees unnormalised log-mel .*Fix: model\.target_normalize=per_utterance/);
  const otherCause = degenerateTargetsWarning({
    perplexity: 2.6,
    targets: 176,
    numClasses: 128,
    preprocessorNormalize: 'NA',
    targetNormalize: 'per_utterance',
  });
  assert.match(otherCause!, /look at the audio: silence/);
  assert.equal(degenerateTargetsWarning({ perplexity: 12.9, targets: 176, numClasses: 128, preprocessorNormalize: 'NA', targetNormalize: 'none' }), null);
  // few targets: the bound follows the sample, not the codebook (8192 classes, 176 targets -> 17.6)
  assert.equal(degenerateTargetsWarning({ perplexity: 20, targets: 176, numClasses: 8192, preprocessorNormalize: 'NA', targetNormalize: 'none' }), null);
  assert.ok(degenerateTargetsWarning({ perplexity: 17, targets: 176, numClasses: 8192, preprocessorNormalize: 'NA', targetNormalize: 'none' }));
});
