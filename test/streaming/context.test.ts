// The attention context is streaming state handed to every step, not the encoder's default: configureStreaming leaves
// the encoder as it was; a stream with a non-default pair (a multi-lookahead model's other pair, or the right context a
// chunked_limited chunk size sets) equals the offline pass with that pair; two streams with different pairs share one
// encoder without interfering; and encoderStreamStep with the default pair computes exactly what encoder.streamStep does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { configureStreaming, encoderStreamStep, StreamingEncoder } from '../../src/streaming/index.js';
import { disposeEncoderCache, encoderCacheTensors, keepEncoderCache, type AttContextSize, type ConformerEncoderConfig } from '../../src/model/index.js';
import { buildEncoder, buildPreprocessor, longAudio, maxAbsDiff, offlineEncode } from './helpers.js';

/** Streams `samples` in pieces of `piece` samples; returns the concatenated [D, T'] output. */
function stream(se: StreamingEncoder, samples: Float32Array, piece: number): Tensor {
  let state = se.initStreamState(1);
  const parts: Tensor[] = [];
  for (let pos = 0; pos < samples.length; pos += piece) {
    const r = se.pushAudio([samples.subarray(pos, pos + piece)], state);
    parts.push(r.encoded[0]!);
    state = r.state;
  }
  parts.push(se.finish(state).encoded[0]!);
  const out = t.cat(parts, 1);
  for (const p of parts) p.dispose();
  return out;
}

const MULTI: Partial<ConformerEncoderConfig> = {
  att_context_size: [
    [8, 1],
    [8, 3],
  ],
};

test('configureStreaming reads the encoder and changes nothing in it', () => {
  const enc = buildEncoder(MULTI);
  const before = { pair: [...enc.context.default], index: enc.context.defaultPairIndex };
  const a = configureStreaming(enc, { hopSeconds: 0.01, attContextSize: [8, 3] });
  assert.deepEqual(a.attContextSize, [8, 3]);
  assert.equal(a.chunkFrames, 4);
  const b = configureStreaming(enc, { hopSeconds: 0.01, chunkFrames: 2, attContextSize: [8, 3] }); // chunked_limited: right = chunk - 1
  assert.deepEqual(b.attContextSize, [8, 1]);
  const c = configureStreaming(enc, { hopSeconds: 0.01, chunkSeconds: 0.16 });
  assert.deepEqual(c.attContextSize, [8, 1]);
  const d = configureStreaming(enc, { hopSeconds: 0.01 });
  assert.deepEqual(d.attContextSize, [8, 1], "the encoder's default pair");
  assert.deepEqual({ pair: [...enc.context.default], index: enc.context.defaultPairIndex }, before, 'default pair unchanged');
  enc.dispose();
});

test('streams with different context pairs on one encoder: each equals the offline pass with its pair', () => {
  const live = t.liveTensorCount();
  const enc = buildEncoder(MULTI);
  const pre = buildPreprocessor();
  const audio = longAudio(6, 2);
  const pairs: AttContextSize[] = [
    [8, 3],
    [8, 1],
  ];
  const geos = pairs.map((p) => configureStreaming(enc, { hopSeconds: 0.01, attContextSize: p }));
  const ses = geos.map((geometry) => new StreamingEncoder(enc, { geometry, preprocessor: pre }));
  // interleave the two streams chunk by chunk: no state is shared through the encoder
  const states = ses.map((se) => se.initStreamState(1));
  const parts: Tensor[][] = [[], []];
  const piece = 2560;
  for (let pos = 0; pos < audio.length; pos += piece) {
    for (const [i, se] of ses.entries()) {
      const r = se.pushAudio([audio.subarray(pos, pos + piece)], states[i]!);
      parts[i]!.push(r.encoded[0]!);
      states[i] = r.state;
    }
  }
  for (const [i, se] of ses.entries()) parts[i]!.push(se.finish(states[i]!).encoded[0]!);
  for (const [i, p] of pairs.entries()) {
    const str = t.cat(parts[i]!, 1);
    const off = offlineEncode(pre, enc, audio, { attContextSize: p });
    assert.equal(str.size(1), off.size(1), `frames out, [${p.join(', ')}]`);
    const d = maxAbsDiff(str, off);
    assert.ok(d <= 1e-5, `[${p.join(', ')}]: max |stream - offline| = ${d}`);
    for (const x of [str, off, ...parts[i]!]) x.dispose();
  }
  // the pairs really differ (else the test would prove nothing)
  const o3 = offlineEncode(pre, enc, audio, { attContextSize: [8, 3] });
  const o1 = offlineEncode(pre, enc, audio, { attContextSize: [8, 1] });
  assert.ok(maxAbsDiff(o3, o1) > 1e-3, 'the two contexts give different outputs');
  assert.deepEqual(enc.context.default, [8, 1], 'default pair unchanged');
  for (const x of [o3, o1]) x.dispose();
  for (const se of ses) se.dispose();
  enc.dispose();
  pre.dispose();
  assert.equal(t.liveTensorCount(), live, 'no tensor leaked');
});

