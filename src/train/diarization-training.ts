// Diarization training on the shared Trainer (NeMo's examples/speaker_tasks/diarization/neural_diarizer/
// streaming_sortformer_diar_train.py with SortformerEncLabelModel): sessions from a NeMo diarization manifest (audio +
// RTTM, as make-diarization-corpus writes them), arrival-ordered frame targets made at the encoder's output length
// after each forward pass, and the Sortformer loss (ATS + PIL BCE) as the training loss; the validation loss is the
// same loss in eval mode.
// Provenance: SortformerEncLabelModel.training_step / validation_step (_get_aux_train_evaluations) and
// nemo.collections.asr.data.audio_to_diar_label.AudioToSpeechE2ESpkDiarDataset (audio + RTTM -> targets per session).
// trainDiarizer runs it from DiarizerTrainingOptions; loadDiarizerTrainingConfig + diarizerTrainingOptions build them
// from a NeMo-layout config validated by src/config/schema/sortformer.ts (streamnest finetune-diar --config, whose
// flags are overrides of its keys). Not here yet: spec augment (its module lives in src/asr), bucketing.
import { basename, extname } from 'node:path';
import { parse } from 'yaml';
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { AudioToMelSpectrogramPreprocessor, loadAudioAsync } from '../audio/index.js';
import { NEMO_CONFIG_MEMBER, readNemoMember } from '../checkpoint/nemo-archive.js';
import { loadNemoModel } from '../checkpoint/nemo-model.js';
import {
  ConfigError,
  MISSING,
  SORTFORMER_DEFAULTS,
  applyOverrides,
  isConfigMap,
  nemoEncoderSection,
  readYamlConfigFile,
  resolveConfigSource,
  validateDiarizerConfig,
  type ConfigMap,
  type ConfigOverride,
  type DiarizerConfig,
  type EncoderConfig,
  type PreprocessorConfig,
} from '../config/index.js';
import { conformerEncoderArgs } from '../model/encoder-config.js';
import { ConformerEncoder } from '../model/index.js';
import { diarizerConfigYaml } from '../diarization/diarizer-archive.js';
import { DataError } from '../data/data-error.js';
import { readDiarizationManifest } from '../diarization/diarization-manifest.js';
import { Diarizer } from '../diarization/diarizer.js';
import { frameTargets } from '../diarization/frame-targets.js';
import { readRttm, type SpeakerTurn } from '../diarization/rttm.js';
import { sortLoss, type SortLossOptions } from '../diarization/sort-loss.js';
import { fitAndExport, type RunEnd } from './end-of-run.js';
import { EpochOrder } from './epoch-order.js';
import { schedulerFromSection, type SchedSection } from './lr-scheduler.js';
import { Trainer, type BatchStream, type TrainTask } from './trainer.js';

/** One session: its samples and reference turns, times relative to the samples' start. */
export interface DiarizationExample {
  id: string;
  samples: Float32Array;
  turns: SpeakerTurn[];
}

export interface DiarizationBatch {
  audio: Tensor; // [B, N] float32
  audioLen: Tensor; // [B] int64
  turns: SpeakerTurn[][];
  ids: string[];
}

/** The turns of the recording `id` (the audio file's name without extension, NeMo's uniq_id), or all when the RTTM holds one recording. */
function recordingTurns(all: readonly SpeakerTurn[], id: string, where: string): SpeakerTurn[] {
  const files = new Set(all.map((x) => x.file));
  if (files.size <= 1) return [...all];
  const mine = all.filter((x) => x.file === id);
  if (mine.length === 0) throw new DataError('bad_field', where, `the RTTM holds recordings ${[...files].join(', ')} but none named '${id}'`);
  return mine;
}

/**
 * Every manifest entry's audio (offset / duration applied) and its RTTM turns shifted to the audio's start;
 * `sessionLenSec` > 0 crops each session to its first seconds (NeMo's session_len_sec), -1 keeps it whole.
 */
