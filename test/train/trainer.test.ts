// The trainer on a small real model (Linear -> LayerNorm -> dropout -> Linear regression): exact resume,
// NaN guard, top-k checkpoints, logs and plot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { Trainer, NonFiniteLossError, type BatchStream, type TrainTask } from '../../src/train/trainer.js';
import { ConstantLr, NoamAnnealing } from '../../src/train/lr-scheduler.js';
import { readScalarEvents } from '../../src/train/tensorboard.js';

interface Batch {
  x: t.Tensor;
  y: t.Tensor;
}

class Regressor extends t.Module {
  readonly l1: t.Linear;
  readonly norm: t.LayerNorm;
  readonly l2: t.Linear;
  constructor(g: t.Generator) {
    super();
    this.l1 = this.registerModule('l1', new t.Linear(6, 16, true, { generator: g }));
    this.norm = this.registerModule('norm', new t.LayerNorm(16));
    this.l2 = this.registerModule('l2', new t.Linear(16, 2, true, { generator: g }));
  }
}

class RegressionTask implements TrainTask<Batch> {
  readonly module: Regressor;
  readonly dropoutGen = new t.Generator(7);
  constructor(
    seed: number,
    readonly poisonSteps: Set<number> = new Set(),
  ) {
    this.module = new Regressor(new t.Generator(seed));
  }
  calls = 0;
  configYaml(): string {
    return 'target: test.Regressor\n';
  }
  trainableParameters(): t.Tensor[] {
    return this.module.parameters();
  }
  private forward(b: Batch): t.Tensor {
    const h = t.dropout(t.silu(this.module.norm.forward(this.module.l1.forward(b.x))), 0.1, this.module.training, this.dropoutGen);
    return t.mseLoss(this.module.l2.forward(h), b.y);
  }
  trainingLoss(b: Batch): { loss: t.Tensor; metrics: Record<string, number> } {
    const loss = this.forward(b);
    return { loss: this.poisonSteps.has(this.calls++) ? loss.mul(NaN) : loss, metrics: {} };
  }
  validationLoss(b: Batch): { loss: number; metrics: Record<string, number> } {
    return { loss: this.forward(b).item(), metrics: {} };
  }
  generators(): Map<string, t.Generator> {
    return new Map([['dropout', this.dropoutGen]]);
  }
  disposeBatch(b: Batch): void {
    b.x.dispose();
    b.y.dispose();
  }
}

/** Batches drawn from a generator whose state is the stream position. */
class SyntheticStream implements BatchStream<Batch> {
  private gen = new t.Generator(99);
  private index = 0;
  async next(): Promise<{ batch: Batch; epoch: number }> {
    const x = t.randn([8, 6], { generator: this.gen });
    const y = t.tidy(() => t.stack([x.sum(1), x.narrow(1, 0, 3).mean(1)], 1).tanh());
    const epoch = Math.floor(this.index++ / 10);
    return { batch: { x, y }, epoch };
  }
  state(): unknown {
    const s = this.gen.getState();
    const out = { index: this.index, gen: Array.from(s.data() as Uint8Array) };
    s.dispose();
    return out;
  }
  restore(state: unknown): void {
    const s = state as { index: number; gen: number[] };
    this.index = s.index;
    const st = t.tensor(Uint8Array.from(s.gen), [s.gen.length], { dtype: 'uint8' });
    this.gen.setState(st);
    st.dispose();
  }
}

async function* validationBatches(): AsyncIterable<Batch> {
  const g = new t.Generator(5);
  for (let i = 0; i < 2; i++) {
    const x = t.randn([8, 6], { generator: g });
    const y = t.tidy(() => t.stack([x.sum(1), x.narrow(1, 0, 3).mean(1)], 1).tanh());
    yield { x, y };
  }
}

function opts(expDir: string, maxSteps: number) {
  return {
    maxSteps,
    logEveryNSteps: 1,
    valCheckInterval: 5,
    gradientClipVal: 1.0,
    accumulateGradBatches: 1,
    maxConsecutiveNonFinite: 3,
    expDir,
    name: 'reg',
    resumeIfExists: true,
    saveTopK: 2,
    optimizer: { lr: 1, betas: [0.9, 0.98] as [number, number], weightDecay: 1e-3 },
    scheduler: new NoamAnnealing(1.0, 16, { warmupSteps: 4, minLr: 1e-5 }),
    progress: false,
    handleSignals: false,
  };
}

function params(task: RegressionTask): number[] {
  return task.module.parameters().flatMap((p) => p.toArray());
}

