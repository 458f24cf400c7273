// Simulated diarization sessions from the shipped espeak-ng corpus: the RTTM matches each speaker's own track in the
// mix (energy inside and outside the RTTM turns), the mix is the sum of the tracks and is what the WAV holds,
// overlaps come at the requested rate, and the same seed gives the same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/assert.js';
import { loadAudio } from '../../src/audio/load-audio.js';
import { readManifests } from '../../src/data/manifest.js';
import { Rng, mixSeed } from '../../src/data/rng.js';
import { ClipStore, makeDiarizationCorpus, overlapSeconds, renderSession, speakerClips } from '../../src/diarization/diarization-corpus.js';
import { readDiarizationManifest } from '../../src/diarization/diarization-manifest.js';
import { readRttm } from '../../src/diarization/rttm.js';
import { DEFAULT_TURN_STATISTICS, planSession, type ClipActivity, type ClipPool } from '../../src/diarization/session-plan.js';

const dir = mkdtempSync(join(tmpdir(), 'streamnest-diar-corpus-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const CORPUS = ['train_manifest.json', 'val_manifest.json'].map((m) => join(REPO_ROOT, 'data', 'corpus', m));
const SR = 16000;

function corpusStore(): ClipStore {
  return new ClipStore(speakerClips(readManifests(CORPUS).entries, null, []).clips, SR);
}

function energy(x: Float32Array, a = 0, b = x.length): number {
  let e = 0;
  for (let i = Math.max(0, a); i < Math.min(b, x.length); i++) e += x[i]! * x[i]!;
  return e;
}

test('each speaker track has its energy inside its RTTM turns and speech in every turn; the mix is the sum', async () => {
  const store = corpusStore();
  for (const seed of [3, 4]) {
    const plan = await planSession(new Rng(mixSeed(seed, 0)), store, { ...DEFAULT_TURN_STATISTICS, overlapProb: 0.5, sessionSeconds: 20 });
    const r = await renderSession(plan, store, 'sess');
    assert.ok(plan.speakers.length >= 2 && plan.speakers.length <= 4);
    assert.deepEqual(new Set(r.turns.map((t) => t.speaker)), new Set(plan.speakers)); // every speaker talks
    plan.speakers.forEach((spk, s) => {
      const src = r.sources[s]!;
      const turns = r.turns.filter((t) => t.speaker === spk);
      let inside = 0;
      for (const t of turns) {
        const a = Math.round(t.start * SR);
        const b = Math.round((t.start + t.duration) * SR);
        const e = energy(src, a, b);
        inside += e;
        const rmsDb = 10 * Math.log10(e / (b - a));
        assert.ok(rmsDb > -45, `${spk} turn at ${t.start.toFixed(2)} s has RMS ${rmsDb.toFixed(1)} dBFS: no speech in it`);
      }
      const share = inside / energy(src);
      assert.ok(share > 0.995, `${spk}: only ${(100 * share).toFixed(2)}% of its energy lies inside its RTTM turns`);
      // and its track is silent outside (a turn shifted by a sample-rounding or placement error would fail here)
    });
    let maxDiff = 0;
    for (let i = 0; i < r.mix.length; i++) {
      let sum = 0;
      for (const src of r.sources) sum += src[i]!;
      maxDiff = Math.max(maxDiff, Math.abs(sum - r.mix[i]!));
    }
    assert.ok(maxDiff < 1e-6, `mix differs from the sum of tracks by ${maxDiff}`);
  }
});

test('at overlaps both speakers are audible in the mix; with overlapProb 0 no turns overlap', async () => {
  const store = corpusStore();
  const plan = await planSession(new Rng(11), store, { ...DEFAULT_TURN_STATISTICS, overlapProb: 1, sessionSeconds: 15, minSpeakers: 2, maxSpeakers: 2 });
  const r = await renderSession(plan, store, 'o');
  assert.ok(overlapSeconds(r.turns) > 0.5, `overlap ${overlapSeconds(r.turns)} s`);
  const overlapped = plan.turns.filter((t) => t.overlapped);
  assert.ok(overlapped.length >= 1);
  for (const t of overlapped) {
    // the 0.1 s after the overlapping turn starts: both tracks carry speech energy
    const a = Math.round(t.speech[0]!.start * SR) + 160;
    const b = a + 1600;
    for (const src of r.sources) assert.ok(10 * Math.log10(energy(src, a, b) / (b - a)) > -50, 'a speaker is silent inside an overlap');
  }
  const none = await planSession(new Rng(11), store, { ...DEFAULT_TURN_STATISTICS, overlapProb: 0, sessionSeconds: 15 });
  assert.equal(overlapSeconds((await renderSession(none, store, 'n')).turns), 0);
});

test('overlaps come at the requested rate per change of speaker (300 planned sessions, within 4 standard deviations)', async () => {
  // synthetic clips: 6 speakers x 5 clips of 2-4.4 s speech with 0.2 s silence either side
  const acts: ClipActivity[] = [];
  const bySpeaker = new Map<string, number[]>();
  for (let s = 0; s < 6; s++) {
    const list: number[] = [];
    for (let c = 0; c < 5; c++) {
      const d = 2 + ((s * 5 + c) % 7) * 0.4;
      acts.push({ duration: d + 0.4, speech: [{ start: 0.2, end: 0.2 + d }] });
      list.push(acts.length - 1);
    }
    bySpeaker.set(`s${s}`, list);
  }
  const pool: ClipPool = { bySpeaker, activity: async (i) => acts[i]! };
  for (const p of [0.15, 0.4]) {
    let changes = 0;
    let overlapped = 0;
    const sizes = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const plan = await planSession(new Rng(mixSeed(5, i)), pool, { ...DEFAULT_TURN_STATISTICS, overlapProb: p });
      changes += plan.speakerChanges;
      overlapped += plan.overlappedChanges;
      sizes.add(plan.speakers.length);
      // never three speakers at once, and no speaker overlaps itself
      for (let j = 2; j < plan.turns.length; j++) assert.ok(plan.turns[j]!.speech[0]!.start >= plan.turns[j - 2]!.speech.at(-1)!.end - 1e-9);
      for (let j = 1; j < plan.turns.length; j++) if (plan.turns[j]!.overlapped) assert.notEqual(plan.turns[j]!.speaker, plan.turns[j - 1]!.speaker);
    }
    const sd = Math.sqrt(changes * p * (1 - p));
    assert.ok(Math.abs(overlapped - p * changes) < 4 * sd, `p=${p}: ${overlapped} of ${changes} changes overlapped`);
    assert.deepEqual([...sizes].sort(), [2, 3, 4]);
  }
});

test('make-diarization-corpus output is deterministic per seed and reads back as a NeMo diarization manifest', async () => {
  const stats = { ...DEFAULT_TURN_STATISTICS, sessionSeconds: 12 };
  const make = (out: string, seed: number) => makeDiarizationCorpus({ manifests: CORPUS, outDir: join(dir, out), sessions: 3, seed, stats });
  const s1 = await make('a', 7);
  await make('b', 7);
  await make('c', 8);
  assert.equal(s1.sessions, 3);
  const files = (out: string) => [
    'diarization_manifest.json',
    ...readdirSync(join(dir, out, 'audio')).map((f) => `audio/${f}`),
    ...readdirSync(join(dir, out, 'rttm')).map((f) => `rttm/${f}`),
  ];
  assert.deepEqual(files('a'), files('b'));
  for (const f of files('a')) assert.ok(readFileSync(join(dir, 'a', f)).equals(readFileSync(join(dir, 'b', f))), `${f} differs between two runs with seed 7`);
  assert.ok(
    !readFileSync(join(dir, 'a', 'audio', 'session_00000.wav')).equals(readFileSync(join(dir, 'c', 'audio', 'session_00000.wav'))),
    'seed 8 made the same audio as seed 7',
  );
  const entries = readDiarizationManifest(join(dir, 'a', 'diarization_manifest.json'));
  assert.equal(entries.length, 3);
  for (const e of entries) {
    const turns = readRttm(e.rttmFilepath!);
    assert.equal(new Set(turns.map((t) => t.speaker)).size, e.numSpeakers);
    const audio = loadAudio(e.audioFilepath);
    assert.equal(audio.sampleRate, SR);
    assert.ok(Math.abs(audio.samples.length / SR - e.duration!) < 1e-9);
    assert.ok(Math.max(...turns.map((t) => t.start + t.duration)) <= e.duration!);
  }
  const written = JSON.parse(readFileSync(join(dir, 'a', 'corpus_stats.json'), 'utf8')) as { sessions: number; turnStatistics: { sessionSeconds: number } };
  assert.equal(written.sessions, 3);
  assert.equal(written.turnStatistics.sessionSeconds, 12);
});

test('a manifest without speaker fields, or filters that leave no speaker, are refused with the reason', async () => {
  const m = join(dir, 'nospeaker.json');
  const wav = join(REPO_ROOT, 'data', 'corpus', 'train', 'train-00000.wav');
  writeFileSync(m, `${JSON.stringify({ audio_filepath: wav, duration: 3.04, text: 'x' })}\n`);
  const stats = DEFAULT_TURN_STATISTICS;
  await assert.rejects(
    makeDiarizationCorpus({ manifests: [m], outDir: join(dir, 'x'), sessions: 1, seed: 0, stats }),
    /0 usable|1 of 1 entries have no 'speaker' field/,
  );
  await assert.rejects(
    makeDiarizationCorpus({ manifests: CORPUS, outDir: join(dir, 'y'), sessions: 1, seed: 0, stats, includeSpeakers: ['nobody'] }),
    /speaker filters left none/,
  );
  await assert.rejects(
    makeDiarizationCorpus({ manifests: CORPUS, outDir: join(dir, 'z'), sessions: 1, seed: 0, stats: { ...stats, overlapProb: 2 } }),
    /overlapProb must be in \[0, 1\]/,
  );
});
