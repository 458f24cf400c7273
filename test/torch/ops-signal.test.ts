// Signal ops: hann/hamming windows and the STFT against a naive DFT in float64, with gradients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { assertClose } from '../helpers/assert.js';
import { gradcheck, rnd } from '../helpers/gradcheck.js';

const scoped = (fn: () => void) => () => {
  const before = t.liveTensorCount();
  t.tidy(fn);
  assert.equal(t.liveTensorCount(), before, 'the test leaked tensors');
};

test(
  'hannWindow and hammingWindow: periodic and symmetric forms, dtype, lengths 0 and 1',
  scoped(() => {
    const N = 8;
    const periodic = Array.from({ length: N }, (_, n) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / N));
    const symmetric = Array.from({ length: N }, (_, n) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / (N - 1)));
    const w = t.hannWindow(N, true, 'float64');
    assert.equal(w.dtype, 'float64');
    assertClose(w, periodic, 1e-15);
    assertClose(t.hannWindow(N, false, 'float64'), symmetric, 1e-15);
    assertClose(t.hannWindow(N), periodic, 1e-6);
    assert.equal(t.hannWindow(N).dtype, 'float32');
    assertClose(
      t.hammingWindow(N, true, 'float64'),
      Array.from({ length: N }, (_, n) => 0.54 - 0.46 * Math.cos((2 * Math.PI * n) / N)),
      1e-15,
    );
    assert.deepEqual(t.hannWindow(0).shape, [0]);
    assert.deepEqual(t.hannWindow(1).toArray(), [1]);
    assert.throws(() => t.hannWindow(-1), /aten::hann_window.*requires non-negative window_length, got window_length=-1/);
  }),
);

interface Ref {
  re: number[][];
  im: number[][];
}
/** Naive one-sided STFT of one signal: frames of nFft at hop, window zero-padded to nFft in the middle. */
function naiveStft(x: number[], nFft: number, hop: number, win: number[], center: boolean, normalized: boolean): Ref {
  let s = x;
  if (center) {
    const p = nFft / 2;
    const left = Array.from({ length: p }, (_, i) => x[p - i]!);
    const right = Array.from({ length: p }, (_, i) => x[x.length - 2 - i]!);
    s = [...left, ...x, ...right];
  }
  const w = new Array<number>(nFft).fill(0);
  const off = Math.floor((nFft - win.length) / 2);
  win.forEach((v, i) => {
    w[off + i] = v;
  });
  const frames = Math.floor((s.length - nFft) / hop) + 1;
  const bins = nFft / 2 + 1;
  const re = Array.from({ length: bins }, () => new Array<number>(frames).fill(0));
  const im = Array.from({ length: bins }, () => new Array<number>(frames).fill(0));
  const scale = normalized ? 1 / Math.sqrt(nFft) : 1;
  for (let f = 0; f < frames; f++)
    for (let k = 0; k < bins; k++)
      for (let n = 0; n < nFft; n++) {
        const v = s[f * hop + n]! * w[n]!;
        re[k]![f]! += v * Math.cos((2 * Math.PI * k * n) / nFft) * scale;
        im[k]![f]! -= v * Math.sin((2 * Math.PI * k * n) / nFft) * scale;
      }
  return { re, im };
}
function flatten(r: Ref): number[] {
  // [bins, frames, 2]
  const out: number[] = [];
  r.re.forEach((row, k) => {
    row.forEach((v, f) => {
      out.push(v, r.im[k]![f]!);
    });
  });
  return out;
}

test(
  'stft: centred reflect padding, hann window, [B, bins, frames, 2] layout against a naive DFT',
  scoped(() => {
    const x = rnd([2, 20], 1);
    const win = t.hannWindow(8, true, 'float64');
    const y = t.stft(x, { nFft: 8, hopLength: 2, window: win });
    assert.deepEqual(y.shape, [2, 5, 11, 2]);
    const wv = win.toArray();
    for (let b = 0; b < 2; b++) {
      assertClose(y.select(0, b), flatten(naiveStft(x.select(0, b).toArray(), 8, 2, wv, true, false)), 1e-12, 0, `batch ${b}`);
    }
    // 1-D input drops the batch dim; default hop is nFft/4; no window means a rectangular one
    const x1 = x.select(0, 1);
    const y1 = t.stft(x1, { nFft: 8, window: win });
    assert.deepEqual(y1.shape, [5, 11, 2]);
    assertClose(y1, y.select(0, 1), 1e-12);
    assertClose(t.stft(x1, { nFft: 8, hopLength: 4 }), flatten(naiveStft(x1.toArray(), 8, 4, new Array(8).fill(1), true, false)), 1e-12);
  }),
);

test(
  'stft: no centring, shorter window, normalisation, constant padding',
  scoped(() => {
    const x = rnd([1, 24], 2);
    const xv = x.select(0, 0).toArray();
    const win = t.hannWindow(6, true, 'float64');
    const y = t.stft(x, { nFft: 8, hopLength: 3, winLength: 6, window: win, center: false });
    const ref = naiveStft(xv, 8, 3, win.toArray(), false, false);
    assert.deepEqual(y.shape, [1, 5, ref.re[0]!.length, 2]);
    assertClose(y.select(0, 0), flatten(ref), 1e-12, 0, 'window shorter than nFft is centred in the frame');
    const yn = t.stft(x, { nFft: 8, hopLength: 4, window: t.hannWindow(8, true, 'float64'), normalized: true, center: false });
    assertClose(yn.select(0, 0), flatten(naiveStft(xv, 8, 4, t.hannWindow(8, true, 'float64').toArray(), false, true)), 1e-12, 0, 'normalized');
    const yc = t.stft(x, { nFft: 8, hopLength: 4, padMode: 'constant' });
    const padded = [0, 0, 0, 0, ...xv, 0, 0, 0, 0];
    assertClose(yc.select(0, 0), flatten(naiveStft(padded, 8, 4, new Array(8).fill(1), false, false)), 1e-12, 0, 'constant padding');
    // a pure tone lands in its bin
    const tone = t.tensor(
      Array.from({ length: 64 }, (_, n) => Math.cos((2 * Math.PI * 4 * n) / 16)),
      undefined,
      { dtype: 'float64' },
    );
    const mag = t.stft(tone, { nFft: 16, hopLength: 16, center: false }).pow(2).sum(-1).sqrt();
    assert.deepEqual(t.argmax(mag, 0).toArray(), [4, 4, 4, 4]);
    assertClose(mag.select(0, 0), [0, 0, 0, 0], 1e-12);
    assert.throws(() => t.stft(rnd([1, 4], 3), { nFft: 8, center: false }), /aten::stft/);
    assert.ok(
      Number.isNaN(
        t
          .stft(t.full([1, 16], NaN, { dtype: 'float64' }), { nFft: 8 })
          .sum()
          .item(),
      ),
      'NaN propagates',
    );
  }),
);

test(
  'stft: gradient with respect to the signal and the window',
  scoped(() => {
    gradcheck((x, w) => t.stft(x, { nFft: 8, hopLength: 2, window: w }), [rnd([1, 12], 4), t.hannWindow(8, true, 'float64').add(0.1)], { name: 'stft' });
    gradcheck(
      (x) => t.stft(x, { nFft: 8, hopLength: 3, winLength: 6, window: t.hannWindow(6, true, 'float64'), center: false, normalized: true }),
      [rnd([14], 5)],
      {
        name: 'stft normalized',
      },
    );
  }),
);
