// NEST's batch augmentation on raw waveforms.
// Provenance: NeMo MultiSpeakerNoiseAugmentation (nemo/collections/asr/modules/ssl_modules/augmentation.py),
// spec 03 §2-3. Per item, with probability `prob`: a share `mix_rate` of the utterance is covered by
// 1..n segments of interference, either the item's manifest noise at an SNR r ~ U(min_r_noise, max_r_noise) dB
// or speech of other utterances in the batch at an energy ratio r ~ U(min_r_speech, max_r_speech) dB, scaled
// so that 10·log10(E_audio / E_interference) = r with both energies averaged over the whole utterance.
// The clean `audio` is never modified (it feeds the quantizer targets); `noisyAudio = audio + noise`.
import type { Rng } from './rng.js';

export interface NoiseAugmentationConfig {
  prob: number;
  noiseRatio: number;
  minRSpeech: number;
  maxRSpeech: number;
  minRNoise: number;
  maxRNoise: number;
  minMixRate: number;
  maxMixRate: number;
  minNumSegments: number;
  maxNumSegments: number;
  minNumSpeakers: number;
  maxNumSpeakers: number;
  /**
   * NeMo keeps the raw loaded noise (unscaled) for items that are not augmented, so it is still added
   * (spec 03 §3.2). true = that behaviour (parity); false = skipped items get noise 0, noisy length = audio length.
   */
  faithfulSkipNoise: boolean;
}

/** MultiSpeakerNoiseAugmentation's constructor defaults. */
export const MULTI_SPEAKER_DEFAULTS: NoiseAugmentationConfig = {
  prob: 0.0,
  noiseRatio: 0.0,
  minRSpeech: -5,
  maxRSpeech: 5,
  minRNoise: -5,
  maxRNoise: 20,
  minMixRate: 0.0,
  maxMixRate: 1.0,
  minNumSegments: 1,
  maxNumSegments: 5,
  minNumSpeakers: 1,
  maxNumSpeakers: 4,
  faithfulSkipNoise: true,
};

/** The values of NeMo's NEST YAML (nest_fast-conformer.yaml, batch_augmentor). */
export const NEST_AUGMENTATION: NoiseAugmentationConfig = {
  ...MULTI_SPEAKER_DEFAULTS,
  prob: 0.5,
  noiseRatio: 0.5,
  minMixRate: 0.5,
  maxMixRate: 0.5,
  maxNumSegments: 1,
  maxNumSpeakers: 1,
};

const YAML_KEYS: Record<string, keyof NoiseAugmentationConfig> = {
  prob: 'prob',
  noise_ratio: 'noiseRatio',
  min_r_speech: 'minRSpeech',
  max_r_speech: 'maxRSpeech',
  min_r_noise: 'minRNoise',
  max_r_noise: 'maxRNoise',
  min_mix_rate: 'minMixRate',
  max_mix_rate: 'maxMixRate',
  min_num_segments: 'minNumSegments',
  max_num_segments: 'maxNumSegments',
  min_num_speakers: 'minNumSpeakers',
  max_num_speakers: 'maxNumSpeakers',
  faithful_skip_noise: 'faithfulSkipNoise',
};

