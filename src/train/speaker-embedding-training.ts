// Speaker-embedding training on the shared Trainer with a frozen encoder: every training utterance is pooled once
// ([mean, std] of the encoder's frames, cached), then NeMo's SpeakerDecoder (embedding layer + angular classifier) is
// trained on the cached vectors with the angular softmax loss. Validation is speaker verification: the equal error
// rate of cosine-scored trials (all pairs of the validation utterances, or a seeded sample) is the monitored value
// (val_loss in metrics.csv and checkpoint names is the EER).
// Provenance: nemo.collections.asr.models.label_models.EncDecSpeakerLabelModel.training_step (decoder logits ->
// AngularSoftmaxLoss) with the encoder frozen (ModelPT.freeze on encoder), and validation as
// examples/speaker_tasks/recognition/voxceleb_eval.py (cosine trial scores, EER). NeMo trains the encoder too and
// validates by classification accuracy; here the encoder stays as pretrained, which is what lets pooling be cached.
import { parse } from 'yaml';
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { AudioToMelSpectrogramPreprocessor } from '../audio/index.js';
import { loadNemoModel } from '../checkpoint/nemo-model.js';
import type { ConfigMap } from '../config/index.js';
import { angularSoftmaxLoss, type AngularSoftmaxOptions } from '../diarization/angular-softmax-loss.js';
import type { SpeakerEmbedder } from '../diarization/speaker-embedding.js';
import { SpeakerLabelModel } from '../diarization/speaker-label-model.js';
import { embedUtterances, readSpeakerManifest } from '../diarization/speaker-manifest.js';
import { speakerModelConfigYaml } from '../diarization/speaker-model-archive.js';
import { equalErrorRate, sampledPairTrials } from '../diarization/verification.js';
import { conformerEncoderArgs } from '../model/encoder-config.js';
import { ConformerEncoder } from '../model/index.js';
import { fitAndExport, type RunEnd } from './end-of-run.js';
import { EpochOrder } from './epoch-order.js';
import { CosineAnnealing } from './lr-scheduler.js';
import { Trainer, type BatchStream, type TrainTask } from './trainer.js';

/** Pooled statistics of a set of utterances: row i of `values` ([N x dim], row-major) is utterance i's [mean, std]. */
export interface PooledSet {
  values: Float32Array;
  dim: number;
  speakers: string[];
}

export interface SpeakerVectorBatch {
  pooled: Tensor; // [B, 2D] float32
  labels: Tensor; // [B] int64 (training speakers' indices; -1 for a speaker the classifier does not know)
  speakers: string[];
}

/** Pools every utterance of a speaker manifest once with the (frozen, eval-mode) encoder. */
export async function poolManifest(embedder: SpeakerEmbedder, manifest: string, onEach?: (done: number, total: number) => void): Promise<PooledSet> {
  if (embedder.projection) throw new Error('poolManifest: the embedder must give pooled statistics (no projection)');
  const utterances = readSpeakerManifest(manifest);
  const rows = await embedUtterances(embedder, utterances, { streaming: null }, (d) => onEach?.(d, utterances.length));
  const dim = embedder.dim;
  const values = new Float32Array(rows.length * dim);
  for (const [i, r] of rows.entries()) values.set(r.embedding, i * dim);
  return { values, dim, speakers: rows.map((r) => r.speaker) };
}

/** Rows `idx` of a pooled set as a batch; `labels` maps speakers to class indices. */
export function speakerBatch(set: PooledSet, idx: readonly number[], labels: ReadonlyMap<string, number>): SpeakerVectorBatch {
  const buf = new Float32Array(idx.length * set.dim);
  for (const [k, i] of idx.entries()) buf.set(set.values.subarray(i * set.dim, (i + 1) * set.dim), k * set.dim);
  const speakers = idx.map((i) => set.speakers[i]!);
  return {
    pooled: t.tensor(buf, [idx.length, set.dim]),
    labels: t.tensor(
      BigInt64Array.from(speakers, (s) => BigInt(labels.get(s) ?? -1)),
      [idx.length],
    ),
    speakers,
  };
}

export function disposeSpeakerBatch(b: SpeakerVectorBatch): void {
  b.pooled.dispose();
  b.labels.dispose();
}

/** Shuffled epochs of fixed-size batches of cached vectors (the last partial batch dropped), resumable at any batch. */
export class SpeakerVectorStream implements BatchStream<SpeakerVectorBatch> {
  private readonly order: EpochOrder;

  constructor(
    private readonly set: PooledSet,
    private readonly labels: ReadonlyMap<string, number>,
    batchSize: number,
    seed: number,
  ) {
    const n = set.speakers.length;
    if (!(Number.isInteger(batchSize) && batchSize >= 2 && batchSize <= n))
      throw new RangeError(`batch size ${batchSize} must be between 2 (BatchNorm statistics) and the number of utterances (${n})`);
    this.order = new EpochOrder(n, batchSize, seed, 'speaker vector stream');
  }

  get batchesPerEpoch(): number {
    return this.order.batchesPerEpoch;
  }

  async next(): Promise<{ batch: SpeakerVectorBatch; epoch: number }> {
    const { indices, epoch } = this.order.next();
    return { batch: speakerBatch(this.set, indices, this.labels), epoch };
  }

  state(): unknown {
    return this.order.state();
  }

  restore(state: unknown): void {
    this.order.restore(state);
  }
}

