// Turn-taking for simulated multi-speaker sessions: which clip each speaker says when. Pure (no audio): clips are
// known by their speech spans, so that pauses and overlaps are measured between speech, not between clip edges.
// Provenance: the parameters follow NeMo's MultiSpeakerSimulator (nemo/collections/asr/data/data_simulation.py:
// turn_prob, overlap_prob, mean_silence, mean_overlap), simplified to one clip per turn.
//
// A session: k speakers (uniform in [minSpeakers, maxSpeakers], at most the speakers available), drawn without
// replacement. The first k turns visit every speaker once in random order; after that the next turn goes to another
// speaker (uniform among the others) with probability turnProb, else the same speaker goes on. At each change of
// speaker the new turn overlaps the previous speech with probability overlapProb, by uniform(minOverlap, maxOverlap)
// seconds capped at half of either turn's speech and so that at most two speakers talk at once (when the cap is below
// minOverlap the turn falls back to a pause); otherwise it starts after a pause ~ exponential(meanPause) capped at
// maxPause. Speech starts after leadSilence; turns are added until one ends at or after sessionSeconds (at least k turns).
import type { Rng } from '../data/rng.js';
import type { Span } from './timeline.js';

export interface TurnStatistics {
  minSpeakers: number;
  maxSpeakers: number;
  /** Turns are added until one ends at or after this many seconds (the session runs to that turn's end). */
  sessionSeconds: number;
  /** Probability that the next turn changes speaker (after every speaker has spoken once). */
  turnProb: number;
  /** Probability that a change of speaker overlaps the previous speech. */
  overlapProb: number;
  minOverlap: number;
  maxOverlap: number;
  /** Mean of the exponential pause between turns (seconds). */
  meanPause: number;
  maxPause: number;
  /** Silence before the first speech and after the last clip (seconds). */
  leadSilence: number;
  /** Each speaker's level is scaled by a gain uniform in +-gainRangeDb, drawn once per session. */
  gainRangeDb: number;
}

export const DEFAULT_TURN_STATISTICS: TurnStatistics = {
  minSpeakers: 2,
  maxSpeakers: 4,
  sessionSeconds: 30,
  turnProb: 0.875,
  overlapProb: 0.2,
  minOverlap: 0.2,
  maxOverlap: 1.0,
  meanPause: 0.5,
  maxPause: 3,
  leadSilence: 0.5,
  gainRangeDb: 3,
};

/** A clip as the planner sees it: its length and where in it there is speech (seconds from the clip's start). */
export interface ClipActivity {
  duration: number;
  speech: readonly Span[];
}

export interface ClipPool {
  /** Speaker name -> indices of that speaker's clips. */
  bySpeaker: ReadonlyMap<string, readonly number[]>;
  activity(clip: number): Promise<ClipActivity>;
}

export interface PlannedTurn {
  speaker: string;
  clip: number;
  /** Where the clip's first sample goes in the session (seconds; negative = its silent head is cut). */
  placement: number;
  /** Speech spans in session time. */
  speech: Span[];
  /** Whether this turn was placed overlapping the previous speaker. */
  overlapped: boolean;
}

export interface SessionPlan {
  speakers: string[];
  /** Gain (linear) per speaker, in the order of `speakers`. */
  gains: number[];
  turns: PlannedTurn[];
  duration: number;
  /** Turns that changed speaker, and how many of those were placed overlapping. */
  speakerChanges: number;
  overlappedChanges: number;
}

export function checkTurnStatistics(s: TurnStatistics): void {
  const bad = (m: string): never => {
    throw new Error(`diarization corpus: ${m}`);
  };
  if (!Number.isInteger(s.minSpeakers) || s.minSpeakers < 1) bad(`min speakers must be an integer >= 1, got ${s.minSpeakers}`);
  if (!Number.isInteger(s.maxSpeakers) || s.maxSpeakers < s.minSpeakers)
    bad(`max speakers must be an integer >= min speakers (${s.minSpeakers}), got ${s.maxSpeakers}`);
  for (const k of ['turnProb', 'overlapProb'] as const) if (!(s[k] >= 0 && s[k] <= 1)) bad(`${k} must be in [0, 1], got ${s[k]}`);
  for (const k of ['minOverlap', 'maxOverlap', 'meanPause', 'maxPause', 'leadSilence', 'gainRangeDb'] as const) {
    if (!(s[k] >= 0 && Number.isFinite(s[k]))) bad(`${k} must be a finite number >= 0, got ${s[k]}`);
  }
  if (s.maxOverlap < s.minOverlap) bad(`maxOverlap (${s.maxOverlap}) must be >= minOverlap (${s.minOverlap})`);
  if (!(s.sessionSeconds > 0)) bad(`session seconds must be > 0, got ${s.sessionSeconds}`);
}

