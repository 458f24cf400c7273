// Exactness: streaming from raw audio, cut at random sample boundaries, equals the offline pass (max |diff| <= 1e-5,
// float32) on 60 s of audio, for chunked_limited, fully causal and regular look-ahead configurations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { configureStreaming, StreamingEncoder } from '../../src/streaming/index.js';
import type { ConformerEncoderConfig } from '../../src/model/index.js';
import { buildEncoder, buildPreprocessor, longAudio, maxAbsDiff, offlineEncode, streamInPieces } from './helpers.js';

const variants: { name: string; cfg: Partial<ConformerEncoderConfig>; seconds: number }[] = [
  { name: 'chunked_limited [8,1]', cfg: {}, seconds: 60 },
  { name: 'chunked_limited [12,3]', cfg: { att_context_size: [12, 3] }, seconds: 20 },
  { name: 'chunked_limited [8,0]', cfg: { att_context_size: [8, 0] }, seconds: 20 },
  { name: 'fully causal regular [16,0]', cfg: { att_context_style: 'regular', att_context_size: [16, 0] }, seconds: 60 },
  { name: 'regular look-ahead [16,2]', cfg: { att_context_style: 'regular', att_context_size: [16, 2] }, seconds: 20 },
];

for (const v of variants) {
  test(`exact streaming == offline: ${v.name}, ${v.seconds} s, random audio chunks`, () => {
    const before = t.liveTensorCount();
    const enc = buildEncoder(v.cfg);
    const pre = buildPreprocessor();
    const geo = configureStreaming(enc, { hopSeconds: 0.01 });
    assert.deepEqual(geo.exactnessIssues, []);
    const se = new StreamingEncoder(enc, { geometry: geo, preprocessor: pre });
    const audio = longAudio(v.seconds, v.seconds);
    const off = offlineEncode(pre, enc, audio);
    const str = streamInPieces(se, audio, 11, 12000);
    assert.equal(str.size(1), off.size(1), 'frames out');
    const d = maxAbsDiff(str, off);
    assert.ok(d <= 1e-5, `max |stream - offline| = ${d}`);
    assert.ok(str.size(1) >= Math.floor(v.seconds * 12.4), `${str.size(1)} frames`);
    console.log(`# ${v.name}: ${str.size(1)} frames, max |stream - offline| = ${d.toExponential(2)}`);
    // short tails: every length from a whole chunk down to a few samples ends exactly
    for (const n of [1, 400, 1280, 2560, 2561, 5000]) {
      const a = audio.subarray(0, 16000 + n);
      const o = offlineEncode(pre, enc, a);
      const s = streamInPieces(se, a, n, 3000);
      assert.equal(s.size(1), o.size(1), `frames out for ${a.length} samples`);
      assert.ok(maxAbsDiff(s, o) <= 1e-5, `tail ${n}`);
      o.dispose();
      s.dispose();
    }
    off.dispose();
    str.dispose();
    se.dispose();
    enc.dispose();
    pre.dispose();
    assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
  });
}

test('nemo mode differs where NeMo does (zero-padded early pre-encode cache, fully causal)', () => {
  const enc = buildEncoder({ att_context_style: 'regular', att_context_size: [16, 0] });
  const pre = buildPreprocessor();
  const geo = configureStreaming(enc, { hopSeconds: 0.01 });
  const audio = longAudio(5);
  const off = offlineEncode(pre, enc, audio);
  const nemo = new StreamingEncoder(enc, { geometry: geo, preprocessor: pre, mode: 'nemo' });
  const s = streamInPieces(nemo, audio, 3, 4000);
  const n = Math.min(s.size(1), off.size(1));
  const d = maxAbsDiff(s.narrow(1, 0, n), off.narrow(1, 0, n));
  assert.ok(d > 1e-4, `NeMo's zero-padded cache should perturb frame 1 onward, diff ${d}`);
  for (const x of [off, s]) x.dispose();
  nemo.dispose();
  enc.dispose();
  pre.dispose();
});
