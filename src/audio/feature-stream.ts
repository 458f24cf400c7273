// Chunk-exact streaming log-mel features: the frames FilterbankFeatures computes for a whole signal, emitted as audio arrives.
// Provenance: nemo.collections.asr.parts.preprocessing.features.FilterbankFeatures (offline), made incremental here.
//
// Offline (one clip of n samples, dither off): y = pre-emphasis(x); xp = 256 zeros, y, 256 zeros (torch.stft center=True);
// frame τ = window(xp[τ*hop : τ*hop + n_fft]); valid frames L = floor(n / hop); frames >= L are masked to pad_value.
// Frame τ needs y only inside the window's support, y[τ*hop - n_fft/2 + padLeft, τ*hop - n_fft/2 + padLeft + win_length),
// padLeft = (n_fft - win_length) // 2 (torch zero-pads the window centred); outside it the window is exactly 0.
// So frame τ is emitted once that support has arrived (every such frame is valid: τ*hop + hop <= samples seen),
// and flush() emits the remaining frames τ < L with zeros beyond the end (the centre padding). Frame L (and any
// pad_to padding) is never emitted: NeMo masks it. Concatenating push/flush frames equals offline[:, :L] exactly.
import * as t from '../torch/index.js';
import { featureLength, normalizeBatch, type AudioToMelSpectrogramPreprocessor, type FilterbankFeatures } from './preprocessor.js';

export class FeatureStreamError extends Error {
  constructor(msg: string) {
    super(`src/audio/feature-stream.ts: ${msg}`);
    this.name = 'FeatureStreamError';
  }
}

/** Everything the stream remembers between calls (plain data; no tensors). */
export interface FeatureStreamState {
  /** Pre-emphasised samples y[bufferStart ..] still needed (positions < 0 are the leading centre padding, zeros). */
  readonly buffer: Float32Array;
  readonly bufferStart: number;
  /** Last raw input sample (the pre-emphasis tap), or null before the first sample. */
  readonly lastSample: number | null;
  /** Input samples received so far. */
  readonly samplesSeen: number;
  /** Frames emitted so far (the index of the next frame). */
  readonly framesEmitted: number;
  /** True after flush(). */
  readonly finished: boolean;
}

export interface FeatureStreamResult {
  /** [F, k] float32 log-mel frames, k >= 0 (owned by the caller). */
  frames: t.Tensor;
  state: FeatureStreamState;
}

export class FeatureStream {
  readonly featurizer: FilterbankFeatures;
  private readonly hop: number;
  private readonly nFft: number;
  /** Offset of the window's last non-zero tap relative to a frame's first padded sample, plus one. */
  private readonly supportEnd: number;
  /** Frames per STFT call (bounds memory for long chunks). */
  private readonly maxFramesPerCall: number;

  constructor(pre: AudioToMelSpectrogramPreprocessor | FilterbankFeatures, o: { maxFramesPerCall?: number } = {}) {
    this.featurizer = 'featurizer' in pre ? pre.featurizer : pre;
    const c = this.featurizer.cfg;
    const g = this.featurizer.geometry;
    if (c.normalize === 'per_feature' || c.normalize === 'all_features') {
      throw new FeatureStreamError(
        `normalize '${c.normalize}' uses statistics over the whole utterance and cannot stream; use normalize: "NA" or fixed statistics ({fixed_mean, fixed_std})`,
      );
    }
    if (g.stftPadAmount !== null) throw new FeatureStreamError('exact_pad: true is not supported for streaming (NeMo masks the last samples of the clip)');
    if (c.legacy) throw new FeatureStreamError('legacy (NeMo <= 2.4) features reflect-pad both ends and cannot stream chunk-exactly');
    this.hop = g.hopLength;
    this.nFft = g.nFft;
    const padLeft = Math.floor((g.nFft - g.winLength) / 2);
    this.supportEnd = padLeft + g.winLength;
    this.maxFramesPerCall = o.maxFramesPerCall ?? 1024;
  }

  /** Number of features per frame. */
  get numFeatures(): number {
    return this.featurizer.geometry.numFeatures;
  }

  initState(): FeatureStreamState {
    const half = Math.floor(this.nFft / 2);
    return { buffer: new Float32Array(0), bufferStart: -half, lastSample: null, samplesSeen: 0, framesEmitted: 0, finished: false };
  }