/** Deals a speaker's clips in shuffled order, reshuffling when all have been used. */
class ClipDeck {
  private order: number[] = [];
  constructor(
    private readonly clips: readonly number[],
    private readonly rng: Rng,
  ) {}
  next(): number {
    if (this.order.length === 0) this.order = this.rng.shuffle(this.clips.slice());
    return this.order.pop()!;
  }
}

/** The speaker's next clip that has speech (silent clips are passed over; all silent is an error). */
async function drawSpeechClip(deck: ClipDeck, pool: ClipPool, speaker: string): Promise<{ clip: number; act: ClipActivity }> {
  const tries = pool.bySpeaker.get(speaker)!.length + 1;
  for (let i = 0; i < tries; i++) {
    const clip = deck.next();
    const act = await pool.activity(clip);
    if (act.speech.length > 0) return { clip, act };
  }
  throw new Error(`diarization corpus: every clip of speaker '${speaker}' is silent`);
}

function nextSpeaker(rng: Rng, speakers: readonly string[], previous: string, turnProb: number): string {
  if (speakers.length < 2 || rng.random() >= turnProb) return previous;
  const others = speakers.filter((s) => s !== previous);
  return rng.pick(others);
}

/** Plans one session with `rng` (seeded per session by the caller). */
export async function planSession(rng: Rng, pool: ClipPool, stats: TurnStatistics): Promise<SessionPlan> {
  const all = [...pool.bySpeaker.keys()].filter((s) => pool.bySpeaker.get(s)!.length > 0).sort();
  if (all.length === 0) throw new Error('diarization corpus: no speaker has clips');
  const k = rng.int(Math.min(stats.minSpeakers, all.length), Math.min(stats.maxSpeakers, all.length));
  const speakers = rng.sample(all, k);
  const gains = speakers.map(() => 10 ** (rng.uniform(-stats.gainRangeDb, stats.gainRangeDb) / 20));
  const decks = new Map(speakers.map((s) => [s, new ClipDeck(pool.bySpeaker.get(s)!, rng)]));
  const firstOrder = rng.shuffle(speakers.slice());
  const turns: PlannedTurn[] = [];
  let latestEnd = 0;
  let latestSpeechLength = 0;
  let secondLatestEnd = 0;
  let speakerChanges = 0;
  let overlappedChanges = 0;
  let clipsEnd = 0;
  for (let j = 0; ; j++) {
    const previous = turns[turns.length - 1];
    const speaker = j < k ? firstOrder[j]! : nextSpeaker(rng, speakers, previous!.speaker, stats.turnProb);
    const { clip, act } = await drawSpeechClip(decks.get(speaker)!, pool, speaker);
    const speechStart = act.speech[0]!.start;
    const speechLength = act.speech[act.speech.length - 1]!.end - speechStart;
    let start: number;
    let overlapped = false;
    if (!previous) start = stats.leadSilence;
    else {
      const change = speaker !== previous.speaker;
      if (change) speakerChanges++;
      const wantsOverlap = change && rng.random() < stats.overlapProb;
      const length = rng.uniform(stats.minOverlap, stats.maxOverlap);
      const cap = Math.min(0.5 * latestSpeechLength, 0.5 * speechLength, latestEnd - secondLatestEnd);
      const pause = Math.min(stats.maxPause, stats.meanPause > 0 ? -stats.meanPause * Math.log(1 - rng.random()) : 0);
      if (wantsOverlap && cap >= stats.minOverlap && cap > 0) {
        start = latestEnd - Math.min(length, cap);
        overlapped = true;
        overlappedChanges++;
      } else start = latestEnd + pause;
    }
    const end = start + speechLength;
    const placement = start - speechStart;
    turns.push({ speaker, clip, placement, speech: act.speech.map((s) => ({ start: s.start + placement, end: s.end + placement })), overlapped });
    secondLatestEnd = latestEnd;
    latestEnd = end;
    latestSpeechLength = speechLength;
    clipsEnd = Math.max(clipsEnd, placement + act.duration);
    // the turn that reaches the target length is kept: dropping it would drop pauses more often than overlaps
    if (j + 1 >= k && end >= stats.sessionSeconds) break;
  }
  return { speakers, gains, turns, duration: Math.max(clipsEnd, latestEnd) + stats.leadSilence, speakerChanges, overlappedChanges };
}
