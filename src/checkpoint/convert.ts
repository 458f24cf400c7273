// Conversion to a plain, uncompressed NeMo .nemo: from a streamnest training checkpoint (the .nemo layout plus
// trainer_state.ckpt / trainer_state.json, see src/train/checkpoint.ts) or from any .nemo (gzip, members without
// './', ...). The model is loaded once first (strictly), so that only archives streamnest can use are written.
import { closeSync, openSync, readSync } from 'node:fs';
import { loadNemoModel } from './nemo-model.js';
import { readNemoArchive, writeNemoArchive } from './nemo-archive.js';

/** The extra members of a streamnest training checkpoint (names as in src/train/checkpoint.ts). */
export const TRAINING_STATE_MEMBERS = ['trainer_state.ckpt', 'trainer_state.json'] as const;

export type ArchiveFormat = 'tar' | 'tar.gz';

export class ConvertError extends Error {
  override readonly name = 'ConvertError';
}

/** What a file is, from its first bytes: a (gzipped) tar, or a clear refusal naming what it looks like. */
export function sniffArchive(path: string): ArchiveFormat {
  const head = new Uint8Array(512);
  let n: number;
  const fd = openSync(path, 'r');
  try {
    n = readSync(fd, head, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
  if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  if (n >= 262 && String.fromCharCode(...head.subarray(257, 262)) === 'ustar') return 'tar';
  if (n >= 4 && head[0] === 0x50 && head[1] === 0x4b) {
    throw new ConvertError(
      `${path}: a zip file (torch.save output, e.g. a PyTorch Lightning .ckpt), not a .nemo archive or a streamnest training checkpoint; ` +
        'its hyper-parameters are pickled Python objects, which streamnest does not execute: restore it in NeMo and save_to() a .nemo',
    );
  }
  throw new ConvertError(`${path}: not a .nemo archive or a streamnest training checkpoint (neither tar nor gzip data; ${n} bytes read)`);
}

export interface ConvertReport {
  input: string;
  output: string;
  inputFormat: ArchiveFormat;
  /** 'training-checkpoint' when trainer_state.* members were dropped. */
  source: 'training-checkpoint' | 'nemo';
  model: string;
  tensors: number;
  /** Extra files written (tokenizer, ...). */
  kept: string[];
  dropped: string[];
}

/** Writes `output` as an uncompressed .nemo in NeMo's save_to layout. */
export function convertToNemo(input: string, output: string): ConvertReport {
  const inputFormat = sniffArchive(input);
  // validates the config, every key and every shape (strict) before anything is written, without reading the weights;
  // their data are read (and CRC-checked) below, before the output is written
  const m = loadNemoModel(input, { weights: 'meta' });
  const model = m.kind === 'nest' ? `NEST SSL (${m.target ?? 'no target'})` : `${m.family} ASR (${m.target ?? 'no target'})`;
  m.dispose();
  const trainingMembers: readonly string[] = TRAINING_STATE_MEMBERS;
  // the trainer state (optimizer moments: twice the weights) is skipped, not read
  const a = readNemoArchive(input, { extra: (n) => !trainingMembers.includes(n) });
  try {
    const training = trainingMembers.some((n) => a.extraSizes.has(n));
    const extra = a.extra;
    writeNemoArchive(output, { configYaml: a.configYaml, stateDict: a.stateDict, extra });
    return {
      input,
      output,
      inputFormat,
      source: training ? 'training-checkpoint' : 'nemo',
      model,
      tensors: a.stateDict.size,
      kept: [...extra.keys()],
      dropped: [...a.extraSizes.keys()].filter((n) => !extra.has(n)),
    };
  } finally {
    for (const x of a.stateDict.values()) x.dispose();
  }
}