test('a run interrupted at step 10 and resumed equals the uninterrupted run bit for bit', async () => {
  const live = t.liveTensorCount();
  const dirA = mkdtempSync(join(tmpdir(), 'sn-train-a-'));
  const a = new RegressionTask(1);
  const ta = new Trainer(a, new SyntheticStream(), validationBatches, opts(dirA, 20));
  const ra = await ta.fit();
  assert.equal(ra.globalStep, 20);

  const dirB = mkdtempSync(join(tmpdir(), 'sn-train-b-'));
  const b1 = new RegressionTask(1);
  const tb1 = new Trainer(b1, new SyntheticStream(), validationBatches, opts(dirB, 10));
  const rb1 = await tb1.fit();
  // a fresh process would start from a differently initialised model: use another seed to prove the resume overwrites it
  const b2 = new RegressionTask(12345);
  const tb2 = new Trainer(b2, new SyntheticStream(), validationBatches, opts(dirB, 20));
  const rb2 = await tb2.fit();
  assert.equal(rb2.globalStep, 20);
  assert.deepEqual(
    [...rb1.trainLoss, ...rb2.trainLoss].map((r) => r.loss),
    ra.trainLoss.map((r) => r.loss),
    'loss sequences equal',
  );
  assert.deepEqual(params(b2), params(a), 'final weights equal');
  assert.ok(ra.trainLoss[19]!.loss < ra.trainLoss[0]!.loss, 'the loss falls');

  // logs: CSV, TensorBoard events (one file per run segment), a PNG plot, top-2 + last checkpoints
  const csv = readFileSync(join(dirB, 'reg', 'metrics.csv'), 'utf8')
    .trim()
    .split('\n');
  assert.ok(csv[0]!.includes('train_loss') && csv[0]!.includes('val_loss'));
  const events = readdirSync(join(dirB, 'reg')).filter((f) => f.startsWith('events.out.tfevents'));
  assert.ok(events.length >= 1);
  const tags = new Set(events.flatMap((f) => readScalarEvents(readFileSync(join(dirB, 'reg', f))).map((e) => e.tag)));
  assert.ok(tags.has('train_loss') && tags.has('val_loss') && tags.has('learning_rate'));
  assert.ok(rb2.plot && existsSync(rb2.plot));
  const ckpts = readdirSync(join(dirB, 'reg', 'checkpoints'));
  assert.ok(ckpts.includes('reg--last.ckpt'));
  assert.equal(ckpts.filter((f) => f.includes('val_loss=')).length, 2, `top-2 kept: ${ckpts.join(', ')}`);
  for (const task of [a, b1, b2]) task.module.dispose();
  for (const tr of [ta, tb1, tb2]) tr.dispose();
  assert.equal(t.liveTensorCount(), live, 'no tensors leaked by the trainer');
});

test('non-finite losses skip the step; too many in a row stop with a clear error and a checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sn-train-nan-'));
  const skipOne = new RegressionTask(1, new Set([2]));
  const r = await new Trainer(skipOne, new SyntheticStream(), null, { ...opts(dir, 6), scheduler: new ConstantLr(1e-2) }).fit();
  assert.equal(r.globalStep, 6);
  assert.ok(r.trainLoss.every((x) => Number.isFinite(x.loss)));
  assert.equal(r.trainLoss.length, 5, 'the poisoned step was skipped');
  const before = params(skipOne);
  assert.ok(before.every(Number.isFinite), 'weights stay finite');

  const dir2 = mkdtempSync(join(tmpdir(), 'sn-train-nan2-'));
  const bad = new RegressionTask(1, new Set([3, 4, 5, 6]));
  await assert.rejects(
    new Trainer(bad, new SyntheticStream(), null, { ...opts(dir2, 20), scheduler: new ConstantLr(1e-2) }).fit(),
    (e: unknown) => e instanceof NonFiniteLossError && /3 consecutive steps/.test((e as Error).message),
  );
  assert.ok(existsSync(join(dir2, 'reg', 'checkpoints', 'reg--last.ckpt')));
  skipOne.module.dispose();
  bad.module.dispose();
});

test('trainer: section -> loop options (Lightning semantics: <= 0 unlimited, val_check_interval < 1 is a fraction of an epoch)', async () => {
  const { trainerLoopOptions } = await import('../../src/train/trainer.js');
  const base = { max_steps: 200, max_epochs: -1, val_check_interval: 50, log_every_n_steps: 10, gradient_clip_val: 0, accumulate_grad_batches: 1 };
  const a = trainerLoopOptions(base, 8);
  assert.equal(a.maxSteps, 200);
  assert.equal(a.maxEpochs, null);
  assert.equal(a.valCheckInterval, 50);
  assert.equal(trainerLoopOptions({ ...base, max_steps: -1, max_epochs: 3 }, 8).maxSteps, Number.MAX_SAFE_INTEGER);
  assert.equal(trainerLoopOptions({ ...base, max_steps: -1, max_epochs: 3 }, 8).maxEpochs, 3);
  assert.equal(trainerLoopOptions({ ...base, val_check_interval: 0.5 }, 8).valCheckInterval, 4);
  assert.equal(trainerLoopOptions({ ...base, val_check_interval: 0.01 }, 8).valCheckInterval, 1);
});
