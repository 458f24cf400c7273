// Windowed-sinc resampler: alias rejection on sine sweeps, 1 kHz tone fidelity, image rejection when upsampling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Resampler, resample } from '../../src/audio/resample.js';

const TAU = 2 * Math.PI;

/** Linear sweep f0 -> f1 over `seconds`, sampled at `rate`, with 20 ms raised-cosine fades. */
function sweep(rate: number, f0: number, f1: number, seconds: number): Float32Array {
  const n = Math.round(rate * seconds);
  const out = new Float32Array(n);
  const fade = 0.02;
  for (let i = 0; i < n; i++) {
    const tt = i / rate;
    const phase = TAU * (f0 * tt + ((f1 - f0) / (2 * seconds)) * tt * tt);
    const g = Math.min(1, tt / fade, (seconds - tt) / fade);
    out[i] = 0.5 * Math.sin(phase) * (0.5 - 0.5 * Math.cos(Math.PI * Math.max(0, g)));
  }
  return out;
}

function rms(x: Float32Array | Float64Array, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s / Math.max(1, to - from));
}

/** Amplitude of the frequency-f component (least squares on sin/cos over whole periods). */
function toneAmplitude(x: Float32Array, rate: number, f: number, from: number, to: number): number {
  let ss = 0;
  let cc = 0;
  let sc = 0;
  let xs = 0;
  let xc = 0;
  for (let i = from; i < to; i++) {
    const s = Math.sin((TAU * f * i) / rate);
    const c = Math.cos((TAU * f * i) / rate);
    ss += s * s;
    cc += c * c;
    sc += s * c;
    xs += x[i]! * s;
    xc += x[i]! * c;
  }
  const det = ss * cc - sc * sc;
  const a = (xs * cc - xc * sc) / det;
  const b = (xc * ss - xs * sc) / det;
  return Math.hypot(a, b);
}

const db = (r: number): number => 20 * Math.log10(r);

for (const [inRate, outRate] of [
  [44100, 16000],
  [48000, 16000],
  [22050, 16000],
] as const) {
  test(`${inRate} -> ${outRate}: a sweep above the new Nyquist is attenuated by >= 60 dB`, () => {
    const x = sweep(inRate, outRate / 2, 0.98 * (inRate / 2), 0.6);
    const y = resample(x, inRate, outRate);
    assert.equal(y.length, Math.ceil((x.length * outRate) / inRate));
    const att = db(rms(y) / rms(x));
    assert.ok(att <= -60, `alias energy ${att.toFixed(1)} dB`);
  });
}

for (const [inRate, outRate] of [
  [44100, 16000],
  [48000, 16000],
  [8000, 16000],
  [16000, 16000],
] as const) {
  test(`${inRate} -> ${outRate}: a 1 kHz tone keeps its level within 0.1 dB and its timing`, () => {
    const n = Math.round(inRate * 0.5);
    const x = Float32Array.from({ length: n }, (_, i) => 0.7 * Math.sin((TAU * 1000 * i) / inRate));
    const y = resample(x, inRate, outRate);
    const lo = Math.round(outRate * 0.05);
    const hi = Math.round(outRate * 0.45);
    const amp = toneAmplitude(y, outRate, 1000, lo, hi);
    assert.ok(Math.abs(db(amp / 0.7)) < 0.1, `level error ${db(amp / 0.7).toFixed(4)} dB`);
    // Sample j of the output is time j / outRate: compare with the ideal tone there.
    let err = 0;
    for (let j = lo; j < hi; j++) err = Math.max(err, Math.abs(y[j]! - 0.7 * Math.sin((TAU * 1000 * j) / outRate)));
    assert.ok(err < 1e-3, `waveform error ${err}`);
  });
}

test('8000 -> 16000: an in-band sweep matches the ideal band-limited signal to -60 dB (images rejected)', () => {
  const x = sweep(8000, 50, 3500, 0.8);
  const y = resample(x, 8000, 16000);
  const ideal = sweep(16000, 50, 3500, 0.8);
  const lo = 400;
  const hi = Math.min(y.length, ideal.length) - 400;
  const e = new Float64Array(hi - lo);
  for (let j = lo; j < hi; j++) e[j - lo] = y[j]! - ideal[j]!;
  const ratio = db(rms(e) / rms(ideal, lo, hi));
  assert.ok(ratio <= -60, `error ${ratio.toFixed(1)} dB`);
});

test('rejects bad rates; polyphase sizes follow the reduced ratio', () => {
  assert.throws(() => new Resampler(0, 16000), /positive integers/);
  assert.throws(() => new Resampler(44100.5, 16000), /positive integers/);
  const r = new Resampler(44100, 16000);
  assert.deepEqual([r.up, r.down], [160, 441]);
  assert.equal(r.outputLength(44100), 16000);
});

test('streaming: pushes of any sizes plus flush give exactly the whole-signal output, for every rate pair', () => {
  let seed = 7;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (const [inRate, outRate] of [
    [44100, 16000],
    [8000, 16000],
    [48000, 16000],
    [22050, 16000],
    [16000, 16000],
  ] as const) {
    const x = Float32Array.from({ length: 9000 }, () => rand() * 2 - 1);
    const r = new Resampler(inRate, outRate);
    const whole = r.process(x);
    let state = r.initState();
    const parts: Float32Array[] = [];
    let held = 0;
    for (let i = 0; i < x.length; ) {
      const n = Math.floor(rand() * 700); // includes empty pushes
      const out = r.push(x.subarray(i, i + n), state);
      parts.push(out.samples);
      state = out.state;
      held = Math.max(held, state.history.length);
      i += n;
    }
    const tail = r.flush(state);
    parts.push(tail.samples);
    const streamed = Float32Array.from(parts.flatMap((p) => Array.from(p)));
    assert.equal(streamed.length, whole.length, `${inRate} -> ${outRate}: length`);
    assert.deepEqual(streamed, whole, `${inRate} -> ${outRate}: samples`);
    // the state keeps only what the filter still reads, not the whole signal
    // (filters here are at most ~300 taps; pushes at most 700 samples)
    assert.ok(held < 1500, `${inRate} -> ${outRate}: held ${held} samples`);
    assert.equal(tail.state.emitted, whole.length);
  }
});

test('streaming: outputs come out as soon as their inputs have arrived (no later than one filter length)', () => {
  const r = new Resampler(48000, 16000);
  const x = new Float32Array(48000).fill(0.5);
  const out = r.push(x, r.initState());
  // every output whose support lies inside the pushed second is ready: all but the last few
  assert.ok(out.samples.length > 16000 - 100, `${out.samples.length} ready`);
  assert.ok(out.samples.length < 16000, 'outputs near the end wait for more input');
  assert.ok(Math.abs(out.samples[8000]! - 0.5) < 1e-4);
});
