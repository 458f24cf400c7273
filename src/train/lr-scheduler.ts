// Provenance: nemo.core.optim.lr_scheduler.NoamAnnealing, CosineAnnealing (without constant/hold phases) and
// InverseSquareRootAnnealing.
// A scheduler is a pure function of the number of optimizer steps taken, so resuming needs only that count.

export interface LrScheduler {
  /** Learning rate for the optimizer step that follows `stepsTaken` completed steps (0-based). */
  lrAt(stepsTaken: number): number;
  readonly name: string;
}

export interface WarmupOptions {
  warmupSteps?: number | null;
  warmupRatio?: number | null;
  maxSteps?: number | null;
}

/** warmup_steps, or int(warmup_ratio * max_steps); giving both is an error (as NeMo asserts). */
export function resolveWarmup(o: WarmupOptions, where: string): number {
  const steps = o.warmupSteps ?? null;
  const ratio = o.warmupRatio ?? null;
  if (steps !== null && ratio !== null) throw new Error(`${where}: give warmup_steps or warmup_ratio, not both`);
  if (ratio !== null) {
    if (o.maxSteps === null || o.maxSteps === undefined || o.maxSteps <= 0) {
      throw new Error(`${where}: warmup_ratio needs trainer.max_steps (a positive step count)`);
    }
    return Math.trunc(ratio * o.maxSteps);
  }
  return steps ?? 0;
}

/**
 * NoamAnnealing: lr = base * d_model^-0.5 * min(s^-0.5, s * warmup^-1.5) with s = max(1, k);
 * floored at min_lr after warm-up. PyTorch's scheduler constructor performs step 0, so optimizer
 * steps 0 and 1 both use s = 1.
 */
export class NoamAnnealing implements LrScheduler {
  readonly name = 'NoamAnnealing';
  readonly warmupSteps: number;
  constructor(
    readonly baseLr: number,
    readonly dModel: number,
    o: WarmupOptions & { minLr?: number },
    readonly minLr = o.minLr ?? 0,
  ) {
    this.warmupSteps = resolveWarmup(o, 'NoamAnnealing');
    if (baseLr < this.minLr) throw new Error(`NoamAnnealing: base lr ${baseLr} is lower than min_lr ${this.minLr}`);
    if (!(dModel > 0)) throw new Error(`NoamAnnealing: d_model must be positive, got ${dModel}`);
  }
  lrAt(stepsTaken: number): number {
    const s = Math.max(1, stepsTaken);
    const norm = this.dModel ** -0.5;
    const mult = this.warmupSteps > 0 ? norm * Math.min(s ** -0.5, s * this.warmupSteps ** -1.5) : norm * s ** -0.5;
    let lr = this.baseLr * mult;
    if (s > this.warmupSteps) lr = Math.max(lr, this.minLr);
    return lr;
  }
}

/** CosineAnnealing with NeMo's linear warm-up (step+1)/(warmup+1), then cosine to min_lr, min_lr past max_steps. */
export class CosineAnnealing implements LrScheduler {
  readonly name = 'CosineAnnealing';
  readonly warmupSteps: number;
  readonly maxSteps: number;
  constructor(
    readonly baseLr: number,
    o: WarmupOptions & { minLr?: number; maxSteps: number },
    readonly minLr = o.minLr ?? 0,
  ) {
    this.warmupSteps = resolveWarmup(o, 'CosineAnnealing');
    this.maxSteps = o.maxSteps;
    if (!(this.maxSteps > 0)) throw new Error('CosineAnnealing: needs trainer.max_steps > 0');
    if (baseLr < this.minLr) throw new Error(`CosineAnnealing: base lr ${baseLr} is lower than min_lr ${this.minLr}`);
  }
  lrAt(step: number): number {
    if (this.warmupSteps > 0 && step <= this.warmupSteps) return (this.baseLr * (step + 1)) / (this.warmupSteps + 1);
    if (step > this.maxSteps) return this.minLr;
    const mult = 0.5 * (1 + Math.cos((Math.PI * (step - this.warmupSteps)) / (this.maxSteps - this.warmupSteps)));
    return (this.baseLr - this.minLr) * mult + this.minLr;
  }
}

/**
 * InverseSquareRootAnnealing (NeMo's Sortformer recipes): NeMo's linear warm-up (step+1)/(warmup+1), then
 * base / sqrt((step+1)/(warmup+1)); min_lr only past max_steps (as NeMo: no floor while annealing).
 */
export class InverseSquareRootAnnealing implements LrScheduler {
  readonly name = 'InverseSquareRootAnnealing';
  readonly warmupSteps: number;
  readonly maxSteps: number | null;
  constructor(
    readonly baseLr: number,
    o: WarmupOptions & { minLr?: number },
    readonly minLr = o.minLr ?? 0,
  ) {
    this.warmupSteps = resolveWarmup(o, 'InverseSquareRootAnnealing');
    this.maxSteps = o.maxSteps ?? null;
  }
  lrAt(step: number): number {
    if (this.warmupSteps > 0 && step <= this.warmupSteps) return (this.baseLr * (step + 1)) / (this.warmupSteps + 1);
    if (this.maxSteps !== null && step > this.maxSteps) return this.minLr;
    return this.baseLr / ((step + 1) / (this.warmupSteps + 1)) ** 0.5;
  }
}

/** A constant learning rate (no `sched` section). */
export class ConstantLr implements LrScheduler {
  readonly name = 'Constant';
  constructor(readonly lr: number) {}
  lrAt(): number {
    return this.lr;
  }
}

/** The keys of NeMo's `model.optim.sched` section that streamnest reads. */
export interface SchedSection {
  name: string;
  d_model?: number | null;
  warmup_steps?: number | null;
  warmup_ratio?: number | null;
  min_lr?: number | null;
  max_steps?: number | null;
}

/**
 * The scheduler for `model.optim` (`lr` plus an optional `sched` section): constant without one; max_steps comes
 * from the section or else `trainer.max_steps` (when positive); Noam's d_model defaults to the encoder's.
 */
export function schedulerFromSection(lr: number, s: SchedSection | null, trainerMaxSteps: number, encoderDModel: number): LrScheduler {
  if (!s) return new ConstantLr(lr);
  const maxSteps = s.max_steps ?? (trainerMaxSteps > 0 ? trainerMaxSteps : null);
  const warm = { warmupSteps: s.warmup_steps ?? null, warmupRatio: s.warmup_ratio ?? null, maxSteps, minLr: s.min_lr ?? 0 };
  if (s.name === 'NoamAnnealing') return new NoamAnnealing(lr, s.d_model ?? encoderDModel, warm);
  if (s.name === 'InverseSquareRootAnnealing') return new InverseSquareRootAnnealing(lr, warm);
  if (s.name === 'CosineAnnealing') {
    if (maxSteps === null) throw new Error('model.optim.sched: CosineAnnealing needs trainer.max_steps');
    return new CosineAnnealing(lr, { ...warm, maxSteps });
  }
  throw new Error(`model.optim.sched.name: ${JSON.stringify(s.name)} is not supported (NoamAnnealing, CosineAnnealing, InverseSquareRootAnnealing)`);
}
