// `streamnest finetune-diar`: trains a streaming diarizer (cache-aware encoder + frame-wise Sortformer head, the
// arrival-ordered Sortformer loss) from a pretrained .nemo on a NeMo diarization manifest (src/train/diarization-training.ts).
// The run is a NeMo-layout config (configs/diar_streaming_tiny.yaml unless --config) validated by
// src/config/schema/sortformer.ts; each flag is an override of one of its keys (FLAG_KEYS).
import { ArgError, formatOptions, parseArgs, type OptionsSpec } from '../args.js';
import type { ConfigOverride } from '../../config/index.js';
import type { DiarizerTrainingOptions } from '../../train/diarization-training.js';

export const name = 'finetune-diar';
export const summary = 'Train a streaming speaker diarizer (up to 4 speakers, arrival-ordered) on a pretrained encoder';

/** The config every run starts from (its values are the flags' defaults). */
export const DEFAULT_DIARIZER_CONFIG = 'diar_streaming_tiny';

const spec = {
  config: {
    type: 'string',
    short: 'c',
    metavar: 'PRESET|FILE',
    help: `diarizer config in NeMo's SortformerEncLabelModel layout (default: ${DEFAULT_DIARIZER_CONFIG}); the flags below override its keys`,
  },
  init: {
    type: 'string',
    metavar: 'MODEL.nemo',
    help: 'init_from_nemo_model: pretrained .nemo (NEST or FastConformer ASR) whose preprocessor and encoder start the model',
  },
  fromScratch: { type: 'boolean', help: 'from_scratch=true: take only the architecture from --init, not its weights (the no-pretraining baseline)' },
  manifest: {
    type: 'string',
    metavar: 'FILE',
    help: 'model.train_ds.manifest_filepath: NeMo diarization manifest with rttm_filepath (make-diarization-corpus)',
  },
  valManifest: { type: 'string', metavar: 'FILE', help: 'model.validation_ds.manifest_filepath (the checkpoint monitor is their Sortformer loss)' },
  expDir: { type: 'string', metavar: 'DIR', help: 'exp_manager.exp_dir: checkpoints, logs and <name>.nemo go to DIR/<name>/ (preset: diar_exp)' },
  name: { type: 'string', help: 'exp_manager.name: the run name (preset: diarizer)' },
  maxSteps: { type: 'integer', help: 'trainer.max_steps: optimizer steps (preset: 2000)' },
  batchSize: { type: 'integer', help: 'model.train_ds.batch_size: sessions per batch; validation follows it in the preset (preset: 4)' },
  lr: { type: 'number', help: 'model.optim.lr: the peak learning rate of the preset InverseSquareRootAnnealing (preset: 1e-3)' },
  warmupSteps: { type: 'integer', help: 'model.optim.sched.warmup_steps: learning-rate warm-up steps (preset: 50)' },
  valCheckInterval: { type: 'integer', help: 'trainer.val_check_interval: validate every N steps (preset: 200)' },
  freezeEncoderSteps: { type: 'integer', help: 'model.freeze_encoder_steps: train only the head for the first N steps (preset: 0)' },
  hidden: { type: 'integer', help: "model.model_defaults.tf_d_model: the head's width (sortformer_modules.tf_d_model; preset: 192)" },
  dropout: { type: 'number', help: "model.sortformer_modules.dropout_rate: the head's dropout (preset: 0.5)" },
  atsWeight: { type: 'number', help: 'model.ats_weight: weight of the arrival-time-sorted BCE (preset: 0.5)' },
  pilWeight: { type: 'number', help: 'model.pil_weight: weight of the permutation-invariant BCE (preset: 0.5)' },
  seed: { type: 'integer', help: 'seed: head initialisation, data order and dropout (preset: 1234)' },
  quiet: { type: 'boolean', help: 'no progress bar' },
} satisfies OptionsSpec;

type FlagName = Exclude<keyof typeof spec, 'config' | 'quiet'>;

/** Each flag's config key, and how its command-line spelling reads in messages. */
export const FLAG_KEYS: Readonly<Record<FlagName, { key: string; flag: string }>> = {
  init: { key: 'init_from_nemo_model', flag: '--init' },
  fromScratch: { key: 'from_scratch', flag: '--from-scratch' },
  manifest: { key: 'model.train_ds.manifest_filepath', flag: '--manifest' },
  valManifest: { key: 'model.validation_ds.manifest_filepath', flag: '--val-manifest' },
  expDir: { key: 'exp_manager.exp_dir', flag: '--exp-dir' },
  name: { key: 'exp_manager.name', flag: '--name' },
  maxSteps: { key: 'trainer.max_steps', flag: '--max-steps' },
  batchSize: { key: 'model.train_ds.batch_size', flag: '--batch-size' },
  lr: { key: 'model.optim.lr', flag: '--lr' },
  warmupSteps: { key: 'model.optim.sched.warmup_steps', flag: '--warmup-steps' },
  valCheckInterval: { key: 'trainer.val_check_interval', flag: '--val-check-interval' },
  freezeEncoderSteps: { key: 'model.freeze_encoder_steps', flag: '--freeze-encoder-steps' },
  hidden: { key: 'model.model_defaults.tf_d_model', flag: '--hidden' },
  dropout: { key: 'model.sortformer_modules.dropout_rate', flag: '--dropout' },
  atsWeight: { key: 'model.ats_weight', flag: '--ats-weight' },
  pilWeight: { key: 'model.pil_weight', flag: '--pil-weight' },
  seed: { key: 'seed', flag: '--seed' },
};

