// `streamnest make-diarization-corpus`: simulated multi-speaker sessions with RTTM and a NeMo diarization manifest
// (see src/diarization/diarization-corpus.ts and session-plan.ts).
import { ArgError, formatOptions, parseArgs, type OptionsSpec } from '../args.js';
import { DEFAULT_TURN_STATISTICS } from '../../diarization/session-plan.js';

export const name = 'make-diarization-corpus';
export const summary = 'Simulate multi-speaker sessions from single-speaker clips: WAV + RTTM + NeMo diarization manifest';

const D = DEFAULT_TURN_STATISTICS;

const spec = {
  out: { type: 'string', metavar: 'DIR', help: 'output folder (created)' },
  manifest: {
    type: 'string',
    multiple: true,
    metavar: 'FILE',
    help: "NeMo manifest(s) whose entries have a 'speaker' field (default: the shipped corpus, train + val)",
  },
  sessions: { type: 'integer', default: 20, help: 'number of sessions' },
  seed: { type: 'integer', default: 0, help: 'random seed (session i uses mixSeed(seed, i))' },
  sessionSeconds: { type: 'number', default: D.sessionSeconds, help: 'turns are added until one ends at or after this (seconds)' },
  minSpeakers: { type: 'integer', default: D.minSpeakers, help: 'fewest speakers in a session' },
  maxSpeakers: { type: 'integer', default: D.maxSpeakers, help: 'most speakers in a session' },
  turnProb: { type: 'number', default: D.turnProb, help: 'probability that the next turn changes speaker' },
  overlapProb: { type: 'number', default: D.overlapProb, help: 'probability that a change of speaker overlaps the previous speech' },
  minOverlap: { type: 'number', default: D.minOverlap, help: 'shortest overlap in seconds' },
  maxOverlap: { type: 'number', default: D.maxOverlap, help: 'longest overlap in seconds (also at most half of either turn)' },
  meanPause: { type: 'number', default: D.meanPause, help: 'mean of the exponential pause between turns, seconds' },
  maxPause: { type: 'number', default: D.maxPause, help: 'longest pause in seconds' },
  leadSilence: { type: 'number', default: D.leadSilence, help: 'silence before the first and after the last speech, seconds' },
  gainRangeDb: { type: 'number', default: D.gainRangeDb, help: 'per-speaker level drawn uniformly in +-this many dB' },
  speakers: { type: 'string', metavar: 'A,B,...', help: 'use only these speakers (e.g. held-out voices)' },
  excludeSpeakers: { type: 'string', metavar: 'A,B,...', help: 'leave these speakers out (e.g. the training voices)' },
  sampleRate: { type: 'integer', default: 16000, help: 'output sample rate (clips are resampled)' },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest make-diarization-corpus --out DIR [--manifest FILE ...] [--sessions N] [--seed S] [options]

${summary}.
Each session draws k speakers (uniform in [--min-speakers, --max-speakers], at most the speakers available) and lets
them take turns, one clip per turn: the first k turns visit every speaker once, then each turn changes speaker with
probability --turn-prob (to any other speaker) or lets the same speaker go on. At a change of speaker the new turn
overlaps the previous speech with probability --overlap-prob, by uniform(--min-overlap, --max-overlap) seconds (at
most half of either turn's speech, never three speakers at once); otherwise it starts after an exponential pause of
mean --mean-pause (at most --max-pause). Pauses and overlaps are measured between speech, found in each clip by an
energy gate (frames within 35 dB of the clip's loudest, pauses under 0.3 s bridged). Turns are added until one ends
at or after --session-seconds. Each speaker gets one level per session (+- --gain-range-db); a mix that would clip is
scaled down. The RTTM lists each clip's speech spans where the clip landed.

Writes DIR/audio/session_NNNNN.wav (16 kHz mono PCM16), DIR/rttm/session_NNNNN.rttm,
DIR/diarization_manifest.json (NeMo's layout; paths relative to DIR) and DIR/corpus_stats.json.
The same --seed and options give the same corpus. Speakers of the shipped corpus are espeak-ng voices.

Options:
${formatOptions(spec)}

Example: streamnest make-diarization-corpus --out /tmp/diar --sessions 10 --overlap-prob 0.3 --exclude-speakers en-us,en+m1`;

function list(s: string | undefined): string[] | null {
  if (s === undefined) return null;
  const out = s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
  if (out.length === 0) throw new ArgError(`make-diarization-corpus: empty speaker list '${s}'`);
  return out;
}

export async function run(argv: string[]): Promise<number> {
  const { options: o } = parseArgs(argv, spec, { maxPositionals: 0 });
  if (!o.out) throw new ArgError(`make-diarization-corpus: --out DIR is required\n\n${usage}`);
  const { makeDiarizationCorpus } = await import('../../diarization/diarization-corpus.js');
  const { repoRoot } = await import('../../data/corpus.js');
  const { join } = await import('node:path');
  const manifests = o.manifest.length > 0 ? o.manifest : ['train_manifest.json', 'val_manifest.json'].map((m) => join(repoRoot(), 'data', 'corpus', m));
  const s = await makeDiarizationCorpus({
    manifests,
    outDir: o.out,
    sessions: o.sessions,
    seed: o.seed,
    sampleRate: o.sampleRate,
    includeSpeakers: list(o.speakers),
    excludeSpeakers: list(o.excludeSpeakers) ?? [],
    stats: {
      minSpeakers: o.minSpeakers,
      maxSpeakers: o.maxSpeakers,
      sessionSeconds: o.sessionSeconds,
      turnProb: o.turnProb,
      overlapProb: o.overlapProb,
      minOverlap: o.minOverlap,
      maxOverlap: o.maxOverlap,
      meanPause: o.meanPause,
      maxPause: o.maxPause,
      leadSilence: o.leadSilence,
      gainRangeDb: o.gainRangeDb,
    },
    onSession: (i) => process.stderr.write(`\r[make-diarization-corpus] session ${i + 1}/${o.sessions}   `),
  });
  process.stderr.write('\n');
  const pct = (a: number, b: number): string => (b > 0 ? ((100 * a) / b).toFixed(1) : '0.0');
  const k = Object.entries(s.speakersPerSession)
    .map(([n, c]) => `${c}x${n}`)
    .join(', ');
  process.stdout.write(
    `wrote ${o.out}: ${s.sessions} sessions, ${(s.seconds / 60).toFixed(2)} min, speakers per session ${k} (from ${s.speakers.length} speakers)\n` +
      `  speech ${pct(s.speechSeconds, s.seconds)}% of the time, overlap ${pct(s.overlapSeconds, s.speechSeconds)}% of speech; ` +
      `${s.turns} turns, ${s.speakerChanges} speaker changes of which ${s.overlappedChanges} overlapped (${pct(s.overlappedChanges, s.speakerChanges)}%)\n` +
      `  manifest: ${join(o.out, 'diarization_manifest.json')}\n`,
  );
  return 0;
}