export async function loadDiarizationExamples(manifest: string, sampleRate: number, sessionLenSec = -1): Promise<DiarizationExample[]> {
  const out: DiarizationExample[] = [];
  for (const e of readDiarizationManifest(manifest)) {
    if (!e.rttmFilepath) throw new DataError('bad_field', e.where, "training needs 'rttm_filepath' (the reference turns)");
    const id = basename(e.audioFilepath, extname(e.audioFilepath));
    const whole = e.duration ?? undefined;
    const duration = sessionLenSec > 0 ? Math.min(whole ?? Number.POSITIVE_INFINITY, sessionLenSec) : whole;
    const audio = await loadAudioAsync(e.audioFilepath, { targetSampleRate: sampleRate, offset: e.offset, duration });
    const end = audio.samples.length / sampleRate;
    const turns = recordingTurns(readRttm(e.rttmFilepath), id, e.where)
      .map((x) => ({ ...x, start: x.start - e.offset }))
      .filter((x) => x.start + x.duration > 0 && x.start < end)
      .map((x) => ({ ...x, start: Math.max(0, x.start), duration: Math.min(end, x.start + x.duration) - Math.max(0, x.start) }));
    out.push({ id, samples: audio.samples, turns });
  }
  if (out.length === 0) throw new DataError('bad_field', manifest, 'the manifest lists no sessions');
  return out;
}

/** Pads the sessions' audio into one batch. */
export function diarizationBatch(examples: readonly DiarizationExample[]): DiarizationBatch {
  const n = Math.max(...examples.map((e) => e.samples.length));
  const buf = new Float32Array(examples.length * n);
  for (const [i, e] of examples.entries()) buf.set(e.samples, i * n);
  return {
    audio: t.tensor(buf, [examples.length, n]),
    audioLen: t.tensor(
      BigInt64Array.from(examples, (e) => BigInt(e.samples.length)),
      [examples.length],
    ),
    turns: examples.map((e) => e.turns),
    ids: examples.map((e) => e.id),
  };
}

export function disposeDiarizationBatch(b: DiarizationBatch): void {
  b.audio.dispose();
  b.audioLen.dispose();
}

/** How RTTM activity becomes frame targets (NeMo train_ds.soft_targets / soft_label_thres). */
export interface TargetOptions {
  soft?: boolean;
  threshold?: number;
}

/** [B, T, S] arrival-ordered targets for a forward pass's valid lengths (zero past each row's length). */

export function batchTargets(model: Diarizer, turns: readonly SpeakerTurn[][], lengths: readonly number[], T: number, o: TargetOptions = {}): Tensor {
  const S = model.numSpeakers;
  const buf = new Float32Array(turns.length * T * S);
  const featureRate = model.preprocessor.cfg.sample_rate / model.preprocessor.geometry.hopLength;
  const stride = model.encoder.config.subsampling_factor;
  for (const [b, tr] of turns.entries()) {
    const ft = frameTargets(tr, { frames: lengths[b]!, featureRate, stride, maxSpeakers: S, soft: o.soft ?? false, threshold: o.threshold ?? 0.5 });
    buf.set(ft.values, b * T * S);
  }
  return t.tensor(buf, [turns.length, T, S]);
}

/** Shuffled epochs of fixed-size batches (the last partial batch dropped), resumable at any batch. */
export class DiarizationTrainStream implements BatchStream<DiarizationBatch> {
  private readonly order: EpochOrder;

  constructor(
    private readonly examples: readonly DiarizationExample[],
    batchSize: number,
    seed: number,
  ) {
    if (!(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= examples.length))
      throw new RangeError(`batch size ${batchSize} must be between 1 and the number of sessions (${examples.length})`);
    this.order = new EpochOrder(examples.length, batchSize, seed, 'diarization stream');
  }

  get batchesPerEpoch(): number {
    return this.order.batchesPerEpoch;
  }

  async next(): Promise<{ batch: DiarizationBatch; epoch: number }> {
    const { indices, epoch } = this.order.next();
    return { batch: diarizationBatch(indices.map((i) => this.examples[i]!)), epoch };
  }

  state(): unknown {
    return this.order.state();
  }

  restore(state: unknown): void {
    this.order.restore(state);
  }
}

export interface DiarizationTaskOptions {
  loss?: SortLossOptions;
  /** Optimizer steps during which the encoder is frozen (eval mode, no gradients). */
  freezeEncoderSteps?: number;
  /** Generators of the preprocessor (dither) and encoder (dropout) to save with checkpoints, by name. */
  generators?: Map<string, t.Generator>;
  /** Training targets (validation targets are always binary at 0.5 unless validationTargets says otherwise). */
  targets?: TargetOptions;
  validationTargets?: TargetOptions;
}

