// NEST pretraining from a validated config: the model, the data streams (sharded by rank), the trainer, the final .nemo.
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import * as t from '../torch/index.js';
import { isConfigMap, nemoEncoderSection, nemoMaskingSplit, validateNestConfig, type ConfigMap, type NestConfig } from '../config/index.js';
import { fillFixedStatistics } from './feature-statistics.js';
import { buildNestModel } from '../ssl/nest-factory.js';
import type { NestBatch, NestMetrics, NestModel } from '../ssl/nest-model.js';
import { degenerateTargetsWarning } from '../ssl/target-health.js';
import { createDatasetLoader, type DatasetLoader } from '../data/dataset.js';
import { batchToTensors } from '../data/batch-tensors.js';
import type { SamplerState } from '../data/sampler.js';
import { fitAndExport, type RunEnd } from './end-of-run.js';
import { Trainer, precisionDescription, trainerLoopOptions, type BatchStream, type TrainTask } from './trainer.js';
import { schedulerFromSection, type LrScheduler } from './lr-scheduler.js';

export const NEST_TARGET = 'nemo.collections.asr.models.ssl_models.EncDecDenoiseMaskedTokenPredModel';
export const NEMO_VERSION_WRITTEN = '2.6.0rc0';

export interface PretrainOptions {
  config: NestConfig;
  /** The resolved configuration tree (what NeMo dumps to model_config.yaml under `model`). */
  resolved: ConfigMap;
  /** Folder relative manifest paths and exp_dir are resolved against. */
  baseDir: string;
  seed: number;
  progress?: boolean;
  processGroup?: t.ProcessGroup | null;
  log?: (line: string) => void;
}

export type PretrainResult = RunEnd;

/**
 * The `model:` section as NeMo's model_config.yaml, with target and nemo_version, in the form NeMo loads: the encoder
 * section as its ConformerEncoder accepts it (dynamic-chunk keys expanded into att_context_size: nemoEncoderSection)
 * and streamnest's masking keys under streamnest_masking instead of masking (nemoMaskingSplit).
 */
export function modelConfigYaml(resolved: ConfigMap): string {
  const model = nemoMaskingSplit((resolved as Record<string, ConfigMap>).model!);
  const encoder = model.encoder;
  return stringify({
    ...model,
    ...(isConfigMap(encoder) ? { encoder: nemoEncoderSection(encoder) } : {}),
    target: NEST_TARGET,
    nemo_version: NEMO_VERSION_WRITTEN,
  });
}

function toNestBatch(b: Parameters<typeof batchToTensors>[0]): NestBatch {
  const x = batchToTensors(b);
  return { audio: x.audio, audioLen: x.audioLen, noisy: x.noisyAudio, noisyLen: x.noisyAudioLen };
}

function disposeNestBatch(b: NestBatch): void {
  for (const x of [b.audio, b.audioLen, b.noisy, b.noisyLen]) x.dispose();
}

/**
 * Training batches; with several ranks, rank r takes the batches of the common seeded sequence whose index is r
 * modulo W, and its loader decodes only those (AudioLoader's shard: data loading shrinks with W); the W batches of a
 * step are duration neighbours (the sampler's stepGroup), so no rank waits long for another. Each rank's loader
 * state differs, so the Trainer saves all ranks' states in checkpoints and each resumes its own.
 */
