// The auxiliary CTC head of a hybrid RNN-T/CTC model config (NeMo's EncDecHybridRNNTCTCModel /
// EncDecHybridRNNTCTCBPEModel layout): model.aux_ctc {ctc_loss_weight, ctc_reduction, use_cer, decoder
// (ConvASRDecoder), decoding (CTC decoding)}. Every key is honoured, refused with its reason, or reported as having
// no effect; the sizes NeMo fills in (decoder.feat_in, num_classes, vocabulary) are checked against the model's by
// rnnt-config.ts.
// Provenance: nemo.collections.asr.models.hybrid_rnnt_ctc_models.EncDecHybridRNNTCTCModel.__init__ (aux_ctc.decoder
// feat_in / num_classes filled in, ctc_loss_weight default 0.5, CTCLoss with ctc_reduction, CTCDecoding from
// aux_ctc.decoding) and training_step (loss = (1 - ctc_loss_weight) * rnnt + ctc_loss_weight * ctc).

import type { ConfigValue } from '../config-tree.js';
import type { KeyTable } from '../key-status.js';
import { refuseUnless, refuseWhen } from '../key-status.js';
import type { SectionReader } from '../section-reader.js';
import { describeValue } from '../section-reader.js';

/** model.aux_ctc. */
export const RNNT_AUX_CTC_KEYS: KeyTable = {
  paths: ['model.aux_ctc'],
  trainingOnly: false,
  honoured: ['ctc_loss_weight', 'decoder'],
  refused: {
    ctc_reduction: refuseUnless("the CTC loss is reduced as NeMo's default (mean over the batch); other reductions are not implemented", ['mean_batch']),
    use_cer: refuseUnless('validation scores word error rate only', [false]),
    decoding: refuseWhen(
      'the CTC head decodes greedily (argmax per frame); other CTC decoding strategies are not implemented',
      'null or strategy greedy / greedy_batch',
      (v) => greedyCtcDecoding(v),
    ),
  },
  noEffect: {},
};

/** model.aux_ctc.decoder: NeMo's ConvASRDecoder arguments. */
export const RNNT_AUX_CTC_DECODER_KEYS: KeyTable = {
  paths: ['model.aux_ctc.decoder'],
  trainingOnly: false,
  honoured: ['_target_', 'feat_in', 'num_classes', 'vocabulary'],
  refused: {
    init_mode: refuseUnless('the CTC head is initialised Xavier-uniform, as NeMo by default', ['xavier_uniform']),
  },
  noEffect: {},
};

export interface AuxCtcConfig {
  /** Weight of the CTC loss: loss = (1 - w) * rnnt + w * ctc (NeMo's default 0.5). */
  readonly ctc_loss_weight: number;
  readonly decoder: {
    /** As written (NeMo writes the encoder's output width); null when absent. */
    readonly feat_in: number | null;
    /** As written (NeMo writes len(vocabulary)); null when absent or -1. */
    readonly num_classes: number | null;
    /** As written; null when absent or empty (NeMo fills it with the labels). */
    readonly vocabulary: string[] | null;
  };
}

const mapOf = (v: ConfigValue): Record<string, ConfigValue> | null => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : null);

function greedyCtcDecoding(v: ConfigValue): boolean {
  const m = mapOf(v);
  return v === null || (m !== null && (m.strategy === undefined || m.strategy === 'greedy' || m.strategy === 'greedy_batch'));
}

/** True when model.aux_ctc makes the model a hybrid: a non-empty mapping. */
export function hasAuxCtc(v: ConfigValue | undefined): boolean {
  const m = v === undefined ? null : mapOf(v);
  return m !== null && Object.keys(m).length > 0;
}

/** Reads model.aux_ctc (`r` open on it). */
export function readAuxCtcConfig(r: SectionReader): AuxCtcConfig {
  r.classify(RNNT_AUX_CTC_KEYS);
  const w = r.number('ctc_loss_weight', 0.5, { min: 0, max: 1 });
  const d = r.section('decoder', false); // NeMo needs it; absent, the head is built from the model's sizes
  d.classify(RNNT_AUX_CTC_DECODER_KEYS);
  d.target('ConvASRDecoder');
  const feat = d.nullableInt('feat_in', null, { min: 1 });
  const num = d.nullableInt('num_classes', null, { min: -1 });
  const v = d.value('vocabulary');
  let vocabulary: string[] | null = null;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) vocabulary = v.length > 0 ? (v as string[]) : null;
  else if (v !== undefined && v !== null) d.problem('vocabulary', `expected a list of labels (text), got ${describeValue(v)}`);
  d.finish();
  r.finish();
  return { ctc_loss_weight: w, decoder: { feat_in: feat, num_classes: num === -1 || num === 0 ? null : num, vocabulary } };
}
