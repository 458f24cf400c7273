// model.optim — optimizer and learning-rate schedule (spec 06 §1–2).

import type { KeyTable } from '../key-status.js';
import { isOneOf, noEffect, noEffectAll, refuseUnless } from '../key-status.js';
import type { SectionReader } from '../section-reader.js';
import { REQUIRED, describeValue } from '../section-reader.js';

const SGD_ONLY = 'an SGD setting: streamnest trains with AdamW only';

/** model.optim keys (NeMo's optimizer config: the torch.optim constructor's arguments plus `sched`). */
export const OPTIM_KEYS: KeyTable = {
  paths: ['model.optim'],
  trainingOnly: true,
  honoured: ['name', 'lr', 'betas', 'eps', 'weight_decay', 'sched'],
  refused: {
    amsgrad: refuseUnless("AMSGrad is not implemented (streamnest's AdamW is torch's with amsgrad=False)", [false]),
    maximize: refuseUnless('maximising the loss is not implemented', [false]),
    momentum: refuseUnless(SGD_ONLY, [0]),
    nesterov: refuseUnless(SGD_ONLY, [false]),
    dampening: refuseUnless(SGD_ONLY, [0]),
  },
  noEffect: {
    ...noEffectAll(
      ['foreach', 'fused', 'capturable'],
      "torch's kernel choices: streamnest's AdamW step is one fused native call",
      (v) => v === null || v === false,
    ),
    differentiable: noEffect('optimizer steps are never differentiated', isOneOf([false])),
  },
};

/** model.optim.sched keys (NeMo's scheduler config: prepare_lr_scheduler and the scheduler's arguments). */
export const SCHED_KEYS: KeyTable = {
  paths: ['model.optim.sched'],
  trainingOnly: true,
  honoured: ['name', 'd_model', 'warmup_steps', 'warmup_ratio', 'min_lr', 'max_steps'],
  refused: {
    constant_steps: refuseUnless("CosineAnnealing's constant phase at min_lr is not implemented", [0]),
    constant_ratio: refuseUnless("CosineAnnealing's constant phase at min_lr is not implemented", [0]),
    hold_steps: refuseUnless('a hold phase at the peak learning rate is not implemented (NoamHoldAnnealing is not either)', [0]),
    hold_ratio: refuseUnless('a hold phase at the peak learning rate is not implemented (NoamHoldAnnealing is not either)', [0]),
    last_epoch: refuseUnless('the schedule always starts at step 0 (resuming restores the step)', [-1]),
    reduce_on_plateau: refuseUnless('ReduceLROnPlateau is not implemented', [false]),
    interval: refuseUnless('the schedule advances at every optimizer step; per-epoch scheduling is not implemented', ['step']),
    frequency: refuseUnless('the schedule advances at every optimizer step', [1]),
  },
  noEffect: {
    monitor: noEffect('only with reduce_on_plateau, which is not implemented'),
    ...noEffectAll(
      ['t_max_epochs', 't_accumulate_grad_batches', 't_limit_train_batches', 't_num_workers'],
      'the schedule length is sched.max_steps or trainer.max_steps (not derived from epochs)',
    ),
  },
};

/** The schedules streamnest implements (InverseSquareRootAnnealing: NeMo's Sortformer recipes; finetune-diar only). */
export type SchedulerName = 'NoamAnnealing' | 'CosineAnnealing' | 'InverseSquareRootAnnealing';

export interface SchedulerConfig {
  readonly name: SchedulerName;
  /** NoamAnnealing: the model width in `d_model^-0.5`. */
  readonly d_model: number | null;
  /** Exactly one of warmup_steps / warmup_ratio may be set (or neither: no warm-up). */
  readonly warmup_steps: number | null;
  readonly warmup_ratio: number | null;
  readonly min_lr: number;
  /** Total steps for the schedule; null → trainer.max_steps. */
  readonly max_steps: number | null;
}

export interface OptimConfig {
  /** The training loop's optimizer is AdamW (torch.optim.AdamW, amsgrad=False). */
  readonly name: 'adamw';
  /** For NoamAnnealing a scale factor, not a learning rate. */
  readonly lr: number;
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weight_decay: number;
  /** null: constant learning rate. */
  readonly sched: SchedulerConfig | null;
}

function readScheduler(r: SectionReader, schedulers: readonly SchedulerName[], noamDModelFromEncoder: boolean): SchedulerConfig {
  r.classify(SCHED_KEYS);
  const name = r.oneOf('name', schedulers, REQUIRED);
  const warmup_steps = r.nullableInt('warmup_steps', null, { min: 0 });
  const warmup_ratio = r.nullableNumber('warmup_ratio', null, { min: 0, max: 1 });
  if (warmup_steps !== null && warmup_ratio !== null) {
    r.problem('warmup_ratio', `set either warmup_steps (${warmup_steps}) or warmup_ratio, not both`);
  }
  const d_model = r.nullableInt('d_model', null, { min: 1 });
  if (name === 'NoamAnnealing' && d_model === null && !r.has('d_model') && !noamDModelFromEncoder) r.problem('d_model', 'NoamAnnealing requires d_model');
  const c: SchedulerConfig = {
    name,
    d_model,
    warmup_steps,
    warmup_ratio,
    min_lr: r.number('min_lr', 0.0, { min: 0 }),
    max_steps: r.nullableInt('max_steps', null, { min: 1 }),
  };
  r.finish();
  return c;
}

/**
 * `schedulers`: the sched.name values the caller's training loop builds. `noamDModelFromEncoder`: NoamAnnealing
 * without d_model takes the encoder's width (fine-tuning) instead of being a problem (NeMo requires it).
 */
export function readOptimConfig(
  r: SectionReader,
  schedulers: readonly SchedulerName[] = ['NoamAnnealing', 'CosineAnnealing'],
  o: { noamDModelFromEncoder?: boolean } = {},
): OptimConfig {
  r.classify(OPTIM_KEYS);
  const name = 'adamw';
  const n = r.string('name', REQUIRED);
  if (n !== '' && n !== name)
    r.problem('name', `streamnest trains with AdamW only (the training loop has no other optimizer); use adamw; got ${describeValue(n)}`);
  let betas: [number, number] = [0.9, 0.999];
  const b = r.value('betas');
  if (b !== undefined) {
    if (Array.isArray(b) && b.length === 2 && b.every((x) => typeof x === 'number' && x >= 0 && x < 1)) betas = [b[0] as number, b[1] as number];
    else r.problem('betas', `expected [beta1, beta2] with each in [0, 1); got ${describeValue(b)}`);
  }
  const s = r.value('sched');
  const sched = s === undefined || s === null ? null : readScheduler(r.section('sched', false), schedulers, o.noamDModelFromEncoder ?? false);
  const lr = r.number('lr', REQUIRED, { min: 0, minExclusive: true });
  if (sched !== null && lr < sched.min_lr) r.problem('lr', `must be >= sched.min_lr (${sched.min_lr}); got ${lr}`);
  const config: OptimConfig = {
    name,
    lr,
    betas,
    eps: r.number('eps', 1e-8, { min: 0 }),
    weight_decay: r.number('weight_decay', 1e-2, { min: 0 }),
    sched,
  };
  r.finish();
  return config;
}
