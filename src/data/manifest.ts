// NeMo JSON-lines manifests: one object per non-empty line with `audio_filepath` (alias `audio_filename`
// for speech manifests), `duration`, `offset`, `text`; other keys are kept. Relative paths resolve against
// the manifest's folder when the file exists there, otherwise they are used as given (`~` expanded).
// Several manifests can be combined with sampling weights; min/max duration filters drop entries.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { DataError, addSkip, emptySkips, formatSkips, mergeSkips, type SkipCounts } from './data-error.js';

export interface ManifestEntry {
  /** Resolved audio path. */
  audioFilepath: string;
  /** Seconds to read; null when the manifest has none (read to the end). */
  duration: number | null;
  /** Start in seconds (null in the manifest -> 0). */
  offset: number;
  text: string;
  /** Every other key of the line, verbatim. */
  extra: Record<string, unknown>;
  /** Where the entry came from, for error messages: "manifest.json:12". */
  where: string;
  /** Index of the manifest in the list given to readManifests (for sampling weights). */
  source: number;
}

export interface ManifestOptions {
  /** Drop entries with duration < minDuration (entries without duration are kept). */
  minDuration?: number;
  /** Drop entries with duration > maxDuration. */
  maxDuration?: number;
  /** skip_bad_audio: malformed lines and missing files become counted skips instead of errors. */
  skipBad?: boolean;
  /** Check at read time that every audio file exists (default true). */
  checkFiles?: boolean;
  /** Noise manifests accept only `audio_filepath` (NeMo's load_noise_manifest), not `audio_filename`. */
  kind?: 'speech' | 'noise';
}

export interface ManifestSource {
  path: string;
  weight: number;
  utterances: number;
  hours: number;
}

export interface ManifestSet {
  entries: ManifestEntry[];
  sources: ManifestSource[];
  skips: SkipCounts;
}

const KNOWN = new Set(['audio_filepath', 'audio_filename', 'duration', 'offset', 'text']);

/** NeMo's get_full_path: manifest-relative if the file exists there, else as given (~ expanded). */
export function resolveAudioPath(p: string, manifestPath: string): string {
  if (p.startsWith('~')) return join(homedir(), p.slice(1));
  if (isAbsolute(p)) return p;
  const candidate = join(dirname(manifestPath), p);
  if (existsSync(candidate)) return candidate;
  return resolve(p);
}

