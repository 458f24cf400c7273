// model.masking — NeMo's RandomBlockMasking plus streamnest's causal extension (spec 02 §1–2).

import type { KeyTable } from '../key-status.js';
import type { SectionReader } from '../section-reader.js';
import { REQUIRED } from '../section-reader.js';

export interface MaskingConfig {
  readonly feat_in: number;
  /** Overlap mode: per-position block-start probability; otherwise the target masked fraction. */
  readonly mask_prob: number;
  readonly block_size: number;
  /** null → a random (frozen) embedding; a number → a constant vector. */
  readonly mask_value: number | null;
  readonly freeze: boolean;
  readonly allow_overlap: boolean;
  readonly max_mask_ratio: number;
  /** Causal extension (not in NeMo): only mask frames at or before the current frame. */
  readonly causal: boolean;
  /** Causal extension: how far back masking may reach, in mask frames; -1 = unlimited. */
  readonly left_context_size: number;
}

/** model.masking keys: every key is read. */
export const MASKING_KEYS: KeyTable = {
  paths: ['model.masking'],
  trainingOnly: false,
  honoured: ['_target_', 'feat_in', 'mask_prob', 'block_size', 'mask_value', 'freeze', 'allow_overlap', 'max_mask_ratio', 'causal', 'left_context_size'],
  refused: {},
  noEffect: {},
};

export function readMaskingConfig(r: SectionReader): MaskingConfig {
  r.classify(MASKING_KEYS);
  r.target('RandomBlockMasking');
  const config: MaskingConfig = {
    feat_in: r.int('feat_in', REQUIRED, { min: 1 }),
    mask_prob: r.number('mask_prob', 0.5, { min: 0, max: 1 }),
    block_size: r.int('block_size', 48, { min: 1 }),
    mask_value: r.nullableNumber('mask_value', null),
    freeze: r.bool('freeze', true),
    allow_overlap: r.bool('allow_overlap', false),
    max_mask_ratio: r.number('max_mask_ratio', 0.8, { min: 0, max: 1, minExclusive: true }),
    causal: r.bool('causal', false),
    left_context_size: r.int('left_context_size', -1, { min: -1 }),
  };
  r.finish();
  return config;
}