export const usage = `Usage: streamnest finetune-diar --init MODEL.nemo --manifest TRAIN.json [--val-manifest VAL.json] [options] [key.path=value ...]
       streamnest finetune-diar --config PRESET|FILE [key.path=value ...]

${summary}.
The head is NeMo Sortformer's speaker head without its (non-causal) Transformer: frame-wise layers on the
encoder's frames (80 ms at 8x subsampling), so that streaming gives the offline activities. The loss is
ats_weight x BCE against targets whose speakers are ordered by first arrival + pil_weight x BCE against the best
speaker permutation. The schedule is NeMo's InverseSquareRootAnnealing: --lr is the peak.
The run is a config in NeMo's SortformerEncLabelModel layout (${DEFAULT_DIARIZER_CONFIG} unless --config); every flag
overrides the key it names, then key.path=value overrides apply. Keys streamnest cannot honour are refused with the reason.
Outputs under exp_manager.exp_dir/<name>/: checkpoints/ (with <name>.nemo, a SortformerEncLabelModel-layout archive
carrying the validated config, that eval-diar --model reads), metrics.csv, TensorBoard events, loss.png.

Options:
${formatOptions(spec)}

Examples:
  streamnest make-diarization-corpus --out diar --sessions 200
  streamnest finetune-diar --init nest.nemo --manifest diar/diarization_manifest.json --max-steps 3000
  streamnest finetune-diar --config diar_streaming_tiny init_from_nemo_model=nest.nemo \\
      model.train_ds.manifest_filepath=diar/diarization_manifest.json model.optim.sched.warmup_steps=500
  streamnest eval-diar --manifest diar_val/diarization_manifest.json --model diar_exp/diarizer/checkpoints/diarizer.nemo --streaming`;

type ParsedFlags = ReturnType<typeof parseArgs<typeof spec>>['options'];

/** Refuses flag values the old flag route refused (before any file is read). */
function checkFlags(o: ParsedFlags): void {
  for (const [flag, v] of [
    ['--max-steps', o.maxSteps],
    ['--batch-size', o.batchSize],
    ['--val-check-interval', o.valCheckInterval],
    ['--hidden', o.hidden],
  ] as const)
    if (v !== undefined && !(v >= 1)) throw new ArgError(`finetune-diar: ${flag} must be >= 1, got ${v}`);
  if (o.lr !== undefined && !(o.lr > 0)) throw new ArgError(`finetune-diar: --lr must be > 0, got ${o.lr}`);
  if (o.dropout !== undefined && !(o.dropout >= 0 && o.dropout < 1)) throw new ArgError(`finetune-diar: --dropout must be in [0, 1), got ${o.dropout}`);
  const ats = o.atsWeight ?? 0.5;
  const pil = o.pilWeight ?? 0.5;
  if ((o.atsWeight !== undefined || o.pilWeight !== undefined) && !(ats >= 0 && pil >= 0 && ats + pil > 0))
    throw new ArgError('finetune-diar: --ats-weight and --pil-weight must be >= 0 and not both 0');
}

/** The given flags as overrides of their keys (applied before the key=value overrides). */
export function flagOverrides(o: ParsedFlags): ConfigOverride[] {
  const out: ConfigOverride[] = [];
  for (const [option, { key, flag }] of Object.entries(FLAG_KEYS) as [FlagName, { key: string; flag: string }][]) {
    const v = o[option];
    if (v === undefined) continue;
    out.push({ kind: 'force_add', key, value: v, text: option === 'fromScratch' ? flag : `${flag} ${v}` });
  }
  return out;
}

/** trainDiarizer's options from the command line (flags and key=value overrides on the config), and the config's warnings. */
export async function trainingOptionsFromArgs(argv: string[]): Promise<{ options: DiarizerTrainingOptions; warnings: string[] }> {
  const { options: o, overrides } = parseArgs(argv, spec, { overrides: true, maxPositionals: 0 });
  if (o.config === undefined && (!o.init || !o.manifest)) throw new ArgError(`finetune-diar: --init MODEL.nemo and --manifest FILE are required\n\n${usage}`);
  checkFlags(o);
  const { loadDiarizerTrainingConfig, diarizerTrainingOptions } = await import('../../train/diarization-training.js');
  const loaded = loadDiarizerTrainingConfig(o.config ?? DEFAULT_DIARIZER_CONFIG, [...flagOverrides(o), ...overrides.map((x) => x.text)]);
  return { options: diarizerTrainingOptions(loaded, { progress: !o.quiet }), warnings: loaded.warnings };
}

export async function run(argv: string[]): Promise<number> {
  const { options, warnings } = await trainingOptionsFromArgs(argv);
  for (const w of warnings) process.stderr.write(`streamnest: ${w}\n`);
  const { trainDiarizer } = await import('../../train/diarization-training.js');
  const r = await trainDiarizer(options);
  const last = r.trainLoss[r.trainLoss.length - 1];
  process.stdout.write(
    `finetune-diar: ${r.globalStep} steps (${r.stoppedBy}), last loss ${last ? last.loss.toFixed(4) : 'n/a'}; model ${r.nemoPath ?? 'none'}\n`,
  );
  return 0;
}
