// exp_manager — NeMo's ExpManagerConfig and its checkpoint_callback_params (CallbackParams).

import type { SectionReader } from '../section-reader.js';

export interface CheckpointCallbackConfig {
  readonly monitor: string | null;
  readonly mode: 'min' | 'max';
  /** -1 = keep all, 0 = none. */
  readonly save_top_k: number;
  readonly save_last: boolean;
  readonly always_save_nemo: boolean;
  readonly save_nemo_on_train_end: boolean;
  readonly save_best_model: boolean;
  /** Lightning's pattern, e.g. `name--{val_loss:.3f}-{step}`. */
  readonly filename: string | null;
  readonly dirpath: string | null;
  readonly every_n_train_steps: number | null;
  readonly every_n_epochs: number | null;
}

export interface ExpManagerConfig {
  /** null → `./nemo_experiments` (NeMo's default). */
  readonly exp_dir: string | null;
  readonly explicit_log_dir: string | null;
  readonly name: string | null;
  readonly version: string | null;
  readonly use_datetime_version: boolean;
  readonly resume_if_exists: boolean;
  readonly resume_past_end: boolean;
  readonly resume_ignore_no_checkpoint: boolean;
  readonly resume_from_checkpoint: string | null;
  readonly create_tensorboard_logger: boolean;
  readonly create_checkpoint_callback: boolean;
  readonly checkpoint_callback_params: CheckpointCallbackConfig;
}

function readCheckpointCallback(r: SectionReader): CheckpointCallbackConfig {
  r.ignore(
    'filepath',
    'verbose',
    'save_weights_only',
    'auto_insert_metric_name',
    'train_time_interval',
    'prefix',
    'postfix',
    'model_parallel_size',
    'save_on_train_epoch_end',
    'async_save',
    'save_last_n_optim_states',
  );
  const c: CheckpointCallbackConfig = {
    monitor: r.nullableString('monitor', 'val_loss'),
    mode: r.oneOf('mode', ['min', 'max'] as const, 'min'),
    save_top_k: r.int('save_top_k', 3, { min: -1 }),
    save_last: r.bool('save_last', true),
    always_save_nemo: r.bool('always_save_nemo', false),
    save_nemo_on_train_end: r.bool('save_nemo_on_train_end', true),
    save_best_model: r.bool('save_best_model', false),
    filename: r.nullableString('filename', null),
    dirpath: r.nullableString('dirpath', null),
    every_n_train_steps: r.nullableInt('every_n_train_steps', null, { min: 1 }),
    every_n_epochs: r.nullableInt('every_n_epochs', 1, { min: 0 }),
  };
  r.finish();
  return c;
}

export function readExpManagerConfig(r: SectionReader): ExpManagerConfig {
  r.ignore(
    'summary_writer_kwargs',
    'create_wandb_logger',
    'wandb_logger_kwargs',
    'create_mlflow_logger',
    'mlflow_logger_kwargs',
    'create_dllogger_logger',
    'dllogger_logger_kwargs',
    'create_clearml_logger',
    'clearml_logger_kwargs',
    'create_neptune_logger',
    'neptune_logger_kwargs',
    'create_early_stopping_callback',
    'early_stopping_callback_params',
    'create_ipl_epoch_stopper_callback',
    'ipl_epoch_stopper_callback_params',
    'create_preemption_callback',
    'files_to_copy',
    'log_step_timing',
    'log_delta_step_timing',
    'step_timing_kwargs',
    'log_local_rank_0_only',
    'log_global_rank_0_only',
    'disable_validation_on_resume',
    'ema',
    'max_time_per_run',
    'seconds_to_sleep',
    'create_straggler_detection_callback',
    'straggler_detection_params',
    'create_fault_tolerance_callback',
    'fault_tolerance',
    'log_tflops_per_sec_per_gpu',
  );
  const config: ExpManagerConfig = {
    exp_dir: r.nullableString('exp_dir', null),
    explicit_log_dir: r.nullableString('explicit_log_dir', null),
    name: r.nullableString('name', null),
    version: r.nullableString('version', null),
    use_datetime_version: r.bool('use_datetime_version', true),
    resume_if_exists: r.bool('resume_if_exists', false),
    resume_past_end: r.bool('resume_past_end', false),
    resume_ignore_no_checkpoint: r.bool('resume_ignore_no_checkpoint', false),
    resume_from_checkpoint: r.nullableString('resume_from_checkpoint', null),
    create_tensorboard_logger: r.bool('create_tensorboard_logger', true),
    create_checkpoint_callback: r.bool('create_checkpoint_callback', true),
    checkpoint_callback_params: readCheckpointCallback(r.section('checkpoint_callback_params', false)),
  };
  r.finish();
  return config;
}