/** The TrainTask: the Sortformer loss on each batch; metrics ats_loss / pil_loss. */
export function diarizationTask(model: Diarizer, configYaml: string, o: DiarizationTaskOptions = {}): TrainTask<DiarizationBatch> {
  const lossOf = (b: DiarizationBatch, freezeEncoder: boolean, targetOptions: TargetOptions = {}) => {
    const f = model.forward(b.audio, b.audioLen, { freezeEncoder });
    const lengths = f.lengths.toArray();
    const targets = batchTargets(model, b.turns, lengths, f.probs.size(1), targetOptions);
    return sortLoss(f.probs, targets, lengths, o.loss);
  };
  return {
    module: model,
    configYaml: () => configYaml,
    trainableParameters: () => model.parameters().filter((p) => p.requiresGrad),
    trainingLoss: (b, step) => {
      const r = lossOf(b, step < (o.freezeEncoderSteps ?? 0), o.targets);
      return { loss: r.loss, metrics: { ats_loss: r.ats.item(), pil_loss: r.pil.item() } };
    },
    validationLoss: (b) =>
      t.tidy(() =>
        t.noGrad(() => {
          const r = lossOf(b, false, o.validationTargets);
          return { loss: r.loss.item(), metrics: { ats_loss: r.ats.item(), pil_loss: r.pil.item() } };
        }),
      ),
    progressMetrics: { ats_loss: 'ats', pil_loss: 'pil' },
    generators: () => new Map([...Object.entries(model.rng), ...(o.generators ?? new Map())]),
    disposeBatch: disposeDiarizationBatch,
  };
}

/** The settings of a run that flags never set: what trainDiarizer uses when its options leave them out. */
export const DIARIZER_RUN_DEFAULTS = {
  numSpeakers: SORTFORMER_DEFAULTS.max_num_of_spks,
  betas: [0.9, 0.98] as [number, number],
  eps: 1e-8,
  weightDecay: 1e-3,
  minLr: 1e-6,
  gradientClipVal: 1,
  accumulateGradBatches: 1,
  logEveryNSteps: 1,
  resumeIfExists: true,
  saveTopK: 1,
  tensorboard: true,
  sessionLenSec: SORTFORMER_DEFAULTS.session_len_sec,
  softTargets: SORTFORMER_DEFAULTS.soft_targets,
  softLabelThreshold: SORTFORMER_DEFAULTS.soft_label_thres,
} as const;

/** The encoder and preprocessor a run builds (validated), with the sections the .nemo stores. */
export interface DiarizerArchitecture {
  encoder: EncoderConfig;
  preprocessor: PreprocessorConfig;
  encoderSection: ConfigMap;
  preprocessorSection: ConfigMap;
}

export interface DiarizerTrainingOptions {
  /**
   * Pretrained .nemo (NEST or FastConformer ASR): the encoder and preprocessor (config, and weights unless
   * fromScratch). null: `architecture` from random weights.
   */
  init: string | null;
  fromScratch: boolean;
  trainManifest: string;
  validationManifest: string | null;
  expDir: string;
  name: string;
  seed: number;
  /** -1: until maxEpochs. */
  maxSteps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  /** Steps (>= 1), or a fraction of an epoch (< 1). */
  valCheckInterval: number;
  freezeEncoderSteps: number;
  /** NeMo's sortformer_modules.tf_d_model and dropout_rate. */
  hidden: number;
  dropout: number;
  atsWeight: number;
  pilWeight: number;
  progress?: boolean;
  log?: (line: string) => void;
  // The settings below default to DIARIZER_RUN_DEFAULTS (and the encoder and preprocessor to init's).
  /** The model's encoder and preprocessor instead of init's (init's weights must fit them unless fromScratch). */
  architecture?: DiarizerArchitecture;
  numSpeakers?: number;
  /** model.optim.sched; absent: InverseSquareRootAnnealing(warmupSteps, min_lr 1e-6), NeMo's Sortformer schedule. Its warm-up is warmupSteps. */
  sched?: SchedSection | null;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  maxEpochs?: number | null;
  gradientClipVal?: number;
  accumulateGradBatches?: number;
  logEveryNSteps?: number;
  resumeIfExists?: boolean;
  saveTopK?: number;
  tensorboard?: boolean;
  validationBatchSize?: number;
  sessionLenSec?: number;
  validationSessionLenSec?: number;
  softTargets?: boolean;
  softLabelThreshold?: number;
  validationSoftTargets?: boolean;
  validationSoftLabelThreshold?: number;
  /** Further model sections the .nemo's model_config.yaml carries (train_ds, validation_ds, optim, loss...). */
  storedSections?: ConfigMap;
}

