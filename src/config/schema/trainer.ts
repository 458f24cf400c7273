// trainer — the PyTorch Lightning Trainer keys NeMo configs use (spec 06 §3).

import type { KeyTable } from '../key-status.js';
import { isAtMost, isEmpty, isOneOf, noEffect, noEffectAll, refuseUnless, refuseUnlessEmpty, refuseWhen } from '../key-status.js';
import type { SectionReader } from '../section-reader.js';
import { describeValue } from '../section-reader.js';

/** trainer keys (Lightning's Trainer arguments). */
export const TRAINER_KEYS: KeyTable = {
  paths: ['trainer'],
  trainingOnly: true,
  honoured: [
    'devices',
    'num_nodes',
    'max_epochs',
    'max_steps',
    'val_check_interval',
    'log_every_n_steps',
    'gradient_clip_val',
    'accumulate_grad_batches',
    'sync_batchnorm',
    'precision',
  ],
  refused: {
    accelerator: refuseUnless('streamnest trains on the CPU only (GPU training is not built); use auto or cpu', ['auto', 'cpu']),
    gpus: refuseWhen('streamnest trains on the CPU only (GPU training is not built); use devices for processes', '0 or null', (v) => v === 0 || isEmpty(v)),
    plugins: refuseUnlessEmpty('Lightning plugins (precision, cluster, checkpoint I/O) are not supported'),
    gradient_clip_algorithm: refuseUnless('clipping by value is not implemented; gradients are clipped by their norm (use norm)', ['norm']),
    callbacks: refuseUnlessEmpty('Lightning callbacks are not supported'),
    fast_dev_run: refuseWhen('fast_dev_run is not implemented; use trainer.max_steps=N', 'false, 0 or null', isOneOf([false, 0])),
    max_time: refuseUnlessEmpty('a wall-clock limit is not implemented; use max_steps or max_epochs'),
    limit_train_batches: refuseUnless('every epoch uses the whole training set; limiting it is not implemented', [1]),
    limit_val_batches: refuseUnless('every validation uses the whole validation set; limiting or disabling it is not implemented', [1]),
    overfit_batches: refuseUnless('overfitting a few batches is not implemented', [0]),
    check_val_every_n_epoch: refuseUnless(
      'validation runs every val_check_interval training steps, counted across epochs; validating every N epochs is not implemented',
      [1],
    ),
    resume_from_checkpoint: refuseUnlessEmpty(
      'resuming from a named checkpoint is not implemented; exp_manager.resume_if_exists: true resumes from exp_dir/name/checkpoints/<name>--last.ckpt',
    ),
  },
  noEffect: {
    strategy: noEffect('streamnest runs its own data-parallel training over trainer.devices and trainer.num_nodes'),
    num_sanity_val_steps: noEffect('no sanity validation runs before training; training is the same', isAtMost(0)),
    ...noEffectAll(['min_epochs', 'min_steps'], 'they only delay early stopping, which streamnest does not have', isAtMost(0)),
    logger: noEffect('metrics go to metrics.csv and TensorBoard events, as exp_manager sets up', isOneOf([false])),
    enable_checkpointing: noEffect('exp_manager settings decide the checkpoints', isOneOf([false])),
    enable_progress_bar: noEffect('the progress bar shows unless pretrain --quiet', isOneOf([true])),
    enable_model_summary: noEffect('no model summary is printed', isOneOf([false])),
    ...noEffectAll(['limit_test_batches', 'limit_predict_batches'], 'streamnest runs no test or predict loop'),
    deterministic: noEffect('torch.use_deterministic_algorithms is not applied; streamnest seeds every generator', isOneOf([false])),
    benchmark: noEffect('cuDNN autotuning; streamnest trains on the CPU', isOneOf([false])),
    inference_mode: noEffect('validation always runs without gradients', isOneOf([true])),
    ...noEffectAll(['use_distributed_sampler', 'replace_sampler_ddp'], 'streamnest shards the batches across processes itself', isOneOf([true])),
    ...noEffectAll(['profiler', 'detect_anomaly', 'barebones'], 'debugging and profiling aids are not implemented', isOneOf([false])),
    reload_dataloaders_every_n_epochs: noEffect('the manifests are read once per run', isAtMost(0)),
    ...noEffectAll(['amp_backend', 'amp_level'], 'Lightning 1.x apex settings for float16 precision, which is not built; bf16-mixed uses libtorch autocast'),
    ...noEffectAll(['progress_bar_refresh_rate', 'weights_summary', 'model_registry'], 'old Lightning display and registry settings'),
    default_root_dir: noEffect('exp_manager.exp_dir decides where outputs go'),
  },
};

