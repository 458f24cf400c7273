// Switching look-ahead inside one stream: a multi-look-ahead model's stream may change its chunk (and so its right
// context) between any two steps while the left-context cache stays valid. The reference is the offline pass under the
// same per-chunk masks (ConformerEncoder.forward's chunkSchedule); with one chunk size the schedule is chunked_limited.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { configureStreaming, StreamingConfigError, StreamingEncoder, type StreamingGeometry, type StreamSlot } from '../../src/streaming/index.js';
import { contextAllowed, scheduleAllowed, scheduleSpans } from '../../src/model/index.js';
import { buildEncoder, buildPreprocessor, longAudio, maxAbsDiff, offlineEncode, randomInts } from './helpers.js';

const PAIRS: [number, number][] = [
  [8, 0],
  [8, 1],
  [8, 3],
];

/**
 * Streams every clip together (all audio fed, then ended), one step per stream per turn; before each step a stream
 * takes the geometry `choose(stream, step)` names. Returns each stream's output and the chunk sizes it ran with.
 */
function streamSwitching(
  se: StreamingEncoder,
  clips: Float32Array[],
  geos: StreamingGeometry[],
  choose: (stream: number, step: number) => number,
): { out: Tensor[]; chunks: number[][] } {
  let state = se.endStreams(
    se.feedAudio(clips, se.initStreamState(clips.length)),
    clips.map((_, i) => i),
  );
  const parts: Tensor[][] = clips.map(() => []);
  const chunks: number[][] = clips.map(() => []);
  for (let step = 0; ; step++) {
    const streams: StreamSlot[] = state.streams.map((s, i) => se.switchGeometry(s, geos[choose(i, step)]!));
    if (!streams.some((s) => se.isReady(s))) {
      state = { streams };
      break;
    }
    for (const [i, s] of streams.entries()) if (se.isReady(s)) chunks[i]!.push(s.geometry.chunkFrames);
    const r = se.run({ streams }, { maxSteps: 1 });
    for (const [i, e] of r.encoded.entries()) parts[i]!.push(e);
    state = r.state;
  }
  se.disposeState(state);
  const out = parts.map((p) => {
    const cat = t.cat(p, 1);
    for (const x of p) x.dispose();
    return cat;
  });
  return { out, chunks };
}

test('a chunk schedule with one chunk size is the chunked_limited rule; spans and left context known values', () => {
  for (const [left, right] of [
    [8, 1],
    [6, 2],
    [-1, 3],
  ] as const) {
    const a = scheduleAllowed({ chunks: [right + 1], left }, 13);
    const b = contextAllowed([left, right], 'chunked_limited', 13);
    assert.equal(
      t.tidy(() => a.ne(b).sum().item()),
      0,
      `[${left}, ${right}]`,
    );
    a.dispose();
    b.dispose();
  }
  assert.deepEqual(scheduleSpans({ chunks: [1, 3, 2], left: 2 }, 8), { start: [0, 1, 1, 1, 4, 4, 6, 6], end: [1, 4, 4, 4, 6, 6, 8, 8] });
  const m = scheduleAllowed({ chunks: [1, 3, 2], left: 2 }, 6);
  // row 4 (chunk [4, 6)) sees keys 2 .. 5; row 1 (chunk [1, 4)) sees 0 .. 3
  assert.deepEqual(
    m.toArray().map((x) => Number(x)),
    [
      [1, 0, 0, 0, 0, 0],
      [1, 1, 1, 1, 0, 0],
      [1, 1, 1, 1, 0, 0],
      [1, 1, 1, 1, 0, 0],
      [0, 0, 1, 1, 1, 1],
      [0, 0, 1, 1, 1, 1],
    ].flat(),
  );
  m.dispose();
  assert.throws(() => scheduleSpans({ chunks: [], left: 2 }, 4), /at least one chunk/);
  assert.throws(() => scheduleSpans({ chunks: [2, 0], left: 2 }, 4), /whole numbers >= 1/);
});

