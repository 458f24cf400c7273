// NeMo's speaker diarization manifest: JSON lines of
//   {"audio_filepath": "a.wav", "offset": 0, "duration": null, "label": "infer", "text": "-",
//    "num_speakers": 2, "rttm_filepath": "a.rttm", "uem_filepath": null}
// Paths resolve as in speech manifests (manifest-relative when the file exists there).
// Provenance: NeMo docs "Speaker Diarization: Datasets" (input manifest) and scripts/speaker_tasks/pathfiles_to_diarize_manifest.py.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { DataError } from '../data/data-error.js';
import { parseManifestLine, resolveAudioPath } from '../data/manifest.js';

export interface DiarizationManifestEntry {
  audioFilepath: string;
  offset: number;
  /** Seconds; null = to the end of the file. */
  duration: number | null;
  /** Known number of speakers, or null (NeMo estimates it). */
  numSpeakers: number | null;
  /** Reference RTTM (resolved path) or null for inference-only entries. */
  rttmFilepath: string | null;
  uemFilepath: string | null;
  /** "manifest.json:3" */
  where: string;
}

function optionalPath(o: Record<string, unknown>, key: string, where: string, manifestPath: string): string | null {
  const v = o[key];
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string') throw new DataError('bad_field', where, `'${key}' must be a path or null, got ${JSON.stringify(v)}`);
  return resolveAudioPath(v, manifestPath);
}

function numSpeakersField(o: Record<string, unknown>, where: string): number | null {
  const v = o.num_speakers;
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new DataError('bad_field', where, `'num_speakers' must be a positive integer or null, got ${JSON.stringify(v)}`);
  return v;
}

/** Reads a diarization manifest; bad lines throw a DataError naming `path:line`. `checkFiles` checks audio and RTTM/UEM exist. */
export function readDiarizationManifest(path: string, checkFiles = true): DiarizationManifestEntry[] {
  if (!existsSync(path)) throw new DataError('missing_file', path, 'manifest not found');
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: DiarizationManifestEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const where = `${path}:${i + 1}`;
    const e = parseManifestLine(line, where, path, 'speech');
    const extra = e.extra;
    const entry: DiarizationManifestEntry = {
      audioFilepath: e.audioFilepath,
      offset: e.offset,
      duration: e.duration,
      numSpeakers: numSpeakersField(extra, where),
      rttmFilepath: optionalPath(extra, 'rttm_filepath', where, path),
      uemFilepath: optionalPath(extra, 'uem_filepath', where, path),
      where,
    };
    if (checkFiles) {
      for (const [key, p] of [
        ['audio_filepath', entry.audioFilepath],
        ['rttm_filepath', entry.rttmFilepath],
        ['uem_filepath', entry.uemFilepath],
      ] as const) {
        if (p !== null && !existsSync(p)) throw new DataError('missing_file', where, `${key} not found: ${p}`);
      }
    }
    out.push(entry);
  }
  return out;
}

/** One manifest line in NeMo's key order (paths written as given). */
export interface DiarizationManifestLine {
  audio_filepath: string;
  offset: number;
  duration: number | null;
  label: 'infer';
  text: '-';
  num_speakers: number | null;
  rttm_filepath: string | null;
  uem_filepath: string | null;
}

export function diarizationManifestLine(p: {
  audioFilepath: string;
  duration: number | null;
  numSpeakers: number | null;
  rttmFilepath: string | null;
  uemFilepath?: string | null;
  offset?: number;
}): DiarizationManifestLine {
  return {
    audio_filepath: p.audioFilepath,
    offset: p.offset ?? 0,
    duration: p.duration,
    label: 'infer',
    text: '-',
    num_speakers: p.numSpeakers,
    rttm_filepath: p.rttmFilepath,
    uem_filepath: p.uemFilepath ?? null,
  };
}

export function writeDiarizationManifest(path: string, lines: readonly DiarizationManifestLine[]): void {
  writeFileSync(path, lines.map((l) => JSON.stringify(l)).join('\n') + (lines.length ? '\n' : ''));
}
