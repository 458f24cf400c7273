// `streamnest finetune-diar`: trains a streaming diarizer (cache-aware encoder + frame-wise Sortformer head, the
// arrival-ordered Sortformer loss) from a pretrained .nemo on a NeMo diarization manifest (src/train/diarization-training.ts).
import { ArgError, formatOptions, parseArgs, type OptionsSpec } from '../args.js';

export const name = 'finetune-diar';
export const summary = 'Train a streaming speaker diarizer (up to 4 speakers, arrival-ordered) on a pretrained encoder';

const spec = {
  init: { type: 'string', metavar: 'MODEL.nemo', help: 'pretrained .nemo (NEST or FastConformer ASR): its preprocessor and encoder start the model' },
  fromScratch: { type: 'boolean', help: 'take only the architecture from --init, not its weights (the no-pretraining baseline)' },
  manifest: { type: 'string', metavar: 'FILE', help: 'training sessions: NeMo diarization manifest with rttm_filepath (make-diarization-corpus)' },
  valManifest: { type: 'string', metavar: 'FILE', help: 'validation sessions (the checkpoint monitor is their Sortformer loss)' },
  expDir: { type: 'string', default: 'diar_exp', metavar: 'DIR', help: 'checkpoints, logs and <name>.nemo go to DIR/<name>/' },
  name: { type: 'string', default: 'diarizer', help: 'run name' },
  maxSteps: { type: 'integer', default: 2000, help: 'optimizer steps' },
  batchSize: { type: 'integer', default: 4, help: 'sessions per batch' },
  lr: { type: 'number', default: 1e-4, help: 'peak learning rate (NeMo sortformer config: 1e-4, inverse-square-root annealing)' },
  warmupSteps: { type: 'integer', default: 500, help: 'learning-rate warm-up steps' },
  valCheckInterval: { type: 'integer', default: 200, help: 'validate every N steps' },
  freezeEncoderSteps: { type: 'integer', default: 0, help: 'train only the head for the first N steps' },
  hidden: { type: 'integer', default: 192, help: "the head's width (sortformer_modules.tf_d_model)" },
  dropout: { type: 'number', default: 0.5, help: "the head's dropout (sortformer_modules.dropout_rate)" },
  atsWeight: { type: 'number', default: 0.5, help: 'weight of the arrival-time-sorted BCE (ats_weight)' },
  pilWeight: { type: 'number', default: 0.5, help: 'weight of the permutation-invariant BCE (pil_weight)' },
  seed: { type: 'integer', default: 1234, help: 'seed of the head initialisation, data order and dropout' },
  quiet: { type: 'boolean', help: 'no progress bar' },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest finetune-diar --init MODEL.nemo --manifest TRAIN.json [--val-manifest VAL.json] [options]

${summary}.
The head is NeMo Sortformer's speaker head without its (non-causal) Transformer: frame-wise layers on the
encoder's 80 ms frames, so that streaming gives the offline activities. The loss is ats_weight x BCE against
targets whose speakers are ordered by first arrival + pil_weight x BCE against the best speaker permutation.
Outputs under --exp-dir/<name>/: checkpoints/ (with <name>.nemo, a SortformerEncLabelModel-layout archive that
eval-diar --model reads), metrics.csv, TensorBoard events, loss.png.

Options:
${formatOptions(spec)}

Examples:
  streamnest make-diarization-corpus --out diar --sessions 200
  streamnest finetune-diar --init nest.nemo --manifest diar/diarization_manifest.json --max-steps 3000
  streamnest eval-diar --manifest diar_val/diarization_manifest.json --model diar_exp/diarizer/checkpoints/diarizer.nemo --streaming`;

export async function run(argv: string[]): Promise<number> {
  const { options: o } = parseArgs(argv, spec, { maxPositionals: 0 });
  if (!o.init || !o.manifest) throw new ArgError(`finetune-diar: --init MODEL.nemo and --manifest FILE are required\n\n${usage}`);
  for (const [flag, v] of [
    ['--max-steps', o.maxSteps],
    ['--batch-size', o.batchSize],
    ['--val-check-interval', o.valCheckInterval],
    ['--hidden', o.hidden],
  ] as const)
    if (!(v >= 1)) throw new ArgError(`finetune-diar: ${flag} must be >= 1, got ${v}`);
  if (!(o.lr > 0)) throw new ArgError(`finetune-diar: --lr must be > 0, got ${o.lr}`);
  if (!(o.dropout >= 0 && o.dropout < 1)) throw new ArgError(`finetune-diar: --dropout must be in [0, 1), got ${o.dropout}`);
  if (!(o.atsWeight >= 0 && o.pilWeight >= 0 && o.atsWeight + o.pilWeight > 0))
    throw new ArgError('finetune-diar: --ats-weight and --pil-weight must be >= 0 and not both 0');
  const { trainDiarizer } = await import('../../train/diarization-training.js');
  const r = await trainDiarizer({
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
    warmupSteps: o.warmupSteps,
    valCheckInterval: o.valCheckInterval,
    freezeEncoderSteps: o.freezeEncoderSteps,
    hidden: o.hidden,
    dropout: o.dropout,
    atsWeight: o.atsWeight,
    pilWeight: o.pilWeight,
    progress: !o.quiet,
  });
  const last = r.trainLoss[r.trainLoss.length - 1];
  process.stdout.write(
    `finetune-diar: ${r.globalStep} steps (${r.stoppedBy}), last loss ${last ? last.loss.toFixed(4) : 'n/a'}; model ${r.nemoPath ?? 'none'}\n`,
  );
  return 0;
}
