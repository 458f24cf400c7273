// model.quantizer — NeMo's RandomProjectionVectorQuantizer (spec 02 §3).

import type { KeyTable } from '../key-status.js';
import type { SectionReader } from '../section-reader.js';
import { REQUIRED } from '../section-reader.js';

export interface QuantizerConfig {
  readonly feat_in: number;
  readonly code_dim: number;
  readonly num_classes: number;
  readonly num_books: number;
  readonly dist_fn: 'l2' | 'cosine';
  readonly time_ahead: boolean;
  readonly freeze: boolean;
  readonly squeeze_single: boolean;
  /** Feature frames stacked per token (the subsampling factor for pre_conv). */
  readonly combine_time_steps: number;
}

/** model.quantizer keys: every key is read. */
export const QUANTIZER_KEYS: KeyTable = {
  paths: ['model.quantizer'],
  trainingOnly: false,
  honoured: ['_target_', 'feat_in', 'code_dim', 'num_classes', 'num_books', 'dist_fn', 'time_ahead', 'freeze', 'squeeze_single', 'combine_time_steps'],
  refused: {},
  noEffect: {},
};

export function readQuantizerConfig(r: SectionReader): QuantizerConfig {
  r.classify(QUANTIZER_KEYS);
  r.target('RandomProjectionVectorQuantizer');
  const config: QuantizerConfig = {
    feat_in: r.int('feat_in', REQUIRED, { min: 1 }),
    code_dim: r.int('code_dim', REQUIRED, { min: 1 }),
    num_classes: r.int('num_classes', REQUIRED, { min: 2 }),
    num_books: r.int('num_books', REQUIRED, { min: 1 }),
    dist_fn: r.oneOf('dist_fn', ['l2', 'cosine'] as const, 'cosine'),
    time_ahead: r.bool('time_ahead', false),
    freeze: r.bool('freeze', true),
    squeeze_single: r.bool('squeeze_single', false),
    combine_time_steps: r.int('combine_time_steps', 1, { min: 1 }),
  };
  r.finish();
  return config;
}