function numberField(obj: Record<string, unknown>, key: string, where: string): number | null {
  const v = obj[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new DataError('bad_field', where, `'${key}' must be a non-negative number, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Parses one manifest line into an entry (throws DataError naming `where`). */
export function parseManifestLine(line: string, where: string, manifestPath: string, kind: 'speech' | 'noise', source = 0): ManifestEntry {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (e) {
    throw new DataError('malformed_line', where, `not valid JSON (${(e as Error).message}): ${line.slice(0, 80)}`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new DataError('malformed_line', where, `expected a JSON object, got ${line.slice(0, 80)}`);
  }
  const o = obj as Record<string, unknown>;
  const raw = kind === 'speech' ? (o.audio_filepath ?? o.audio_filename) : o.audio_filepath;
  if (typeof raw !== 'string' || raw === '') {
    const keys = kind === 'speech' ? "'audio_filepath' (or 'audio_filename')" : "'audio_filepath'";
    throw new DataError('bad_field', where, `missing or empty ${keys}`);
  }
  const duration = numberField(o, 'duration', where);
  const offset = numberField(o, 'offset', where) ?? 0;
  const text = typeof o.text === 'string' ? o.text : o.text == null ? '' : String(o.text);
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!KNOWN.has(k)) extra[k] = v;
  return { audioFilepath: resolveAudioPath(raw, manifestPath), duration, offset, text, extra, where, source };
}

/** Parses manifest text (as read from `path`); bad lines throw or, with skipBad, are counted. */
export function parseManifest(text: string, path: string, opts: ManifestOptions = {}, source = 0): { entries: ManifestEntry[]; skips: SkipCounts } {
  const kind = opts.kind ?? 'speech';
  const checkFiles = opts.checkFiles ?? true;
  let skips = emptySkips();
  const entries: ManifestEntry[] = [];
  const errors: DataError[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const where = `${path}:${i + 1}`;
    let e: ManifestEntry;
    try {
      e = parseManifestLine(line, where, path, kind, source);
      if (checkFiles && !existsSync(e.audioFilepath)) {
        throw new DataError('missing_file', where, `audio file not found: ${e.audioFilepath}`);
      }
    } catch (err) {
      if (!(err instanceof DataError)) throw err;
      if (opts.skipBad) skips = addSkip(skips, err.reason, err.message);
      else errors.push(err);
      continue;
    }
    if (e.duration !== null && opts.minDuration !== undefined && e.duration < opts.minDuration) {
      skips = addSkip(skips, 'below_min_duration', `${where}: ${e.duration}s < min_duration ${opts.minDuration}s`);
      continue;
    }
    if (e.duration !== null && opts.maxDuration !== undefined && e.duration > opts.maxDuration) {
      skips = addSkip(skips, 'above_max_duration', `${where}: ${e.duration}s > max_duration ${opts.maxDuration}s`);
      continue;
    }
    entries.push(e);
  }
  if (errors.length === 1) throw errors[0]!;
  if (errors.length > 1) {
    const shown = errors
      .slice(0, 10)
      .map((e) => `  ${e.message}`)
      .join('\n');
    const more = errors.length > 10 ? `\n  ... and ${errors.length - 10} more` : '';
    const err = new DataError(
      errors[0]!.reason,
      errors[0]!.where,
      `${errors.length} bad manifest lines (set skip_bad_audio: true to skip them):\n${shown}${more}`,
    );
    throw err;
  }
  return { entries, skips };
}

export function readManifest(path: string, opts: ManifestOptions = {}, source = 0): { entries: ManifestEntry[]; skips: SkipCounts } {
  if (!existsSync(path)) throw new DataError('missing_file', path, 'manifest not found');
  return parseManifest(readFileSync(path, 'utf8'), path, opts, source);
}

/** A list of manifests, or NeMo's comma-separated string. */
export function splitManifestPaths(spec: string | readonly string[]): string[] {
  const list = typeof spec === 'string' ? spec.split(',') : [...spec];
  const out = list.map((s) => s.trim()).filter((s) => s !== '');
  if (out.length === 0) throw new Error('manifest_filepath: no manifest given');
  return out;
}

/**
 * Reads several manifests (entries concatenated in order). `weights` (one per manifest, default 1) are
 * per-epoch sampling multipliers used by the sampler: weight 2 visits each entry of that manifest twice
 * per epoch, 0.5 a random half of them.
 */
export function readManifests(spec: string | readonly string[], opts: ManifestOptions & { weights?: readonly number[] } = {}): ManifestSet {
  const paths = splitManifestPaths(spec);
  const weights = opts.weights ?? paths.map(() => 1);
  if (weights.length !== paths.length) throw new Error(`manifest weights: ${weights.length} weights for ${paths.length} manifests`);
  weights.forEach((w, i) => {
    if (!(Number.isFinite(w) && w >= 0)) throw new Error(`manifest weights: weight ${i} (${paths[i]}) must be a non-negative number, got ${w}`);
  });
  const set: ManifestSet = { entries: [], sources: [], skips: emptySkips() };
  paths.forEach((p, i) => {
    const r = readManifest(p, opts, i);
    for (const e of r.entries) set.entries.push(e);
    const seconds = r.entries.reduce((a, e) => a + (e.duration ?? 0), 0);
    set.sources.push({ path: p, weight: weights[i]!, utterances: r.entries.length, hours: seconds / 3600 });
    set.skips = mergeSkips(set.skips, r.skips);
  });
  return set;
}

/** Total hours of the entries with a duration. */
export function totalHours(entries: readonly ManifestEntry[]): number {
  return entries.reduce((a, e) => a + (e.duration ?? 0), 0) / 3600;
}

/** One-paragraph summary: per-manifest utterances and hours, what was skipped and why. */
export function formatManifestSummary(set: ManifestSet): string {
  const lines = set.sources.map((s) => `  ${s.path}: ${s.utterances} utterances, ${s.hours.toFixed(3)} h${s.weight !== 1 ? `, weight ${s.weight}` : ''}`);
  const total = `${set.entries.length} utterances, ${totalHours(set.entries).toFixed(3)} h; ${formatSkips(set.skips)}`;
  return [total, ...lines, ...set.skips.examples.map((e) => `  ${e}`)].join('\n');
}
