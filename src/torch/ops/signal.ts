// Short-time Fourier transform and windows (version-independent: centring is done here, not by aten::stft.center).
import { scalarTypeCode, type DType } from '../dtype.js';
import { call, op } from '../dispatch.js';
import type { Tensor } from '../tensor.js';
import { pad, unsqueeze, squeeze } from './shape.js';
import { currentDefaultDevice } from './creation.js';

const OPS = {
  hann: op('hann_window', 'periodic'),
  hamming: op('hamming_window', 'periodic'),
  stft: op('stft'),
  viewAsReal: op('view_as_real'),
};

export const hannWindow = (length: number, periodic = true, dtype: DType = 'float32'): Tensor =>
  call(OPS.hann, length, periodic, scalarTypeCode(dtype), null, currentDefaultDevice());
export const hammingWindow = (length: number, periodic = true, dtype: DType = 'float32'): Tensor =>
  call(OPS.hamming, length, periodic, scalarTypeCode(dtype), null, currentDefaultDevice());

export interface StftOptions {
  nFft: number;
  hopLength?: number;
  winLength?: number;
  window?: Tensor | null;
  center?: boolean;
  padMode?: 'reflect' | 'constant';
  normalized?: boolean;
  onesided?: boolean;
}

/**
 * torch.stft(..., return_complex=True) followed by torch.view_as_real:
 * x [B, L] or [L] -> [B, nFft/2+1, frames, 2] (real, imaginary) or without B.
 */
export function stft(x: Tensor, o: StftOptions): Tensor {
  const hop = o.hopLength ?? Math.floor(o.nFft / 4);
  const win = o.winLength ?? o.nFft;
  let input = x;
  const owned: Tensor[] = [];
  if (o.center ?? true) {
    const p = Math.floor(o.nFft / 2);
    // F.pad with reflect needs a batch/channel dimension, as torch.stft does internally.
    const batched = x.shape.length === 1 ? unsqueeze(x, 0) : x;
    if (batched !== x) owned.push(batched);
    const b3 = unsqueeze(batched, 1);
    owned.push(b3);
    const padded = pad(b3, [p, p], o.padMode ?? 'reflect');
    owned.push(padded);
    input = squeeze(padded, 1);
    owned.push(input);
    if (x.shape.length === 1) {
      const s = squeeze(input, 0);
      owned.push(s);
      input = s;
    }
  }
  const complex = call(OPS.stft, input, o.nFft, hop, win, o.window ?? null, o.normalized ?? false, o.onesided ?? true, true);
  const real = call(OPS.viewAsReal, complex);
  complex.dispose();
  for (const t of owned) t.dispose();
  return real;
}