  /** Appends audio (any length, float32 at the preprocessor's rate) and returns every frame whose window is complete. */
  push(samples: Float32Array | readonly number[], state: FeatureStreamState): FeatureStreamResult {
    if (state.finished) throw new FeatureStreamError('push() after flush(); start again from initState()');
    const preemph = this.featurizer.cfg.preemph;
    const n = samples.length;
    // Buffer holds y from bufferStart; leading positions < 0 are implicit zeros until real samples arrive.
    const have = state.samplesSeen - state.bufferStart; // length the buffer logically spans
    const buf = new Float32Array(have + n);
    buf.set(state.buffer, have - state.buffer.length);
    let prev = state.lastSample;
    const k = preemph === null ? 0 : Math.fround(preemph);
    for (let i = 0; i < n; i++) {
      const v = Math.fround(samples[i]!);
      if (!Number.isFinite(v)) throw new FeatureStreamError(`sample ${state.samplesSeen + i} is ${v}`);
      // float32 arithmetic as torch does it: x[t] - float(0.97) * x[t-1]
      buf[have + i] = prev === null || preemph === null ? v : Math.fround(v - Math.fround(k * prev));
      prev = v;
    }
    const seen = state.samplesSeen + n;
    // Frame τ is ready when τ*hop - n_fft/2 + supportEnd <= seen.
    const half = Math.floor(this.nFft / 2);
    const ready = seen - this.supportEnd + half >= 0 ? Math.floor((seen - this.supportEnd + half) / this.hop) + 1 : 0;
    return this.emit(buf, state.bufferStart, prev, seen, state.framesEmitted, ready, false);
  }

  /** Ends the utterance: emits the remaining valid frames (zero padding past the end) and no masked ones. */
  flush(state: FeatureStreamState): FeatureStreamResult {
    if (state.finished) throw new FeatureStreamError('flush() called twice; start again from initState()');
    const total = featureLength(state.samplesSeen, this.featurizer.geometry);
    const have = state.samplesSeen - state.bufferStart;
    const buf = new Float32Array(have);
    buf.set(state.buffer, have - state.buffer.length);
    return this.emit(buf, state.bufferStart, state.lastSample, state.samplesSeen, state.framesEmitted, Math.max(total, state.framesEmitted), true);
  }

  /** Convenience: the whole signal pushed at once and flushed ([F, L]). */
  run(samples: Float32Array): t.Tensor {
    const a = this.push(samples, this.initState());
    const b = this.flush(a.state);
    const out = t.cat([a.frames, b.frames], 1); // [F, L]
    a.frames.dispose();
    b.frames.dispose();
    return out;
  }

  private emit(
    buf: Float32Array,
    bufferStart: number,
    lastSample: number | null,
    seen: number,
    from: number,
    to: number,
    finished: boolean,
  ): FeatureStreamResult {
    const hop = this.hop;
    const nFft = this.nFft;
    const pieces: t.Tensor[] = [];
    for (let f0 = from; f0 < to; f0 += this.maxFramesPerCall) {
      const count = Math.min(this.maxFramesPerCall, to - f0);
      const start = f0 * hop - Math.floor(nFft / 2); // y position of the first padded sample of frame f0
      const len = (count - 1) * hop + nFft;
      const seg = new Float32Array(len); // zeros where y is padding or not yet received (window weight 0 there)
      const lo = Math.max(start, bufferStart);
      const hi = Math.min(start + len, bufferStart + buf.length, seen);
      if (hi > lo) seg.set(buf.subarray(lo - bufferStart, hi - bufferStart), lo - start);
      pieces.push(t.tidy(() => this.frames(seg)));
    }
    let frames: t.Tensor;
    if (pieces.length === 1) frames = pieces[0]!;
    else if (pieces.length === 0) frames = t.zeros([this.numFeatures, 0]);
    else {
      frames = t.cat(pieces, 1); // [F, to - from]
      for (const p of pieces) p.dispose();
    }
    // Keep y from the first padded sample of the next frame onward.
    const keepFrom = Math.max(bufferStart, to * hop - Math.floor(nFft / 2));
    const kept = buf.slice(Math.min(buf.length, keepFrom - bufferStart));
    const state: FeatureStreamState = { buffer: kept, bufferStart: keepFrom, lastSample, samplesSeen: seen, framesEmitted: to, finished };
    return { frames, state };
  }

  /** seg [(k-1)*hop + n_fft] padded, pre-emphasised samples -> [F, k] normalised log-mel frames. */
  private frames(seg: Float32Array): t.Tensor {
    const x = t.tensor(seg, [1, seg.length]); // [1, M]
    const m = this.featurizer.spectralFrames(x); // [1, F, k]
    const k = m.shape[2]!;
    const norm = normalizeBatch(m, t.tensor([k], [1], { dtype: 'int64' }), this.featurizer.cfg.normalize); // fixed statistics or identity
    return norm.squeeze(0); // [F, k]
  }
}