class NestTrainStream implements BatchStream<NestBatch> {
  private data: DatasetLoader;
  constructor(private readonly make: (state?: SamplerState) => DatasetLoader) {
    this.data = make();
  }
  async next(): Promise<{ batch: NestBatch; epoch: number }> {
    const b = await this.data.loader.next();
    return { batch: toNestBatch(b), epoch: b.epoch };
  }
  state(): unknown {
    return { sampler: this.data.loader.state() };
  }
  restore(state: unknown): void {
    const s = state as { sampler: SamplerState };
    void this.data.loader.close();
    this.data = this.make(s.sampler);
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

export function schedulerFor(c: NestConfig): LrScheduler {
  return schedulerFromSection(c.model.optim.lr, c.model.optim.sched, c.trainer.max_steps, c.model.encoder.d_model);
}

/** Training steps whose targets are pooled for the degenerate-target check. */
export const TARGET_CHECK_STEPS = 3;

function nestMetrics(m: NestMetrics): Record<string, number> {
  return {
    masked_accuracy: m.maskedAccuracy,
    codebook_usage: m.codebookUsage,
    target_perplexity: m.targetPerplexity,
    prediction_perplexity: m.predictionPerplexity,
  };
}

/**
 * The NEST training task. `warn` (the main rank's log, or null) receives the "degenerate targets" warning when the
 * first TARGET_CHECK_STEPS steps' target perplexity is below 10% of min(num_classes, targets per batch).
 */
export function nestTask(model: NestModel, configYaml: string, warn: ((line: string) => void) | null = null): TrainTask<NestBatch> {
  const seen: { perplexity: number; targets: number }[] = [];
  const checkTargets = (m: NestMetrics): void => {
    if (!warn || seen.length >= TARGET_CHECK_STEPS) return;
    seen.push({ perplexity: m.targetPerplexity, targets: m.targets });
    if (seen.length < TARGET_CHECK_STEPS) return;
    const mean = (f: (x: { perplexity: number; targets: number }) => number): number => seen.reduce((a, x) => a + f(x), 0) / seen.length;
    const w = degenerateTargetsWarning({
      perplexity: mean((x) => x.perplexity),
      targets: Math.round(mean((x) => x.targets)),
      numClasses: model.quantizer.numClasses,
      preprocessorNormalize: model.preprocessor.cfg.normalize,
      targetNormalize: model.args.targetNormalize ?? 'none',
    });
    if (w) warn(`\nstreamnest: WARNING: ${w}`);
  };
  return {
    module: model,
    configYaml: () => configYaml,
    trainableParameters: () => model.trainableParameters(),
    trainingLoss: (b) => {
      const f = model.forward(b);
      const loss = model.lossOf(f);
      const m = model.metricsOf(f);
      checkTargets(m);
      return { loss, metrics: nestMetrics(m) };
    },
    validationLoss: (b) => {
      const f = model.forward(b);
      return { loss: model.lossOf(f).item(), metrics: nestMetrics(model.metricsOf(f)) };
    },
    progressMetrics: { target_perplexity: 'tgt_ppl', masked_accuracy: 'acc' },
    generators: () => new Map(Object.entries(model.rng)),
    disposeBatch: disposeNestBatch,
  };
}

/**
 * The config with fixed feature statistics filled in when it asks for them (normalize: {fixed_mean: null,
 * fixed_std: null}): rank 0 estimates them over the training manifest (or reads its cache beside the run) and every
 * rank gets rank 0's values.
 */
async function withFixedStatistics(o: PretrainOptions, runDir: string, log: (l: string) => void): Promise<{ config: NestConfig; resolved: ConfigMap }> {
  const rank = o.processGroup?.rank ?? 0;
  const world = o.processGroup?.worldSize ?? 1;
  const cachePath = join(runDir, 'feature_statistics.json');
  let tree = rank === 0 ? await fillFixedStatistics(o.resolved, { baseDir: o.baseDir, cachePath, progress: o.progress, log }) : null;
  if (world > 1 && o.processGroup) tree = o.processGroup.allgatherJson(tree)[0] ?? null;
  if (!tree) return { config: o.config, resolved: o.resolved };
  return { config: validateNestConfig(tree, { file: 'the config with estimated feature statistics', training: true }).config, resolved: tree };
}

export async function pretrainNest(options: PretrainOptions): Promise<PretrainResult> {
  const log = options.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const rank = options.processGroup?.rank ?? 0;
  const world = options.processGroup?.worldSize ?? 1;
  const runDir = join(
    resolve(options.baseDir, options.config.exp_manager.exp_dir ?? 'nemo_experiments'),
    options.config.exp_manager.name ?? options.config.name,
  );
  const o = { ...options, ...(await withFixedStatistics(options, runDir, log)) };
  const c = o.config;
  if (c.model.train_ds.manifest_filepath === null)
    throw new Error('model.train_ds.manifest_filepath is null: set it, e.g. model.train_ds.manifest_filepath=/data/train.json');
  // seed libtorch's default generator too (Lightning's seed_everything): otherwise each process starts it from a
  // random seed, so runs differ in any draw that names no generator and checkpoints hold an arbitrary default state
  t.manualSeed(o.seed);
  // trainer.sync_batchnorm: the conv modules' batch_norm (bidirectional recipe) normalises with global batch statistics
  const model = buildNestModel(c.model, o.seed, { syncBatchNorm: c.trainer.sync_batchnorm && world > 1 ? (o.processGroup ?? null) : null });
  const configYaml = modelConfigYaml(o.resolved);
  const shard = { rank, world };
  const train = new NestTrainStream((state) =>
    createDatasetLoader(c.model.train_ds as unknown as Record<string, unknown>, { seed: o.seed, baseDir: o.baseDir, where: 'model.train_ds', state, shard }),
  );
  if (rank === 0) log(train.describe());
  if (rank === 0) log(`streamnest: ${precisionDescription(c.trainer.precision)}`);
  if (world > 1 && o.processGroup) {
    const shm = o.processGroup.sharedMemoryAllreduce(); // collective: every rank reaches it
    if (rank === 0) {
      log(
        shm
          ? `streamnest: ${world} ranks on one host: gradients are summed through shared memory (/dev/shm), small collectives through Gloo`
          : `streamnest: ${world} ranks: every collective through Gloo over TCP (the ranks share no /dev/shm, or STREAMNEST_SHM_ALLREDUCE=0)`,
      );
    }
  }
  const val = c.model.validation_ds;
  const validation =
    val && val.manifest_filepath !== null
      ? async function* (): AsyncIterable<NestBatch> {
          const d = createDatasetLoader(val as unknown as Record<string, unknown>, {
            seed: o.seed + 1,
            baseDir: o.baseDir,
            where: 'model.validation_ds',
            shard,
          });
          try {
            // this rank's share of one pass: batches rank, rank + W, ... (the others are not decoded)
            for (let i = rank; i < d.sampler.batchesPerEpoch; i += world) yield toNestBatch(await d.loader.next());
          } finally {
            await d.loader.close();
          }
        }
      : null;
  const em = c.exp_manager;
  const expDir = resolve(o.baseDir, em.exp_dir ?? 'nemo_experiments');
  const name = em.name ?? c.name;
  const trainer = new Trainer(nestTask(model, configYaml, rank === 0 ? log : null), train, validation, {
    ...trainerLoopOptions(c.trainer, train.batchesPerEpoch),
    expDir,
    name,
    resumeIfExists: em.resume_if_exists,
    tensorboard: em.create_tensorboard_logger,
    saveTopK: em.checkpoint_callback_params?.save_top_k ?? 1,
    optimizer: {
      lr: c.model.optim.lr,
      betas: [c.model.optim.betas[0], c.model.optim.betas[1]],
      eps: c.model.optim.eps,
      weightDecay: c.model.optim.weight_decay,
    },
    scheduler: schedulerFor(c),
    processGroup: o.processGroup ?? null,
    progress: o.progress ?? true,
    progressLabel: 'pretrain',
  });
  const end = await fitAndExport(trainer, train, { name, isMain: rank === 0, log });
  model.dispose();
  return end;
}
