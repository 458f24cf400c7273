// The streaming recognizer: many streams decoded together, audio at any rate, segments at endpoints, bad input
// refused without losing the stream. For exact streaming configurations every stream's tokens and timestamps equal
// the offline transcript of its audio.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { loadAudio, resample } from '../../src/audio/index.js';
import { NotStreamableError, type CtcModel, type Transcript } from '../../src/asr/index.js';
import { repoRoot } from '../../src/data/corpus.js';
import { OnlineRecognizer, RecognizerInputError, type OnlineResult, type OnlineStream } from '../../src/serving/index.js';
import { bidirectionalModel, servingModel } from './model.js';

/** The serving test model (./model.ts) with the given attention style. */
const model = (style: 'regular' | 'chunked_limited'): CtcModel => servingModel(style, 7);

const clip = (name: string): Float32Array => loadAudio(join(repoRoot(), 'data', 'corpus', 'val', name), { targetSampleRate: 16000 }).samples;

/** Offline tokens as (label, seconds) pairs. */
function offlineTokens(m: CtcModel, audio: Float32Array): [string, number][] {
  const r: Transcript = m.transcribe([audio])[0]!;
  return r.tokens.map((k) => [m.vocab.labels[k.id]!, Math.round(k.frame * m.frameSeconds * 1e6) / 1e6]);
}

/** Every final segment's tokens with timestamps from the stream's start. */
function streamTokens(finals: OnlineResult[]): [string, number][] {
  return finals.flatMap((r) => r.tokens.map((tok, i): [string, number] => [tok, Math.round((r.startTime + r.timestamps[i]!) * 1e6) / 1e6]));
}

for (const [name, style] of [
  ['fully causal [-1,0]', 'regular'],
  ['chunked_limited [-1,4]', 'chunked_limited'],
] as const) {
  test(`${name}: streams of different lengths and rates, decoded together in uneven pieces, equal their offline transcripts`, () => {
    const before = t.liveTensorCount();
    const m = model(style);
    const rec = new OnlineRecognizer(m, { enableEndpoint: false });
    const a = clip('val-00000.wav');
    const b = clip('val-00001.wav').subarray(0, 16000 * 1.3);
    const c16 = clip('val-00002.wav');
    const c44 = resample(c16, 16000, 44100); // this stream arrives at 44.1 kHz
    const inputs = [
      { audio: a, rate: 16000, piece: 0.1 },
      { audio: b, rate: 16000, piece: 0.37 },
      { audio: c44, rate: 44100, piece: 0.05 },
    ];
    const streams = inputs.map(() => rec.createStream());
    const at = inputs.map(() => 0);
    const finals: OnlineResult[][] = inputs.map(() => []);
    let batched = 0;
    // round-robin: every stream gets its next piece, then all ready streams decode in one call
    while (streams.some((s, i) => !s.ended || rec.isReady(s) || finals[i]!.length === 0)) {
      for (const [i, s] of streams.entries()) {
        const inp = inputs[i]!;
        if (s.ended) continue;
        const n = Math.round(inp.piece * inp.rate);
        s.acceptWaveform({ sampleRate: inp.rate, samples: inp.audio.subarray(at[i]!, at[i]! + n) });
        at[i]! += n;
        if (at[i]! >= inp.audio.length) s.inputFinished();
      }
      const ready = streams.filter((s) => rec.isReady(s));
      if (ready.length > 1) batched++;
      rec.decodeStreams(streams);
      for (const [i, s] of streams.entries()) {
        const r = rec.getResult(s);
        if (r.isEof && finals[i]!.length === 0) finals[i]!.push(r);
      }
    }
    assert.ok(batched > 0, 'some steps decoded several streams at once');
    const expected = [offlineTokens(m, a), offlineTokens(m, b), offlineTokens(m, resample(c44, 44100, 16000))];
    for (const [i, f] of finals.entries()) {
      assert.equal(f.length, 1);
      assert.equal(f[0]!.isFinal, true);
      assert.ok(expected[i]!.length > 3, `stream ${i}: offline decoded ${expected[i]!.length} tokens`);
      assert.deepEqual(streamTokens(f), expected[i], `stream ${i}: tokens and timestamps`);
      assert.equal(f[0]!.text, m.transcribe([i === 2 ? resample(c44, 44100, 16000) : i === 0 ? a : b])[0]!.text);
    }
    assert.equal(rec.activeStreams, 3, 'ended streams stay readable until disposed');
    for (const s of streams) s.dispose();
    assert.equal(rec.activeStreams, 0);
    rec.dispose();
    m.dispose();
    assert.equal(t.liveTensorCount(), before, 'leaked tensors');
  });
}

