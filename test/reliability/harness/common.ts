// Shared pieces of the reliability harnesses: where the built CLI is, a seeded PRNG, checkpoint comparison.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTrainingCheckpoint } from '../../../src/train/checkpoint.js';
import { readNemoArchive } from '../../../src/checkpoint/nemo-archive.js';
import type { Tensor } from '../../../src/torch/index.js';

// This file compiles to <repo>/<outDir>/test/reliability/harness/common.js.
export const MAIN_JS = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const RUN_NAME = 'SSL-NEST-FastConformer-Tiny';

/** mulberry32: a small seeded PRNG for choosing kill moments and mutations reproducibly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function checkpointsDir(expDir: string): string {
  return join(expDir, RUN_NAME, 'checkpoints');
}

export function lastCheckpoint(expDir: string): string {
  return join(checkpointsDir(expDir), `${RUN_NAME}--last.ckpt`);
}

/** The bytes of every tensor of a training checkpoint (weights, optimizer state, RNG states) plus its progress JSON. */
export interface CheckpointDigest {
  tensors: Map<string, Buffer>;
  progress: string;
}

export function digestCheckpoint(path: string): CheckpointDigest {
  const c = loadTrainingCheckpoint(path);
  const tensors = new Map<string, Buffer>();
  const take = (k: string, x: Tensor): void => {
    tensors.set(k, Buffer.from(Float64Array.from(x.toArray()).buffer));
    x.dispose();
  };
  for (const [k, x] of c.stateDict) take(`model.${k}`, x);
  for (const [i, s] of c.optimizer.state) {
    const st = s.step as unknown as number | Tensor; // a number or a tensor, depending on the optimizer's version
    if (typeof st === 'number') tensors.set(`optim.${i}.step`, Buffer.from(Float64Array.of(st).buffer));
    else take(`optim.${i}.step`, st);
    take(`optim.${i}.exp_avg`, s.exp_avg);
    take(`optim.${i}.exp_avg_sq`, s.exp_avg_sq);
  }
  for (const [k, x] of c.rngStates) take(`rng.${k}`, x);
  const { globalStep, epoch, nanSkips, sampler } = c.progress;
  return { tensors, progress: JSON.stringify({ globalStep, epoch, nanSkips, sampler }) };
}

/** Differences between two digests (empty when identical), at most `limit` lines. */
export function compareDigests(a: CheckpointDigest, b: CheckpointDigest, limit = 10): string[] {
  const out: string[] = [];
  if (a.progress !== b.progress) out.push(`progress differs:\n  ${a.progress}\n  ${b.progress}`);
  const keys = new Set([...a.tensors.keys(), ...b.tensors.keys()]);
  for (const k of keys) {
    const x = a.tensors.get(k);
    const y = b.tensors.get(k);
    if (!x || !y) out.push(`${k}: only in ${x ? 'first' : 'second'}`);
    else if (!x.equals(y)) {
      const fx = new Float64Array(x.buffer, x.byteOffset, x.length / 8);
      const fy = new Float64Array(y.buffer, y.byteOffset, y.length / 8);
      let maxd = 0;
      for (let i = 0; i < Math.min(fx.length, fy.length); i++) maxd = Math.max(maxd, Math.abs(fx[i]! - fy[i]!));
      out.push(`${k}: differs (max |diff| ${maxd.toExponential(3)})`);
    }
    if (out.length >= limit) break;
  }
  return out;
}

/** Opens every checkpoint-like file in a folder (not temporaries); returns the problems found. */
export function checkAllReadable(dir: string): { checked: string[]; problems: string[] } {
  const checked: string[] = [];
  const problems: string[] = [];
  if (!existsSync(dir)) return { checked, problems };
  for (const f of readdirSync(dir)) {
    if (/\.tmp[-.]/.test(f)) continue;
    const p = join(dir, f);
    try {
      if (f.endsWith('.ckpt')) {
        const c = loadTrainingCheckpoint(p);
        for (const x of c.stateDict.values()) x.dispose();
        for (const s of c.optimizer.state.values()) {
          const st = s.step as unknown;
          if (st && typeof st === 'object' && 'dispose' in st) (st as Tensor).dispose();
          s.exp_avg.dispose();
          s.exp_avg_sq.dispose();
        }
        for (const x of c.rngStates.values()) x.dispose();
      } else if (f.endsWith('.nemo')) {
        const a = readNemoArchive(p);
        for (const x of a.stateDict.values()) x.dispose();
      } else continue;
      checked.push(f);
    } catch (e) {
      problems.push(`${f}: ${(e as Error).message}`);
    }
  }
  return { checked, problems };
}
