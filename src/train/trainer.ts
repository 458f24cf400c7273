// The training loop: AdamW + LR schedule, gradient accumulation and clipping, NaN/Inf guard, validation,
// atomic checkpoints with exact resume, progress bar, TensorBoard + CSV logs, a loss plot, signals.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import * as t from '../torch/index.js';
import type { TrainingPrecision } from '../config/schema/trainer.js';
import { collectDisposedHandles } from '../torch/startup.js';
import { linePlot } from '../plot/index.js';
import { CheckpointManager, loadTrainingCheckpoint, type TrainerProgress } from './checkpoint.js';
import type { LrScheduler } from './lr-scheduler.js';
import { CsvLog, MetricsLogger } from './metrics-log.js';
import { ProgressBar } from './progress.js';

/** What the trainer needs from a model (the NEST model, a CTC model, ...). */
export interface TrainTask<B> {
  /** The whole model: its state dict is what checkpoints hold; train()/eval() switch modes. */
  readonly module: t.Module;
  /** The model's config as NeMo-layout YAML (the `model:` section), stored in checkpoints. */
  configYaml(): string;
  /** Files stored beside the weights in checkpoints and the final .nemo (NeMo's artifacts, e.g. a tokenizer), by member name. */
  artifacts?(): Map<string, Uint8Array>;
  /** Parameters the optimizer updates (frozen ones excluded). */
  trainableParameters(): t.Tensor[];
  /** Forward pass in training mode; the returned loss keeps its graph. Called inside a tidy scope. `step`: optimizer steps taken so far. */
  trainingLoss(batch: B, step: number): { loss: t.Tensor; metrics: Record<string, number> };
  /** Forward pass in eval mode without gradients. */
  validationLoss(batch: B): { loss: number; metrics: Record<string, number> };
  /** Training metrics shown on the progress line, by metric name -> short label (e.g. target_perplexity -> tgt_ppl). */
  readonly progressMetrics?: Readonly<Record<string, string>>;
  /** Named generators whose state is saved and restored with checkpoints. */
  generators(): Map<string, t.Generator>;
  /** Frees tensors a batch holds. */
  disposeBatch(batch: B): void;
}

/** An endless stream of training batches with a resumable position. */
export interface BatchStream<B> {
  next(): Promise<{ batch: B; epoch: number }>;
  state(): unknown;
  restore(state: unknown): void;
}

export interface TrainerOptions {
  maxSteps: number;
  maxEpochs?: number | null;
  logEveryNSteps: number;
  valCheckInterval: number;
  gradientClipVal: number;
  accumulateGradBatches: number;
  /** Stop after this many consecutive steps with a non-finite loss (each such step is skipped). */
  maxConsecutiveNonFinite: number;
  expDir: string;
  name: string;
  resumeIfExists: boolean;
  saveTopK: number;
  optimizer: t.AdamWOptions;
  scheduler: LrScheduler;
  processGroup?: t.ProcessGroup | null;
  /** Print a progress bar (rank 0 only). */
  progress?: boolean;
  /** The progress bar's label (e.g. 'pretrain', 'finetune'). */
  progressLabel?: string;
  /** Handle SIGINT/SIGTERM: checkpoint and exit cleanly; a second signal exits at once. */
  handleSignals?: boolean;
  /** Write TensorBoard event files beside metrics.csv (exp_manager.create_tensorboard_logger; default true). */
  tensorboard?: boolean;
  /** trainer.precision: bf16-mixed runs the forward passes under CPU bfloat16 autocast (default 32-true). */
  precision?: TrainingPrecision;
}

/** NeMo/Lightning `trainer:` keys the training loop reads (shared by the NEST and CTC configs). */
export interface TrainerSection {
  max_steps: number;
  max_epochs: number;
  val_check_interval: number;
  log_every_n_steps: number;
  gradient_clip_val: number;
  accumulate_grad_batches: number;
  precision?: TrainingPrecision;
}

/**
 * The loop options a `trainer:` section gives. As in Lightning, max_steps/max_epochs <= 0 mean unlimited, and
 * a val_check_interval below 1 is a fraction of a training epoch (`batchesPerEpoch` batches), at least 1 step.
 */
export function trainerLoopOptions(
  tr: TrainerSection,
  batchesPerEpoch: number,
): Pick<
  TrainerOptions,
  'maxSteps' | 'maxEpochs' | 'logEveryNSteps' | 'valCheckInterval' | 'gradientClipVal' | 'accumulateGradBatches' | 'maxConsecutiveNonFinite' | 'precision'
