// NIST UEM scoring regions: `<file> <chnl> <tbeg> <tend>` per line, '#'/';' comments and blank lines skipped.
// Segments of one file and channel must not overlap and must have tend > tbeg.
// Provenance: md-eval-22.pl get_uem_data (fields and both checks), dscore scorelib/uem.py (writing).
import { writeFileSync } from 'node:fs';
import { DataError } from '../data/data-error.js';
import { parseSeconds, readNistFile, recordLines } from './nist-text.js';

export interface UemSegment {
  file: string;
  channel: string;
  start: number;
  end: number;
  /** "all.uem:3" ('' for segments made in code). */
  where: string;
}

export function parseUemLine(line: string, where: string): UemSegment {
  const f = line.trim().split(/\s+/);
  if (f.length < 4)
    throw new DataError('malformed_line', where, `UEM record needs 4 fields (file chnl tbeg tend), got ${f.length}: '${line.trim().slice(0, 120)}'`);
  const start = parseSeconds(f[2]!, 'start time', where);
  const end = parseSeconds(f[3]!, 'end time', where);
  if (start < 0) throw new DataError('bad_field', where, `negative start time ${start}`);
  if (!(end > start)) throw new DataError('bad_field', where, `end ${end} must be after start ${start} (negative or zero duration)`);
  return { file: f[0]!, channel: f[1]!, start, end, where };
}

/** Throws a DataError naming both lines when two segments of one file and channel overlap. */
export function checkUemOverlaps(segments: readonly UemSegment[]): void {
  const byRecording = new Map<string, UemSegment[]>();
  for (const s of segments) {
    const key = `${s.file} ${s.channel}`;
    const list = byRecording.get(key) ?? [];
    list.push(s);
    byRecording.set(key, list);
  }
  for (const list of byRecording.values()) {
    const sorted = [...list].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      const cur = sorted[i]!;
      if (cur.start < prev.end) {
        throw new DataError(
          'bad_field',
          cur.where,
          `UEM segment [${cur.start}, ${cur.end}] of '${cur.file}' channel ${cur.channel} overlaps [${prev.start}, ${prev.end}]${prev.where ? ` (${prev.where})` : ''}`,
        );
      }
    }
  }
}

export function parseUem(text: string, path: string): UemSegment[] {
  const out: UemSegment[] = [];
  for (const { line, where } of recordLines(text, path)) out.push(parseUemLine(line, where));
  checkUemOverlaps(out);
  return out;
}

export function readUem(path: string): UemSegment[] {
  return parseUem(readNistFile(path, 'UEM'), path);
}

export function formatUem(segments: readonly Omit<UemSegment, 'where'>[]): string {
  return segments.map((s) => `${s.file} ${s.channel} ${s.start.toFixed(3)} ${s.end.toFixed(3)}\n`).join('');
}

export function writeUem(path: string, segments: readonly Omit<UemSegment, 'where'>[]): void {
  writeFileSync(path, formatUem(segments));
}