/** The architecture of init's config (the legacy route: no `architecture` in the options). */
function initArchitecture(m: ReturnType<typeof loadNemoModel>): DiarizerArchitecture {
  const raw = parse(m.configYaml) as ConfigMap;
  return {
    encoder: m.encoderConfig,
    preprocessor: m.preprocessorConfig,
    encoderSection: raw.encoder as ConfigMap,
    preprocessorSection: raw.preprocessor as ConfigMap,
  };
}

/** The diarizer of a training run: the encoder and preprocessor (init's weights unless fromScratch) + a fresh head. */
function initialDiarizer(o: DiarizerTrainingOptions, log: (l: string) => void): { model: Diarizer; configYaml: string; generators: Map<string, t.Generator> } {
  const m = o.init !== null && (!o.fromScratch || o.architecture === undefined) ? loadNemoModel(o.init) : null;
  try {
    const arch = o.architecture ?? (m ? initArchitecture(m) : null);
    if (arch === null) throw new Error('finetune-diar: give init (a pretrained .nemo) or the encoder and preprocessor sections');
    const dither = new t.Generator(o.seed + 5);
    const encoderDropout = new t.Generator(o.seed + 7);
    const preprocessor = new AudioToMelSpectrogramPreprocessor({ ...arch.preprocessor }, dither);
    const encoder = new ConformerEncoder(conformerEncoderArgs(arch.encoder), {
      init: { generator: new t.Generator(o.seed + 6) },
      dropoutGenerator: encoderDropout,
    });
    if (m !== null && !o.fromScratch) {
      try {
        preprocessor.loadStateDict(m.preprocessor.stateDict());
        encoder.loadStateDict(m.encoder.stateDict());
      } catch (e) {
        preprocessor.dispose();
        encoder.dispose();
        throw new Error(`${o.init}: its weights do not fit model.encoder / model.preprocessor as configured: ${(e as Error).message}`, { cause: e });
      }
      log(`streamnest: encoder and preprocessor from ${o.init}`);
    } else log(`streamnest: training from scratch (${o.init === null ? 'the configured architecture' : `the architecture of ${o.init}`}, not its weights)`);
    const head = { num_spks: o.numSpeakers ?? DIARIZER_RUN_DEFAULTS.numSpeakers, fc_d_model: encoder.featOut, tf_d_model: o.hidden, dropout_rate: o.dropout };
    const model = new Diarizer({ preprocessor, encoder, head, seed: o.seed });
    const configYaml = diarizerConfigYaml({
      encoder: nemoEncoderSection(arch.encoderSection),
      preprocessor: arch.preprocessorSection,
      head,
      atsWeight: o.atsWeight,
      pilWeight: o.pilWeight,
      ...(o.storedSections ? { rest: o.storedSections } : {}),
    });
    return {
      model,
      configYaml,
      generators: new Map([
        ['dither', dither],
        ['encoder_dropout', encoderDropout],
      ]),
    };
  } finally {
    m?.dispose();
  }
}

/** The learning-rate schedule: o.sched with o.warmupSteps as its warm-up, or the default InverseSquareRootAnnealing. */
function diarizerScheduler(o: DiarizerTrainingOptions, dModel: number) {
  const d = DIARIZER_RUN_DEFAULTS;
  const s: SchedSection = o.sched
    ? { ...o.sched, warmup_steps: o.sched.warmup_ratio != null ? null : o.warmupSteps }
    : { name: 'InverseSquareRootAnnealing', warmup_steps: o.warmupSteps, min_lr: d.minLr };
  return schedulerFromSection(o.lr, s, o.maxSteps, dModel);
}