> {
  return {
    maxSteps: tr.max_steps > 0 ? tr.max_steps : Number.MAX_SAFE_INTEGER,
    maxEpochs: tr.max_epochs > 0 ? tr.max_epochs : null,
    logEveryNSteps: tr.log_every_n_steps,
    valCheckInterval: tr.val_check_interval >= 1 ? Math.floor(tr.val_check_interval) : Math.max(1, Math.round(tr.val_check_interval * batchesPerEpoch)),
    gradientClipVal: tr.gradient_clip_val,
    accumulateGradBatches: tr.accumulate_grad_batches,
    maxConsecutiveNonFinite: 10,
    precision: tr.precision ?? '32-true',
  };
}

/** The run-log line naming the precision a run trains in. */
export function precisionDescription(p: TrainingPrecision): string {
  return p === 'bf16-mixed'
    ? 'precision bf16-mixed: forward passes under bfloat16 autocast on the CPU (matmul, linear, conv in bfloat16; features, targets, log-softmax and loss in float32); float32 weights, gradients and optimizer state'
    : 'precision 32-true: float32 throughout';
}

export interface TrainResult {
  globalStep: number;
  stoppedBy: 'max_steps' | 'max_epochs' | 'signal' | 'non_finite';
  lastCheckpoint: string | null;
  bestCheckpoint: string | null;
  trainLoss: { step: number; loss: number }[];
  valLoss: { step: number; loss: number }[];
  logDir: string;
  plot: string | null;
}

export class NonFiniteLossError extends Error {}

/** One rank's own resumable position (data stream + generators), kept in checkpoints as progress.extra.ranks[rank]. */
interface RankState {
  sampler: unknown;
  /** Generator states (task generators and '__default__'), base64 bytes. */
  rng: Record<string, string>;
}

export class Trainer<B> {
  readonly logDir: string;
  readonly checkpoints: CheckpointManager;
  private readonly optimizer: t.AdamW;
  private progress: TrainerProgress;
  private stopRequested = false;
  private readonly rank: number;

  constructor(
    readonly task: TrainTask<B>,
    readonly train: BatchStream<B>,
    readonly validation: (() => AsyncIterable<B>) | null,
    readonly o: TrainerOptions,
  ) {
    this.rank = o.processGroup?.rank ?? 0;
    this.logDir = join(o.expDir, o.name);
    this.checkpoints = new CheckpointManager(join(this.logDir, 'checkpoints'), o.name, o.saveTopK);
    this.optimizer = new t.AdamW(task.trainableParameters(), o.optimizer);
    this.progress = { globalStep: 0, epoch: 0, nanSkips: 0, sampler: null, best: [] };
    if (o.accumulateGradBatches < 1) throw new RangeError('trainer.accumulate_grad_batches must be at least 1');
  }

  /** Frees the optimizer state (the model belongs to the task). */
  dispose(): void {
    this.optimizer.dispose();
  }

  private get isMain(): boolean {
    return this.rank === 0;
  }

  /** Restores model, optimizer, RNGs, sampler and counters from a training checkpoint. */
  resumeFrom(path: string): void {
    const c = loadTrainingCheckpoint(path);
    try {
      this.task.module.loadStateDict(c.stateDict);
      this.optimizer.loadStateDict(c.optimizer);
      const gens = this.task.generators();
      for (const [name, g] of gens) {
        const s = c.rngStates.get(name);
        if (!s) throw new Error(`${path}: no saved state for generator '${name}'`);
        g.setState(s);
      }
      const def = c.rngStates.get('__default__');
      if (def) t.setDefaultGeneratorState(def);
      this.train.restore(c.progress.sampler);
      this.progress = c.progress;
      this.restoreRankState(path, gens);
    } finally {
      for (const x of c.stateDict.values()) x.dispose();
      for (const s of c.optimizer.state.values()) {
        s.exp_avg.dispose();
        s.exp_avg_sq.dispose();
      }
      for (const x of c.rngStates.values()) x.dispose();
    }
  }

  private get world(): number {
    return this.o.processGroup?.worldSize ?? 1;
  }

  /** The process group when there are several ranks, else null. */
  private get distributedGroup(): t.ProcessGroup | null {
    const pg = this.o.processGroup;
    return pg && pg.worldSize > 1 ? pg : null;
  }

