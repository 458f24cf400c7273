// Building one training batch from plain data (runs in a worker thread or in-process, no torch):
// decode each utterance, pad it to the 1-second minimum, draw its noise clip, collate, augment.
// Provenance: NeMo ssl_dataset.py (AudioNoiseDataset.__getitem__, sample_noise, load_noise_audio,
// pad_audio, _audio_noise_collate_fn), spec 03 §1-2. All randomness comes from one Rng seeded per batch.
import { DataError, addSkip, emptySkips, type SkipCounts } from './data-error.js';
import { decodeAudio, type AudioRef } from './decode.js';
import { augmentBatch, addNoiseWithoutAugmentor, type AugmentedBatch, type AugmentDraw, type NoiseAugmentationConfig } from './noise-augmentation.js';
import { Rng } from './rng.js';

export interface BatchBuildConfig {
  sampleRate: number;
  /** NeMo min_audio_len_secs (1.0). */
  minAudioLenSecs: number;
  padAudioMode: 'repeat' | 'zero';
  /** skip_bad_audio: bad utterances are dropped from the batch and counted instead of raising. */
  skipBadAudio: boolean;
  durationTolerance: number;
  augmentation: NoiseAugmentationConfig | null;
}

export const DEFAULT_BUILD_CONFIG: BatchBuildConfig = {
  sampleRate: 16000,
  minAudioLenSecs: 1.0,
  padAudioMode: 'repeat',
  skipBadAudio: false,
  durationTolerance: 0.05,
  augmentation: null,
};

export interface BatchTask {
  id: number;
  /** Seed of this batch's Rng (derived from the loader seed, epoch and batch index). */
  seed: number;
  epoch: number;
  batchInEpoch: number;
  /** Manifest indices and their audio. */
  indices: number[];
  items: AudioRef[];
}

export interface LoadedBatch extends AugmentedBatch {
  id: number;
  epoch: number;
  batchInEpoch: number;
  /** Manifest indices of the rows (bad items skipped). */
  indices: number[];
  skips: SkipCounts;
  draws: AugmentDraw[];
}

/** NeMo pad_audio: tile (repeat) or zero-pad to minLen samples. */
export function padAudio(x: Float32Array, minLen: number, mode: 'repeat' | 'zero'): Float32Array {
  if (x.length >= minLen) return x;
  const out = new Float32Array(minLen);
  if (mode === 'repeat' && x.length > 0) for (let i = 0; i < minLen; i += x.length) out.set(x.subarray(0, Math.min(x.length, minLen - i)), i);
  else out.set(x);
  return out;
}

function sum(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s;
}

/** NeMo load_noise_audio: a random window of n samples with a positive sum (≤ 100 draws), else as listed. */
async function loadNoise(ref: AudioRef, n: number, cfg: BatchBuildConfig, rng: Rng): Promise<Float32Array> {
  const sr = cfg.sampleRate;
  const maxDur = n / sr;
  let x: Float32Array;
  if (ref.duration !== null && ref.duration > maxDur) {
    let cnt = 0;
    do {
      const offset = rng.uniform(0, ref.duration - maxDur);
      x = await decodeAudio({ ...ref, offset, duration: maxDur }, { sampleRate: sr, durationTolerance: cfg.durationTolerance });
      cnt++;
    } while (!(sum(x) > 0) && cnt < 100);
  } else {
    x = await decodeAudio(ref, { sampleRate: sr, durationTolerance: cfg.durationTolerance });
  }
  if (sum(x) === 0) {
    // WhiteNoisePerturbation(min_level=-90, max_level=-46): level = randint in [-90, -46)
    const db = rng.int(-90, -47);
    const g = 10 ** (db / 20);
    x = x.slice();
    for (let i = 0; i < x.length; i++) x[i] = x[i]! + g * rng.normal();
  }
  return x;
}

/** NeMo sample_noise: a uniformly chosen entry, up to 20 tries on load errors, then zeros. */
async function sampleNoise(
  noise: readonly AudioRef[],
  n: number,
  cfg: BatchBuildConfig,
  rng: Rng,
  skips: SkipCounts,
): Promise<{ clip: Float32Array; len: number; skips: SkipCounts }> {
  for (let tries = 0; tries < 20 && noise.length > 0; tries++) {
    const ref = noise[Math.floor(rng.random() * noise.length)]!;
    try {
      const x = await loadNoise(ref, n, cfg, rng);
      const clip = new Float32Array(n);
      clip.set(x.subarray(0, Math.min(n, x.length)));
      return { clip, len: Math.min(n, x.length), skips };
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      skips = addSkip(skips, e.reason, `noise ${e.message}`);
    }
  }
  return { clip: new Float32Array(n), len: n, skips };
}

/** Builds a batch; throws DataError on bad audio unless cfg.skipBadAudio. May return 0 rows (all bad). */
export async function buildBatch(task: BatchTask, noise: readonly AudioRef[], cfg: BatchBuildConfig): Promise<LoadedBatch> {
  const rng = new Rng(task.seed);
  let skips = emptySkips();
  const minLen = Math.round(cfg.minAudioLenSecs * cfg.sampleRate);
  const rows: { index: number; audio: Float32Array; noise: Float32Array; noiseLen: number }[] = [];
  for (const [k, ref] of task.items.entries()) {
    let audio: Float32Array;
    try {
      audio = padAudio(await decodeAudio(ref, { sampleRate: cfg.sampleRate, durationTolerance: cfg.durationTolerance }), minLen, cfg.padAudioMode);
    } catch (e) {
      if (!(e instanceof DataError) || !cfg.skipBadAudio) throw e;
      skips = addSkip(skips, e.reason, e.message);
      continue;
    }
    const nz = await sampleNoise(noise, audio.length, cfg, rng, skips);
    skips = nz.skips;
    rows.push({ index: task.indices[k]!, audio, noise: nz.clip, noiseLen: nz.len });
  }
  const B = rows.length;
  const N = B === 0 ? 0 : Math.max(...rows.map((r) => r.audio.length));
  const audio = new Float32Array(B * N);
  const noiseArr = new Float32Array(B * N);
  rows.forEach((r, i) => {
    audio.set(r.audio, i * N);
    noiseArr.set(r.noise.subarray(0, N), i * N);
  });
  const padded = {
    batchSize: B,
    maxLen: N,
    audio,
    audioLens: Int32Array.from(rows, (r) => r.audio.length),
    noise: noiseArr,
    noiseLens: Int32Array.from(rows, (r) => Math.min(r.noiseLen, N)),
  };
  const aug = cfg.augmentation && B > 0 ? augmentBatch(padded, cfg.augmentation, rng) : { batch: addNoiseWithoutAugmentor(padded), draws: [] };
  return { ...aug.batch, id: task.id, epoch: task.epoch, batchInEpoch: task.batchInEpoch, indices: rows.map((r) => r.index), skips, draws: aug.draws };
}
