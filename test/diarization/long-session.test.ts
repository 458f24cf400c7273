// Long diarization sessions: a 3-minute session WAV (the shipped corpus's clips concatenated, written in the test)
// streamed from the file through a small random-weight causal diarizer with unlimited left context: the native
// allocator's live bytes and the live tensor count stay flat from the first minute to the end, the reader's pieces are
// never larger than asked; streaming a file equals streaming its loaded samples (and the offline pass). Offline passes of sessions too long
// for memory are refused before anything is allocated, naming the file and the manifest line; and the documented
// bound of streaming with an unlimited left context (a cache of maxContext frames = an offline pass with that left context).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { loadAudio, openAudioStream, writeWav } from '../../src/audio/index.js';
import { configureStreaming, StreamingEncoder } from '../../src/streaming/index.js';
import type { ConformerEncoderConfig } from '../../src/model/index.js';
import { Diarizer, StreamingDiarizer } from '../../src/diarization/diarizer.js';
import { diarizeAudio, diarizeFile, diarizeManifest, SessionTooLongError } from '../../src/diarization/diarize-audio.js';
import { diarizationManifestLine, writeDiarizationManifest } from '../../src/diarization/diarization-manifest.js';
import { REPO_ROOT } from '../helpers/assert.js';
import { buildEncoder, buildPreprocessor, longAudio, maxAbsDiff } from '../streaming/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'streamnest-long-session-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const RATE = 16000;
const SESSION_SECONDS = 180;
/** 8 encoder frames per streaming step (0.64 s): fewer steps over the 10000-frame attention cache keep the test fast. */
const CHUNK_SECONDS = 0.64;

function buildDiarizer(cfg: Partial<ConformerEncoderConfig>): Diarizer {
  const encoder = buildEncoder(cfg);
  return new Diarizer({ preprocessor: buildPreprocessor(), encoder, head: { num_spks: 4, fc_d_model: 32, tf_d_model: 24, dropout_rate: 0.5 }, seed: 3 }).eval();
}

/** The shipped corpus's training clips, concatenated (and repeated) into a `seconds`-long 16 kHz PCM16 WAV. */
function sessionWav(seconds: number): string {
  const corpus = join(REPO_ROOT, 'data', 'corpus', 'train');
  const clips = readdirSync(corpus)
    .filter((f) => f.endsWith('.wav'))
    .sort()
    .map((f) => loadAudio(join(corpus, f), { targetSampleRate: RATE }).samples);
  const out = new Float32Array(seconds * RATE);
  for (let at = 0, k = 0; at < out.length; k++) {
    const c = clips[k % clips.length]!.subarray(0, out.length - at);
    out.set(c, at);
    at += c.length;
  }
  const path = join(dir, `session-${seconds}s.wav`);
  writeWav(path, out, RATE);
  return path;
}

test('a 3-minute session streamed from its file: flat native memory and tensor count, pieces never larger than asked', async () => {
  const model = buildDiarizer({ att_context_size: [-1, 1] });
  const wav = sessionWav(SESSION_SECONDS);
  const pieceSamples = RATE / 2;
  let largest = 0;
  for await (const p of openAudioStream(wav, { pieceSamples, targetSampleRate: RATE })) largest = Math.max(largest, p.length);
  assert.equal(largest, pieceSamples);

  diarizeAudio(model, loadAudio(wav, { duration: 1 }).samples, { streamSeconds: 0.5, chunkSeconds: CHUNK_SECONDS }); // warm-up: the model's position table grows once
  const tensors0 = t.liveTensorCount();
  const marks: { seconds: number; live: number; tensors: number }[] = [];
  const mark = (pushed: number): void => {
    const seconds = pushed / RATE;
    if ((marks.length === 0 && seconds >= 60) || seconds >= SESSION_SECONDS) {
      marks.push({ seconds, live: t.cpuAllocatorStats().liveBytes!, tensors: t.liveTensorCount() });
    }
  };
  const streamed = await diarizeFile(model, wav, { streamSeconds: 0.5, chunkSeconds: CHUNK_SECONDS, onPiece: mark });
  assert.equal(t.liveTensorCount(), tensors0, 'every tensor of the run released');
  assert.equal(marks.length, 2);
  const [minute, end] = marks as [(typeof marks)[0], (typeof marks)[0]];
  console.log(
    `# ${SESSION_SECONDS} s streamed: native live bytes ${(minute.live / 2 ** 20).toFixed(2)} MiB at ${minute.seconds} s, ${(end.live / 2 ** 20).toFixed(2)} MiB at ${end.seconds} s; live tensors ${minute.tensors} and ${end.tensors}`,
  );
  assert.equal(end.tensors, minute.tensors, 'live tensors at the end = after the first minute');
  assert.ok(end.live <= minute.live + 256 * 1024, `native live bytes grew from ${minute.live} to ${end.live}`);
  const frames = streamed.length / model.numSpeakers;
  assert.ok(Math.abs(frames - SESSION_SECONDS / 0.08) <= 2, `${frames} frames of activities`);
  model.dispose();
});

