// model.optim — optimizer and learning-rate schedule (spec 06 §1–2).

import type { SectionReader } from '../section-reader.js';
import { REQUIRED, describeValue } from '../section-reader.js';

export interface SchedulerConfig {
  readonly name: 'NoamAnnealing' | 'CosineAnnealing';
  /** NoamAnnealing: the model width in `d_model^-0.5`. */
  readonly d_model: number | null;
  /** Exactly one of warmup_steps / warmup_ratio may be set (or neither: no warm-up). */
  readonly warmup_steps: number | null;
  readonly warmup_ratio: number | null;
  readonly min_lr: number;
  /** Total steps for the schedule; null → trainer.max_steps. */
  readonly max_steps: number | null;
  /** CosineAnnealing: steps (or ratio) held at min_lr at the end. */
  readonly constant_steps: number | null;
  readonly constant_ratio: number | null;
}

export interface OptimConfig {
  readonly name: 'adamw' | 'sgd';
  /** For NoamAnnealing a scale factor, not a learning rate. */
  readonly lr: number;
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weight_decay: number;
  readonly amsgrad: boolean;
  /** SGD only. */
  readonly momentum: number;
  readonly nesterov: boolean;
  /** null: constant learning rate. */
  readonly sched: SchedulerConfig | null;
}

function readScheduler(r: SectionReader): SchedulerConfig {
  r.ignore(
    'last_epoch',
    'monitor',
    'reduce_on_plateau',
    'interval',
    'frequency',
    'hold_steps',
    'hold_ratio',
    't_max_epochs',
    't_accumulate_grad_batches',
    't_limit_train_batches',
    't_num_workers',
  );
  const name = r.oneOf('name', ['NoamAnnealing', 'CosineAnnealing'] as const, REQUIRED);
  const warmup_steps = r.nullableInt('warmup_steps', null, { min: 0 });
  const warmup_ratio = r.nullableNumber('warmup_ratio', null, { min: 0, max: 1 });
  if (warmup_steps !== null && warmup_ratio !== null) {
    r.problem('warmup_ratio', `set either warmup_steps (${warmup_steps}) or warmup_ratio, not both`);
  }
  const d_model = r.nullableInt('d_model', null, { min: 1 });
  if (name === 'NoamAnnealing' && d_model === null && !r.has('d_model')) r.problem('d_model', 'NoamAnnealing requires d_model');
  const constant_steps = r.nullableInt('constant_steps', null, { min: 0 });
  const constant_ratio = r.nullableNumber('constant_ratio', null, { min: 0, max: 1 });
  const c: SchedulerConfig = {
    name,
    d_model,
    warmup_steps,
    warmup_ratio,
    min_lr: r.number('min_lr', 0.0, { min: 0 }),
    max_steps: r.nullableInt('max_steps', null, { min: 1 }),
    constant_steps,
    constant_ratio,
  };
  r.finish();
  return c;
}

export function readOptimConfig(r: SectionReader): OptimConfig {
  r.ignore('foreach', 'fused', 'capturable', 'maximize', 'differentiable', 'dampening');
  const name = r.oneOf('name', ['adamw', 'sgd'] as const, REQUIRED);
  let betas: [number, number] = [0.9, 0.999];
  const b = r.value('betas');
  if (b !== undefined) {
    if (Array.isArray(b) && b.length === 2 && b.every((x) => typeof x === 'number' && x >= 0 && x < 1)) betas = [b[0] as number, b[1] as number];
    else r.problem('betas', `expected [beta1, beta2] with each in [0, 1); got ${describeValue(b)}`);
  }
  const s = r.value('sched');
  const sched = s === undefined || s === null ? null : readScheduler(r.section('sched', false));
  const lr = r.number('lr', REQUIRED, { min: 0, minExclusive: true });
  if (sched !== null && lr < sched.min_lr) r.problem('lr', `must be >= sched.min_lr (${sched.min_lr}); got ${lr}`);
  const config: OptimConfig = {
    name,
    lr,
    betas,
    eps: r.number('eps', 1e-8, { min: 0 }),
    weight_decay: r.number('weight_decay', name === 'adamw' ? 1e-2 : 0, { min: 0 }),
    amsgrad: r.bool('amsgrad', false),
    momentum: r.number('momentum', 0, { min: 0 }),
    nesterov: r.bool('nesterov', false),
    sched,
  };
  r.finish();
  return config;
}
