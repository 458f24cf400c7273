// Diarization training on the shared Trainer (NeMo's examples/speaker_tasks/diarization/neural_diarizer/
// streaming_sortformer_diar_train.py with SortformerEncLabelModel): sessions from a NeMo diarization manifest (audio +
// RTTM, as make-diarization-corpus writes them), arrival-ordered frame targets made at the encoder's output length
// after each forward pass, and the Sortformer loss (ATS + PIL BCE) as the training loss; the validation loss is the
// same loss in eval mode.
// Provenance: SortformerEncLabelModel.training_step / validation_step (_get_aux_train_evaluations) and
// nemo.collections.asr.data.audio_to_diar_label.AudioToSpeechE2ESpkDiarDataset (audio + RTTM -> targets per session).
// trainDiarizer runs it from command-line settings (streamnest finetune-diar). Not here yet: a `model:` YAML config
// route through src/config/schema (the run is set by flags), spec augment (its module lives in src/asr), bucketing.
import { basename, extname } from 'node:path';
import { parse } from 'yaml';
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { AudioToMelSpectrogramPreprocessor, loadAudioAsync } from '../audio/index.js';
import { loadNemoModel } from '../checkpoint/nemo-model.js';
import type { ConfigMap } from '../config/index.js';
import { conformerEncoderArgs } from '../model/encoder-config.js';
import { ConformerEncoder } from '../model/index.js';
import { diarizerConfigYaml } from '../diarization/diarizer-archive.js';
import { DataError } from '../data/data-error.js';
import { Rng } from '../data/rng.js';
import { readDiarizationManifest } from '../diarization/diarization-manifest.js';
import { Diarizer } from '../diarization/diarizer.js';
import { frameTargets } from '../diarization/frame-targets.js';
import { readRttm, type SpeakerTurn } from '../diarization/rttm.js';
import { sortLoss, type SortLossOptions } from '../diarization/sort-loss.js';
import { fitAndExport, type RunEnd } from './end-of-run.js';
import { NoamAnnealing } from './lr-scheduler.js';
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

