// Speaker embeddings: statistics pooling against plain arithmetic, streamed pooling equal to offline, streamed frame and
// utterance embeddings equal to offline on a causal encoder, the projection, too-short input, no leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { finishPooling, initPooling, statisticsPooling, updatePooling } from '../../src/diarization/statistics-pooling.js';
import { SpeakerEmbedder } from '../../src/diarization/speaker-embedding.js';
import { configureStreaming, StreamingEncoder } from '../../src/streaming/index.js';
import { buildEncoder, buildPreprocessor, longAudio, maxAbsDiff } from '../streaming/helpers.js';

test('statistics pooling by hand: mean and unbiased std over each row’s valid frames', () => {
  const before = t.liveTensorCount();
  const [B, D, T] = [2, 3, 7];
  const lens = [7, 4];
  const x = t.rand([B, D, T], { generator: new t.Generator(1) });
  const v = x.toArray();
  const got = t.tidy(() => statisticsPooling(x, lens).toArray()); // [B, 2D]
  for (let b = 0; b < B; b++) {
    for (let d = 0; d < D; d++) {
      const vals = Array.from({ length: lens[b]! }, (_, k) => v[(b * D + d) * T + k]!);
      const mean = vals.reduce((a, y) => a + y, 0) / vals.length;
      const std = Math.sqrt(vals.reduce((a, y) => a + (y - mean) ** 2, 0) / (vals.length - 1));
      assert.ok(Math.abs(got[b * 2 * D + d]! - mean) < 1e-6, `mean ${b},${d}`);
      assert.ok(Math.abs(got[b * 2 * D + D + d]! - std) < 1e-6, `std ${b},${d}`);
    }
  }
  assert.throws(() => statisticsPooling(x, [7, 1]), /1 encoder frame\(s\); statistics pooling needs at least 2/);
  // streamed in uneven pieces: the same statistics
  let s = initPooling(D);
  for (const [a, n] of [
    [0, 1],
    [1, 0],
    [1, 4],
    [5, 2],
  ] as const)
    s = t.tidy(() => updatePooling(s, x.select(0, 0).narrow(1, a, n)));
  const streamed = finishPooling(s);
  assert.ok(t.tidy(() => maxAbsDiff(streamed, statisticsPooling(x.narrow(0, 0, 1), [7]).select(0, 0))) < 1e-6);
  t.tidy(() => assert.throws(() => finishPooling(updatePooling(initPooling(D), x.select(0, 0).narrow(1, 0, 1))), /at least 2/));
  for (const y of [x, streamed]) y.dispose();
  assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
});

test('streamed frame and utterance embeddings equal the offline ones (chunked_limited [8,1], 9 s in 0.3 s chunks)', () => {
  const before = t.liveTensorCount();
  const enc = buildEncoder({});
  const pre = buildPreprocessor();
  const audio = longAudio(9, 4);
  const embedder = new SpeakerEmbedder(pre, enc);
  assert.equal(embedder.dim, 64);
  const off = embedder.embedUtterance(audio);
  const se = new StreamingEncoder(enc, { geometry: configureStreaming(enc, { hopSeconds: 0.01 }), preprocessor: pre });
  const pieces = function* (): Generator<Float32Array> {
    for (let a = 0; a < audio.length; a += 4800) yield audio.subarray(a, a + 4800);
  };
  let seen = 0;
  const str = embedder.embedStreaming(se, pieces(), (f) => {
    seen += f.size(1);
  });
  assert.deepEqual(str.frames.shape, off.frames.shape);
  assert.equal(seen, off.frames.size(1));
  assert.deepEqual(off.embedding.shape, [64]);
  const df = maxAbsDiff(str.frames, off.frames);
  const de = maxAbsDiff(str.embedding, off.embedding);
  assert.ok(df <= 1e-5 && de <= 1e-5, `frames ${df}, embedding ${de}`);
  console.log(`# ${off.frames.size(1)} frames: max |stream - offline| frames ${df.toExponential(2)}, pooled ${de.toExponential(2)}`);
  // a projection maps the 64 pooled values to 16, the same for both paths
  const proj = new t.Linear(64, 16, true, { generator: new t.Generator(2) });
  const projected = new SpeakerEmbedder(pre, enc, proj);
  const a = projected.embedUtterance(audio);
  const b = projected.embedStreaming(se, pieces());
  assert.deepEqual(a.embedding.shape, [16]);
  assert.ok(maxAbsDiff(a.embedding, b.embedding) <= 1e-5);
  const wrong = new t.Linear(10, 4);
  assert.throws(() => new SpeakerEmbedder(pre, enc, wrong), /the projection takes 10 values but pooling gives 64/);
  wrong.dispose();
  for (const x of [off.frames, off.embedding, str.frames, str.embedding, a.frames, a.embedding, b.frames, b.embedding]) x.dispose();
  proj.dispose();
  se.dispose();
  enc.dispose();
  pre.dispose();
  assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
});
