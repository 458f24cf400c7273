// The streaming recognizer over a transducer: the prediction network's state carried next to the encoder cache, so
// that for exact streaming configurations every stream's labels and timestamps equal the offline greedy transcript
// of its audio, with several streams of different lengths and rates decoded together; endpoints (trailing frames
// with no label) split a stream into segments whose labels together are still the offline ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { loadAudio, resample } from '../../src/audio/index.js';
import type { RnntModel } from '../../src/asr/index.js';
import { repoRoot } from '../../src/data/corpus.js';
import { OnlineRecognizer, type OnlineResult } from '../../src/serving/index.js';
import { servingRnntModel } from './rnnt-model.js';

const clip = (name: string): Float32Array => loadAudio(join(repoRoot(), 'data', 'corpus', 'val', name), { targetSampleRate: 16000 }).samples;
const us = (x: number): number => Math.round(x * 1e6) / 1e6;

/** Offline greedy tokens as (label, seconds) pairs. */
function offlineTokens(m: RnntModel, audio: Float32Array): [string, number][] {
  return m.transcribe([audio])[0]!.tokens.map((k) => [m.vocab.labels[k.id]!, us(k.frame * m.frameSeconds)]);
}

/** Every final segment's tokens with timestamps from the stream's start. */
function streamTokens(finals: OnlineResult[]): [string, number][] {
  return finals.flatMap((r) => r.tokens.map((tok, i): [string, number] => [tok, us(r.startTime + r.timestamps[i]!)]));
}

for (const [name, style] of [
  ['fully causal [-1,0]', 'regular'],
  ['chunked_limited [-1,4]', 'chunked_limited'],
] as const) {
  test(`transducer, ${name}: streams decoded together in uneven pieces equal their offline greedy labels and timestamps`, () => {
    const before = t.liveTensorCount();
    const m = servingRnntModel(style);
    const rec = new OnlineRecognizer(m, { enableEndpoint: false });
    const a = clip('val-00000.wav');
    const b = clip('val-00001.wav').subarray(0, 16000 * 1.3);
    const c16 = clip('val-00002.wav');
    const c44 = resample(c16, 16000, 44100);
    const inputs = [
      { audio: a, rate: 16000, piece: 0.1 },
      { audio: b, rate: 16000, piece: 0.37 },
      { audio: c44, rate: 44100, piece: 0.05 },
    ];
    const streams = inputs.map(() => rec.createStream());
    const at = inputs.map(() => 0);
    const finals: (OnlineResult | null)[] = inputs.map(() => null);
    let batched = 0;
    while (finals.some((f) => f === null)) {
      for (const [i, s] of streams.entries()) {
        const inp = inputs[i]!;
        if (s.ended) continue;
        const n = Math.round(inp.piece * inp.rate);
        s.acceptWaveform({ sampleRate: inp.rate, samples: inp.audio.subarray(at[i]!, at[i]! + n) });
        at[i]! += n;
        if (at[i]! >= inp.audio.length) s.inputFinished();
      }
      if (streams.filter((s) => rec.isReady(s)).length > 1) batched++;
      rec.decodeStreams(streams);
      for (const [i, s] of streams.entries()) {
        const r = rec.getResult(s);
        if (r.isEof && finals[i] === null) finals[i] = r;
      }
    }
    assert.ok(batched > 0, 'some steps decoded several streams at once');
    const expected = [offlineTokens(m, a), offlineTokens(m, b), offlineTokens(m, resample(c44, 44100, 16000))];
    for (const [i, f] of finals.entries()) {
      assert.ok(expected[i]!.length > 3, `stream ${i}: offline decoded ${expected[i]!.length} labels`);
      assert.deepEqual(streamTokens([f!]), expected[i], `stream ${i}: labels and timestamps`);
      assert.ok(f!.words.length > 0);
    }
    // the model emits zero, one and several labels per frame (what the carried state must get right)
    const perFrame = new Map<number, number>();
    for (const [, s] of expected[0]!) perFrame.set(s, (perFrame.get(s) ?? 0) + 1);
    assert.ok([...perFrame.values()].some((n) => n > 1) && [...perFrame.values()].some((n) => n === 1), 'one and several labels per frame');
    for (const s of streams) s.dispose();
    rec.dispose();
    m.dispose();
    assert.equal(t.liveTensorCount(), before, 'leaked tensors');
  });
}

test('transducer endpoints: trailing frames without a label end a segment; the segments together are the offline labels', async () => {
  const before = t.liveTensorCount();
  const m = servingRnntModel('regular');
  // rule 2 after 0.24 s (3 frames) with no label: frequent endpoints, each resetting the segment but not the prediction state
  const rec = new OnlineRecognizer(m, { endpoint: { rule2: { minTrailingSilence: 0.24 } } });
  const audio = clip('val-00000.wav');
  const pieces = Array.from({ length: Math.ceil(audio.length / 1280) }, (_, i) => audio.subarray(i * 1280, (i + 1) * 1280));
  const results: OnlineResult[] = [];
  for await (const r of rec.recognize(pieces)) results.push(r);
  const finals = results.filter((r) => r.isFinal);
  assert.ok(finals.length >= 3, `${finals.length} segments`);
  for (const r of finals.slice(0, -1)) {
    // each endpoint: a label, then at least 3 frames (0.24 s) without one
    assert.ok(r.tokens.length > 0);
    const segEnd = r.decodedSeconds - r.startTime;
    assert.ok(segEnd - (r.timestamps.at(-1)! + m.frameSeconds) >= 0.24 - 1e-6, `segment ${r.segment}: ${segEnd} s, last label at ${r.timestamps.at(-1)}`);
  }
  assert.deepEqual(streamTokens(finals), offlineTokens(m, audio));
  rec.dispose();
  m.dispose();
  assert.equal(t.liveTensorCount(), before, 'leaked tensors');
});

test('transducer with modified beam search: streams decoded together (hypotheses carried between chunks) equal offline beam search', () => {
  const before = t.liveTensorCount();
  const m = servingRnntModel('chunked_limited', { beam: { beamSize: 4 } });
  const greedy = servingRnntModel('chunked_limited');
  const rec = new OnlineRecognizer(m, { enableEndpoint: false });
  const clips = [clip('val-00003.wav'), clip('val-00004.wav').subarray(0, 16000 * 1.7)];
  const streams = clips.map(() => rec.createStream());
  const pieces = [0.13, 0.29];
  const at = [0, 0];
  while (streams.some((s) => !s.ended || rec.isReady(s))) {
    for (const [i, s] of streams.entries()) {
      if (s.ended) continue;
      const n = Math.round(pieces[i]! * 16000);
      s.acceptWaveform({ sampleRate: 16000, samples: clips[i]!.subarray(at[i]!, at[i]! + n) });
      at[i]! += n;
      if (at[i]! >= clips[i]!.length) s.inputFinished();
    }
    rec.decodeStreams(streams);
  }
  let differs = false;
  for (const [i, s] of streams.entries()) {
    const r = rec.getResult(s);
    assert.equal(r.isEof, true);
    const off = offlineTokens(m, clips[i]!);
    assert.ok(off.length > 3);
    assert.deepEqual(streamTokens([r]), off, `stream ${i}`);
    differs ||= JSON.stringify(off) !== JSON.stringify(offlineTokens(greedy, clips[i]!));
  }
  assert.ok(differs, 'beam search finds other labels than greedy search on these clips');
  for (const s of streams) s.dispose();
  rec.dispose();
  m.dispose();
  greedy.dispose();
  assert.equal(t.liveTensorCount(), before, 'leaked tensors');
});
