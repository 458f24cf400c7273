// Philox4x32-10 in plain TypeScript (BigInt, written from Salmon et al. 2011 and Random123's philox.h) and the
// element mapping of native/src/dropout-mask.cc: the reference the native masks are tested against.
import { createHash } from 'node:crypto';
import * as t from '../../src/torch/index.js';
import { scalarTypeCode } from '../../src/torch/dtype.js';
import { native } from '../../src/torch/native.js';

const U32 = 0xffffffffn;
const M0 = 0xd2511f53n;
const M1 = 0xcd9e8d57n;
const W0 = 0x9e3779b9n;
const W1 = 0xbb67ae85n;

/** Philox4x32-10 of counter words c and key words k (each a uint32). */
export function philox4x32(c: readonly number[], k: readonly number[]): number[] {
  let [c0, c1, c2, c3] = c.map(BigInt) as [bigint, bigint, bigint, bigint];
  let [k0, k1] = k.map(BigInt) as [bigint, bigint];
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      k0 = (k0 + W0) & U32;
      k1 = (k1 + W1) & U32;
    }
    const p0 = M0 * c0;
    const p1 = M1 * c2;
    [c0, c1, c2, c3] = [((p1 >> 32n) ^ c1 ^ k0) & U32, p1 & U32, ((p0 >> 32n) ^ c3 ^ k1) & U32, p0 & U32];
  }
  return [c0, c1, c2, c3].map(Number);
}

/** Whether each of n elements is kept: element e is word (e % 64) / 16 of counter 16 (e / 64) + e % 16, below round(keep 2^32). */
export function referenceKept(n: number, seed: bigint, keep: number): boolean[] {
  const key = [Number(seed & U32), Number(seed >> 32n)];
  const threshold = Math.min(Math.round(keep * 2 ** 32), 2 ** 32 - 1);
  const out: boolean[] = [];
  for (let e = 0; e < n; e++) {
    const j = BigInt(16 * Math.floor(e / 64) + (e % 16));
    const words = philox4x32([Number(j & U32), Number(j >> 32n), 0, 0], key);
    out.push((words[Math.floor((e % 64) / 16)] as number) < threshold);
  }
  return out;
}

/** A new mask through the addon (null where the dtype has no native route). */
export function nativeMask(shape: number[], dtype: t.DType, seed: bigint, keep: number): t.Tensor | null {
  const h = native.dropoutMask(shape, scalarTypeCode(dtype), seed, keep);
  return h ? new t.Tensor(h) : null;
}

/** SHA-256 of a few masks' bytes (sizes with and without a partial last block, both dtypes). */
export function maskDigests(): string[] {
  const out: string[] = [];
  for (const [n, dtype, keep] of [
    [100_003, 'float32', 0.9],
    [64 * 1000, 'bfloat16', 0.75],
    [17, 'float32', 0.5],
  ] as const) {
    t.tidy(() => {
      const m = nativeMask([n], dtype, 0xfeedface12345678n, keep) as t.Tensor;
      out.push(createHash('sha256').update(Buffer.from(m.toBuffer())).digest('hex'));
    });
  }
  return out;
}
