// trainer — the PyTorch Lightning Trainer keys NeMo configs use (spec 06 §3).

import type { SectionReader } from '../section-reader.js';
import { describeValue } from '../section-reader.js';

export type Precision = 16 | 32 | 64 | '16' | '32' | '64' | 'bf16' | '16-mixed' | 'bf16-mixed' | '32-true' | '64-true' | '16-true' | 'bf16-true';
const PRECISIONS: readonly Precision[] = [16, 32, 64, '16', '32', '64', 'bf16', '16-mixed', 'bf16-mixed', '32-true', '64-true', '16-true', 'bf16-true'];

export interface TrainerConfig {
  /** -1 or 'auto' = all available; a count; or a list of device indices. */
  readonly devices: number | 'auto' | readonly number[];
  readonly num_nodes: number;
  readonly accelerator: 'auto' | 'cpu' | 'gpu' | 'cuda' | 'mps' | 'tpu' | 'hpu';
  /** -1 = unlimited. */
  readonly max_epochs: number;
  /** -1 = unlimited. */
  readonly max_steps: number;
  /** An integer: every N training steps; a fraction in (0, 1]: that fraction of an epoch. */
  readonly val_check_interval: number;
  readonly check_val_every_n_epoch: number | null;
  readonly num_sanity_val_steps: number;
  readonly limit_val_batches: number;
  readonly log_every_n_steps: number;
  /** 0 or null: no clipping. */
  readonly gradient_clip_val: number;
  readonly gradient_clip_algorithm: 'norm' | 'value';
  readonly accumulate_grad_batches: number;
  readonly precision: Precision;
  readonly sync_batchnorm: boolean;
  readonly default_root_dir: string | null;
}

export function readTrainerConfig(r: SectionReader): TrainerConfig {
  r.ignore(
    'strategy',
    'logger',
    'callbacks',
    'fast_dev_run',
    'min_epochs',
    'min_steps',
    'max_time',
    'limit_train_batches',
    'limit_test_batches',
    'limit_predict_batches',
    'overfit_batches',
    'enable_checkpointing',
    'enable_progress_bar',
    'enable_model_summary',
    'deterministic',
    'benchmark',
    'inference_mode',
    'use_distributed_sampler',
    'replace_sampler_ddp',
    'profiler',
    'detect_anomaly',
    'barebones',
    'plugins',
    'reload_dataloaders_every_n_epochs',
    'gpus',
    'amp_backend',
    'amp_level',
    'resume_from_checkpoint',
    'progress_bar_refresh_rate',
    'weights_summary',
    'model_registry',
  );
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
    accelerator: r.oneOf('accelerator', ['auto', 'cpu', 'gpu', 'cuda', 'mps', 'tpu', 'hpu'] as const, 'auto'),
    max_epochs: r.nullableInt('max_epochs', -1, { min: -1 }) ?? -1,
    max_steps: r.int('max_steps', -1, { min: -1 }),
    val_check_interval,
    check_val_every_n_epoch: r.nullableInt('check_val_every_n_epoch', 1, { min: 1 }),
    num_sanity_val_steps: r.int('num_sanity_val_steps', 2, { min: -1 }),
    limit_val_batches: r.number('limit_val_batches', 1.0, { min: 0 }),
    log_every_n_steps: r.int('log_every_n_steps', 50, { min: 1 }),
    gradient_clip_val: clip ?? 0,
    gradient_clip_algorithm: r.oneOf('gradient_clip_algorithm', ['norm', 'value'] as const, 'norm'),
    accumulate_grad_batches: r.int('accumulate_grad_batches', 1, { min: 1 }),
    precision: r.oneOf('precision', PRECISIONS, 32),
    sync_batchnorm: r.bool('sync_batchnorm', false),
    default_root_dir: r.nullableString('default_root_dir', null),
  };
  r.finish();
  return config;
}
