// Band-limited resampling by a Kaiser-windowed sinc, polyphase, for any rational ratio (44100->16000, 8000->16000, ...).
// Provenance: the classic windowed-sinc design (as in resampy / torchaudio.functional.resample); NeMo uses librosa.resample.

export interface ResampleOptions {
  /** Stopband attenuation in dB the filter is designed for (default 80). */
  attenuationDb?: number;
  /** Passband edge as a fraction of the lower Nyquist; the stopband starts at the lower Nyquist (default 0.9). */
  passband?: number;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Zeroth-order modified Bessel function of the first kind (power series). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** A polyphase filter bank for a fixed rate pair. */
export class Resampler {
  readonly up: number;
  readonly down: number;
  /** Taps per phase and the index of the first tap relative to floor(position). */
  private readonly taps: number;
  private readonly firstTap: number;
  /** [up, taps] weights, row p for output positions with fractional part p / up. */
  private readonly bank: Float64Array;

  constructor(
    readonly inRate: number,
    readonly outRate: number,
    o: ResampleOptions = {},
  ) {
    if (!Number.isInteger(inRate) || !Number.isInteger(outRate) || inRate <= 0 || outRate <= 0) {
      throw new RangeError(`src/audio/resample.ts: sample rates must be positive integers, got ${inRate} -> ${outRate}`);
    }
    const g = gcd(inRate, outRate);
    this.up = outRate / g;
    this.down = inRate / g;
    const att = o.attenuationDb ?? 80;
    const passband = o.passband ?? 0.9;
    // Frequencies in cycles per input sample; the lower of the two Nyquists bounds the band.
    const nyq = 0.5 * Math.min(1, outRate / inRate);
    const fStop = nyq;
    const fPass = nyq * passband;
    const fc = (fPass + fStop) / 2;
    const dF = fStop - fPass;
    const beta = att > 50 ? 0.1102 * (att - 8.7) : att >= 21 ? 0.5842 * (att - 21) ** 0.4 + 0.07886 * (att - 21) : 0;
    const length = Math.ceil((att - 7.95) / (14.36 * dF)) + 1; // Kaiser's estimate, in input samples
    const half = length / 2;
    this.taps = 2 * Math.ceil(half) + 1;
    this.firstTap = -Math.ceil(half);
    this.bank = new Float64Array(this.up * this.taps);
    const i0b = besselI0(beta);
    for (let p = 0; p < this.up; p++) {
      const frac = p / this.up;
      let sum = 0;
      for (let j = 0; j < this.taps; j++) {
        const tau = frac - (this.firstTap + j); // distance from the output position to input sample floor(pos) + firstTap + j
        const r = tau / half;
        let w = 0;
        if (Math.abs(r) <= 1) {
          const s = tau === 0 ? 1 : Math.sin(2 * Math.PI * fc * tau) / (2 * Math.PI * fc * tau);
          w = 2 * fc * s * (besselI0(beta * Math.sqrt(1 - r * r)) / i0b);
        }
        this.bank[p * this.taps + j] = w;
        sum += w;
      }
      for (let j = 0; j < this.taps; j++) this.bank[p * this.taps + j]! /= sum; // exact unit DC gain per phase
    }
  }

  /** Output length for n input samples: ceil(n * up / down). */
  outputLength(n: number): number {
    return Math.ceil((n * this.up) / this.down);
  }

  /** Resamples a whole signal (zeros assumed outside it). */
  process(x: Float32Array): Float32Array {
    if (this.up === this.down) return x.slice();
    const out = new Float32Array(this.outputLength(x.length));
    this.fill(out, 0, x, 0, x.length);
    return out;
  }

  /** A stream's start: no input seen, no output made. */
  initState(): ResamplerState {
    return { history: new Float32Array(0), historyStart: 0, received: 0, emitted: 0 };
  }

  /**
   * Streaming: appends `x` and returns every output sample whose filter support has fully arrived, with the new
   * state (the old one is not changed). The outputs of all pushes plus flush() equal process() of the whole signal.
   */
  push(x: Float32Array, state: ResamplerState): { samples: Float32Array; state: ResamplerState } {
    const received = state.received + x.length;
    if (this.up === this.down) return { samples: x.slice(), state: { ...state, received, emitted: received } };
    const history = concat(state.history, x);
    // output j reads inputs floor(j*down/up) + firstTap .. + taps - 1; it is ready when the last of them has arrived
    const lastBase = received - this.taps - this.firstTap; // the largest floor(j*down/up) whose inputs have all arrived
    const ready = Math.max(state.emitted, lastBase < 0 ? 0 : Math.ceil(((lastBase + 1) * this.up) / this.down));
    return this.emit(history, state.historyStart, received, state.emitted, Math.min(ready, this.outputLength(received)));
  }

  /** Ends the stream: the remaining outputs (zeros assumed after the last input), as process() makes them. */
  flush(state: ResamplerState): { samples: Float32Array; state: ResamplerState } {
    if (this.up === this.down) return { samples: new Float32Array(0), state };
    return this.emit(state.history, state.historyStart, state.received, state.emitted, this.outputLength(state.received));
  }

  private emit(history: Float32Array, historyStart: number, received: number, from: number, to: number): { samples: Float32Array; state: ResamplerState } {
    const samples = new Float32Array(Math.max(0, to - from));
    this.fill(samples, from, history, historyStart, received);
    // keep the inputs the next output still reads
    const keepFrom = Math.max(historyStart, Math.min(received, Math.floor((to * this.down) / this.up) + this.firstTap));
    return {
      samples,
      state: { history: history.slice(keepFrom - historyStart), historyStart: keepFrom, received, emitted: Math.max(from, to) },
    };
  }

  /** out[i] = output sample first + i, from inputs x[k - xStart] for k in [xStart, xEnd) (zeros elsewhere). */
  private fill(out: Float32Array, first: number, x: Float32Array, xStart: number, xEnd: number): void {
    for (let i = 0; i < out.length; i++) {
      const num = (first + i) * this.down; // position (first + i)*down/up in input samples
      const base = Math.floor(num / this.up);
      const p = num - base * this.up;
      const row = p * this.taps;
      const k0 = base + this.firstTap;
      let acc = 0;
      const jLo = Math.max(0, xStart - k0);
      const jHi = Math.min(this.taps, xEnd - k0);
      for (let jj = jLo; jj < jHi; jj++) acc += this.bank[row + jj]! * x[k0 + jj - xStart]!;
      out[i] = acc;
    }
  }
}

/** A streaming resampler's position (plain data, handed in and returned). */
export interface ResamplerState {
  /** Input samples from historyStart on that later outputs still read. */
  readonly history: Float32Array;
  readonly historyStart: number;
  /** Input samples received so far. */
  readonly received: number;
  /** Output samples emitted so far. */
  readonly emitted: number;
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  if (a.length === 0) return b.slice();
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Resamples float32 audio from inRate to outRate (returns a copy when the rates are equal). */
export function resample(x: Float32Array, inRate: number, outRate: number, o: ResampleOptions = {}): Float32Array {
  if (inRate === outRate) return x.slice();
  return new Resampler(inRate, outRate, o).process(x);
}
