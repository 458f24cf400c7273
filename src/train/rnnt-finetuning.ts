// Transducer fine-tuning (NeMo's speech_to_text_rnnt.py with EncDecRNNTModel, or speech_to_text_rnnt_bpe.py with
// EncDecRNNTBPEModel when model.tokenizer names a SentencePiece tokenizer; init from a pretrained SSL .nemo), and
// hybrid RNN-T/CTC fine-tuning when the config has model.aux_ctc (speech_to_text_hybrid_rnnt_ctc_char.py / _bpe.py:
// EncDecHybridRNNTCTCModel / EncDecHybridRNNTCTCBPEModel): the model built through the config schema
// (rnntModelArgsFromConfig), its TrainTask (RNN-T loss, or the hybrid's weighted RNN-T + CTC loss; validation WER of
// the transducer head's greedy transcripts) and its stored config (the sizes NeMo fills in at construction written
// out), on the fine-tuning run shared with CTC (asr-finetuning.ts).
import type { ConfigMap } from '../config/index.js';
import type { CtcBatch } from '../asr/ctc-model.js';
import { rnntModelArgsFromConfig, withDerivedRnntSizes } from '../asr/rnnt-config.js';
import { RNNT_BPE_TARGET, RNNT_TARGET, type RnntModel } from '../asr/rnnt-model.js';
import { HYBRID_BPE_TARGET, HYBRID_TARGET, HybridRnntCtcModel, transducerModel } from '../asr/hybrid-rnnt-ctc-model.js';
import { corpusWer, utteranceWer } from '../asr/wer.js';
import type { TrainTask } from './trainer.js';
import {
  describeLabels,
  disposeCtcBatch,
  prepareFinetune,
  runFinetune,
  storedConfigYaml,
  type FinetuneOptions,
  type FinetuneResult,
} from './asr-finetuning.js';

/**
 * The TrainTask: NeMo's RNN-T loss in training (a hybrid: (1 - w) * rnnt + w * ctc, both logged as rnnt_loss and
 * ctc_loss); validation "loss" = the transducer head's greedy transcripts' WER (the checkpoint monitor; a hybrid also
 * logs its CTC head's as wer_ctc).
 */
export function rnntTask(
  model: RnntModel,
  configYaml: string,
  freezeEncoderSteps: number,
  artifacts: Map<string, Uint8Array> = new Map(),
): TrainTask<CtcBatch> {
  return {
    module: model,
    configYaml: () => configYaml,
    artifacts: () => artifacts,
    trainableParameters: () => model.trainableParameters(),
    trainingLoss: (b, step) => {
      // inside the Trainer's tidy scope: the forward's tensors are released with it
      const f = model.forward(b.audio, b.audioLen, { freezeEncoder: step < freezeEncoderSteps });
      if (!(model instanceof HybridRnntCtcModel)) return { loss: model.lossOf(f, b.targets, b.targetLen), metrics: {} };
      const h = model.hybridLossOf(f, b.targets, b.targetLen);
      return { loss: h.loss, metrics: { rnnt_loss: h.rnnt.item(), ...(h.ctc ? { ctc_loss: h.ctc.item() } : {}) } };
    },
    validationLoss: (b) => {
      const f = model.forward(b.audio, b.audioLen);
      const werOf = (hyp: { text: string }[]): number => corpusWer(hyp.map((h, i) => utteranceWer(b.texts[i]!, h.text))).wer;
      const wer = werOf(model.decode(f));
      const metrics: Record<string, number> = model instanceof HybridRnntCtcModel ? { wer_ctc: werOf(model.decodeCtc(f)) } : {};
      return { loss: wer, metrics };
    },
    generators: () => new Map(Object.entries(model.rng)),
    disposeBatch: disposeCtcBatch,
  };
}

export async function finetuneRnnt(o: FinetuneOptions): Promise<FinetuneResult> {
  const s = await prepareFinetune(o);
  const { vocab, artifacts, log } = s;
  const warnings: string[] = [];
  const model = transducerModel(
    rnntModelArgsFromConfig(s.modelTree as Record<string, unknown>, o.seed, s.tokenizer?.tokenizer ?? null, {
      file: o.loaded.file,
      path: ['model'],
      training: true,
      warnings,
    }),
  );
  for (const w of warnings) log(`streamnest: config: ${w}`);
  if (o.initWeights) log(`streamnest: initialised ${model.loadEncoderFrom(o.initWeights)} encoder/preprocessor tensors from the pretrained model`);
  else log('streamnest: training from scratch (no pretrained weights)');
  const hybrid = model instanceof HybridRnntCtcModel;
  const kind = hybrid ? `hybrid RNN-T/CTC (ctc_loss_weight ${model.ctcLossWeight})` : 'transducer';
  log(`streamnest: ${kind}, ${describeLabels(s)} + blank (${vocab.blank}); ${model.numParameters()} parameters`);
  const enc = model.encoder.config;
  const stored: ConfigMap = withDerivedRnntSizes(s.modelTree, vocab.labels, enc.feat_out > 0 ? enc.feat_out : enc.d_model);
  const target = hybrid ? (artifacts ? HYBRID_BPE_TARGET : HYBRID_TARGET) : artifacts ? RNNT_BPE_TARGET : RNNT_TARGET;
  const configYaml = storedConfigYaml(stored, target);
  const task = rnntTask(model, configYaml, o.loaded.config.model.freeze_encoder_steps, artifacts?.files);
  return runFinetune(o, s, task, model, enc.d_model);
}