  /**
   * With several ranks, each rank's data-stream position and generator states differ (its own shard, its own
   * random draws); all of them are gathered to rank 0 and saved so that every rank resumes exactly. Collective.
   */
  private gatherRankStates(): RankState[] | null {
    const pg = this.o.processGroup;
    if (!pg || pg.worldSize === 1) return null;
    const rng: Record<string, string> = {};
    const gens: [string, t.Tensor][] = [...this.task.generators()].map(([n, g]) => [n, g.getState()]);
    gens.push(['__default__', t.defaultGeneratorState()]);
    for (const [n, st] of gens) {
      rng[n] = Buffer.from(st.data() as Uint8Array).toString('base64');
      st.dispose();
    }
    return pg.allgatherJson<RankState>({ sampler: this.train.state(), rng });
  }

  private restoreRankState(path: string, gens: Map<string, t.Generator>): void {
    if (this.world === 1) return;
    const ranks = this.progress.extra?.ranks as RankState[] | undefined;
    if (!Array.isArray(ranks) || ranks.length !== this.world) {
      if (this.isMain) {
        process.stderr.write(
          `streamnest: WARNING: ${path} holds per-rank data/RNG positions for ${Array.isArray(ranks) ? ranks.length : 1} rank(s), this run has ${this.world}: ` +
            `every rank resumes from rank 0's position (the run continues, but not exactly as an uninterrupted one)\n`,
        );
      }
      return;
    }
    const mine = ranks[this.rank]!;
    this.train.restore(mine.sampler);
    for (const [name, b64] of Object.entries(mine.rng)) {
      const bytes = Buffer.from(b64, 'base64');
      const st = t.tensor(new Uint8Array(bytes), [bytes.length], { dtype: 'uint8' });
      try {
        if (name === '__default__') t.setDefaultGeneratorState(st);
        else {
          const g = gens.get(name);
          if (!g) throw new Error(`${path}: rank ${this.rank} has a saved state for unknown generator '${name}'`);
          g.setState(st);
        }
      } finally {
        st.dispose();
      }
    }
  }

  private saveCheckpoint(score?: number): string | null {
    const ranks = this.gatherRankStates();
    if (!this.isMain) return null;
    const rng = new Map<string, t.Tensor>();
    for (const [name, g] of this.task.generators()) rng.set(name, g.getState());
    rng.set('__default__', t.defaultGeneratorState());
    const opt = this.optimizer.stateDict();
    try {
      const { last, best } = this.checkpoints.save(
        {
          configYaml: this.task.configYaml(),
          stateDict: this.task.module.stateDict(),
          artifacts: this.task.artifacts?.(),
          optimizer: opt,
          rngStates: rng,
          progress: { ...this.progress, sampler: this.train.state(), ...(ranks ? { extra: { ...this.progress.extra, ranks } } : {}) },
        },
        score,
      );
      this.progress.best = best;
      return last;
    } finally {
      for (const x of rng.values()) x.dispose();
    }
  }

  /** Mean validation loss over batches (all ranks), and each task metric's mean over this rank's batches. */
  private async validate(): Promise<{ loss: number; metrics: Record<string, number> }> {
    if (!this.validation) return { loss: NaN, metrics: {} };
    this.task.module.eval();
    let sum = 0;
    let n = 0;
    const metricSums = new Map<string, { sum: number; n: number }>();
    try {
      for await (const batch of this.validation()) {
        const r = t.noGrad(() => t.tidy(() => this.inPrecision(() => this.task.validationLoss(batch))));
        this.task.disposeBatch(batch);
        if (Number.isFinite(r.loss)) {
          sum += r.loss;
          n++;
        }
        for (const [k, v] of Object.entries(r.metrics)) {
          if (!Number.isFinite(v)) continue;
          const a = metricSums.get(k) ?? { sum: 0, n: 0 };
          metricSums.set(k, { sum: a.sum + v, n: a.n + 1 });
        }
      }
    } finally {
      this.task.module.train();
    }
    let mean = n ? sum / n : NaN;
    if (this.o.processGroup && this.o.processGroup.worldSize > 1) {
      const x = t.tensor([sum, n], [2], { dtype: 'float64' });
      this.o.processGroup.allreduce([x]);
      const [s, c] = x.toArray();
      x.dispose();
      mean = c! > 0 ? s! / c! : NaN;
    }
    const metrics: Record<string, number> = {};
    for (const [k, a] of metricSums) metrics[`val_${k}`] = a.sum / a.n;
    return { loss: mean, metrics };
  }

