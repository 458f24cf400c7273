// Diarization error rate as NIST md-eval-22.pl computes it (speaker-time weighted):
//   DER = (missed speaker time + false-alarm speaker time + speaker confusion time) / scored reference speaker time
// over the scored region. Per recording (file + channel):
//   - evaluated region: the UEM segments of the recording, else the extent of its reference turns (md-eval uem_from_rttm);
//   - speakers are mapped one-to-one to maximise co-speaking time over the evaluated region (before collars, as md-eval);
//   - scored region: the evaluated region less +-collar around every reference turn's start and end, and with
//     skipOverlap also less the time where two or more reference speakers talk (md-eval -1);
//   - in each piece of scored time with nref reference and nhyp hypothesis speakers, of which nmap are mapped pairs:
//     missed += d*max(nref-nhyp, 0), false alarm += d*max(nhyp-nref, 0), confusion += d*(min(nref, nhyp) - nmap),
//     scored += d*nref (overlapped speech counts once per speaker).
// Provenance: md-eval-22.pl score_speaker_diarization / add_collars_to_uem / exclude_overlapping_speech_from_uem.
// Differences from md-eval: turns of one speaker that overlap are merged (md-eval stops with an error), and a
// recording present only in the UEM (no reference turns) is scored (md-eval skips it: its hypothesis speech is false alarm here).
import type { SpeakerTurn } from './rttm.js';
import type { UemSegment } from './uem.js';
import { optimalSpeakerMapping } from './speaker-mapping.js';
import { SpanCursor, subtractSpans, unionSpans, type Span } from './timeline.js';

export interface DerOptions {
  /** No-score zone (seconds) either side of each reference turn boundary; 0 = none (default). NIST uses 0.25. */
  collar?: number;
  /** Leave out time where two or more reference speakers talk (md-eval -1). */
  skipOverlap?: boolean;
}

/** Seconds of speaker time; der = (missed + falseAlarm + confusion) / scored (NaN when nothing is scored). */
export interface DerTotals {
  scored: number;
  missed: number;
  falseAlarm: number;
  confusion: number;
  der: number;
  /** Seconds of scored region (wall-clock, not speaker-weighted). */
  scoredTime: number;
}

export interface RecordingDer extends DerTotals {
  file: string;
  channel: string;
  /** Reference speaker -> hypothesis speaker (or null: unmapped). */
  mapping: Map<string, string | null>;
}

export interface DerReport {
  recordings: RecordingDer[];
  total: DerTotals;
  /** Recordings with hypothesis turns but neither reference turns nor UEM (not scored, as in md-eval). */
  unscoredHypothesis: string[];
}

interface ScoredPiece {
  duration: number;
  ref: number[];
  hyp: number[];
}

function speakerSpans(turns: readonly SpeakerTurn[]): { names: string[]; spans: Span[][] } {
  const by = new Map<string, Span[]>();
  for (const t of turns) {
    const list = by.get(t.speaker) ?? [];
    list.push({ start: t.start, end: t.start + t.duration });
    by.set(t.speaker, list);
  }
  const names = [...by.keys()].sort();
  return { names, spans: names.map((n) => unionSpans(by.get(n)!)) };
}

function collarZones(ref: readonly SpeakerTurn[], collar: number): Span[] {
  if (!(collar > 0)) return [];
  const zones: Span[] = [];
  for (const t of ref) {
    for (const b of [t.start, t.start + t.duration]) zones.push({ start: b - collar, end: b + collar });
  }
  return zones;
}

export function finishTotals(t: Omit<DerTotals, 'der'>): DerTotals {
  return { ...t, der: t.scored > 0 ? (t.missed + t.falseAlarm + t.confusion) / t.scored : Number.NaN };
}

/**
 * DER of one recording. `evaluated`: its UEM spans, or null for the reference extent.
 * Turns must all belong to the one recording (not checked here; see scoreDiarization).
 */
