// Shared pieces of the streaming tests: small random-weight causal encoders, long audio made of the golden clips,
// and the offline reference (whole-utterance preprocessor + encoder.forward).
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { AudioToMelSpectrogramPreprocessor, loadAudio } from '../../src/audio/index.js';
import { ConformerEncoder, type ConformerEncoderConfig, type EncoderForwardOptions } from '../../src/model/index.js';
import type { StreamingEncoder } from '../../src/streaming/index.js';
import { GOLDEN } from '../helpers/assert.js';

export const PREPROCESSOR = {
  sample_rate: 16000,
  normalize: 'NA',
  window_size: 0.025,
  window_stride: 0.01,
  window: 'hann',
  features: 32,
  n_fft: 512,
  log: true,
  frame_splicing: 1,
  dither: 0,
  pad_to: 16,
  pad_value: 0.0,
};

export function smallEncoderConfig(over: Partial<ConformerEncoderConfig> = {}): ConformerEncoderConfig {
  return {
    feat_in: 32,
    n_layers: 2,
    d_model: 32,
    n_heads: 2,
    subsampling: 'dw_striding',
    subsampling_factor: 8,
    subsampling_conv_channels: 16,
    causal_downsampling: true,
    att_context_style: 'chunked_limited',
    att_context_size: [8, 1],
    conv_kernel_size: 5,
    conv_context_size: 'causal',
    conv_norm_type: 'layer_norm',
    xscaling: true,
    dropout: 0,
    dropout_pre_encoder: 0,
    dropout_emb: 0,
    dropout_att: 0,
    ...over,
  };
}

export function buildEncoder(over: Partial<ConformerEncoderConfig> = {}, seed = 7): ConformerEncoder {
  return new ConformerEncoder(smallEncoderConfig(over), { init: { generator: new t.Generator(seed) } }).eval();
}

export function buildPreprocessor(): AudioToMelSpectrogramPreprocessor {
  return new AudioToMelSpectrogramPreprocessor(PREPROCESSOR).eval();
}

let clips: Float32Array[] | null = null;
/** `seconds` of 16 kHz audio: the golden clips, repeated with varying gains, deterministic. */
export function longAudio(seconds: number, seed = 1): Float32Array {
  clips ??= ['speech_fox', 'speech_hello', 'chirp_noise', 'noisy_fox', 'speech_edge'].map(
    (n) => loadAudio(join(GOLDEN, 'audio', `${n}.wav`), { targetSampleRate: 16000 }).samples,
  );
  const n = Math.round(seconds * 16000);
  const out = new Float32Array(n);
  let pos = 0;
  let k = seed;
  while (pos < n) {
    const c = clips[k % clips.length]!;
    const gain = 0.5 + ((k * 37) % 11) / 10;
    const m = Math.min(c.length, n - pos);
    for (let i = 0; i < m; i++) out[pos + i] = c[i]! * gain;
    pos += m;
    k++;
  }
  return out;
}

/** Deterministic pseudo-random integers in [lo, hi] (mulberry32). */
export function randomInts(seed: number): (lo: number, hi: number) => number {
  let a = seed >>> 0;
  return (lo, hi) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    const u = ((x ^ (x >>> 14)) >>> 0) / 4294967296;
    return lo + Math.floor(u * (hi - lo + 1));
  };
}

/**
 * Offline reference: [D, T'] encoder output of the whole utterance (valid frames only), with the encoder's default
 * context unless `o` names a pair (attContextSize) or a chunk schedule.
 */
export function offlineEncode(pre: AudioToMelSpectrogramPreprocessor, enc: ConformerEncoder, samples: Float32Array, o: EncoderForwardOptions = {}): Tensor {
  return t.tidy(() =>
    t.noGrad(() => {
      const f = pre.forward(t.tensor(samples, [1, samples.length]), [samples.length]);
      const L = f.lengths.toArray()[0]!;
      const out = enc.forward(f.features.narrow(2, 0, L), t.tensor([L], [1], { dtype: 'int64' }), o);
      const T = out.lengths.toArray()[0]!;
      return out.encoded.select(0, 0).narrow(1, 0, T).contiguous(); // [D, T']
    }),
  );
}

/** Streams `samples` through one stream in random pieces of 0 .. maxPiece samples; the concatenated [D, T'] output. */
export function streamInPieces(se: StreamingEncoder, samples: Float32Array, seed: number, maxPiece: number): Tensor {
  const rnd = randomInts(seed);
  let state = se.initStreamState(1);
  const parts: Tensor[] = [];
  for (let pos = 0; pos < samples.length; ) {
    const n = Math.min(samples.length - pos, rnd(0, maxPiece));
    const r = se.pushAudio([samples.subarray(pos, pos + n)], state);
    parts.push(r.encoded[0]!);
    state = r.state;
    pos += n;
  }
  parts.push(se.finish(state).encoded[0]!);
  const out = t.cat(parts, 1); // [D, T']
  for (const p of parts) p.dispose();
  return out;
}

export function maxAbsDiff(a: Tensor, b: Tensor): number {
  return t.tidy(() => a.sub(b).abs().max().item());
}