/** Every manifest entry's audio (offset / duration applied) and its RTTM turns shifted to the audio's start. */
export async function loadDiarizationExamples(manifest: string, sampleRate: number): Promise<DiarizationExample[]> {
  const out: DiarizationExample[] = [];
  for (const e of readDiarizationManifest(manifest)) {
    if (!e.rttmFilepath) throw new DataError('bad_field', e.where, "training needs 'rttm_filepath' (the reference turns)");
    const id = basename(e.audioFilepath, extname(e.audioFilepath));
    const audio = await loadAudioAsync(e.audioFilepath, { targetSampleRate: sampleRate, offset: e.offset, duration: e.duration ?? undefined });
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

/** [B, T, S] arrival-ordered targets for a forward pass's valid lengths (zero past each row's length). */
export function batchTargets(model: Diarizer, turns: readonly SpeakerTurn[][], lengths: readonly number[], T: number): Tensor {
  const S = model.numSpeakers;
  const buf = new Float32Array(turns.length * T * S);
  const featureRate = model.preprocessor.cfg.sample_rate / model.preprocessor.geometry.hopLength;
  const stride = model.encoder.config.subsampling_factor;
  for (const [b, tr] of turns.entries()) {
    const ft = frameTargets(tr, { frames: lengths[b]!, featureRate, stride, maxSpeakers: S });
    buf.set(ft.values, b * T * S);
  }
  return t.tensor(buf, [turns.length, T, S]);
}

/** Shuffled epochs of fixed-size batches (the last partial batch dropped), resumable at any batch. */
export class DiarizationTrainStream implements BatchStream<DiarizationBatch> {
  private epoch = 0;
  private pos = 0;
  private order: number[];

  constructor(
    private readonly examples: readonly DiarizationExample[],
    private readonly batchSize: number,
    private readonly seed: number,
  ) {
    if (!(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= examples.length))
      throw new RangeError(`batch size ${batchSize} must be between 1 and the number of sessions (${examples.length})`);
    this.order = this.shuffle(0);
  }

  get batchesPerEpoch(): number {
    return Math.floor(this.examples.length / this.batchSize);
  }

  private shuffle(epoch: number): number[] {
    const rng = new Rng(this.seed * 7919 + epoch);
    const o = this.examples.map((_, i) => i);
    for (let i = o.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [o[i], o[j]] = [o[j]!, o[i]!];
    }
    return o;
  }

  async next(): Promise<{ batch: DiarizationBatch; epoch: number }> {
    if (this.pos + this.batchSize > this.order.length) {
      this.epoch++;
      this.pos = 0;
      this.order = this.shuffle(this.epoch);
    }
    const picked = this.order.slice(this.pos, this.pos + this.batchSize).map((i) => this.examples[i]!);
    this.pos += this.batchSize;
    return { batch: diarizationBatch(picked), epoch: this.epoch };
  }

  state(): unknown {
    return { epoch: this.epoch, pos: this.pos };
  }

  restore(state: unknown): void {
    const s = state as { epoch?: unknown; pos?: unknown };
    if (typeof s?.epoch !== 'number' || typeof s.pos !== 'number') throw new Error('diarization stream: bad saved position');
    this.epoch = s.epoch;
    this.pos = s.pos;
    this.order = this.shuffle(this.epoch);
  }
}

export interface DiarizationTaskOptions {
  loss?: SortLossOptions;
  /** Optimizer steps during which the encoder is frozen (eval mode, no gradients). */
  freezeEncoderSteps?: number;
  /** Generators of the preprocessor (dither) and encoder (dropout) to save with checkpoints, by name. */
  generators?: Map<string, t.Generator>;
}

/** The TrainTask: the Sortformer loss on each batch; metrics ats_loss / pil_loss. */
export function diarizationTask(model: Diarizer, configYaml: string, o: DiarizationTaskOptions = {}): TrainTask<DiarizationBatch> {
  const lossOf = (b: DiarizationBatch, freezeEncoder: boolean) => {
    const f = model.forward(b.audio, b.audioLen, { freezeEncoder });
    const lengths = f.lengths.toArray();
    const targets = batchTargets(model, b.turns, lengths, f.probs.size(1));
    return sortLoss(f.probs, targets, lengths, o.loss);
  };
  return {
    module: model,
    configYaml: () => configYaml,
    trainableParameters: () => model.parameters().filter((p) => p.requiresGrad),
    trainingLoss: (b, step) => {
      const r = lossOf(b, step < (o.freezeEncoderSteps ?? 0));
      return { loss: r.loss, metrics: { ats_loss: r.ats.item(), pil_loss: r.pil.item() } };
    },
    validationLoss: (b) =>
      t.tidy(() =>
        t.noGrad(() => {
          const r = lossOf(b, false);
          return { loss: r.loss.item(), metrics: { ats_loss: r.ats.item(), pil_loss: r.pil.item() } };
        }),
      ),
    progressMetrics: { ats_loss: 'ats', pil_loss: 'pil' },
    generators: () => new Map([...Object.entries(model.rng), ...(o.generators ?? new Map())]),
    disposeBatch: disposeDiarizationBatch,
  };
}

export interface DiarizerTrainingOptions {
  /** Pretrained .nemo (NEST or FastConformer ASR): the encoder and preprocessor (config, and weights unless fromScratch). */
  init: string;
  fromScratch: boolean;
  trainManifest: string;
  validationManifest: string | null;
  expDir: string;
  name: string;
  seed: number;
  maxSteps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  valCheckInterval: number;
  freezeEncoderSteps: number;
  /** NeMo's sortformer_modules.tf_d_model and dropout_rate. */
  hidden: number;
  dropout: number;
  atsWeight: number;
  pilWeight: number;
  progress?: boolean;
  log?: (line: string) => void;
}

/** The diarizer of a training run: --init's encoder and preprocessor (copied) + a fresh head. */
function initialDiarizer(o: DiarizerTrainingOptions, log: (l: string) => void): { model: Diarizer; configYaml: string; generators: Map<string, t.Generator> } {
  const m = loadNemoModel(o.init);
  try {
    const raw = parse(m.configYaml) as ConfigMap;
    const dither = new t.Generator(o.seed + 5);
    const encoderDropout = new t.Generator(o.seed + 7);
    const preprocessor = new AudioToMelSpectrogramPreprocessor({ ...m.preprocessorConfig }, dither);
    const encoder = new ConformerEncoder(conformerEncoderArgs(m.encoderConfig), {
      init: { generator: new t.Generator(o.seed + 6) },
      dropoutGenerator: encoderDropout,
    });
    if (!o.fromScratch) {
      preprocessor.loadStateDict(m.preprocessor.stateDict());
      encoder.loadStateDict(m.encoder.stateDict());
      log(`streamnest: encoder and preprocessor from ${o.init}`);
    } else log(`streamnest: training from scratch (the architecture of ${o.init}, not its weights)`);
    const head = { num_spks: 4, fc_d_model: encoder.featOut, tf_d_model: o.hidden, dropout_rate: o.dropout };
    const model = new Diarizer({ preprocessor, encoder, head, seed: o.seed });
    const configYaml = diarizerConfigYaml({
      encoder: raw.encoder as ConfigMap,
      preprocessor: raw.preprocessor as ConfigMap,
      head,
      atsWeight: o.atsWeight,
      pilWeight: o.pilWeight,
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
    m.dispose();
  }
}

/** Trains a diarizer on the shared Trainer; checkpoints and <name>.nemo under expDir/<name>/. */
export async function trainDiarizer(o: DiarizerTrainingOptions): Promise<RunEnd> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const { model, configYaml, generators } = initialDiarizer(o, log);
  try {
    const sr = model.preprocessor.cfg.sample_rate;
    const train = new DiarizationTrainStream(await loadDiarizationExamples(o.trainManifest, sr), o.batchSize, o.seed);
    const val = o.validationManifest ? await loadDiarizationExamples(o.validationManifest, sr) : null;
    log(`streamnest: ${train.batchesPerEpoch} batches of ${o.batchSize} sessions per epoch; ${model.numParameters()} parameters`);
    const validation = val
      ? async function* (): AsyncIterable<DiarizationBatch> {
          for (let i = 0; i < val.length; i += o.batchSize) yield diarizationBatch(val.slice(i, i + o.batchSize));
        }
      : null;
    const task = diarizationTask(model, configYaml, {
      loss: { atsWeight: o.atsWeight, pilWeight: o.pilWeight },
      freezeEncoderSteps: o.freezeEncoderSteps,
      generators,
    });
    const trainer = new Trainer(task, train, validation, {
      maxSteps: o.maxSteps,
      logEveryNSteps: 1,
      valCheckInterval: o.valCheckInterval,
      gradientClipVal: 1,
      accumulateGradBatches: 1,
      maxConsecutiveNonFinite: 10,
      expDir: o.expDir,
      name: o.name,
      resumeIfExists: true,
      saveTopK: 1,
      optimizer: { lr: o.lr, betas: [0.9, 0.98], weightDecay: 1e-3 },
      scheduler: new NoamAnnealing(o.lr, model.encoder.config.d_model, { warmupSteps: o.warmupSteps, minLr: 1e-6 }),
      progress: o.progress ?? true,
      progressLabel: 'finetune-diar',
    });
    return await fitAndExport(trainer, { close: async () => {} }, { name: o.name, isMain: true, log });
  } finally {
    model.dispose();
  }
}
