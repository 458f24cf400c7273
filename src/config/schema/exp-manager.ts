// exp_manager — NeMo's ExpManagerConfig and its checkpoint_callback_params (CallbackParams).

import type { ConfigValue } from '../config-tree.js';
import { isConfigMap } from '../config-tree.js';
import type { KeyTable } from '../key-status.js';
import { isEmpty, isOneOf, noEffect, noEffectAll, refuseUnless, refuseUnlessEmpty, refuseWhen } from '../key-status.js';
import type { SectionReader } from '../section-reader.js';

/** exp_manager.checkpoint_callback_params.save_top_k when not given (NeMo's CallbackParams default), for every run. */
export const DEFAULT_SAVE_TOP_K = 3;

export interface CheckpointCallbackConfig {
  /** -1 = keep all, 0 = none. */
  readonly save_top_k: number;
}

export interface ExpManagerConfig {
  /** null → `./nemo_experiments` (NeMo's default). */
  readonly exp_dir: string | null;
  readonly name: string | null;
  readonly resume_if_exists: boolean;
  /** false: metrics go to metrics.csv only (no TensorBoard event files). */
  readonly create_tensorboard_logger: boolean;
  readonly checkpoint_callback_params: CheckpointCallbackConfig;
}

const OUTPUTS = 'checkpoints go to exp_dir/name/checkpoints (where resume_if_exists looks); set exp_dir and name instead';

/** The recipe's filename pattern `<name>--{val_loss...}-{step}`: streamnest's own naming follows it. */
const isRecipeFilename = (v: ConfigValue): boolean => v === null || (typeof v === 'string' && /--\{val_loss(:[^}]*)?\}-\{step\}$/.test(v));

/** exp_manager.checkpoint_callback_params keys (NeMo's CallbackParams, Lightning's ModelCheckpoint). */
export const CHECKPOINT_CALLBACK_KEYS: KeyTable = {
  paths: ['exp_manager.checkpoint_callback_params'],
  trainingOnly: true,
  honoured: ['save_top_k'],
  refused: {
    monitor: refuseWhen('checkpoints are ranked by val_loss; monitoring another metric, or none, is not implemented', "'val_loss'", (v) => v === 'val_loss'),
    mode: refuseUnless('the lowest val_loss is the best; mode: max is not implemented', ['min']),
    dirpath: refuseUnlessEmpty(OUTPUTS),
    filepath: refuseUnlessEmpty(OUTPUTS),
  },
  noEffect: {
    save_last: noEffect('<name>--last.ckpt is always written: resuming needs it', isOneOf([true])),
    always_save_nemo: noEffect('the .nemo is written once, at the end of training, from the best checkpoint', isOneOf([true])),
    save_nemo_on_train_end: noEffect('a .nemo is always written at the end of training', isOneOf([true])),
    save_best_model: noEffect('the final .nemo always holds the best checkpoint by val_loss, or the last one when no validation ran', isOneOf([true])),
    filename: noEffect('checkpoints are named <name>--val_loss=<value>-step=<step>.ckpt', isRecipeFilename),
    auto_insert_metric_name: noEffect('checkpoint names always include val_loss=', isOneOf([true])),
    ...noEffectAll(['prefix', 'postfix'], 'checkpoint names are fixed'),
    ...noEffectAll(['every_n_train_steps', 'train_time_interval'], 'checkpoints are written at every validation and at the end', isEmpty),
    every_n_epochs: noEffect('checkpoints are written at every validation and at the end', isOneOf([1])),
    save_on_train_epoch_end: noEffect('checkpoints are written at every validation and at the end', isOneOf([false])),
    save_weights_only: noEffect('checkpoints always hold the optimizer and data-loader state for an exact resume', isOneOf([false])),
    ...noEffectAll(['verbose', 'model_parallel_size', 'async_save', 'save_last_n_optim_states'], 'checkpoint writing details streamnest does not have'),
  },
};

/**
 * exp_manager.checkpoint_callback_params of speech-recognition fine-tuning: checkpoints are ranked by the validation
 * word error rate, NeMo's `val_wer` (metrics.csv logs it as val_loss).
 */
export const FINETUNE_CHECKPOINT_CALLBACK_KEYS: KeyTable = {
  ...CHECKPOINT_CALLBACK_KEYS,
  refused: {
    ...CHECKPOINT_CALLBACK_KEYS.refused,
    monitor: refuseWhen(
      'checkpoints are ranked by the validation word error rate (val_wer); monitoring another metric, or none, is not implemented',
      "'val_wer'",
      (v) => v === 'val_wer',
    ),
  },
};

const isDisabledEma = (v: ConfigValue): boolean => isEmpty(v) || (isConfigMap(v) && (v.enable === undefined || v.enable === null || v.enable === false));

