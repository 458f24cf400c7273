// Synthetic noise clips for the built-in corpus: white, pink and brown noise, and babble made by
// summing several speech clips. All draws come from the Rng passed in.
import type { Rng } from './rng.js';

export type SyntheticNoiseKind = 'white' | 'pink' | 'brown';

/** Scale a signal in place to the given RMS level (dBFS); returns it. */
export function normalizeRms(x: Float32Array, rmsDb: number): Float32Array {
  let e = 0;
  for (let i = 0; i < x.length; i++) e += x[i]! * x[i]!;
  const rms = Math.sqrt(e / Math.max(1, x.length));
  if (rms === 0) return x;
  const g = 10 ** (rmsDb / 20) / rms;
  for (let i = 0; i < x.length; i++) x[i] = x[i]! * g;
  return x;
}

export function whiteNoise(n: number, rng: Rng): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.normal();
  return x;
}

/** Pink (1/f) noise with Paul Kellet's refined filter over white noise. */
export function pinkNoise(n: number, rng: Rng): Float32Array {
  const x = new Float32Array(n);
  let b0 = 0,
    b1 = 0,
    b2 = 0,
    b3 = 0,
    b4 = 0,
    b5 = 0,
    b6 = 0;
  for (let i = 0; i < n; i++) {
    const w = rng.normal();
    b0 = 0.99886 * b0 + w * 0.0555179;
    b1 = 0.99332 * b1 + w * 0.0750759;
    b2 = 0.969 * b2 + w * 0.153852;
    b3 = 0.8665 * b3 + w * 0.3104856;
    b4 = 0.55 * b4 + w * 0.5329522;
    b5 = -0.7616 * b5 - w * 0.016898;
    x[i] = b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362;
    b6 = w * 0.115926;
  }
  return x;
}

/** Brown (1/f^2) noise: leaky integration of white noise (leak keeps it from drifting off). */
export function brownNoise(n: number, rng: Rng): Float32Array {
  const x = new Float32Array(n);
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc = 0.998 * acc + 0.05 * rng.normal();
    x[i] = acc;
  }
  return x;
}

export function syntheticNoise(kind: SyntheticNoiseKind, n: number, rng: Rng, rmsDb = -26): Float32Array {
  const x = kind === 'white' ? whiteNoise(n, rng) : kind === 'pink' ? pinkNoise(n, rng) : brownNoise(n, rng);
  return normalizeRms(x, rmsDb);
}

/** Babble: the sum of several speech clips, each tiled to n samples from a random start. */
export function babble(clips: readonly Float32Array[], n: number, rng: Rng, rmsDb = -26): Float32Array {
  const out = new Float32Array(n);
  for (const c of clips) {
    if (c.length === 0) continue;
    const g = 1 / Math.sqrt(clips.length);
    let p = rng.int(0, c.length - 1);
    for (let i = 0; i < n; i++) {
      out[i] = out[i]! + g * c[p]!;
      p = p + 1 === c.length ? 0 : p + 1;
    }
  }
  return normalizeRms(out, rmsDb);
}