test('endpoints split a stream into segments; the segments together are the offline transcript', async () => {
  const before = t.liveTensorCount();
  const m = model('regular');
  // rule 3 at 0.5 s: a segment ends every 0.5 s whatever is said, which exercises reset() many times
  const rec = new OnlineRecognizer(m, { endpoint: { rule3: { minUtteranceLength: 0.5 } } });
  const audio = clip('val-00000.wav');
  const pieces = Array.from({ length: Math.ceil(audio.length / 1600) }, (_, i) => audio.subarray(i * 1600, (i + 1) * 1600));
  const results: OnlineResult[] = [];
  for await (const r of rec.recognize(pieces)) results.push(r);
  const finals = results.filter((r) => r.isFinal);
  assert.ok(finals.length >= 3, `${finals.length} segments`);
  assert.deepEqual(
    finals.map((r) => r.segment),
    finals.map((_, i) => i),
    'segments are numbered in order',
  );
  for (const [i, r] of finals.entries()) if (i > 0) assert.ok(r.startTime > finals[i - 1]!.startTime);
  assert.equal(results.at(-1)!.isEof, true);
  assert.equal(results.filter((r) => r.isEof).length, 1);
  assert.deepEqual(streamTokens(finals), offlineTokens(m, audio));
  assert.ok(
    results.some((r) => !r.isFinal),
    'partial results come before finals',
  );
  rec.dispose();
  m.dispose();
  assert.equal(t.liveTensorCount(), before, 'leaked tensors');
});

test('without endpoints, recognize() yields growing partial results and one final equal to offline', async () => {
  const m = model('chunked_limited');
  const rec = new OnlineRecognizer(m, { enableEndpoint: false });
  const audio = clip('val-00001.wav');
  async function* mic(): AsyncGenerator<Float32Array> {
    for (let i = 0; i < audio.length; i += 2560) yield audio.subarray(i, i + 2560);
  }
  const results: OnlineResult[] = [];
  for await (const r of rec.recognize(mic())) results.push(r);
  assert.ok(results.length > 2);
  // tokens only ever grow within a segment, so every partial text is a prefix of the next
  for (const [i, r] of results.entries()) if (i > 0) assert.ok(r.text.startsWith(results[i - 1]!.text), `${results[i - 1]!.text} -> ${r.text}`);
  assert.equal(results.at(-1)!.text, m.transcribe([audio])[0]!.text);
  assert.equal(rec.activeStreams, 0, 'recognize() frees its stream');
  rec.dispose();
  m.dispose();
});

test('bad input is refused with RecognizerInputError and the stream goes on unharmed', () => {
  const m = model('regular');
  const rec = new OnlineRecognizer(m, { enableEndpoint: false });
  const audio = clip('val-00002.wav');
  const s: OnlineStream = rec.createStream();
  const half = audio.length >> 1;
  s.acceptWaveform({ sampleRate: 16000, samples: audio.subarray(0, half) });
  const bad = audio.slice(0, 100);
  bad[50] = Number.NaN;
  assert.throws(
    () => s.acceptWaveform({ sampleRate: 16000, samples: bad }),
    (e: Error) => e instanceof RecognizerInputError && /sample 50 is NaN/.test(e.message),
  );
  bad[50] = Number.POSITIVE_INFINITY;
  assert.throws(() => s.acceptWaveform({ sampleRate: 16000, samples: bad }), /sample 50 is Infinity/);
  assert.throws(() => s.acceptWaveform({ sampleRate: 8000, samples: audio.subarray(0, 10) }), /sample rate changed within a stream \(16000 Hz, now 8000 Hz\)/);
  assert.throws(() => s.acceptWaveform({ sampleRate: 12.5, samples: audio.subarray(0, 10) }), /whole number of Hz/);
  assert.throws(() => s.acceptWaveform({ sampleRate: 16000, samples: [0.1, 0.2] as unknown as Float32Array }), /Float32Array/);
  s.acceptWaveform({ sampleRate: 16000, samples: audio.subarray(half) });
  s.inputFinished();
  assert.throws(() => s.acceptWaveform({ sampleRate: 16000, samples: audio.subarray(0, 10) }), /after inputFinished/);
  while (rec.isReady(s)) rec.decode(s);
  const r = rec.getResult(s);
  assert.equal(r.isEof, true);
  assert.equal(r.text, m.transcribe([audio])[0]!.text, 'nothing was lost to the refused pieces');
  const other = new OnlineRecognizer(m);
  assert.throws(() => other.decode(s), /another recognizer/);
  s.dispose();
  s.dispose();
  other.dispose();
  rec.dispose();
  m.dispose();
});