/** exp_manager keys (NeMo's ExpManagerConfig). */
export const EXP_MANAGER_KEYS: KeyTable = {
  paths: ['exp_manager'],
  trainingOnly: true,
  honoured: ['exp_dir', 'name', 'resume_if_exists', 'create_tensorboard_logger', 'checkpoint_callback_params'],
  refused: {
    explicit_log_dir: refuseWhen(
      'an explicit log folder is not implemented; outputs go to exp_dir/name (where resume_if_exists looks); set exp_dir and name instead',
      'null or empty',
      (v) => isEmpty(v) || v === '',
    ),
    resume_from_checkpoint: refuseUnlessEmpty(
      'resuming from a named checkpoint is not implemented; resume_if_exists: true resumes from exp_dir/name/checkpoints/<name>--last.ckpt',
    ),
    create_early_stopping_callback: refuseUnless('early stopping is not implemented; training runs to trainer.max_steps or max_epochs', [false]),
    create_ipl_epoch_stopper_callback: refuseUnless('iterative pseudo-labelling is not implemented', [false]),
    ema: refuseWhen('an exponential moving average of the weights is not implemented', 'null, empty or enable: false', isDisabledEma),
    max_time_per_run: refuseUnlessEmpty('a wall-clock limit per run is not implemented; use trainer.max_steps and resume_if_exists'),
  },
  noEffect: {
    version: noEffect('outputs go to exp_dir/name, without a version folder', isEmpty),
    use_datetime_version: noEffect('outputs go to exp_dir/name, without a version folder'),
    resume_past_end: noEffect('resume_if_exists resumes from the last checkpoint whether or not that run had ended'),
    resume_ignore_no_checkpoint: noEffect('with resume_if_exists and no checkpoint, a new run starts, as with true', isOneOf([true])),
    create_checkpoint_callback: noEffect('checkpoints are always written: resuming and the final .nemo need them', isOneOf([true])),
    summary_writer_kwargs: noEffect('TensorBoard events are written with fixed settings', isEmpty),
    ...noEffectAll(
      ['create_wandb_logger', 'create_mlflow_logger', 'create_dllogger_logger', 'create_clearml_logger', 'create_neptune_logger'],
      'no such logger: metrics go to metrics.csv and TensorBoard events only',
      isOneOf([false]),
    ),
    ...noEffectAll(
      ['wandb_logger_kwargs', 'mlflow_logger_kwargs', 'dllogger_logger_kwargs', 'clearml_logger_kwargs', 'neptune_logger_kwargs'],
      'settings of a logger streamnest does not have',
      isEmpty,
    ),
    early_stopping_callback_params: noEffect('only with create_early_stopping_callback, which is not implemented', isEmpty),
    ipl_epoch_stopper_callback_params: noEffect('only with create_ipl_epoch_stopper_callback, which is not implemented', isEmpty),
    create_preemption_callback: noEffect('SIGINT and SIGTERM always write a checkpoint before stopping', isOneOf([true])),
    files_to_copy: noEffect('no files are copied into the run folder', isEmpty),
    ...noEffectAll(
      ['log_step_timing', 'log_delta_step_timing', 'step_timing_kwargs', 'log_tflops_per_sec_per_gpu'],
      'step timing and throughput are not logged',
    ),
    ...noEffectAll(['log_local_rank_0_only', 'log_global_rank_0_only'], 'only rank 0 writes logs', isOneOf([false])),
    disable_validation_on_resume: noEffect('no extra validation runs when a run resumes', isOneOf([true])),
    seconds_to_sleep: noEffect('no wait at the end of set-up'),
    ...noEffectAll(
      ['create_straggler_detection_callback', 'straggler_detection_params', 'create_fault_tolerance_callback', 'fault_tolerance'],
      'cluster fault-tolerance and straggler detection are not implemented',
      (v) => isEmpty(v) || v === false,
    ),
  },
};

function readCheckpointCallback(r: SectionReader, table: KeyTable): CheckpointCallbackConfig {
  r.classify(table);
  const c: CheckpointCallbackConfig = {
    save_top_k: r.int('save_top_k', DEFAULT_SAVE_TOP_K, { min: -1 }),
  };
  r.finish();
  return c;
}

/** `checkpointKeys`: the checkpoint_callback_params table of the training that reads it (what it ranks by). */
export function readExpManagerConfig(r: SectionReader, checkpointKeys: KeyTable = CHECKPOINT_CALLBACK_KEYS): ExpManagerConfig {
  r.classify(EXP_MANAGER_KEYS);
  const config: ExpManagerConfig = {
    exp_dir: r.nullableString('exp_dir', null),
    name: r.nullableString('name', null),
    resume_if_exists: r.bool('resume_if_exists', false),
    create_tensorboard_logger: r.bool('create_tensorboard_logger', true),
    checkpoint_callback_params: readCheckpointCallback(r.section('checkpoint_callback_params', false), checkpointKeys),
  };
  r.finish();
  return config;
}