test('a chunked_limited chunk size sets the streamed right context; the output equals offline with that pair', () => {
  const enc = buildEncoder(); // [8, 1]
  const pre = buildPreprocessor();
  const audio = longAudio(5, 3);
  const geo = configureStreaming(enc, { hopSeconds: 0.01, chunkSeconds: 0.32 }); // 4 frames -> [8, 3]
  assert.deepEqual(geo.attContextSize, [8, 3]);
  assert.deepEqual(geo.exactnessIssues, []);
  const se = new StreamingEncoder(enc, { geometry: geo, preprocessor: pre });
  const str = stream(se, audio, 3000);
  const off = offlineEncode(pre, enc, audio, { attContextSize: [8, 3] });
  assert.equal(str.size(1), off.size(1));
  const d = maxAbsDiff(str, off);
  assert.ok(d <= 1e-5, `max |stream - offline| = ${d}`);
  assert.deepEqual(enc.context.default, [8, 1], 'default pair unchanged');
  for (const x of [str, off]) x.dispose();
  se.dispose();
  enc.dispose();
  pre.dispose();
});

test("encoderStreamStep with the encoder's default pair is encoder.streamStep, bit for bit", () => {
  for (const over of [{}, { att_context_style: 'regular' as const, att_context_size: [16, 0] as AttContextSize }]) {
    const enc = buildEncoder(over);
    const geo = configureStreaming(enc, { hopSeconds: 0.01 });
    const st = geo.cfg;
    const g = new t.Generator(3);
    let a = enc.initCache(2, st);
    let b = enc.initCache(2, st);
    for (let step = 0; step < 4; step++) {
      const n = step === 0 ? st.chunkSize[0] : st.chunkSize[1] + st.preEncodeCacheSize[1];
      const drop = step === 0 ? 0 : st.dropExtraPreEncoded;
      t.noGrad(() =>
        t.tidy(() => {
          const x = t.randn([2, 32, n], { generator: g });
          const len = t.tensor([n, n - 3], [2], { dtype: 'int64' });
          const o = { streaming: st, dropExtraPreEncoded: drop, keepAllOutputs: step === 3 };
          const r1 = enc.streamStep(x, len, a, o);
          const r2 = encoderStreamStep(enc, x, len, b, { ...o, attContextSize: geo.attContextSize });
          assert.equal(maxAbsDiff(r1.encoded, r2.encoded), 0, `step ${step} output`);
          assert.deepEqual(r1.lengths.toArray(), r2.lengths.toArray());
          const c1 = encoderCacheTensors(r1.cache);
          const c2 = encoderCacheTensors(r2.cache);
          assert.equal(c1.length, c2.length);
          for (const [k, x] of c1.entries()) {
            assert.deepEqual(x.shape, c2[k]!.shape);
            assert.equal(maxAbsDiff(x.to({ dtype: 'float64' }), c2[k]!.to({ dtype: 'float64' })), 0, `step ${step} cache tensor ${k}`);
          }
          disposeEncoderCache(a);
          disposeEncoderCache(b);
          a = keepEncoderCache(r1.cache);
          b = keepEncoderCache(r2.cache);
        }),
      );
    }
    disposeEncoderCache(a);
    disposeEncoderCache(b);
    enc.dispose();
  }
});