/** Trains a diarizer on the shared Trainer; checkpoints and <name>.nemo under expDir/<name>/. */
export async function trainDiarizer(o: DiarizerTrainingOptions): Promise<RunEnd> {
  const d = DIARIZER_RUN_DEFAULTS;
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const { model, configYaml, generators } = initialDiarizer(o, log);
  try {
    const sr = model.preprocessor.cfg.sample_rate;
    const train = new DiarizationTrainStream(await loadDiarizationExamples(o.trainManifest, sr, o.sessionLenSec ?? d.sessionLenSec), o.batchSize, o.seed);
    const val = o.validationManifest ? await loadDiarizationExamples(o.validationManifest, sr, o.validationSessionLenSec ?? d.sessionLenSec) : null;
    const valBatch = o.validationBatchSize ?? o.batchSize;
    log(`streamnest: ${train.batchesPerEpoch} batches of ${o.batchSize} sessions per epoch; ${model.numParameters()} parameters`);
    const validation = val
      ? async function* (): AsyncIterable<DiarizationBatch> {
          for (let i = 0; i < val.length; i += valBatch) yield diarizationBatch(val.slice(i, i + valBatch));
        }
      : null;
    const task = diarizationTask(model, configYaml, {
      loss: { atsWeight: o.atsWeight, pilWeight: o.pilWeight },
      freezeEncoderSteps: o.freezeEncoderSteps,
      generators,
      targets: { soft: o.softTargets ?? d.softTargets, threshold: o.softLabelThreshold ?? d.softLabelThreshold },
      validationTargets: { soft: o.validationSoftTargets ?? d.softTargets, threshold: o.validationSoftLabelThreshold ?? d.softLabelThreshold },
    });
    const vci = o.valCheckInterval >= 1 ? Math.floor(o.valCheckInterval) : Math.max(1, Math.round(o.valCheckInterval * train.batchesPerEpoch));
    const trainer = new Trainer(task, train, validation, {
      maxSteps: o.maxSteps > 0 ? o.maxSteps : Number.MAX_SAFE_INTEGER,
      maxEpochs: o.maxEpochs ?? null,
      logEveryNSteps: o.logEveryNSteps ?? d.logEveryNSteps,
      valCheckInterval: vci,
      gradientClipVal: o.gradientClipVal ?? d.gradientClipVal,
      accumulateGradBatches: o.accumulateGradBatches ?? d.accumulateGradBatches,
      maxConsecutiveNonFinite: 10,
      expDir: o.expDir,
      name: o.name,
      resumeIfExists: o.resumeIfExists ?? d.resumeIfExists,
      saveTopK: o.saveTopK ?? d.saveTopK,
      tensorboard: o.tensorboard ?? d.tensorboard,
      optimizer: { lr: o.lr, betas: o.betas ?? d.betas, eps: o.eps ?? d.eps, weightDecay: o.weightDecay ?? d.weightDecay },
      scheduler: diarizerScheduler(o, model.encoder.config.d_model),
      progress: o.progress ?? true,
      progressLabel: 'finetune-diar',
    });
    return await fitAndExport(trainer, { close: async () => {} }, { name: o.name, isMain: true, log });
  } finally {
    model.dispose();
  }
}

// ---- the config route ----------------------------------------------------------------------------------------

export interface LoadedDiarizerConfig {
  readonly config: DiarizerConfig;
  readonly warnings: string[];
  /** The tree after overrides, with init's sections filled in and interpolations resolved. */
  readonly resolved: ConfigMap;
  readonly file: string;
}

/** init_from_nemo_model's model_config.yaml (read without its weights), or null when the key holds no path. */
function initModelConfig(tree: ConfigMap, file: string): ConfigMap | null {
  const init = tree.init_from_nemo_model;
  if (typeof init !== 'string' || init === '' || init === MISSING || init.includes('${')) return null;
  let bytes: Uint8Array | null;
  try {
    bytes = readNemoMember(init, NEMO_CONFIG_MEMBER);
  } catch (e) {
    throw ConfigError.at(file, 'init_from_nemo_model', `cannot read ${init}: ${(e as Error).message}`);
  }
  if (bytes === null) throw ConfigError.at(file, 'init_from_nemo_model', `${init} has no ${NEMO_CONFIG_MEMBER}`);
  const cfg = parse(new TextDecoder().decode(bytes)) as unknown;
  if (!isConfigMap(cfg as ConfigMap)) throw ConfigError.at(file, 'init_from_nemo_model', `${init}: ${NEMO_CONFIG_MEMBER} is not a mapping`);
  return cfg as ConfigMap;
}

/**
 * Reads a diarizer config (preset or file), applies the overrides (Hydra-style text or parsed), fills
 * model.preprocessor / model.encoder (and model.sample_rate) from init_from_nemo_model's config where they are null
 * or absent, then validates it (src/config/schema/sortformer.ts). Throws ConfigError naming each bad key.
 */
