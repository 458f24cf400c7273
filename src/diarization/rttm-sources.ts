// Where eval-diar gets its turns: an RTTM file, a folder of *.rttm files, or the rttm_filepath / uem_filepath of
// a NeMo diarization manifest's entries.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../data/data-error.js';
import { readDiarizationManifest } from './diarization-manifest.js';
import { readRttm, type SpeakerTurn } from './rttm.js';
import { checkUemOverlaps, readUem, type UemSegment } from './uem.js';

/** The RTTM files a path names: itself, or the *.rttm files directly inside a folder (sorted). */
export function rttmFiles(path: string): string[] {
  if (!existsSync(path)) throw new DataError('missing_file', path, 'no such RTTM file or folder');
  if (!statSync(path).isDirectory()) return [path];
  const files = readdirSync(path)
    .filter((f) => f.toLowerCase().endsWith('.rttm'))
    .sort()
    .map((f) => join(path, f));
  if (files.length === 0) throw new DataError('missing_file', path, 'folder has no *.rttm file');
  return files;
}

/** Every SPEAKER turn of an RTTM file or folder. */
export function readRttmPath(path: string): SpeakerTurn[] {
  return rttmFiles(path).flatMap((f) => readRttm(f));
}

/** The UEM segments of a file or of every *.uem in a folder; overlaps are checked across files too. */
export function readUemPath(path: string): UemSegment[] {
  if (!existsSync(path)) throw new DataError('missing_file', path, 'no such UEM file or folder');
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((f) => f.toLowerCase().endsWith('.uem'))
        .sort()
        .map((f) => join(path, f))
    : [path];
  const segs = files.flatMap((f) => readUem(f));
  checkUemOverlaps(segs);
  return segs;
}

/** Reference turns and UEM segments of a diarization manifest's entries (entries without rttm_filepath are refused). */
export function readManifestReferences(manifest: string): { ref: SpeakerTurn[]; uem: UemSegment[] | null } {
  const entries = readDiarizationManifest(manifest);
  const ref: SpeakerTurn[] = [];
  const uem: UemSegment[] = [];
  let withUem = 0;
  for (const e of entries) {
    if (e.rttmFilepath === null) throw new DataError('bad_field', e.where, 'no rttm_filepath: a reference RTTM is needed to score');
    ref.push(...readRttm(e.rttmFilepath));
    if (e.uemFilepath !== null) {
      uem.push(...readUem(e.uemFilepath));
      withUem++;
    }
  }
  if (withUem === 0) return { ref, uem: null };
  checkUemOverlaps(uem);
  return { ref, uem };
}