test('a stream that switches look-ahead between steps equals the offline pass under the same per-chunk masks', () => {
  const enc = buildEncoder({ att_context_size: PAIRS });
  const pre = buildPreprocessor();
  const geos = PAIRS.map((p) => configureStreaming(enc, { attContextSize: p, hopSeconds: 0.01 }));
  const se = new StreamingEncoder(enc, { geometry: geos[0]!, preprocessor: pre });
  const clips = [longAudio(3.1, 1), longAudio(2.45, 2), longAudio(1.33, 3)];
  const rand = randomInts(11);
  const picks = clips.map(() => Array.from({ length: 200 }, () => rand(0, PAIRS.length - 1)));
  const { out, chunks } = streamSwitching(se, clips, geos, (i, step) => picks[i]![step]!);
  try {
    for (const [i, clip] of clips.entries()) {
      assert.ok(new Set(chunks[i]).size === PAIRS.length, `stream ${i} used every chunk size (${chunks[i]!.join(' ')})`);
      const ref = offlineEncode(pre, enc, clip, { chunkSchedule: { chunks: chunks[i]!, left: 8 } });
      assert.deepEqual(out[i]!.shape, ref.shape);
      assert.ok(maxAbsDiff(out[i]!, ref) < 1e-5, `stream ${i}: max |diff| ${maxAbsDiff(out[i]!, ref)}`);
      // and it is not the output of any fixed context (the reference is not trivially met)
      const fixed = offlineEncode(pre, enc, clip, { chunkSchedule: { chunks: [4], left: 8 } });
      assert.ok(maxAbsDiff(fixed, ref) > 1e-4, 'switching changes the output');
      ref.dispose();
      fixed.dispose();
    }
  } finally {
    for (const o of out) o.dispose();
    se.dispose();
    enc.dispose();
    pre.dispose();
  }
});

test('switching refuses contexts whose caches differ, and NeMo-compatible mode', () => {
  const enc = buildEncoder({
    att_context_size: [
      [8, 1],
      [4, 1],
      [8, 3],
    ],
  });
  const geo = (p: [number, number]) => configureStreaming(enc, { attContextSize: p, hopSeconds: 0.01 });
  const se = new StreamingEncoder(enc, { geometry: geo([8, 1]) });
  const slot = se.initStream();
  try {
    assert.throws(
      () => se.switchGeometry(slot, geo([4, 1])),
      (e: Error) => e instanceof StreamingConfigError && /8 and 4 frames of left context/.test(e.message),
    );
    assert.equal(se.switchGeometry(slot, geo([8, 3])).geometry.chunkFrames, 4);
    const nemo = new StreamingEncoder(enc, { geometry: geo([8, 1]), mode: 'nemo' });
    const s2 = nemo.initStream();
    assert.throws(() => nemo.switchGeometry(s2, geo([8, 3])), /NeMo-compatible streaming runs one context per stream/);
    nemo.disposeStream(s2);
    nemo.dispose();
  } finally {
    se.disposeStream(slot);
    se.dispose();
    enc.dispose();
  }
});

test('chunked_limited with unlimited left context streams exactly whatever max_context (the cache is whole chunks)', () => {
  const enc = buildEncoder({ att_context_size: [-1, 2] });
  const pre = buildPreprocessor();
  const clip = longAudio(2.0, 1);
  const ref = offlineEncode(pre, enc, clip, { chunkSchedule: { chunks: [3], left: -1 } });
  try {
    for (const maxContext of [1000, 1001, 1002]) {
      const geo = configureStreaming(enc, { hopSeconds: 0.01, maxContext });
      assert.equal(geo.cfg.lastChannelCacheSize, 1002, `max_context ${maxContext} rounds up to whole 3-frame chunks`);
      const se = new StreamingEncoder(enc, { geometry: geo, preprocessor: pre });
      const { out } = streamSwitching(se, [clip], [geo], () => 0);
      assert.ok(maxAbsDiff(out[0]!, ref) < 1e-5, `max_context ${maxContext}: max |diff| ${maxAbsDiff(out[0]!, ref)}`);
      out[0]!.dispose();
      se.dispose();
    }
  } finally {
    ref.dispose();
    enc.dispose();
    pre.dispose();
  }
});
