// model.decoder — NeMo's MultiSoftmaxDecoder (spec 02 §4).

import type { KeyTable } from '../key-status.js';
import type { SectionReader } from '../section-reader.js';
import { REQUIRED } from '../section-reader.js';

export interface DecoderConfig {
  readonly feat_in: number;
  readonly num_classes: number;
  readonly num_decoders: number;
  readonly init_mode: 'xavier_uniform';
  readonly use_bias: boolean;
  readonly squeeze_single: boolean;
}

/** model.decoder keys: every key is read. */
export const DECODER_KEYS: KeyTable = {
  paths: ['model.decoder'],
  trainingOnly: false,
  honoured: ['_target_', 'feat_in', 'num_classes', 'num_decoders', 'init_mode', 'use_bias', 'squeeze_single'],
  refused: {},
  noEffect: {},
};

export function readDecoderConfig(r: SectionReader): DecoderConfig {
  r.classify(DECODER_KEYS);
  r.target('MultiSoftmaxDecoder');
  const config: DecoderConfig = {
    feat_in: r.int('feat_in', REQUIRED, { min: 1 }),
    num_classes: r.int('num_classes', REQUIRED, { min: 2 }),
    num_decoders: r.int('num_decoders', 1, { min: 1 }),
    init_mode: r.oneOf('init_mode', ['xavier_uniform'] as const, 'xavier_uniform'),
    use_bias: r.bool('use_bias', false),
    squeeze_single: r.bool('squeeze_single', false),
  };
  r.finish();
  return config;
}
