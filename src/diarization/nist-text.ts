// What NIST's line formats (RTTM, UEM) share: '#'/';' comment lines and blank lines skipped, whitespace-separated
// fields, times as plain numbers, every record named "file:line" in errors.
// Provenance: md-eval-22.pl get_rttm_file / get_uem_data (comment rules, field splitting).
import { readFileSync } from 'node:fs';
import { DataError } from '../data/data-error.js';

const COMMENT = /^\s*[#;]|^\s*$/;

/** A time field in seconds; a DataError naming `where` when it is not a number. */
export function parseSeconds(field: string, what: string, where: string): number {
  const v = Number(field);
  if (field === '' || !Number.isFinite(v)) throw new DataError('malformed_line', where, `${what} '${field}' is not a number`);
  return v;
}

/** The record lines of `text` (a UTF-8 byte-order mark dropped, comments and blank lines skipped) with where each stands ("path:line"). */
export function* recordLines(text: string, path: string): Generator<{ line: string; where: string }> {
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  for (let i = 0; i < lines.length; i++) if (!COMMENT.test(lines[i]!)) yield { line: lines[i]!, where: `${path}:${i + 1}` };
}

/** The file's text; a DataError naming the file (and the format, e.g. 'RTTM') when it cannot be read. */
export function readNistFile(path: string, format: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataError('missing_file', path, `cannot read ${format} file: ${(e as Error).message}`);
  }
}
