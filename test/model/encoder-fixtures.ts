// Loading the golden encoder cases: index.json entries, NeMo weights (encoder.* keys, prefix stripped), inputs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { readNpy } from '../../src/torch/serialize/npy.js';
import { readNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { ConformerEncoder, type ConformerEncoderConfig } from '../../src/model/conformer-encoder.js';
import { resolveEncoderConfig } from '../../src/model/encoder-config.js';
import type { AttContextSize } from '../../src/model/attention-context.js';
import { GOLDEN } from '../helpers/assert.js';

export interface GoldenFile {
  file: string;
  shape: number[];
  dtype: string;
}

export interface GoldenCase {
  id: string;
  kind: string;
  description: string;
  objective?: string;
  config: { encoder: ConformerEncoderConfig; att_context_size_in_use?: AttContextSize; weights?: string; [k: string]: unknown };
  inputs: Record<string, GoldenFile>;
  outputs: Record<string, GoldenFile | Record<string, GoldenFile & { fp64_rel_l2?: number }>>;
  tolerance: Record<string, unknown>;
  relu_near_zero?: { positions: number[][]; threshold: number };
  [k: string]: unknown;
}

let index: { cases: GoldenCase[] } | null = null;
export function goldenCases(prefix: string, kind?: string): GoldenCase[] {
  index ??= JSON.parse(readFileSync(join(GOLDEN, 'index.json'), 'utf8')) as { cases: GoldenCase[] };
  return index.cases.filter((c) => c.id.startsWith(prefix) && (kind === undefined || c.kind === kind));
}

export function golden(file: string): Tensor {
  return readNpy(join(GOLDEN, file));
}

/** The archive's weights path from a case's config ("golden/nemo/x.nemo (...)" or "golden/nemo/x.nemo"). */
export function weightsPath(c: GoldenCase): string {
  const m = /golden\/(nemo\/[\w.-]+\.nemo)/.exec(String(c.config.weights));
  if (!m) throw new Error(`${c.id}: cannot parse weights '${String(c.config.weights)}'`);
  return join(GOLDEN, m[1]!);
}

const weightCache = new Map<string, Map<string, Tensor>>();
/** The encoder.* entries of an archive's state dict, prefix stripped (kept for the whole test process). */
export function encoderWeights(path: string): Map<string, Tensor> {
  let sd = weightCache.get(path);
  if (!sd) {
    const a = readNemoArchive(path);
    sd = new Map();
    for (const [k, v] of a.stateDict) {
      if (k.startsWith('encoder.')) sd.set(k.slice('encoder.'.length), t.keep(v));
      else v.dispose();
    }
    weightCache.set(path, sd);
  }
  return sd;
}

/** An encoder built from the case's config with the NeMo weights loaded strictly, in eval mode, default context set. */
export function buildGoldenEncoder(c: GoldenCase): ConformerEncoder {
  const enc = new ConformerEncoder(resolveEncoderConfig(c.config.encoder));
  enc.loadStateDict(encoderWeights(weightsPath(c)), true);
  if (c.config.att_context_size_in_use) enc.setDefaultAttContextSize(c.config.att_context_size_in_use);
  return enc.eval();
}
