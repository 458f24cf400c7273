// `streamnest finetune-embed`: trains a speaker-embedding layer (NeMo's SpeakerDecoder: Linear + BatchNorm1d, angular
// classifier) on statistics-pooled frames of a frozen pretrained encoder (src/train/speaker-embedding-training.ts).
import { ArgError, formatOptions, parseArgs, type OptionsSpec } from '../args.js';

export const name = 'finetune-embed';
export const summary = 'Train a speaker-embedding layer on the pooled frames of a frozen pretrained encoder (angular softmax over training speakers)';

const spec = {
  init: { type: 'string', metavar: 'MODEL.nemo', help: 'pretrained .nemo (NEST or FastConformer ASR): its preprocessor and encoder (kept frozen)' },
  fromScratch: { type: 'boolean', help: 'a randomly initialised encoder of the same architecture (the no-pretraining anchor)' },
  manifest: { type: 'string', metavar: 'FILE', help: "training utterances: NeMo manifest whose lines have a 'speaker' field" },
  valManifest: { type: 'string', metavar: 'FILE', help: 'validation utterances (the checkpoint monitor is their verification EER)' },
  expDir: { type: 'string', default: 'embed_exp', metavar: 'DIR', help: 'checkpoints, logs and <name>.nemo go to DIR/<name>/' },
  name: { type: 'string', default: 'speaker', help: 'run name' },
  maxSteps: { type: 'integer', default: 1000, help: 'optimizer steps' },
  batchSize: { type: 'integer', default: 64, help: 'utterances per batch (NeMo speaker configs: 64)' },
  lr: { type: 'number', default: 1e-3, help: 'peak learning rate (AdamW, 10% warm-up then cosine annealing)' },
  valCheckInterval: { type: 'integer', default: 100, help: 'validate every N steps' },
  embDim: { type: 'integer', default: 128, help: 'embedding width (decoder.emb_sizes)' },
  scale: { type: 'number', default: 30, help: 'angular softmax scale (loss.scale)' },
  margin: { type: 'number', default: 0.2, help: 'angular softmax margin in radians (loss.margin)' },
  maxTrials: { type: 'integer', default: 100000, help: 'validation trials: all pairs up to N, else a seeded sample of N pairs' },
  seed: { type: 'integer', default: 1234, help: 'seed of the decoder initialisation and data order' },
  quiet: { type: 'boolean', help: 'no progress bar' },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest finetune-embed --init MODEL.nemo --manifest TRAIN.json [--val-manifest VAL.json] [options]

${summary}.
Every training utterance is pooled once ([mean, std] of the encoder's frames) and the embedding layer is trained on
the cached vectors, so a run takes seconds to minutes on a CPU. Outputs under --exp-dir/<name>/: checkpoints/ (with
<name>.nemo, an EncDecSpeakerLabelModel-layout archive that embed and eval-embed read), metrics.csv (val_loss is the
validation EER), TensorBoard events, loss.png.

Options:
${formatOptions(spec)}

Examples:
  streamnest finetune-embed --init nest.nemo --manifest train_manifest.json --val-manifest val_manifest.json --emb-dim 128
  streamnest eval-embed --model embed_exp/speaker/checkpoints/speaker.nemo --manifest test_manifest.json`;

export async function run(argv: string[]): Promise<number> {
  const { options: o } = parseArgs(argv, spec, { maxPositionals: 0 });
  if (!o.init || !o.manifest) throw new ArgError(`finetune-embed: --init MODEL.nemo and --manifest FILE are required\n\n${usage}`);
  for (const [flag, v] of [
    ['--max-steps', o.maxSteps],
    ['--val-check-interval', o.valCheckInterval],
    ['--emb-dim', o.embDim],
    ['--max-trials', o.maxTrials],
  ] as const)
    if (!(v >= 1)) throw new ArgError(`finetune-embed: ${flag} must be >= 1, got ${v}`);
  if (!(o.batchSize >= 2)) throw new ArgError(`finetune-embed: --batch-size must be >= 2 (BatchNorm statistics), got ${o.batchSize}`);
  if (!(o.lr > 0)) throw new ArgError(`finetune-embed: --lr must be > 0, got ${o.lr}`);
  if (!(o.scale > 0)) throw new ArgError(`finetune-embed: --scale must be > 0, got ${o.scale}`);
  if (!(o.margin >= 0 && o.margin < Math.PI / 2)) throw new ArgError(`finetune-embed: --margin must be in [0, pi/2), got ${o.margin}`);
  const { trainSpeakerEmbedding } = await import('../../train/speaker-embedding-training.js');
  const r = await trainSpeakerEmbedding({
    init: o.init,
    fromScratch: o.fromScratch ?? false,
    trainManifest: o.manifest,
    validationManifest: o.valManifest ?? null,
    expDir: o.expDir,
    name: o.name,
    seed: o.seed,
    maxSteps: o.maxSteps,
    batchSize: o.batchSize,
    lr: o.lr,
    valCheckInterval: o.valCheckInterval,
    embDim: o.embDim,
    scale: o.scale,
    margin: o.margin,
    maxTrials: o.maxTrials,
    progress: !o.quiet,
  });
  const last = r.trainLoss[r.trainLoss.length - 1];
  const best = r.valLoss.length ? Math.min(...r.valLoss.map((v) => v.loss)) : null;
  process.stdout.write(
    `finetune-embed: ${r.globalStep} steps (${r.stoppedBy}), last loss ${last ? last.loss.toFixed(4) : 'n/a'}` +
      `${best !== null ? `, best validation EER ${(100 * best).toFixed(2)}%` : ''}; model ${r.nemoPath ?? 'none'}\n`,
  );
  return 0;
}
