// Errors and counted skips for bad data: every message names the file (and the manifest line when known).

export type BadDataReason =
  | 'malformed_line' // not JSON / not an object
  | 'bad_field' // missing audio_filepath, non-numeric duration, ...
  | 'missing_file'
  | 'bad_audio' // unreadable, corrupt or truncated audio
  | 'empty_audio' // zero-length clip
  | 'duration_mismatch'; // the file is shorter than the manifest's offset + duration

export class DataError extends Error {
  constructor(
    readonly reason: BadDataReason,
    /** "path/to/manifest.json:17" or the audio file path. */
    readonly where: string,
    detail: string,
  ) {
    super(`${where}: ${detail}`);
    this.name = 'DataError';
  }
}

/** Why an entry was dropped: bad data (under skip_bad_audio) or a duration filter. */
export type SkipReason = BadDataReason | 'below_min_duration' | 'above_max_duration';

/** Counts of skipped items by reason, with the first few messages of each kind for the summary. */
export interface SkipCounts {
  counts: Partial<Record<SkipReason, number>>;
  examples: string[];
}

export function emptySkips(): SkipCounts {
  return { counts: {}, examples: [] };
}

const MAX_EXAMPLES = 8;

/** Returns a new SkipCounts with one more skip of `reason` (message kept among the first examples). */
export function addSkip(s: SkipCounts, reason: SkipReason, message: string): SkipCounts {
  const counts = { ...s.counts, [reason]: (s.counts[reason] ?? 0) + 1 };
  const examples = s.examples.length < MAX_EXAMPLES ? [...s.examples, `${reason}: ${message}`] : s.examples;
  return { counts, examples };
}

export function mergeSkips(a: SkipCounts, b: SkipCounts): SkipCounts {
  const counts: Partial<Record<SkipReason, number>> = { ...a.counts };
  for (const [k, v] of Object.entries(b.counts) as [SkipReason, number][]) counts[k] = (counts[k] ?? 0) + v;
  return { counts, examples: [...a.examples, ...b.examples].slice(0, MAX_EXAMPLES) };
}

export function totalSkips(s: SkipCounts): number {
  return Object.values(s.counts).reduce((a, b) => a + (b ?? 0), 0);
}

export function formatSkips(s: SkipCounts): string {
  const parts = Object.entries(s.counts).map(([k, v]) => `${k} ${v}`);
  return parts.length === 0 ? 'none skipped' : `skipped: ${parts.join(', ')}`;
}
