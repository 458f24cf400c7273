// What CTC and transducer fine-tuning share (NeMo's speech_to_text_*.py scripts with init_from_nemo_model): the
// config (NeMo layout, the init model's encoder/preprocessor sections reused unless given), the label set (characters
// from the config or the training manifest, or a SentencePiece tokenizer), the labelled data streams, and the run on
// the shared Trainer (checkpoints, exact resume, logs, plot) ending in the .nemo. The model, its TrainTask and its
// stored config are the caller's (ctc-finetuning.ts, rnnt-finetuning.ts).
import { resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import * as t from '../torch/index.js';
import {
  ConfigError,
  applyOverrides,
  isConfigMap,
  finetuneFamilyOf,
  validateFinetuneConfig,
  nemoEncoderSection,
  readYamlConfigFile,
  resolveInterpolations,
  resolveConfigSource,
  type ConfigMap,
  type ConfigValue,
  type FinetuneConfig,
  type FinetuneFamily,
} from '../config/index.js';
import type { CtcBatch } from '../asr/ctc-model.js';
import { CharVocabulary } from '../asr/text.js';
import type { CtcVocabulary } from '../asr/vocabulary.js';
import {
  loadTrainingTokenizer,
  readTokenizerSection,
  tokenizerArtifacts,
  type TokenizerArtifacts,
  type TokenizerSection,
  type TrainingTokenizer,
} from '../asr/tokenizer-config.js';
import { createDatasetLoader, type DatasetLoader } from '../data/dataset.js';
import type { LoadedBatch } from '../data/batch-builder.js';
import type { SamplerState } from '../data/sampler.js';
import { fitAndExport, type RunEnd } from './end-of-run.js';
import { Trainer, trainerLoopOptions, type BatchStream, type TrainTask } from './trainer.js';
import { schedulerFromSection, type LrScheduler } from './lr-scheduler.js';
import { NEMO_VERSION_WRITTEN } from './nest-pretraining.js';

export interface LoadedFinetuneConfig {
  config: FinetuneConfig;
  /** model.labels: the characters, or null (built from the training manifest, or the tokenizer's pieces). */
  labels: string[] | null;
  /** model.tokenizer with dir (or model_path) set: SentencePiece sub-word labels instead of characters. */
  tokenizer: TokenizerSection | null;
  /** The schema's warnings (keys with no effect, unknown keys), for the run log. */
  warnings: string[];
  /** The whole resolved tree (model: is what the .nemo stores). */
  tree: ConfigMap;
  file: string;
}

function section(tree: ConfigMap, key: string, file: string, path = key): ConfigMap {
  const v = tree[key];
  if (!isConfigMap(v)) throw ConfigError.at(file, path, 'required section is missing');
  return v;
}

/**
 * Reads a fine-tuning config file (CTC or transducer), fills model.preprocessor / model.encoder from the init model's config when the file
 * leaves them out (or null), applies the key=value overrides, resolves interpolations and validates every section
 * through the schema (src/config/schema/finetune.ts; the model's own sections when it is built). Throws a ConfigError
 * naming every problem.
 */
export function loadFinetuneConfig(nameOrPath: string, initConfigYaml: string | null, overrides: readonly string[]): LoadedFinetuneConfig {
  const file = resolveConfigSource(nameOrPath);
  const doc = readYamlConfigFile(file);
  const tree = structuredClone(doc.tree) as ConfigMap;
  const model = section(tree, 'model', file);
  if (initConfigYaml) {
    const init = parse(initConfigYaml) as Record<string, ConfigValue>;
    for (const k of ['preprocessor', 'encoder', 'sample_rate'] as const) {
      if ((model[k] === undefined || model[k] === null) && init[k] !== undefined) model[k] = structuredClone(init[k]!);
    }
  }
  const resolved = resolveInterpolations(applyOverrides(tree, overrides, { file, sources: doc.sources }), { file, sources: doc.sources });
  const m = section(resolved, 'model', file);
  for (const k of ['preprocessor', 'encoder']) section(m, k, file, `model.${k}`);
  const { config, warnings } = validateFinetuneConfig(resolved, { file, sources: doc.sources, family: finetuneFamilyOf(m) });
  const labels = m.labels;
  if (labels !== null && labels !== undefined && !(Array.isArray(labels) && labels.every((l) => typeof l === 'string')))
    throw new Error('model.labels: expected a list of characters or null (built from the training manifest)');
  const tokenizer = readTokenizerSection(m.tokenizer, 'model.tokenizer');
  if (tokenizer && labels !== null && labels !== undefined)
    throw new Error("model.labels must be null when model.tokenizer is set (the labels are then the tokenizer's pieces)");
  return { config, labels: (labels as string[] | null | undefined) ?? null, tokenizer, warnings, tree: resolved, file };
}

/** The learning-rate schedule of model.optim (NoamAnnealing's d_model defaulting to the encoder's). */
export function finetuneScheduler(c: FinetuneConfig, dModel: number): LrScheduler {
  return schedulerFromSection(c.model.optim.lr, c.model.optim.sched, c.trainer.max_steps, dModel);
}

/** A loaded batch with its transcripts as label ids (CTC and transducer targets alike). */
export function toCtcBatch(b: LoadedBatch, texts: readonly string[], vocab: CtcVocabulary): CtcBatch {
  const rows = b.indices.map((i) => texts[i] ?? '');
  const enc = rows.map((r) => vocab.encode(r).ids);
  const S = Math.max(1, ...enc.map((e) => e.length));
  const tg = new BigInt64Array(enc.length * S);
  enc.forEach((e, i) => {
    e.forEach((id, j) => {
      tg[i * S + j] = BigInt(id);
    });
  });
  return {
    audio: t.tensor(b.audio, [b.batchSize, b.maxLen]),
    audioLen: t.tensor(
      BigInt64Array.from(b.audioLens, (v) => BigInt(v)),
      [b.batchSize],
    ),
    targets: t.tensor(tg, [enc.length, S]),
    targetLen: t.tensor(
      BigInt64Array.from(enc, (e) => BigInt(e.length)),
      [enc.length],
    ),
    texts: rows,
  };
}

export function disposeCtcBatch(b: CtcBatch): void {
  for (const x of [b.audio, b.audioLen, b.targets, b.targetLen]) x.dispose();
}

/** The training stream: the data loader's batches with their transcripts as label ids (restorable for exact resume). */
class LabelledTrainStream implements BatchStream<CtcBatch> {
  private data: DatasetLoader;
  constructor(
    private readonly make: (state?: SamplerState) => DatasetLoader,
    private readonly vocab: CtcVocabulary,
  ) {
    this.data = make();
  }
  async next(): Promise<{ batch: CtcBatch; epoch: number }> {
    const b = await this.data.loader.next();
    return {
      batch: toCtcBatch(
        b,
        this.data.manifests.entries.map((e) => e.text),
        this.vocab,
      ),
      epoch: b.epoch,
    };
  }
  state(): unknown {
    return this.data.loader.state();
  }
  restore(state: unknown): void {
    void this.data.loader.close();
    this.data = this.make(state as SamplerState);
  }
  async close(): Promise<void> {
    await this.data.loader.close();
  }
  describe(): string {
    return this.data.describe();
  }
  get batchesPerEpoch(): number {
    return this.data.sampler.batchesPerEpoch;
  }
}

export interface FinetuneOptions {
  loaded: LoadedFinetuneConfig;
  /** Pretrained .nemo whose encoder + preprocessor weights initialise the model (null: from scratch). */
  initWeights: t.StateDict | null;
  baseDir: string;
  seed: number;
  progress?: boolean;
  log?: (line: string) => void;
}

export interface FinetuneResult extends RunEnd {
  /** The labels (characters, or the tokenizer's pieces), blank excluded. */
  labels: string[];
}

/** What every fine-tuning run prepares before its model is built. */
export interface FinetuneSetup {
  vocab: CtcVocabulary;
  tokenizer: TrainingTokenizer | null;
  /** The tokenizer's files for the archive and its section pointing into it (sub-word models). */
  artifacts: TokenizerArtifacts | null;
  /** The resolved model section with the labels (characters) or the archive's tokenizer section (sub-words). */
  modelTree: ConfigMap;
  trainDs: Record<string, unknown>;
  log: (line: string) => void;
}

/**
 * Probes the training manifest and loads the tokenizer, then sets the label set: the tokenizer's pieces, model.labels,
 * or the manifest's characters. Sub-word models are written as NeMo's *BPE classes: no labels, the tokenizer section
 * pointing into the archive.
 */
export async function prepareFinetune(o: FinetuneOptions): Promise<FinetuneSetup> {
  const l = o.loaded;
  const log = o.log ?? ((line: string) => process.stderr.write(line + '\n'));
  for (const w of l.warnings) log(`streamnest: config: ${w}`);
  const trainDs = l.config.model.train_ds as unknown as Record<string, unknown>;
  const probe = createDatasetLoader(trainDs, { seed: o.seed, baseDir: o.baseDir, where: 'model.train_ds' });
  await probe.loader.close();
  const tok = l.tokenizer ? await loadTrainingTokenizer(l.tokenizer, o.baseDir, 'model.tokenizer') : null;
  const vocab: CtcVocabulary =
    tok?.tokenizer ?? (l.labels ? new CharVocabulary(l.labels) : CharVocabulary.fromTexts(probe.manifests.entries.map((e) => e.text)));
  const modelTree = { ...(o.loaded.tree.model as ConfigMap) } as ConfigMap;
  const artifacts = tok ? tokenizerArtifacts(tok) : null;
  if (artifacts) {
    delete modelTree.labels;
    modelTree.tokenizer = artifacts.section;
  } else {
    modelTree.labels = [...vocab.labels];
    delete modelTree.tokenizer; // an unused {dir: null, type: bpe}
  }
  return { vocab, tokenizer: tok, artifacts, modelTree, trainDs, log };
}

/** The log line naming the label set. */
export function describeLabels(s: FinetuneSetup): string {
  return s.tokenizer
    ? `SentencePiece tokenizer ${s.tokenizer.tokenizer.source}: ${s.vocab.size} pieces`
    : `${s.vocab.size} labels ${JSON.stringify(s.vocab.labels.join(''))}`;
}

/** model_config.yaml of the .nemo: the encoder as NeMo's ConformerEncoder accepts it (dynamic-chunk keys expanded). */
export function storedConfigYaml(modelTree: ConfigMap, target: string): string {
  const stored = isConfigMap(modelTree.encoder) ? { ...modelTree, encoder: nemoEncoderSection(modelTree.encoder) } : modelTree;
  return stringify({ ...stored, target, nemo_version: NEMO_VERSION_WRITTEN });
}

/**
 * Trains `task` on the Trainer: the training stream, the validation set (its transcripts as labels), checkpoints
 * under exp_manager.exp_dir/<name>, and the final .nemo. Disposes `model` at the end.
 */
export async function runFinetune(
  o: FinetuneOptions,
  s: FinetuneSetup,
  task: TrainTask<CtcBatch>,
  model: { dispose(): void },
  dModel: number,
): Promise<FinetuneResult> {
  const c = o.loaded.config;
  const { vocab, trainDs, log } = s;
  const train = new LabelledTrainStream((state) => createDatasetLoader(trainDs, { seed: o.seed, baseDir: o.baseDir, where: 'model.train_ds', state }), vocab);
  log(train.describe());
  const val = c.model.validation_ds ? { ...c.model.validation_ds, shuffle: false } : null;
  const validation = val
    ? async function* (): AsyncIterable<CtcBatch> {
        const d = createDatasetLoader(val as unknown as Record<string, unknown>, { seed: o.seed + 1, baseDir: o.baseDir, where: 'model.validation_ds' });
        const texts = d.manifests.entries.map((e) => e.text);
        try {
          for (let i = 0; i < d.sampler.batchesPerEpoch; i++) yield toCtcBatch(await d.loader.next(), texts, vocab);
        } finally {
          await d.loader.close();
        }
      }
    : null;
  const em = c.exp_manager;
  const expDir = resolve(o.baseDir, em.exp_dir);
  const trainer = new Trainer(task, train, validation, {
    ...trainerLoopOptions(c.trainer, train.batchesPerEpoch),
    expDir,
    name: em.name,
    resumeIfExists: em.resume_if_exists,
    tensorboard: em.create_tensorboard_logger,
    saveTopK: em.checkpoint_callback_params.save_top_k,
    optimizer: {
      lr: c.model.optim.lr,
      betas: [c.model.optim.betas[0], c.model.optim.betas[1]],
      eps: c.model.optim.eps,
      weightDecay: c.model.optim.weight_decay,
    },
    scheduler: finetuneScheduler(c, dModel),
    progress: o.progress ?? true,
    progressLabel: 'finetune',
  });
  const end = await fitAndExport(trainer, train, { name: em.name, isMain: true, log });
  model.dispose();
  return { ...end, labels: [...vocab.labels] };
}

/** What a loaded fine-tuning config trains (finetuneFamilyOf; a hybrid is trained by the transducer fine-tuning). */
export function finetuneFamily(l: LoadedFinetuneConfig): FinetuneFamily {
  return finetuneFamilyOf(l.tree.model as ConfigMap);
}
