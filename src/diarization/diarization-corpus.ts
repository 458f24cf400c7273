// Simulated multi-speaker sessions from single-speaker clips (any NeMo manifest whose entries have a `speaker`
// field, such as the shipped espeak-ng corpus, whose speakers are espeak-ng voices): turn-taking from
// session-plan.ts, clips mixed at 16 kHz into one WAV per session, an RTTM per session from each clip's speech
// spans (speech-activity.ts), and a NeMo diarization manifest. Deterministic: session i is planned with
// Rng(mixSeed(seed, i)), so a session does not depend on how many others are made.
// Provenance: NeMo's MultiSpeakerSimulator (nemo/collections/asr/data/data_simulation.py) outputs, in this layout:
//   OUT/audio/<id>.wav  OUT/rttm/<id>.rttm  OUT/diarization_manifest.json  OUT/corpus_stats.json
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAudioAsync } from '../audio/load-audio.js';
import { writeWav } from '../audio/wav.js';
import { readManifests, type ManifestEntry } from '../data/manifest.js';
import { Rng, mixSeed } from '../data/rng.js';
import { diarizationManifestLine, writeDiarizationManifest, type DiarizationManifestLine } from './diarization-manifest.js';
import { writeRttm, type SpeakerTurn } from './rttm.js';
import { planSession, type ClipActivity, type ClipPool, type SessionPlan, type TurnStatistics, checkTurnStatistics } from './session-plan.js';
import { speechActivity } from './speech-activity.js';
import { totalLength, unionSpans, intersectSpans, type Span } from './timeline.js';

export interface DiarizationCorpusOptions {
  manifests: readonly string[];
  outDir: string;
  sessions: number;
  seed: number;
  stats: TurnStatistics;
  sampleRate?: number;
  /** Only these speakers (null: all). */
  includeSpeakers?: readonly string[] | null;
  excludeSpeakers?: readonly string[];
  onSession?: (i: number, plan: SessionPlan) => void;
}

export interface CorpusStatistics {
  sessions: number;
  seconds: number;
  speechSeconds: number;
  /** Seconds with two or more speakers talking (from the RTTM). */
  overlapSeconds: number;
  turns: number;
  speakerChanges: number;
  overlappedChanges: number;
  speakersPerSession: Record<string, number>;
  speakers: string[];
}

/** A clip of the source manifests, by speaker. */
export interface SourceClip {
  entry: ManifestEntry;
  speaker: string;
}

/** Clips with a speaker field; entries without one are counted, not used. RTTM speaker names get '_' for whitespace. */
export function speakerClips(
  entries: readonly ManifestEntry[],
  include: readonly string[] | null,
  exclude: readonly string[],
): { clips: SourceClip[]; withoutSpeaker: number } {
  const clips: SourceClip[] = [];
  let withoutSpeaker = 0;
  for (const entry of entries) {
    const raw = entry.extra.speaker;
    if (typeof raw !== 'string' && typeof raw !== 'number') {
      withoutSpeaker++;
      continue;
    }
    const speaker = String(raw).trim().replace(/\s+/g, '_');
    if (speaker === '') {
      withoutSpeaker++;
      continue;
    }
    if (include && !include.includes(speaker)) continue;
    if (exclude.includes(speaker)) continue;
    clips.push({ entry, speaker });
  }
  return { clips, withoutSpeaker };
}

/** Loads clips on demand; keeps every clip's speech spans and the samples of the most recent ones. */
export class ClipStore implements ClipPool {
  readonly bySpeaker: Map<string, number[]>;
  private readonly activities = new Map<number, ClipActivity>();
  private readonly samples = new Map<number, Float32Array>();
  constructor(
    readonly clips: readonly SourceClip[],
    readonly sampleRate: number,
    private readonly maxCachedClips = 64,
  ) {
    this.bySpeaker = new Map();
    clips.forEach((c, i) => {
      const list = this.bySpeaker.get(c.speaker) ?? [];
      list.push(i);
      this.bySpeaker.set(c.speaker, list);
    });
  }
  async audio(clip: number): Promise<Float32Array> {
    const hit = this.samples.get(clip);
    if (hit) return hit;
    const e = this.clips[clip]!.entry;
    const a = await loadAudioAsync(e.audioFilepath, { offset: e.offset, duration: e.duration ?? undefined, targetSampleRate: this.sampleRate });
    if (this.samples.size >= this.maxCachedClips) this.samples.delete(this.samples.keys().next().value!);
    this.samples.set(clip, a.samples);
    return a.samples;
  }
  async activity(clip: number): Promise<ClipActivity> {
    const hit = this.activities.get(clip);
    if (hit) return hit;
    const samples = await this.audio(clip);
    const act = { duration: samples.length / this.sampleRate, speech: speechActivity(samples, this.sampleRate) };
    this.activities.set(clip, act);
    return act;
  }
}

export interface RenderedSession {
  mix: Float32Array;
  /** Each speaker's own track, in plan.speakers order, as it is in the mix (same gain and scale). */
  sources: Float32Array[];
  turns: Omit<SpeakerTurn, 'where'>[];
}

