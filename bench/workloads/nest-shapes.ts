// NEST model sizes for the benchmarks (spec 00 §4 size table), derived from the shipped configs by overrides, and the
// hand-off of streamnest-made weights to the PyTorch twins: exp/bench/<name>.pt (saveStateDict, NeMo key names)
// + exp/bench/<name>.json (the NeMo-layout encoder config and the input shape). The twins read both, so the two
// sides run the same configuration with the same weights.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/index.js';
import { nestModelArgs } from '../../src/ssl/nest-factory.js';
import type { NestModelArgs } from '../../src/ssl/nest-model.js';
import { writeFileAtomic } from '../../src/torch/index.js';

export type NestSize = 'small' | 'medium';

/** d_model / n_heads / n_layers of the NEST sizes (everything else as the recipe). */
export const SIZES: Record<NestSize, { d_model: number; n_heads: number; n_layers: number }> = {
  small: { d_model: 176, n_heads: 4, n_layers: 16 },
  medium: { d_model: 256, n_heads: 4, n_layers: 16 },
};

export const REPO_ROOT = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json')) && d !== '/') d = dirname(d);
  return d;
})();

export const HANDOFF_DIR = join(REPO_ROOT, 'exp', 'bench');

/**
 * The NEST model arguments of a size from a preset ('nest_fast-conformer' = the bidirectional recipe with
 * batch_norm; 'streaming' = fully causal, layer_norm, causal subsampling and masking).
 */
export function nestArgs(preset: 'nest_fast-conformer' | 'streaming', size: NestSize, seed: number, extra: string[] = []): NestModelArgs {
  const s = SIZES[size];
  const { config } = loadConfig(preset, [
    'model.train_ds.manifest_filepath=train.json',
    'model.validation_ds.manifest_filepath=val.json',
    `model.encoder.d_model=${s.d_model}`,
    `model.encoder.n_heads=${s.n_heads}`,
    `model.encoder.n_layers=${s.n_layers}`,
    ...extra,
  ]);
  return nestModelArgs(config.model, seed);
}

/** Writes the hand-off files for a twin unless the same content is already there. */
export function writeHandoff(name: string, meta: Record<string, unknown>, save: (path: string) => void): void {
  mkdirSync(HANDOFF_DIR, { recursive: true });
  const jsonPath = join(HANDOFF_DIR, `${name}.json`);
  const ptPath = join(HANDOFF_DIR, `${name}.pt`);
  const text = JSON.stringify(meta, null, 1) + '\n';
  if (existsSync(ptPath) && existsSync(jsonPath) && readFileSync(jsonPath, 'utf8') === text) return;
  save(ptPath);
  writeFileAtomic(jsonPath, Buffer.from(text));
}