test('warmUp runs two streams to their ends and leaves nothing open; results afterwards are unchanged', () => {
  const m = model('regular');
  const audio = clip('val-00003.wav');
  const expected = m.transcribe([audio])[0]!.text;
  const before = t.liveTensorCount();
  const rec = new OnlineRecognizer(m, { enableEndpoint: false });
  assert.ok(rec.warmUp(0.5) > 0);
  assert.equal(rec.activeStreams, 0);
  const s = rec.createStream();
  s.acceptWaveform({ sampleRate: 16000, samples: audio });
  s.inputFinished();
  while (rec.isReady(s)) rec.decode(s);
  assert.equal(rec.getResult(s).text, expected);
  s.dispose();
  rec.dispose();
  assert.equal(t.liveTensorCount(), before, 'leaked tensors');
  m.dispose();
});

test('a bidirectional model is refused with the reasons', () => {
  const m = bidirectionalModel();
  assert.throws(
    () => new OnlineRecognizer(m),
    (e: Error) => e instanceof NotStreamableError && /cannot stream \(encoder.causal_downsampling is false; .*unlimited right context\)/.test(e.message),
  );
  m.dispose();
});

test('latencyBudgetMs: adaptive look-ahead takes the largest trained look-ahead that fits; results equal offline at that context', async () => {
  const before = t.liveTensorCount();
  const pairs = [
    [16, 3],
    [16, 0],
    [16, 1],
    [8, 1],
  ];
  const m = servingModel('chunked_limited', 7, pairs);
  const a = clip('val-00000.wav');
  // 80 ms frames: [16,0] streams 80 ms of algorithmic latency, [16,1] 160 ms, [16,3] 320 ms; [8,1] has another cache
  for (const [budget, expected] of [
    [60_000, '16,3'],
    [150, '16,0'],
  ] as const) {
    const rec = new OnlineRecognizer(m, { enableEndpoint: false, latencyBudgetMs: budget });
    const la = rec.lookahead!;
    assert.deepEqual(
      la.candidates.map((c) => c.attContextSize.join(',')),
      ['16,0', '16,1', '16,3'],
    );
    assert.equal(la.skipped.length, 1);
    assert.match(la.skipped[0]!, /\[8, 1\].*16 and 8 frames of left context/);
    rec.warmUp(1, 2);
    assert.ok(
      rec.lookahead!.candidates.every((c, k) => c.expectedLatencyMs > [80, 160, 320][k]!),
      'warm-up measured every candidate',
    );
    assert.match(rec.describe(), new RegExp(`adaptive look-ahead within ${budget} ms over \\[16, 0\\] 80 ms, \\[16, 1\\] 160 ms, \\[16, 3\\] 320 ms`));
    let last: OnlineResult | null = null;
    for await (const r of rec.recognize([a.subarray(0, 30000), a.subarray(30000)])) last = r;
    assert.deepEqual(Object.keys(last!.contextsUsed), [expected], `budget ${budget}: ${JSON.stringify(last!.contextsUsed)}`);
    const pair = expected.split(',').map(Number) as [number, number];
    m.encoder.setDefaultAttContextSize(pair);
    assert.deepEqual(streamTokens([last!]), offlineTokens(m, a), `budget ${budget}: the transcript of [${pair.join(', ')}]`);
    m.encoder.setDefaultAttContextSize([16, 3]);
    rec.dispose();
  }
  assert.throws(
    () => new OnlineRecognizer(m, { latencyBudgetMs: 0 }),
    (e: Error) => e instanceof RecognizerInputError && /latencyBudgetMs/.test(e.message),
  );
  const fixed = new OnlineRecognizer(m, { latencyBudgetMs: 500 }).withAttContext([16, 1]);
  assert.equal(fixed.lookahead, null, 'a recognizer for a chosen context is not adaptive');
  fixed.dispose();
  m.dispose();
  assert.equal(t.liveTensorCount(), before, 'leaked tensors');
});