/** From a NeMo `batch_augmentor` section (snake_case keys, `_target_` ignored); unknown keys are errors. */
export function augmentationFromConfig(section: Record<string, unknown>, where = 'batch_augmentor'): NoiseAugmentationConfig {
  const cfg: NoiseAugmentationConfig = { ...MULTI_SPEAKER_DEFAULTS };
  for (const [k, v] of Object.entries(section)) {
    if (k === '_target_') {
      if (typeof v !== 'string' || !/MultiSpeakerNoiseAugmentation$/.test(v)) {
        throw new Error(`${where}._target_: only MultiSpeakerNoiseAugmentation is supported, got ${JSON.stringify(v)}`);
      }
      continue;
    }
    const key = YAML_KEYS[k];
    if (!key) throw new Error(`${where}.${k}: unknown key (known: ${Object.keys(YAML_KEYS).join(', ')})`);
    if (key === 'faithfulSkipNoise') {
      if (typeof v !== 'boolean') throw new Error(`${where}.${k}: expected true/false, got ${JSON.stringify(v)}`);
      cfg.faithfulSkipNoise = v;
    } else {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}.${k}: expected a number, got ${JSON.stringify(v)}`);
      cfg[key] = v;
    }
  }
  validateAugmentation(cfg, where);
  return cfg;
}

/** NeMo's constructor checks plus integer ranges for segments and speakers. */
export function validateAugmentation(c: NoiseAugmentationConfig, where = 'batch_augmentor'): void {
  const bad = (m: string) => {
    throw new Error(`${where}: ${m}`);
  };
  if (!(c.prob >= 0 && c.prob <= 1)) bad(`prob must be in [0, 1], got ${c.prob}`);
  if (!(c.noiseRatio >= 0 && c.noiseRatio <= 1)) bad(`noise_ratio must be in [0, 1], got ${c.noiseRatio}`);
  if (!(c.minRSpeech <= c.maxRSpeech)) bad(`min_r_speech ${c.minRSpeech} > max_r_speech ${c.maxRSpeech}`);
  if (!(c.minRNoise <= c.maxRNoise)) bad(`min_r_noise ${c.minRNoise} > max_r_noise ${c.maxRNoise}`);
  if (!(c.minMixRate >= 0 && c.minMixRate <= c.maxMixRate && c.maxMixRate <= 1))
    bad(`need 0 <= min_mix_rate <= max_mix_rate <= 1, got ${c.minMixRate}, ${c.maxMixRate}`);
  for (const [lo, hi, name] of [
    [c.minNumSegments, c.maxNumSegments, 'num_segments'],
    [c.minNumSpeakers, c.maxNumSpeakers, 'num_speakers'],
  ] as const) {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || lo > hi) bad(`need integers 1 <= min_${name} <= max_${name}, got ${lo}, ${hi}`);
  }
}

/** A collated batch: B rows of N samples, row-major. */
export interface PaddedBatch {
  batchSize: number;
  maxLen: number;
  audio: Float32Array;
  audioLens: Int32Array;
  noise: Float32Array;
  noiseLens: Int32Array;
}

export interface AugmentedBatch extends PaddedBatch {
  noisyAudio: Float32Array;
  noisyLens: Int32Array;
}

/** What was drawn for one item (for logging and tests). */
export interface AugmentDraw {
  item: number;
  applied: boolean;
  mode?: 'noise' | 'speech';
  /** Drawn energy ratio in dB (SNR for noise). */
  ratioDb?: number;
  mixLen?: number;
  segmentLens?: number[];
  starts?: number[];
  /** Batch indices of the interfering speakers, in the order used (speech mode). */
  speakers?: number[];
  /** Applied gain on the interference (0 when it had no energy). */
  scale?: number;
}

/** Tile x[0:len] and cut to n samples (NeMo repeat_noise + pad_or_trim_noise). */
function tile(x: Float32Array, len: number, n: number): Float32Array {
  const out = new Float32Array(n);
  if (len <= 0) return out;
  for (let i = 0; i < n; i += len) out.set(x.subarray(0, Math.min(len, n - i)), i);
  return out;
}

function segmentLengths(mixLen: number, nSeg: number, rng: Rng): number[] {
  if (nSeg === 1) return [mixLen];
  // random.choices(range(nSeg), k=mixLen) then Counter(...).values(): counts in order of first appearance
  const counts = new Map<number, number>();
  for (let k = 0; k < mixLen; k++) {
    const label = Math.floor(rng.random() * nSeg);
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return [...counts.values()];
}

/**
 * Applies the augmentation to a collated batch; returns a new batch (the inputs are not modified) whose
 * `noise` holds the scaled interference, with the per-item draws. All randomness comes from `rng`.
 */
export function augmentBatch(batch: PaddedBatch, cfg: NoiseAugmentationConfig, rng: Rng): { batch: AugmentedBatch; draws: AugmentDraw[] } {
  const { batchSize: B, maxLen: N, audio, audioLens } = batch;
  const noise = batch.noise.slice();
  const noiseLens = batch.noiseLens.slice();
  const row = (a: Float32Array, i: number) => a.subarray(i * N, (i + 1) * N);
  const draws: AugmentDraw[] = [];
  for (let i = 0; i < B; i++) {
    const len = audioLens[i]!;
    if (rng.random() > cfg.prob) {
      if (!cfg.faithfulSkipNoise) {
        row(noise, i).fill(0);
        noiseLens[i] = len;
      }
      draws.push({ item: i, applied: false });
      continue;
    }
    const mixRate = cfg.minMixRate < cfg.maxMixRate ? rng.uniform(cfg.minMixRate, cfg.maxMixRate) : cfg.minMixRate;
    const mixLen = Math.max(1, Math.floor(len * mixRate));
    const nSeg = rng.int(cfg.minNumSegments, cfg.maxNumSegments);
    const nSpk = Math.min(rng.int(cfg.minNumSpeakers, cfg.maxNumSpeakers), B);
    const segLens = segmentLengths(mixLen, nSeg, rng);
    const speechMode = !(rng.random() < cfg.noiseRatio || B === 1);
    const ratioDb = speechMode ? rng.uniform(cfg.minRSpeech, cfg.maxRSpeech) : rng.uniform(cfg.minRNoise, cfg.maxRNoise);

    // interference segments
    const segments: Float32Array[] = [];
    const speakers: number[] = [];
    if (!speechMode) {
      const tiled = tile(row(batch.noise, i), batch.noiseLens[i]!, N);
      let s = 0;
      for (const l of segLens) {
        segments.push(tiled.subarray(s, s + l));
        s += l;
      }
    } else {
      const candidates = rng.sample(
        [...Array(B).keys()].filter((x) => x !== i),
        Math.min(nSpk, B - 1),
      );
      let sid = 0;
      for (const l of segLens) {
        const spk = candidates[sid]!;
        speakers.push(spk);
        const spkLen = audioLens[spk]!;
        if (l > spkLen) segments.push(tile(row(audio, spk), spkLen, l));
        else {
          const s = spkLen > l ? rng.int(0, spkLen - l - 1) : 0;
          segments.push(row(audio, spk).subarray(s, s + l));
        }
        sid++;
        if (sid >= candidates.length) sid = rng.int(0, candidates.length - 1);
      }
    }

    // placement (NeMo iterates num_segments and can index past segment_lens; we iterate the segments: spec 03 §3.3)
    const sig = new Float32Array(N);
    const starts: number[] = [];
    let lo = 0;
    let hi = len - mixLen;
    for (let j = 0; j < segLens.length; j++) {
      let start = lo;
      if (lo < hi) start = rng.int(lo, hi - 1);
      const seg = segments[j]!.subarray(0, Math.max(0, Math.min(segLens[j]!, N - start)));
      sig.set(seg, start);
      starts.push(start);
      lo = start + segLens[j]!;
      hi += segLens[j]!;
    }

    let ea = 0;
    let en = 0;
    const a = row(audio, i);
    for (let t = 0; t < len; t++) {
      ea += a[t]! * a[t]!;
      en += sig[t]! * sig[t]!;
    }
    ea /= len;
    en /= len;
    const scale = en > 0 ? Math.sqrt(ea / (10 ** (ratioDb / 10) * en)) : 0;
    const out = row(noise, i);
    for (let t = 0; t < N; t++) out[t] = scale * sig[t]!;
    noiseLens[i] = len;
    draws.push({ item: i, applied: true, mode: speechMode ? 'speech' : 'noise', ratioDb, mixLen, segmentLens: segLens, starts, speakers, scale });
  }
  const noisyAudio = new Float32Array(B * N);
  for (let k = 0; k < B * N; k++) noisyAudio[k] = audio[k]! + noise[k]!;
  return {
    batch: { batchSize: B, maxLen: N, audio, audioLens, noise, noiseLens, noisyAudio, noisyLens: noiseLens.slice() },
    draws,
  };
}

/** Without a batch augmentor: noisy = audio + noise, noisy lengths = audio lengths (NeMo's collate). */
export function addNoiseWithoutAugmentor(batch: PaddedBatch): AugmentedBatch {
  const n = batch.batchSize * batch.maxLen;
  const noisyAudio = new Float32Array(n);
  for (let k = 0; k < n; k++) noisyAudio[k] = batch.audio[k]! + batch.noise[k]!;
  return { ...batch, noisyAudio, noisyLens: batch.audioLens.slice() };
}