/** EER of the decoder's embeddings of a batch (eval mode, no gradients), all pairs or `maxTrials` seeded pairs. */
export function batchEer(model: SpeakerLabelModel, b: SpeakerVectorBatch, maxTrials: number, seed: number): { eer: number; threshold: number; trials: number } {
  const emb = t.tidy(() => t.noGrad(() => model.decoder.embed(b.pooled)));
  const [n, e] = emb.shape as [number, number];
  const values = Float32Array.from(emb.toArray());
  emb.dispose();
  const utts = b.speakers.map((speaker, i) => ({ speaker, embedding: values.subarray(i * e, (i + 1) * e) }));
  const trials = sampledPairTrials(utts, maxTrials, seed);
  if (n < 2) throw new RangeError('validation: needs at least 2 utterances');
  return { ...equalErrorRate(trials.scores, trials.target), trials: trials.scores.length };
}

/** The TrainTask: the angular loss on each batch (metric: top-1 accuracy); validation: the EER (the monitored value). */
export function speakerEmbeddingTask(
  model: SpeakerLabelModel,
  configYaml: string,
  o: { loss?: AngularSoftmaxOptions; maxTrials: number; seed: number },
): TrainTask<SpeakerVectorBatch> {
  return {
    module: model,
    configYaml: () => configYaml,
    trainableParameters: () => model.decoder.parameters(),
    trainingLoss: (b) => {
      const cos = model.decoder.cosines(b.pooled);
      const accuracy = t.tidy(() => cos.argmax(1).eq(b.labels).to({ dtype: 'float32' }).mean().item());
      return { loss: angularSoftmaxLoss(cos, b.labels, o.loss), metrics: { accuracy } };
    },
    validationLoss: (b) => {
      const r = batchEer(model, b, o.maxTrials, o.seed);
      return { loss: r.eer, metrics: { eer: r.eer } };
    },
    progressMetrics: { accuracy: 'acc' },
    generators: () => new Map(),
    disposeBatch: disposeSpeakerBatch,
  };
}

export interface SpeakerEmbeddingTrainingOptions {
  /** Pretrained .nemo (NEST or FastConformer ASR): its preprocessor and encoder (frozen), weights unless fromScratch. */
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
  valCheckInterval: number;
  embDim: number;
  scale: number;
  margin: number;
  /** Validation trials: all pairs up to this many, else a seeded sample of this many. */
  maxTrials: number;
  progress?: boolean;
  log?: (line: string) => void;
}

/** The speaker model of a run: --init's encoder and preprocessor (copied; random with fromScratch) + a fresh decoder. */
function initialSpeakerModel(
  o: SpeakerEmbeddingTrainingOptions,
  labels: readonly string[],
  log: (l: string) => void,
): { model: SpeakerLabelModel; configYaml: string } {
  const m = loadNemoModel(o.init);
  try {
    const raw = parse(m.configYaml) as ConfigMap;
    const preprocessor = new AudioToMelSpectrogramPreprocessor({ ...m.preprocessorConfig });
    const encoder = new ConformerEncoder(conformerEncoderArgs(m.encoderConfig), { init: { generator: new t.Generator(o.seed + 6) } });
    preprocessor.loadStateDict(m.preprocessor.stateDict());
    if (!o.fromScratch) {
      encoder.loadStateDict(m.encoder.stateDict());
      log(`streamnest: encoder and preprocessor from ${o.init} (frozen)`);
    } else log(`streamnest: a randomly initialised encoder (the architecture of ${o.init}, not its weights; frozen)`);
    const decoder = { feat_in: 2 * encoder.featOut, num_classes: labels.length, emb_size: o.embDim };
    const model = new SpeakerLabelModel({ preprocessor, encoder, decoder, seed: o.seed });
    const configYaml = speakerModelConfigYaml({
      encoder: raw.encoder as ConfigMap,
      preprocessor: raw.preprocessor as ConfigMap,
      decoder,
      labels,
      loss: { scale: o.scale, margin: o.margin },
      trainManifest: o.trainManifest,
    });
    return { model, configYaml };
  } finally {
    m.dispose();
  }
}

/** Trains the embedding layer on a frozen encoder; checkpoints and <name>.nemo under expDir/<name>/. */
export async function trainSpeakerEmbedding(o: SpeakerEmbeddingTrainingOptions): Promise<RunEnd> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const labels = [...new Set(readSpeakerManifest(o.trainManifest).map((u) => u.speaker))].sort();
  const { model, configYaml } = initialSpeakerModel(o, labels, log);
  try {
    const pooler = model.embedder({ pooledOnly: true });
    const train = await poolManifest(pooler, o.trainManifest);
    const val = o.validationManifest ? await poolManifest(pooler, o.validationManifest) : null;
    const index = new Map(labels.map((s, i) => [s, i]));
    const stream = new SpeakerVectorStream(train, index, Math.min(o.batchSize, train.speakers.length), o.seed);
    log(
      `streamnest: ${train.speakers.length} utterances of ${labels.length} speakers pooled (${train.dim} values each)` +
        `${val ? `; ${val.speakers.length} validation utterances` : ''}; ${model.decoder.numParameters()} trained parameters`,
    );
    const validation = val
      ? async function* (): AsyncIterable<SpeakerVectorBatch> {
          yield speakerBatch(
            val,
            val.speakers.map((_, i) => i),
            index,
          );
        }
      : null;
    const task = speakerEmbeddingTask(model, configYaml, { loss: { scale: o.scale, margin: o.margin }, maxTrials: o.maxTrials, seed: o.seed });
    const trainer = new Trainer(task, stream, validation, {
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
      optimizer: { lr: o.lr, betas: [0.9, 0.999], weightDecay: 1e-3 },
      scheduler: new CosineAnnealing(o.lr, { warmupRatio: 0.1, maxSteps: o.maxSteps }),
      progress: o.progress ?? true,
      progressLabel: 'finetune-embed',
    });
    return await fitAndExport(trainer, { close: async () => {} }, { name: o.name, isMain: true, log });
  } finally {
    model.dispose();
  }
}
