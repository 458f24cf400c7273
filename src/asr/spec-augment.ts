// Provenance: nemo.collections.asr.modules.SpectrogramAugmentation (its SpecAugment part; spectr_augment.py):
// per utterance, freq_masks bands [x, x + w) with x ~ U{0 .. F - freq_width}, w ~ U{0 .. freq_width}, and
// time_masks spans [y, y + w) with y ~ U{0 .. max(1, len - width)}, w ~ U{0 .. width}, where width = time_width
// (an int) or max(1, floor(len * time_width)) (a float in [0, 1], adaptive); masked cells take mask_value.
// NeMo draws with Python's random; here an explicit t.Generator draws the same distributions.
// SpecCutout (rect_masks) is not implemented; its keys must stay 0. No parameters, no state-dict entries.
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';

export interface SpecAugmentConfig {
  freq_masks: number;
  time_masks: number;
  freq_width: number;
  /** An integer (frames) or a float in [0, 1] (a fraction of each utterance's length). */
  time_width: number;
  mask_value: number;
}

const KNOWN = new Set([
  '_target_',
  'freq_masks',
  'time_masks',
  'freq_width',
  'time_width',
  'mask_value',
  'rect_masks',
  'rect_time',
  'rect_freq',
  'use_vectorized_code',
  'use_numba_spec_augment',
]);

/** Reads a NeMo spec_augment section; `where` names it in errors. */
export function readSpecAugmentConfig(s: Record<string, unknown>, where = 'model.spec_augment'): SpecAugmentConfig {
  for (const k of Object.keys(s)) if (!KNOWN.has(k)) throw new Error(`${where}.${k}: unknown key (known: ${[...KNOWN].join(', ')})`);
  if (Number(s.rect_masks ?? 0) !== 0) throw new Error(`${where}.rect_masks: SpecCutout is not supported; set it to 0`);
  const num = (k: string, d: number): number => {
    const v = s[k] ?? d;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`${where}.${k}: expected a non-negative number, got ${JSON.stringify(v)}`);
    return v;
  };
  const c = {
    freq_masks: num('freq_masks', 0),
    time_masks: num('time_masks', 0),
    freq_width: num('freq_width', 10),
    time_width: num('time_width', 10),
    mask_value: num('mask_value', 0),
  };
  if (!Number.isInteger(c.time_width) && c.time_width > 1) throw new Error(`${where}.time_width: a fraction must be in [0, 1], got ${c.time_width}`);
  return c;
}

export class SpecAugment {
  constructor(readonly cfg: SpecAugmentConfig) {}

  /** features [B, F, T], lengths [B] -> augmented copy [B, F, T] (no gradient flows into the masks). */
  forward(features: Tensor, lengths: Tensor, generator: t.Generator): Tensor {
    const c = this.cfg;
    const [B, F, T] = features.shape as [number, number, number];
    if (c.freq_masks === 0 && c.time_masks === 0) return features;
    if (c.freq_width > F) throw new Error(`spec_augment.freq_width (${c.freq_width}) exceeds the ${F} features`);
    const lens = lengths.toArray();
    const perUtt = 2 * (c.freq_masks + c.time_masks);
    const u = t.noGrad(() => t.tidy(() => t.rand([B * perUtt], { generator, dtype: 'float64' }).toArray())); // uniforms in [0, 1)
    const int = (k: number, lo: number, hi: number): number => lo + Math.min(hi - lo, Math.floor(u[k]! * (hi - lo + 1))); // U{lo..hi}
    const mask = new Uint8Array(B * F * T);
    let k = 0;
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < c.freq_masks; i++) {
        const x = int(k++, 0, F - c.freq_width);
        const w = int(k++, 0, c.freq_width);
        for (let f = x; f < Math.min(F, x + w); f++) mask.fill(1, (b * F + f) * T, (b * F + f + 1) * T);
      }
      const len = lens[b]!;
      for (let i = 0; i < c.time_masks; i++) {
        const width = Number.isInteger(c.time_width) && c.time_width > 1 ? c.time_width : Math.max(1, Math.floor(len * c.time_width));
        const y = int(k++, 0, Math.max(1, len - width));
        const w = int(k++, 0, width);
        for (let f = 0; f < F; f++) mask.fill(1, (b * F + f) * T + Math.min(T, y), (b * F + f) * T + Math.min(T, y + w));
      }
    }
    return t.tidy(() => features.maskedFill(t.tensor(mask, [B, F, T], { dtype: 'bool' }), c.mask_value));
  }
}