export function loadDiarizerTrainingConfig(nameOrPath: string, overrides: readonly (string | ConfigOverride)[] = []): LoadedDiarizerConfig {
  const file = resolveConfigSource(nameOrPath);
  const doc = readYamlConfigFile(file);
  const tree = applyOverrides(doc.tree, overrides, { file, sources: doc.sources });
  const init = initModelConfig(tree, file);
  const model = tree.model;
  if (isConfigMap(model)) {
    for (const k of ['preprocessor', 'encoder'] as const) {
      if (model[k] !== undefined && model[k] !== null) continue;
      if (init === null || init[k] === undefined) {
        const where = doc.sources.describe(['init_from_nemo_model']);
        const why = tree.init_from_nemo_model === MISSING ? 'mandatory value is missing (???)' : 'gives no model';
        throw ConfigError.at(
          file,
          'init_from_nemo_model',
          `${why}: model.${k} is null, to be taken from the pretrained .nemo (--init); give one, or set model.${k}`,
          where,
        );
      }
      model[k] = structuredClone(init[k]!);
    }
  }
  const { config, warnings, resolved } = validateDiarizerConfig(tree, { file, sources: doc.sources, training: true });
  return { config, warnings, resolved, file };
}

const STORED_SECTIONS = ['freeze_encoder_steps', 'train_ds', 'validation_ds', 'loss', 'optim'] as const;

/** trainDiarizer's options from a validated config (every honoured key lands in one option). */
export function diarizerTrainingOptions(
  loaded: LoadedDiarizerConfig,
  extra: { progress?: boolean; log?: (line: string) => void } = {},
): DiarizerTrainingOptions {
  const c = loaded.config;
  const m = c.model;
  const sched = m.optim.sched;
  const rawModel = loaded.resolved.model as ConfigMap;
  const stored: ConfigMap = {};
  for (const k of STORED_SECTIONS) if (rawModel[k] !== undefined) stored[k] = rawModel[k]!;
  const val = m.validation_ds;
  return {
    init: c.init_from_nemo_model,
    fromScratch: c.from_scratch || c.init_from_nemo_model === null,
    trainManifest: m.train_ds.manifest_filepath,
    validationManifest: val?.manifest_filepath ?? null,
    expDir: c.exp_manager.exp_dir ?? 'nemo_experiments',
    name: c.exp_manager.name ?? c.name,
    seed: c.seed,
    maxSteps: c.trainer.max_steps,
    batchSize: m.train_ds.batch_size,
    lr: m.optim.lr,
    warmupSteps: sched?.warmup_steps ?? 0,
    valCheckInterval: c.trainer.val_check_interval,
    freezeEncoderSteps: m.freeze_encoder_steps,
    hidden: m.sortformer_modules.tf_d_model,
    dropout: m.sortformer_modules.dropout_rate,
    atsWeight: m.ats_weight,
    pilWeight: m.pil_weight,
    ...(extra.progress === undefined ? {} : { progress: extra.progress }),
    ...(extra.log === undefined ? {} : { log: extra.log }),
    architecture: {
      encoder: m.encoder,
      preprocessor: m.preprocessor,
      encoderSection: rawModel.encoder as ConfigMap,
      preprocessorSection: rawModel.preprocessor as ConfigMap,
    },
    numSpeakers: m.max_num_of_spks,
    sched: sched === null ? null : { ...sched },
    betas: [m.optim.betas[0], m.optim.betas[1]],
    eps: m.optim.eps,
    weightDecay: m.optim.weight_decay,
    maxEpochs: c.trainer.max_epochs > 0 ? c.trainer.max_epochs : null,
    gradientClipVal: c.trainer.gradient_clip_val,
    accumulateGradBatches: c.trainer.accumulate_grad_batches,
    logEveryNSteps: c.trainer.log_every_n_steps,
    resumeIfExists: c.exp_manager.resume_if_exists,
    saveTopK: c.exp_manager.checkpoint_callback_params.save_top_k,
    tensorboard: c.exp_manager.create_tensorboard_logger,
    validationBatchSize: val?.batch_size ?? m.train_ds.batch_size,
    sessionLenSec: m.train_ds.session_len_sec,
    validationSessionLenSec: val?.session_len_sec ?? m.train_ds.session_len_sec,
    softTargets: m.train_ds.soft_targets,
    softLabelThreshold: m.train_ds.soft_label_thres,
    validationSoftTargets: val?.soft_targets ?? DIARIZER_RUN_DEFAULTS.softTargets,
    validationSoftLabelThreshold: val?.soft_label_thres ?? DIARIZER_RUN_DEFAULTS.softLabelThreshold,
    storedSections: stored,
  };
}