  async fit(): Promise<TrainResult> {
    mkdirSync(this.logDir, { recursive: true });
    if (this.o.resumeIfExists) this.resumeFromLastCheckpoint();
    this.agreeOnResumeAcrossRanks();
    const run = this.startRun();
    const removeSignalHandlers = this.installSignalHandlers();
    this.task.module.train();
    try {
      while (this.progress.globalStep < this.o.maxSteps) {
        await yieldBetweenSteps();
        if (this.stopRequested) {
          run.stoppedBy = 'signal';
          break;
        }
        const step = this.progress.globalStep;
        const lr = this.o.scheduler.lrAt(step);
        this.optimizer.lr = lr;
        const micro = await this.runMicroBatches(step);
        const { finite, epochEnded } = this.agreeAcrossRanks(Number.isFinite(micro.loss), micro.epochEnded);
        if (epochEnded) {
          this.optimizer.zeroGrad();
          run.stoppedBy = 'max_epochs';
          break;
        }
        if (!finite) {
          this.skipNonFiniteStep(run, micro.loss, step);
          continue;
        }
        this.optimizerStep(run, micro, lr);
        await this.validateAndCheckpointAtInterval(run);
      }
      this.saveFinalCheckpoint(run);
    } finally {
      removeSignalHandlers();
      run.logger?.close();
    }
    return this.finishRun(run);
  }

  /** Loads the newest checkpoint in the run's folder, if there is one (resume_if_exists). */
  private resumeFromLastCheckpoint(): void {
    if (this.isMain) this.checkpoints.cleanStaleTemporaries();
    const last = this.checkpoints.findLast();
    if (!last) return;
    this.resumeFrom(last);
    if (this.isMain) process.stderr.write(`streamnest: resumed from ${last} at step ${this.progress.globalStep}\n`);
  }

  /** With several ranks: checks that all resumed from the same step, and on a fresh start gives all rank 0's weights. Collective. */
  private agreeOnResumeAcrossRanks(): void {
    const pg = this.distributedGroup;
    if (!pg) return;
    // every rank must resume from the same step (a rank that cannot see rank 0's checkpoint folder would start over)
    const steps = pg.allgatherJson(this.progress.globalStep);
    if (steps.some((s) => s !== steps[0])) {
      throw new Error(
        `distributed resume: the ranks start from different steps (${steps.map((s, r) => `rank ${r}: ${s}`).join(', ')}); ` +
          `every rank must see the same checkpoint folder ${this.checkpoints.dir} (a shared file system)`,
      );
    }
    if (this.progress.globalStep === 0) pg.broadcastParameters([...this.task.module.stateDict().values()]);
  }

  /** The state one fit() call keeps between steps; the metrics logger and progress bar live on rank 0 only. */
  private startRun(): FitRun {
    return {
      logger: this.isMain ? new MetricsLogger(this.logDir, this.o.tensorboard ?? true) : null,
      bar: this.isMain && this.o.progress !== false ? new ProgressBar(this.o.progressLabel ?? 'train') : null,
      trainLoss: [],
      valLoss: [],
      stoppedBy: 'max_steps',
      consecutiveNonFinite: 0,
    };
  }

