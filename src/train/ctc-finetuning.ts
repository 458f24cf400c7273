// CTC fine-tuning (NeMo's speech_to_text_ctc.py with EncDecCTCModel, or speech_to_text_ctc_bpe.py with
// EncDecCTCModelBPE when model.tokenizer names a SentencePiece tokenizer; init from a pretrained SSL .nemo): the
// CtcModel, its TrainTask and stored config on the fine-tuning run shared with transducers (asr-finetuning.ts: config,
// labelled data, Trainer with checkpoints, exact resume, logs, plot, final .nemo with the tokenizer files for sub-word
// models), and loading a fine-tuned .nemo back for transcription.
import { parse } from 'yaml';
import type { ConfigMap, FinetuneConfig } from '../config/index.js';
import { CTC_BPE_TARGET, CTC_TARGET, CtcModel, ctcModelArgsFromConfig, type CtcBatch } from '../asr/ctc-model.js';
import { readTokenizerSection, tokenizerFromArchive } from '../asr/tokenizer-config.js';
import { corpusWer, utteranceCer, utteranceWer } from '../asr/wer.js';
import { readNemoArchive } from '../checkpoint/nemo-archive.js';
import type { TrainTask } from './trainer.js';
import type { LrScheduler } from './lr-scheduler.js';
import {
  describeLabels,
  disposeCtcBatch,
  finetuneScheduler,
  prepareFinetune,
  runFinetune,
  storedConfigYaml,
  type FinetuneOptions,
  type FinetuneResult,
} from './asr-finetuning.js';

export { disposeCtcBatch, loadFinetuneConfig, toCtcBatch } from './asr-finetuning.js';
export type { FinetuneOptions, FinetuneResult, LoadedFinetuneConfig } from './asr-finetuning.js';
export type { FinetuneConfig } from '../config/index.js';

export function ctcScheduler(c: FinetuneConfig, dModel: number): LrScheduler {
  return finetuneScheduler(c, dModel);
}

/**
 * The TrainTask: CTC loss in training; validation "loss" = the batch's WER (word errors / words), the checkpoint
 * monitor, and the batch's CER (character errors / characters, metric `cer`) beside it.
 */
export function ctcTask(model: CtcModel, configYaml: string, freezeEncoderSteps: number, artifacts: Map<string, Uint8Array> = new Map()): TrainTask<CtcBatch> {
  let warned = false;
  const unit = model.vocab.kind === 'characters' ? 'characters' : 'sub-word tokens';
  return {
    module: model,
    configYaml: () => configYaml,
    artifacts: () => artifacts,
    trainableParameters: () => model.trainableParameters(),
    trainingLoss: (b, step) => {
      const f = model.forward(b.audio, b.audioLen, { freezeEncoder: step < freezeEncoderSteps });
      if (!warned) {
        const enc = f.encodedLen.toArray();
        const tl = b.targetLen.toArray();
        const short = enc.filter((n, i) => n < tl[i]!).length;
        if (short > 0) {
          warned = true;
          process.stderr.write(
            `\nstreamnest: WARNING: ${short} of ${enc.length} utterances have fewer encoder frames than ${unit} (e.g. ${enc[0]} frames for ${tl[0]} labels); ` +
              `CTC cannot align them and zero_infinity zeroes their loss. Use a smaller subsampling_factor (4 for characters) or ${unit === 'characters' ? 'sub-word labels' : 'a larger vocabulary'}.\n`,
          );
        }
      }
      return { loss: model.lossOf(f, b.targets, b.targetLen), metrics: {} };
    },
    validationLoss: (b) => {
      const hyp = model.decode(model.forward(b.audio, b.audioLen));
      const w = corpusWer(hyp.map((h, i) => utteranceWer(b.texts[i]!, h.text)));
      const c = corpusWer(hyp.map((h, i) => utteranceCer(b.texts[i]!, h.text)));
      return { loss: w.wer, metrics: { cer: c.wer } };
    },
    generators: () => new Map(Object.entries(model.rng)),
    disposeBatch: disposeCtcBatch,
  };
}

export async function finetuneCtc(o: FinetuneOptions): Promise<FinetuneResult> {
  const s = await prepareFinetune(o);
  const { vocab, artifacts, modelTree, log } = s;
  const dec = modelTree.decoder as ConfigMap;
  modelTree.decoder = { ...dec, num_classes: vocab.size, vocabulary: [...vocab.labels] };
  const warnings: string[] = [];
  const model = new CtcModel(
    ctcModelArgsFromConfig(modelTree as Record<string, unknown>, o.seed, s.tokenizer?.tokenizer ?? null, {
      file: o.loaded.file,
      path: ['model'],
      training: true,
      warnings,
    }),
  );
  for (const w of warnings) log(`streamnest: config: ${w}`);
  if (o.initWeights) log(`streamnest: initialised ${model.loadEncoderFrom(o.initWeights)} encoder/preprocessor tensors from the pretrained model`);
  else log('streamnest: training from scratch (no pretrained weights)');
  log(`streamnest: ${describeLabels(s)} + blank (${vocab.blank}); ${model.numParameters()} parameters`);
  const configYaml = storedConfigYaml(modelTree, artifacts ? CTC_BPE_TARGET : CTC_TARGET);
  const task = ctcTask(model, configYaml, o.loaded.config.model.freeze_encoder_steps, artifacts?.files);
  return runFinetune(o, s, task, model, model.encoder.config.d_model);
}

/**
 * Loads a fine-tuned CTC .nemo in eval mode: EncDecCTCModel (labels) or EncDecCTCModelBPE (tokenizer.model_path
 * 'nemo:NAME' read from the archive's member NAME). Async because the SentencePiece WebAssembly module loads so.
 */
export async function loadCtcModel(path: string, seed = 0): Promise<CtcModel> {
  const a = readNemoArchive(path);
  try {
    const cfg = parse(a.configYaml) as Record<string, unknown>;
    const where = `${path}: model_config.yaml tokenizer`;
    const tokSection = readTokenizerSection(cfg.tokenizer, where);
    if ((!Array.isArray(cfg.labels) && !tokSection) || !cfg.decoder) {
      throw new Error(
        `${path}: not a CTC model (no labels or tokenizer, or no decoder, in model_config.yaml${cfg.target ? `; target ${String(cfg.target)}` : ''}); fine-tune it first with streamnest finetune --init ${path}`,
      );
    }
    const tokenizer = tokSection ? await tokenizerFromArchive(tokSection, a.extra, path, 'tokenizer') : null;
    const model = new CtcModel(ctcModelArgsFromConfig(cfg, seed, tokenizer, { file: `${path}: model_config.yaml`, path: [], training: false }));
    model.loadStateDict(a.stateDict);
    model.eval();
    return model;
  } finally {
    for (const x of a.stateDict.values()) x.dispose();
  }
}