test('an offline pass too long for the attention limit is refused before allocating, naming the file and manifest line; file stream = samples stream', async () => {
  const model = buildDiarizer({}); // left context 8 frames: a small attention cache keeps this test fast
  const wav = sessionWav(30);
  const manifest = join(dir, 'manifest.json');
  writeDiarizationManifest(manifest, [
    diarizationManifestLine({ audioFilepath: wav, duration: 1, numSpeakers: null, rttmFilepath: null }),
    diarizationManifestLine({ audioFilepath: wav, duration: null, numSpeakers: null, rttmFilepath: null }),
  ]);
  // 30 s = 375 frames: 2 heads x 375^2 x 4 bytes = 1.07 MiB of attention scores, above a 1 MiB limit; 1 s is fine
  diarizeAudio(model, new Float32Array(RATE), { streamSeconds: null }); // warm-up: the model's position table grows once
  const tensors0 = t.liveTensorCount();
  const calls: string[] = [];
  await assert.rejects(
    diarizeManifest(model, manifest, { streamSeconds: null, offlineAttentionBytes: 2 ** 20 }, (file) => calls.push(file)),
    (e: unknown) =>
      e instanceof SessionTooLongError &&
      e.message.startsWith(`${wav} (${manifest}:2): 30.0 s is too long for one offline pass`) &&
      /2 heads x 375\^2 frames x 4 bytes/.test(e.message) &&
      /Use --streaming/.test(e.message),
  );
  assert.equal(calls.length, 1, 'the first (1 s) entry was diarized');
  assert.equal(t.liveTensorCount(), tensors0);
  assert.throws(() => diarizeAudio(model, new Float32Array(30 * RATE), { streamSeconds: null, offlineAttentionBytes: 2 ** 20 }), SessionTooLongError);
  // streaming the same manifest has no such limit
  const turns = await diarizeManifest(model, manifest, { streamSeconds: 0.5, chunkSeconds: CHUNK_SECONDS, offlineAttentionBytes: 2 ** 20 });
  assert.ok(Array.isArray(turns));
  // the same file at the default limit (1 GiB) runs offline and equals streaming (exact mode); streaming the file
  // equals streaming its loaded samples
  const offline = await diarizeFile(model, wav, { streamSeconds: null });
  const streamed = await diarizeFile(model, wav, { streamSeconds: 0.5 });
  assert.deepEqual(streamed, diarizeAudio(model, loadAudio(wav).samples, { streamSeconds: 0.5 }), 'file stream = loaded samples streamed');
  const d = offline.reduce((m, v, i) => Math.max(m, Math.abs(v - streamed[i]!)), 0);
  assert.equal(offline.length, streamed.length);
  assert.ok(d <= 1e-5, `max |offline - streamed| = ${d}`);
  model.dispose();
});

test('unlimited left context streams with a cache of maxContext frames: = offline with left context maxContext, not unlimited', () => {
  const model = buildDiarizer({ att_context_size: [-1, 1] });
  const audio = longAudio(6, 2); // 75 encoder frames
  const geometry = configureStreaming(model.encoder, { hopSeconds: 0.01, maxContext: 16 });
  assert.equal(geometry.cfg.lastChannelCacheSize, 16);
  const se = new StreamingEncoder(model.encoder, { geometry, preprocessor: model.preprocessor });
  const sd = new StreamingDiarizer(model, se);
  let state = sd.initState(1);
  const parts: t.Tensor[] = [];
  for (let at = 0; at < audio.length; at += 3000) {
    const r = sd.pushAudio([audio.subarray(at, at + 3000)], state);
    state = r.state;
    parts.push(...r.activities);
  }
  parts.push(...sd.finish(state).activities);
  se.dispose();
  const streamed = t.cat(parts, 0); // [T', 4]
  for (const p of parts) p.dispose();
  const offline = (ctx: [number, number]): t.Tensor =>
    t.tidy(() =>
      t.noGrad(() => {
        const out = model.forward(t.tensor(audio, [1, audio.length]), [audio.length], { attContextSize: ctx });
        return out.probs.select(0, 0).narrow(0, 0, out.lengths.toArray()[0]!).contiguous();
      }),
    );
  const limited = offline([16, 1]);
  const unlimited = offline([-1, 1]);
  const dLimited = maxAbsDiff(streamed, limited);
  const dUnlimited = maxAbsDiff(streamed, unlimited);
  console.log(`# cache of 16 frames: max |stream - offline [16,1]| = ${dLimited.toExponential(2)}, |stream - offline [-1,1]| = ${dUnlimited.toExponential(2)}`);
  assert.ok(dLimited <= 1e-5, `streamed vs offline with left context 16: ${dLimited}`);
  assert.ok(dUnlimited > 1e-3, `streamed vs offline with unlimited left context: ${dUnlimited}`);
  // while the session fits the cache (the first 16 + 2 frames), the streamed output also equals the unlimited pass
  assert.ok(maxAbsDiff(streamed.narrow(0, 0, 18), unlimited.narrow(0, 0, 18)) <= 1e-5);
  for (const x of [streamed, limited, unlimited]) x.dispose();
  model.dispose();
});
