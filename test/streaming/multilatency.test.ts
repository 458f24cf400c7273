// Streaming exactness at every pair of the tiny_multilatency preset (dynamic chunk training): for each trained
// [left, right] pair, streaming raw audio cut at random sample boundaries equals the offline pass with that pair
// (max |diff| <= 1e-5, float32). The preset's own preprocessor and encoder sizes with random weights; 6 s of audio
// (75 encoder frames), so the 20-frame shared left context is reached, plus short tails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { AudioToMelSpectrogramPreprocessor } from '../../src/audio/index.js';
import { loadConfig } from '../../src/config/index.js';
import { ConformerEncoder, type AttContextSize } from '../../src/model/index.js';
import { conformerEncoderArgs } from '../../src/model/encoder-config.js';
import { configureStreaming, StreamingEncoder } from '../../src/streaming/index.js';
import { longAudio, maxAbsDiff, offlineEncode, streamInPieces } from './helpers.js';

const { config } = loadConfig('tiny_multilatency');
const PAIRS = config.model.encoder.att_context_size.map((p): AttContextSize => [p[0], p[1]]);

test('tiny_multilatency has at least 3 pairs sharing one left context', () => {
  assert.ok(PAIRS.length >= 3, JSON.stringify(PAIRS));
  assert.equal(new Set(PAIRS.map((p) => p[0])).size, 1);
  assert.equal(config.model.encoder.att_context_style, 'chunked_limited');
});

for (const pair of PAIRS) {
  test(`exact streaming == offline at the tiny_multilatency pair [${pair.join(',')}]`, () => {
    const before = t.liveTensorCount();
    const enc = new ConformerEncoder(conformerEncoderArgs(config.model.encoder), { init: { generator: new t.Generator(7) } }).eval();
    const pre = new AudioToMelSpectrogramPreprocessor({ ...config.model.preprocessor }).eval();
    try {
      const geo = configureStreaming(enc, { hopSeconds: 0.01, attContextSize: pair });
      assert.deepEqual(geo.attContextSize, pair);
      assert.deepEqual(geo.exactnessIssues, []);
      const se = new StreamingEncoder(enc, { geometry: geo, preprocessor: pre });
      try {
        const audio = longAudio(6, 3);
        const off = offlineEncode(pre, enc, audio, { attContextSize: pair });
        const str = streamInPieces(se, audio, 11 + pair[1], 6000);
        assert.equal(str.size(1), off.size(1), 'frames out');
        assert.ok(off.size(1) > 2 * (pair[0] + pair[1] + 1), `${off.size(1)} frames reach past the left context`);
        const d = maxAbsDiff(str, off);
        assert.ok(d <= 1e-5, `max |stream - offline| = ${d}`);
        console.log(`# [${pair.join(',')}]: ${str.size(1)} frames, max |stream - offline| = ${d.toExponential(2)}`);
        if (pair !== PAIRS[0]) {
          // the pairs compute different things, so a stream that ignored its pair would fail the check above
          const other = offlineEncode(pre, enc, audio, { attContextSize: PAIRS[0]! });
          assert.ok(maxAbsDiff(other, off) > 1e-3, `[${pair.join(',')}] differs from [${PAIRS[0]!.join(',')}]`);
          other.dispose();
        }
        for (const x of [off, str]) x.dispose();
        // short tails: the last chunk ends exactly whatever the length
        for (const n of [1, 1280, 2561]) {
          const a = audio.subarray(0, 16000 + n);
          const o = offlineEncode(pre, enc, a, { attContextSize: pair });
          const s = streamInPieces(se, a, n, 3000);
          assert.equal(s.size(1), o.size(1), `frames out for ${a.length} samples`);
          assert.ok(maxAbsDiff(s, o) <= 1e-5, `tail ${n}`);
          for (const x of [o, s]) x.dispose();
        }
      } finally {
        se.dispose();
      }
    } finally {
      enc.dispose();
      pre.dispose();
    }
    assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
  });
}