export interface TrainerConfig {
  /** -1 or 'auto' = all available; a count; or a list of device indices. */
  readonly devices: number | 'auto' | readonly number[];
  readonly num_nodes: number;
  /** -1 = unlimited. */
  readonly max_epochs: number;
  /** -1 = unlimited. */
  readonly max_steps: number;
  /** An integer: every N training steps; a fraction in (0, 1]: that fraction of an epoch. */
  readonly val_check_interval: number;
  readonly log_every_n_steps: number;
  /** 0 or null: no clipping. */
  readonly gradient_clip_val: number;
  readonly accumulate_grad_batches: number;
  readonly sync_batchnorm: boolean;
  /** '32-true' (float32), or 'bf16-mixed': forward pass under bfloat16 autocast, float32 weights and optimizer state. */
  readonly precision: TrainingPrecision;
}

/** The trainer.precision values that are built, in Lightning 2's spelling. */
export type TrainingPrecision = '32-true' | 'bf16-mixed';

/** Why a trainer.precision value is refused, or null for a built one. */
function precisionRefusal(v: unknown): string | null {
  if ([32, '32', '32-true', 'bf16-mixed', 'bf16'].includes(v as string)) return null;
  if ([16, '16', '16-mixed'].includes(v as string)) {
    return 'float16 mixed precision needs CUDA autocast with a dynamic gradient scaler, and streamnest trains on the CPU only; use bf16-mixed';
  }
  if (['bf16-true', '16-true'].includes(v as string)) return '16-bit weights and optimizer state are not implemented; use bf16-mixed (float32 master weights)';
  if ([64, '64', '64-true'].includes(v as string)) return 'float64 training is not implemented; use 32';
  return 'unknown precision';
}

/**
 * trainer.precision, in Lightning 2's spelling. Lightning 1.x's 'bf16' was already mixed precision (float32 weights,
 * bfloat16 autocast), so it means bf16-mixed here too.
 */
function readPrecision(r: SectionReader): TrainingPrecision {
  const v = r.value('precision');
  if (v === undefined || v === null) return '32-true';
  const refusal = precisionRefusal(v);
  if (refusal !== null) {
    r.problem('precision', `${refusal} (got ${describeValue(v)}; accepted: 32, '32-true', 'bf16-mixed', or 'bf16' which means bf16-mixed)`);
    return '32-true';
  }
  return v === 'bf16' || v === 'bf16-mixed' ? 'bf16-mixed' : '32-true';
}

export function readTrainerConfig(r: SectionReader): TrainerConfig {
  r.classify(TRAINER_KEYS);
  let devices: TrainerConfig['devices'] = 'auto';
  const d = r.value('devices');
  if (d === 'auto') devices = 'auto';
  else if (typeof d === 'number' && Number.isInteger(d) && (d === -1 || d >= 1)) devices = d;
  else if (Array.isArray(d) && d.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) devices = d as number[];
  else if (d !== undefined && d !== null) r.problem('devices', `expected -1, 'auto', a positive count or a list of device indices; got ${describeValue(d)}`);

  let val_check_interval = 1.0;
  const v = r.value('val_check_interval');
  if (v !== undefined && v !== null) {
    if (typeof v !== 'number' || !(v > 0) || (v > 1 && !Number.isInteger(v))) {
      r.problem('val_check_interval', `expected a step count (integer >= 1) or an epoch fraction in (0, 1]; got ${describeValue(v)}`);
    } else val_check_interval = v;
  }
  const clip = r.nullableNumber('gradient_clip_val', 0, { min: 0 });
  const config: TrainerConfig = {
    devices,
    num_nodes: r.int('num_nodes', 1, { min: 1 }),
    max_epochs: r.nullableInt('max_epochs', -1, { min: -1 }) ?? -1,
    max_steps: r.int('max_steps', -1, { min: -1 }),
    val_check_interval,
    log_every_n_steps: r.int('log_every_n_steps', 50, { min: 1 }),
    gradient_clip_val: clip ?? 0,
    accumulate_grad_batches: r.int('accumulate_grad_batches', 1, { min: 1 }),
    sync_batchnorm: r.bool('sync_batchnorm', false),
    precision: readPrecision(r),
  };
  r.finish();
  return config;
}