export function scoreRecording(
  ref: readonly SpeakerTurn[],
  hyp: readonly SpeakerTurn[],
  evaluated: readonly Span[] | null,
  opts: DerOptions = {},
): Omit<RecordingDer, 'file' | 'channel'> {
  const collar = opts.collar ?? 0;
  if (!(collar >= 0)) throw new Error(`DER: collar must be >= 0 seconds, got ${collar}`);
  const r = speakerSpans(ref);
  const h = speakerSpans(hyp);
  const evalSpans = evaluated
    ? unionSpans(evaluated)
    : ref.length > 0
      ? [{ start: ref.reduce((a, t) => Math.min(a, t.start), Infinity), end: ref.reduce((a, t) => Math.max(a, t.start + t.duration), -Infinity) }]
      : [];
  const scoreSpans = subtractSpans(evalSpans, collarZones(ref, collar));

  const times = new Set<number>();
  for (const list of [evalSpans, scoreSpans, ...r.spans, ...h.spans]) {
    for (const s of list) times.add(s.start).add(s.end);
  }
  const edges = [...times].sort((a, b) => a - b);
  const inEval = new SpanCursor(evalSpans);
  const inScore = new SpanCursor(scoreSpans);
  const refCursors = r.spans.map((s) => new SpanCursor(s));
  const hypCursors = h.spans.map((s) => new SpanCursor(s));
  const overlap = r.names.map(() => new Array<number>(h.names.length).fill(0));
  const pieces: ScoredPiece[] = [];
  let scoredTime = 0;
  for (let i = 0; i + 1 < edges.length; i++) {
    const t = edges[i]!;
    const d = edges[i + 1]! - t;
    const evaluatedHere = inEval.contains(t);
    const scoredHere = inScore.contains(t);
    const refOn = refCursors.flatMap((c, k) => (c.contains(t) ? [k] : []));
    const hypOn = hypCursors.flatMap((c, k) => (c.contains(t) ? [k] : []));
    if (!evaluatedHere) continue;
    for (const a of refOn) for (const b of hypOn) overlap[a]![b]! += d;
    if (!scoredHere || (opts.skipOverlap && refOn.length >= 2)) continue;
    scoredTime += d;
    pieces.push({ duration: d, ref: refOn, hyp: hypOn });
  }

  const map = optimalSpeakerMapping(overlap, h.names.length);
  let scored = 0;
  let missed = 0;
  let falseAlarm = 0;
  let confusion = 0;
  for (const p of pieces) {
    const nref = p.ref.length;
    const nhyp = p.hyp.length;
    const nmap = p.ref.filter((k) => map[k]! >= 0 && p.hyp.includes(map[k]!)).length;
    scored += p.duration * nref;
    missed += p.duration * Math.max(nref - nhyp, 0);
    falseAlarm += p.duration * Math.max(nhyp - nref, 0);
    confusion += p.duration * (Math.min(nref, nhyp) - nmap);
  }
  const mapping = new Map<string, string | null>(r.names.map((n, k) => [n, map[k]! >= 0 ? h.names[map[k]!]! : null]));
  return { ...finishTotals({ scored, missed, falseAlarm, confusion, scoredTime }), mapping };
}

const recordingKey = (file: string, channel: string): string => `${file}\u0000${channel}`;

function groupBy<T extends { file: string; channel: string }>(items: readonly T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of items) {
    const k = recordingKey(it.file, it.channel);
    const list = m.get(k) ?? [];
    list.push(it);
    m.set(k, list);
  }
  return m;
}

/**
 * DER over every recording with reference turns or UEM segments, totals summed over recordings (md-eval's
 * "ALL" line). `uem` null: each recording is evaluated over its reference extent.
 */
export function scoreDiarization(
  ref: readonly SpeakerTurn[],
  hyp: readonly SpeakerTurn[],
  uem: readonly UemSegment[] | null,
  opts: DerOptions = {},
): DerReport {
  const refBy = groupBy(ref);
  const hypBy = groupBy(hyp);
  const uemBy = groupBy(uem ?? []);
  const keys = [...new Set([...refBy.keys(), ...uemBy.keys()])].sort();
  const recordings: RecordingDer[] = [];
  for (const k of keys) {
    const [file, channel] = k.split('\u0000') as [string, string];
    const u = uemBy.get(k);
    const s = scoreRecording(refBy.get(k) ?? [], hypBy.get(k) ?? [], u ? u.map((x) => ({ start: x.start, end: x.end })) : null, opts);
    recordings.push({ file, channel, ...s });
  }
  const sum = (f: (r: RecordingDer) => number): number => recordings.reduce((a, r) => a + f(r), 0);
  const total = finishTotals({
    scored: sum((r) => r.scored),
    missed: sum((r) => r.missed),
    falseAlarm: sum((r) => r.falseAlarm),
    confusion: sum((r) => r.confusion),
    scoredTime: sum((r) => r.scoredTime),
  });
  const unscoredHypothesis = [...hypBy.keys()].filter((k) => !refBy.has(k) && !uemBy.has(k)).map((k) => k.replace('\u0000', ' channel '));
  return { recordings, total, unscoredHypothesis };
}
