// model.loss — NeMo's MultiMLMLoss (spec 02 §5).

import type { KeyTable } from '../key-status.js';
import type { SectionReader } from '../section-reader.js';

export interface LossConfig {
  /** Mask frames grouped per token (subsampling factor for pre_conv; 1 for post_conv). */
  readonly combine_time_steps: number;
  /** A token position is scored iff more than this fraction of its mask entries is set. */
  readonly mask_threshold: number;
  readonly num_decoders: number;
  readonly squeeze_single: boolean;
}

/** model.loss keys: every key is read. */
export const LOSS_KEYS: KeyTable = {
  paths: ['model.loss'],
  trainingOnly: false,
  honoured: ['_target_', 'combine_time_steps', 'mask_threshold', 'num_decoders', 'squeeze_single'],
  refused: {},
  noEffect: {},
};

export function readLossConfig(r: SectionReader): LossConfig {
  r.classify(LOSS_KEYS);
  r.target('MultiMLMLoss');
  const config: LossConfig = {
    combine_time_steps: r.int('combine_time_steps', 1, { min: 1 }),
    mask_threshold: r.number('mask_threshold', 0.8, { min: 0, max: 1 }),
    num_decoders: r.int('num_decoders', 1, { min: 1 }),
    squeeze_single: r.bool('squeeze_single', false),
  };
  r.finish();
  return config;
}