/** Mixes a plan's clips; the RTTM turns are the clips' speech spans where the clips landed. Scaled down if it would clip. */
export async function renderSession(plan: SessionPlan, store: ClipStore, id: string): Promise<RenderedSession> {
  const sr = store.sampleRate;
  const n = Math.ceil(plan.duration * sr);
  const sources = plan.speakers.map(() => new Float32Array(n));
  const turns: Omit<SpeakerTurn, 'where'>[] = [];
  for (const t of plan.turns) {
    const s = plan.speakers.indexOf(t.speaker);
    const clip = await store.audio(t.clip);
    const offset = Math.round(t.placement * sr);
    const track = sources[s]!;
    const gain = plan.gains[s]!;
    for (let i = Math.max(0, -offset); i < clip.length && offset + i < n; i++) track[offset + i]! += gain * clip[i]!;
    const shift = offset / sr - t.placement; // sample rounding of the placement
    for (const sp of t.speech) turns.push({ file: id, channel: '1', start: sp.start + shift, duration: sp.end - sp.start, speaker: t.speaker });
  }
  const mix = new Float32Array(n);
  for (const track of sources) for (let i = 0; i < n; i++) mix[i]! += track[i]!;
  let peak = 0;
  for (let i = 0; i < n; i++) peak = Math.max(peak, Math.abs(mix[i]!));
  if (peak > 0.99) {
    const scale = 0.99 / peak;
    for (const a of [mix, ...sources]) for (let i = 0; i < n; i++) a[i]! *= scale;
  }
  turns.sort((a, b) => a.start - b.start || a.speaker.localeCompare(b.speaker));
  return { mix, sources, turns };
}

/** Seconds during which two or more speakers' turns overlap. */
export function overlapSeconds(turns: readonly Omit<SpeakerTurn, 'where'>[]): number {
  const by = new Map<string, Span[]>();
  for (const t of turns) by.set(t.speaker, [...(by.get(t.speaker) ?? []), { start: t.start, end: t.start + t.duration }]);
  const speakers = [...by.values()].map((s) => unionSpans(s));
  const pairs: Span[] = [];
  for (let a = 0; a < speakers.length; a++) for (let b = a + 1; b < speakers.length; b++) pairs.push(...intersectSpans(speakers[a]!, speakers[b]!));
  return totalLength(unionSpans(pairs));
}

export async function makeDiarizationCorpus(o: DiarizationCorpusOptions): Promise<CorpusStatistics> {
  checkTurnStatistics(o.stats);
  if (!Number.isInteger(o.sessions) || o.sessions < 1) throw new Error(`make-diarization-corpus: sessions must be a positive integer, got ${o.sessions}`);
  const sr = o.sampleRate ?? 16000;
  const set = readManifests(o.manifests);
  const { clips, withoutSpeaker } = speakerClips(set.entries, o.includeSpeakers ?? null, o.excludeSpeakers ?? []);
  if (clips.length === 0) {
    throw new Error(
      `make-diarization-corpus: no usable clip in ${o.manifests.join(', ')}: ${withoutSpeaker} of ${set.entries.length} entries have no 'speaker' field` +
        (o.includeSpeakers || o.excludeSpeakers?.length ? ', and the speaker filters left none' : ''),
    );
  }
  const store = new ClipStore(clips, sr);
  mkdirSync(join(o.outDir, 'audio'), { recursive: true });
  mkdirSync(join(o.outDir, 'rttm'), { recursive: true });
  const lines: DiarizationManifestLine[] = [];
  const stats: CorpusStatistics = {
    sessions: 0,
    seconds: 0,
    speechSeconds: 0,
    overlapSeconds: 0,
    turns: 0,
    speakerChanges: 0,
    overlappedChanges: 0,
    speakersPerSession: {},
    speakers: [...store.bySpeaker.keys()].sort(),
  };
  for (let i = 0; i < o.sessions; i++) {
    const id = `session_${String(i).padStart(5, '0')}`;
    const plan = await planSession(new Rng(mixSeed(o.seed, i)), store, o.stats);
    const r = await renderSession(plan, store, id);
    writeWav(join(o.outDir, 'audio', `${id}.wav`), r.mix, sr);
    writeRttm(join(o.outDir, 'rttm', `${id}.rttm`), r.turns);
    const duration = r.mix.length / sr;
    lines.push(diarizationManifestLine({ audioFilepath: `audio/${id}.wav`, duration, numSpeakers: plan.speakers.length, rttmFilepath: `rttm/${id}.rttm` }));
    stats.sessions++;
    stats.seconds += duration;
    stats.speechSeconds += totalLength(unionSpans(r.turns.map((t) => ({ start: t.start, end: t.start + t.duration }))));
    stats.overlapSeconds += overlapSeconds(r.turns);
    stats.turns += plan.turns.length;
    stats.speakerChanges += plan.speakerChanges;
    stats.overlappedChanges += plan.overlappedChanges;
    const k = String(plan.speakers.length);
    stats.speakersPerSession[k] = (stats.speakersPerSession[k] ?? 0) + 1;
    o.onSession?.(i, plan);
  }
  writeDiarizationManifest(join(o.outDir, 'diarization_manifest.json'), lines);
  writeFileSync(
    join(o.outDir, 'corpus_stats.json'),
    `${JSON.stringify({ seed: o.seed, manifests: o.manifests, turnStatistics: o.stats, ...stats }, null, 1)}\n`,
  );
  return stats;
}
