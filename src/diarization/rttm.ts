// NIST RTTM speaker turns: `SPEAKER <file> <chnl> <tbeg> <tdur> <ortho> <stype> <name> <conf> <slat>`, one per line,
// '#'/';' comment lines and blank lines skipped, other record types (SPKR-INFO, LEXEME, ...) ignored.
// Provenance: md-eval-22.pl get_rttm_file (fields, comment rules, the negative-duration check) and NeMo's
// nemo.collections.asr.parts.utils.speaker_utils.labels_to_rttmfile (the line written, times with 3 decimals).
import { writeFileSync } from 'node:fs';
import { DataError } from '../data/data-error.js';
import { parseSeconds, readNistFile, recordLines } from './nist-text.js';

/** One SPEAKER record: `speaker` talks in `file`/`channel` over [start, start + duration) seconds. */
export interface SpeakerTurn {
  file: string;
  channel: string;
  start: number;
  duration: number;
  speaker: string;
  /** Where it came from, for messages: "ref.rttm:12" ('' for turns made in code). */
  where: string;
}

/** Parses one non-comment RTTM line; null for record types other than SPEAKER. */
export function parseRttmLine(line: string, where: string): SpeakerTurn | null {
  const f = line.trim().split(/\s+/);
  const type = f[0]!.toUpperCase();
  if (type !== 'SPEAKER') return null;
  if (f.length < 8) {
    throw new DataError(
      'malformed_line',
      where,
      `SPEAKER record needs at least 8 fields (SPEAKER file chnl tbeg tdur ortho stype name ...), got ${f.length}: '${line.trim().slice(0, 120)}'`,
    );
  }
  const start = parseSeconds(f[3]!, 'start time', where);
  const duration = parseSeconds(f[4]!, 'duration', where);
  if (start < 0) throw new DataError('bad_field', where, `negative start time ${start}`);
  if (duration < 0) throw new DataError('bad_field', where, `negative duration ${duration}`);
  return { file: f[1]!, channel: f[2]!, start, duration, speaker: f[7]!, where };
}

/** Every SPEAKER turn of RTTM text read from `path`; the first bad line throws a DataError naming `path:line`. */
export function parseRttm(text: string, path: string): SpeakerTurn[] {
  const turns: SpeakerTurn[] = [];
  for (const { line, where } of recordLines(text, path)) {
    const turn = parseRttmLine(line, where);
    if (turn) turns.push(turn);
  }
  return turns;
}

export function readRttm(path: string): SpeakerTurn[] {
  return parseRttm(readNistFile(path, 'RTTM'), path);
}

function checkToken(value: string, what: string): string {
  if (value === '' || /\s/.test(value)) throw new Error(`RTTM ${what} must be one non-empty token without whitespace, got '${value}'`);
  return value;
}

/** RTTM text for the turns, in the given order: `SPEAKER file chnl start dur <NA> <NA> speaker <NA> <NA>` (3 decimals). */
export function formatRttm(turns: readonly Omit<SpeakerTurn, 'where'>[]): string {
  return turns
    .map((t) => {
      if (!(t.start >= 0) || !(t.duration >= 0))
        throw new Error(`RTTM turn of '${t.speaker}' in '${t.file}': start ${t.start} and duration ${t.duration} must be >= 0`);
      const file = checkToken(t.file, 'file id');
      const speaker = checkToken(t.speaker, 'speaker name');
      return `SPEAKER ${file} ${checkToken(t.channel, 'channel')} ${t.start.toFixed(3)} ${t.duration.toFixed(3)} <NA> <NA> ${speaker} <NA> <NA>\n`;
    })
    .join('');
}

export function writeRttm(path: string, turns: readonly Omit<SpeakerTurn, 'where'>[]): void {
  writeFileSync(path, formatRttm(turns));
}