  /**
   * Installs the SIGINT/SIGTERM handlers (unless handleSignals is false): the first signal asks the loop to
   * checkpoint and stop, a second one exits at once with 130. Returns the function that removes them.
   */
  private installSignalHandlers(): () => void {
    if (this.o.handleSignals === false) return () => {};
    const onSignal = (sig: string): void => {
      if (this.stopRequested) {
        process.stderr.write(`\nstreamnest: second ${sig}, exiting now\n`);
        process.exit(130);
      }
      this.stopRequested = true;
      process.stderr.write(`\nstreamnest: ${sig} received, writing a checkpoint and stopping (send again to exit at once)\n`);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    return () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
  }

  /**
   * One training step's micro-batches (gradient accumulation): forward, loss and backward for each, in a tidy
   * scope. Returns the mean loss, the last micro-batch's metrics and whether an epoch limit was reached.
   */
  private async runMicroBatches(step: number): Promise<MicroBatchesResult> {
    const o = this.o;
    let lossSum = 0;
    let metrics: Record<string, number> = {};
    let epochEnded = false;
    for (let micro = 0; micro < o.accumulateGradBatches; micro++) {
      const { batch, epoch } = await this.train.next();
      if (epoch !== this.progress.epoch) {
        this.progress.epoch = epoch;
        if (o.maxEpochs !== undefined && o.maxEpochs !== null && o.maxEpochs > 0 && epoch >= o.maxEpochs) epochEnded = true;
      }
      const r = t.tidy(() => {
        // only the forward pass runs under autocast; backward follows the graph's casts back to the float32 parameters
        const { loss, metrics: m } = this.inPrecision(() => this.task.trainingLoss(batch, step));
        const scaled = o.accumulateGradBatches > 1 ? loss.div(o.accumulateGradBatches) : loss;
        const value = loss.item();
        if (Number.isFinite(value)) scaled.backward();
        return { value, m };
      });
      this.task.disposeBatch(batch);
      lossSum += r.value;
      metrics = r.m;
    }
    return { loss: lossSum / o.accumulateGradBatches, metrics, epochEnded };
  }

  /** Runs a forward pass in the run's precision (bf16-mixed: under CPU bfloat16 autocast, the loss returned in float32). */
  private inPrecision<R extends { loss: t.Tensor | number }>(forward: () => R): R {
    if (this.o.precision !== 'bf16-mixed') return forward();
    const r = t.autocast({ device: 'cpu', dtype: 'bfloat16' }, forward);
    return typeof r.loss === 'number' || r.loss.dtype === 'float32' ? r : { ...r, loss: r.loss.to({ dtype: 'float32' }) };
  }

  /** This rank's finite / stop / epoch-ended flags, made the same on every rank (any rank's flag wins). Collective. */
  private agreeAcrossRanks(finite: boolean, epochEnded: boolean): { finite: boolean; epochEnded: boolean } {
    const pg = this.distributedGroup;
    if (!pg) return { finite, epochEnded };
    // every rank must agree to skip (or the collectives diverge), to end at an epoch limit reached by any
    // rank's shard, and to stop after this step on a signal
    const flag = t.tensor([finite ? 0 : 1, this.stopRequested ? 1 : 0, epochEnded ? 1 : 0]);
    pg.allreduce([flag], 'max');
    const [nonFinite, stop, ended] = flag.toArray();
    if (stop === 1) this.stopRequested = true;
    flag.dispose();
    return { finite: nonFinite === 0, epochEnded: ended === 1 };
  }

  /** Drops the step's gradients after a non-finite loss; too many such steps in a row checkpoint and throw. */
  private skipNonFiniteStep(run: FitRun, loss: number, step: number): void {
    this.optimizer.zeroGrad();
    this.progress.nanSkips++;
    run.consecutiveNonFinite++;
    process.stderr.write(`\nstreamnest: non-finite loss (${loss}) at step ${step}; step skipped (${run.consecutiveNonFinite} in a row)\n`);
    if (run.consecutiveNonFinite >= this.o.maxConsecutiveNonFinite) {
      run.stoppedBy = 'non_finite';
      this.saveCheckpoint();
      throw new NonFiniteLossError(
        `training stopped: ${run.consecutiveNonFinite} consecutive steps had a non-finite loss (last at step ${step}). ` +
          'Lower the learning rate, check the data (skip_bad_audio), or enable gradient clipping.',
      );
    }
    this.progress.globalStep++;
  }

  /** Averages (across ranks) and clips the gradients, steps the optimizer, counts the step and reports it. */
  private optimizerStep(run: FitRun, micro: MicroBatchesResult, lr: number): void {
    run.consecutiveNonFinite = 0;
    const params = this.optimizer.params;
    this.distributedGroup?.averageGradients(params);
    let gradNorm = NaN;
    if (this.o.gradientClipVal > 0) gradNorm = t.clipGradNorm(params, this.o.gradientClipVal);
    this.optimizer.step();
    this.optimizer.zeroGrad();
    this.progress.globalStep++;
    run.trainLoss.push({ step: this.progress.globalStep, loss: micro.loss });
    this.reportStep(run, micro, lr, gradNorm);
  }

  /** Logs a finished step (every logEveryNSteps steps, and the first) and updates the progress bar. */
  private reportStep(run: FitRun, { loss, metrics }: MicroBatchesResult, lr: number, gradNorm: number): void {
    const o = this.o;
    const gs = this.progress.globalStep;
    if (run.logger && (gs % o.logEveryNSteps === 0 || gs === 1)) {
      run.logger.log(gs, {
        train_loss: loss,
        learning_rate: lr,
        global_step: gs,
        epoch: this.progress.epoch,
        ...metrics,
        ...(Number.isFinite(gradNorm) ? { grad_norm: gradNorm } : {}),
      });
    }
    const shown = Object.entries(this.task.progressMetrics ?? {}).filter(([k]) => Number.isFinite(metrics[k]));
    run.bar?.update(
      {
        step: gs,
        total: o.maxSteps,
        loss,
        lr,
        extra: {
          epoch: this.progress.epoch,
          ...Object.fromEntries(shown.map(([k, label]) => [label, metrics[k]!])),
          precision: this.o.precision ?? '32-true',
        },
      },
      o.logEveryNSteps,
    );
  }

  /** Every valCheckInterval steps and at max_steps: validates, logs val_loss and saves a checkpoint scored by it. */
  private async validateAndCheckpointAtInterval(run: FitRun): Promise<void> {
    const gs = this.progress.globalStep;
    if (gs % this.o.valCheckInterval !== 0 && gs < this.o.maxSteps) return;
    const { loss: v, metrics: vm } = await this.validate();
    if (Number.isFinite(v)) {
      run.valLoss.push({ step: gs, loss: v });
      run.logger?.log(gs, { val_loss: v, ...vm });
    }
    this.saveCheckpoint(Number.isFinite(v) ? v : undefined);
  }

  /** The checkpoint at the end of the loop, unless the last step's validation already wrote it. */
  private saveFinalCheckpoint(run: FitRun): void {
    if (run.stoppedBy !== 'max_steps' || run.trainLoss.length === 0 || this.progress.globalStep % this.o.valCheckInterval !== 0) this.saveCheckpoint();
  }

  /** Closes the progress bar, draws the loss plot and collects the result. */
  private finishRun(run: FitRun): TrainResult {
    run.bar?.done(`streamnest: stopped at step ${this.progress.globalStep} (${run.stoppedBy}); logs in ${this.logDir}`);
    let plot: string | null = null;
    if (this.isMain) plot = writeLossPlot(this.logDir, this.o.name);
    return {
      globalStep: this.progress.globalStep,
      stoppedBy: run.stoppedBy,
      lastCheckpoint: this.isMain ? this.checkpoints.lastPath : null,
      bestCheckpoint: this.isMain ? this.checkpoints.bestPath(this.progress.best) : null,
      trainLoss: run.trainLoss,
      valLoss: run.valLoss,
      logDir: this.logDir,
      plot,
    };
  }
}

/** What one fit() call keeps between steps. */
interface FitRun {
  readonly logger: MetricsLogger | null;
  readonly bar: ProgressBar | null;
  readonly trainLoss: { step: number; loss: number }[];
  readonly valLoss: { step: number; loss: number }[];
  stoppedBy: TrainResult['stoppedBy'];
  consecutiveNonFinite: number;
}

/** One training step's micro-batches: their mean loss, the last one's metrics, and whether an epoch limit was reached. */
interface MicroBatchesResult {
  loss: number;
  metrics: Record<string, number>;
  epochEnded: boolean;
}

/** Runs between two training steps: frees dead tensor-handle wrappers, then lets the event loop turn. */
function yieldBetweenSteps(): Promise<void> {
  // A young-generation GC first lets V8 release the wrappers of the step's disposed tensor handles (their
  // native tensors are already freed); without it they pile up for hundreds of steps (BENCHMARKS.md:
  // transformer_step RSS 565-820 MB and growing vs 336 MB flat). STREAMNEST_STEP_GC=0 turns it off.
  if (process.env.STREAMNEST_STEP_GC !== '0') collectDisposedHandles();
  // let the event loop turn once per step: signal handlers run only then, and a loader whose batches are
  // ready resolves next() through microtasks alone, so without this a SIGINT/SIGTERM was never seen
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/** Draws train_loss and val_loss from the run's metrics.csv (whole history, resumed runs included). */
export function writeLossPlot(logDir: string, name: string): string | null {
  let rows: Record<string, number>[];
  try {
    rows = CsvLog.read(join(logDir, 'metrics.csv'));
  } catch {
    return null;
  }
  const train = rows.filter((r) => Number.isFinite(r.train_loss));
  const val = rows.filter((r) => Number.isFinite(r.val_loss));
  if (!train.length) return null;
  const series = [{ name: 'train_loss', x: train.map((r) => r.step!), y: train.map((r) => r.train_loss!) }];
  if (val.length) series.push({ name: 'val_loss', x: val.map((r) => r.step!), y: val.map((r) => r.val_loss!) });
  const path = join(logDir, 'loss.png');
  linePlot(series, { title: `${name}: loss`, xLabel: 'step', yLabel: 'loss' }).save(path);
  return path;
}
