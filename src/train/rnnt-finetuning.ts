// Transducer fine-tuning (NeMo's speech_to_text_rnnt.py with EncDecRNNTModel, or speech_to_text_rnnt_bpe.py with
// EncDecRNNTBPEModel when model.tokenizer names a SentencePiece tokenizer; init from a pretrained SSL .nemo): the
// RnntModel built through the config schema (rnntModelArgsFromConfig), its TrainTask (RNN-T loss; validation WER from
// greedy decoding) and its stored config (the sizes NeMo fills in at construction written out), on the fine-tuning run
// shared with CTC (asr-finetuning.ts).
import type { ConfigMap } from '../config/index.js';
import type { CtcBatch } from '../asr/ctc-model.js';
import { rnntModelArgsFromConfig, withDerivedRnntSizes } from '../asr/rnnt-config.js';
import { RNNT_BPE_TARGET, RNNT_TARGET, RnntModel } from '../asr/rnnt-model.js';
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

/** The TrainTask: NeMo's RNN-T loss in training; validation "loss" = the greedy transcripts' WER (the checkpoint monitor). */
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
      return { loss: model.lossOf(f, b.targets, b.targetLen), metrics: {} };
    },
    validationLoss: (b) => {
      const hyp = model.decode(model.forward(b.audio, b.audioLen));
      const w = corpusWer(hyp.map((h, i) => utteranceWer(b.texts[i]!, h.text)));
      return { loss: w.wer, metrics: {} };
    },
    generators: () => new Map(Object.entries(model.rng)),
    disposeBatch: disposeCtcBatch,
  };
}

export async function finetuneRnnt(o: FinetuneOptions): Promise<FinetuneResult> {
  const s = await prepareFinetune(o);
  const { vocab, artifacts, log } = s;
  const warnings: string[] = [];
  const model = new RnntModel(
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
  log(`streamnest: transducer, ${describeLabels(s)} + blank (${vocab.blank}); ${model.numParameters()} parameters`);
  const enc = model.encoder.config;
  const stored: ConfigMap = withDerivedRnntSizes(s.modelTree, vocab.labels, enc.feat_out > 0 ? enc.feat_out : enc.d_model);
  const configYaml = storedConfigYaml(stored, artifacts ? RNNT_BPE_TARGET : RNNT_TARGET);
  const task = rnntTask(model, configYaml, o.loaded.config.model.freeze_encoder_steps, artifacts?.files);
  return runFinetune(o, s, task, model, enc.d_model);
}
