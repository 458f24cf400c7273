// Provenance: librosa.filters.mel / librosa.mel_frequencies / librosa.hz_to_mel / librosa.mel_to_hz (as NeMo's FilterbankFeatures calls them).
// Computed in float64 in plain TypeScript, rounded the way librosa rounds (its weights array is float32).

/** librosa.hz_to_mel for one frequency (Slaney scale unless htk). */
export function hzToMel(f: number, htk = false): number {
  if (htk) return 2595.0 * Math.log10(1.0 + f / 700.0);
  const fMin = 0.0;
  const fSp = 200.0 / 3;
  const minLogHz = 1000.0;
  const minLogMel = (minLogHz - fMin) / fSp;
  const logstep = Math.log(6.4) / 27.0;
  if (f >= minLogHz) return minLogMel + Math.log(f / minLogHz) / logstep;
  return (f - fMin) / fSp;
}

/** librosa.mel_to_hz for one mel value (Slaney scale unless htk). */
export function melToHz(m: number, htk = false): number {
  if (htk) return 700.0 * (10.0 ** (m / 2595.0) - 1.0);
  const fMin = 0.0;
  const fSp = 200.0 / 3;
  const minLogHz = 1000.0;
  const minLogMel = (minLogHz - fMin) / fSp;
  const logstep = Math.log(6.4) / 27.0;
  if (m >= minLogMel) return minLogHz * Math.exp(logstep * (m - minLogMel));
  return fMin + fSp * m;
}

/** numpy.linspace(start, stop, num) with endpoint=True, reproducing numpy's arithmetic (i*step + start, last = stop). */
export function linspace64(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  if (num === 1) {
    out[0] = start;
    return out;
  }
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

export interface MelOptions {
  sampleRate: number;
  nFft: number;
  nMels: number;
  fmin?: number;
  /** Defaults to sampleRate / 2. */
  fmax?: number;
  htk?: boolean;
  /** 'slaney' (area normalisation, the default) or null (peak 1). */
  norm?: 'slaney' | null;
}

/**
 * librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk, norm) as a row-major Float32Array [nMels, nFft/2+1].
 * librosa builds the triangles in float64, stores them in a float32 array, then multiplies by the float64
 * Slaney norm in place (rounded to float32 again); this reproduces both roundings.
 */
export function melFilterbank(o: MelOptions): Float32Array {
  const { sampleRate: sr, nFft, nMels } = o;
  const fmin = o.fmin ?? 0;
  const fmax = o.fmax ?? sr / 2;
  const htk = o.htk ?? false;
  const norm = o.norm === undefined ? 'slaney' : o.norm;
  if (!(nMels > 0) || !(nFft > 0) || !(sr > 0)) throw new RangeError(`src/audio/mel.ts: bad filterbank sizes sr=${sr} n_fft=${nFft} n_mels=${nMels}`);
  const nBins = Math.floor(nFft / 2) + 1;
  const fftFreqs = new Float64Array(nBins);
  // numpy.fft.rfftfreq(n_fft, 1/sr) computes arange(0, N) * (1.0 / (n * d)); reproduce exactly.
  const val = 1.0 / (nFft * (1.0 / sr));
  for (let k = 0; k < nBins; k++) fftFreqs[k] = k * val;
  const mels = linspace64(hzToMel(fmin, htk), hzToMel(fmax, htk), nMels + 2);
  const melF = Float64Array.from(mels, (m) => melToHz(m, htk)); // [nMels+2] Hz
  const weights = new Float32Array(nMels * nBins); // [nMels, nBins]
  for (let i = 0; i < nMels; i++) {
    const fdiffLo = melF[i + 1]! - melF[i]!;
    const fdiffHi = melF[i + 2]! - melF[i + 1]!;
    const enorm = norm === 'slaney' ? 2.0 / (melF[i + 2]! - melF[i]!) : 1;
    for (let k = 0; k < nBins; k++) {
      const lower = -(melF[i]! - fftFreqs[k]!) / fdiffLo;
      const upper = (melF[i + 2]! - fftFreqs[k]!) / fdiffHi;
      const tri = Math.fround(Math.max(0, Math.min(lower, upper)));
      weights[i * nBins + k] = norm === 'slaney' ? tri * enorm : tri;
    }
  }
  return weights;
}
