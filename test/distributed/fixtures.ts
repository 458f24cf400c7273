// Shared pieces of the data-parallel tests: a small real model (Linear -> LayerNorm -> dropout -> Linear
// regression, as in the trainer test), a synthetic batch sequence sharded by rank, and the process launcher.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { accessSync, constants, statfsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as t from '../../src/torch/index.js';
import type { BatchStream, TrainTask } from '../../src/train/trainer.js';
import { ConstantLr } from '../../src/train/lr-scheduler.js';

/**
 * Whether 2 ranks on this machine sum through shared memory: STREAMNEST_SHM_ALLREDUCE is not 0 and /dev/shm is
 * writable with room for the smallest regions (SharedMemoryReducer.open: 64 Ki floats per region, 4 regions, in at most
 * a quarter of the free room). Elsewhere Gloo does everything, and the tests expect that instead.
 */
export function sharedMemoryUsable(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.STREAMNEST_SHM_ALLREDUCE === '0') return false;
  try {
    accessSync('/dev/shm', constants.W_OK);
    const s = statfsSync('/dev/shm');
    return Math.floor((s.bavail * s.bsize) / 4 / 4 / 4) >= 64 * 1024;
  } catch {
    return false;
  }
}

export interface Batch {
  x: t.Tensor;
  y: t.Tensor;
}

export class Regressor extends t.Module {
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

/** MSE (a mean over equal-sized items), so the mean of two ranks' losses is the loss of their concatenation. */
export class RegressionTask implements TrainTask<Batch> {
  readonly module: Regressor;
  readonly dropoutGen: t.Generator;
  constructor(
    seed: number,
    readonly dropoutP = 0,
    dropoutSeed = 7,
  ) {
    this.module = new Regressor(new t.Generator(seed));
    this.dropoutGen = new t.Generator(dropoutSeed);
  }
  configYaml(): string {
    return 'target: test.Regressor\n';
  }
  trainableParameters(): t.Tensor[] {
    return this.module.parameters();
  }
  private forward(b: Batch): t.Tensor {
    const h = t.dropout(t.silu(this.module.norm.forward(this.module.l1.forward(b.x))), this.dropoutP, this.module.training, this.dropoutGen);
    return t.mseLoss(this.module.l2.forward(h), b.y);
  }
  trainingLoss(b: Batch): { loss: t.Tensor; metrics: Record<string, number> } {
    return { loss: this.forward(b), metrics: {} };
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

/**
 * The common seeded sequence of 8-item batches; rank r of W takes every W-th batch (starting at r), and
 * `group` > 1 concatenates that many consecutive ones (the single-process run with the multiplied batch).
 */
export class ShardedStream implements BatchStream<Batch> {
  private gen = new t.Generator(99);
  private index = 0;
  constructor(
    readonly rank = 0,
    readonly world = 1,
    readonly group = 1,
  ) {}
  private draw(): Batch {
    const x = t.randn([8, 6], { generator: this.gen });
    const y = t.tidy(() => t.stack([x.sum(1), x.narrow(1, 0, 3).mean(1)], 1).tanh());
    this.index++;
    return { x, y };
  }
  async next(): Promise<{ batch: Batch; epoch: number }> {
    const parts: Batch[] = [];
    while (parts.length < this.group) {
      const mine = this.index % this.world === this.rank;
      const b = this.draw();
      if (mine) parts.push(b);
      else {
        b.x.dispose();
        b.y.dispose();
      }
    }
    if (parts.length === 1) return { batch: parts[0]!, epoch: 0 };
    const batch = { x: t.cat(parts.map((p) => p.x)), y: t.cat(parts.map((p) => p.y)) };
    for (const p of parts) {
      p.x.dispose();
      p.y.dispose();
    }
    return { batch, epoch: 0 };
  }
  state(): unknown {
    const s = this.gen.getState();
    const out = { index: this.index, gen: Buffer.from(s.data() as Uint8Array).toString('base64') };
    s.dispose();
    return out;
  }
  restore(state: unknown): void {
    const s = state as { index: number; gen: string };
    this.index = s.index;
    const bytes = Buffer.from(s.gen, 'base64');
    const st = t.tensor(new Uint8Array(bytes), [bytes.length], { dtype: 'uint8' });
    this.gen.setState(st);
    st.dispose();
  }
}

export async function* validationBatches(): AsyncIterable<Batch> {
  const g = new t.Generator(5);
  for (let i = 0; i < 2; i++) {
    const x = t.randn([8, 6], { generator: g });
    const y = t.tidy(() => t.stack([x.sum(1), x.narrow(1, 0, 3).mean(1)], 1).tanh());
    yield { x, y };
  }
}

export function trainerOptions(expDir: string, maxSteps: number, pg: t.ProcessGroup | null) {
  return {
    maxSteps,
    logEveryNSteps: 1,
    valCheckInterval: 3,
    gradientClipVal: 1.0,
    accumulateGradBatches: 1,
    maxConsecutiveNonFinite: 3,
    expDir,
    name: 'reg',
    resumeIfExists: true,
    saveTopK: 1,
    optimizer: { lr: 0.05, betas: [0.9, 0.98] as [number, number], weightDecay: 1e-3 },
    scheduler: new ConstantLr(0.05),
    processGroup: pg,
    progress: false,
    handleSignals: false,
  };
}

/**
 * A port that was free a moment ago (the OS picks it for a listener on port 0, which is then closed). Another
 * process can take it before rank 0's TCPStore binds it: start workers with launchWorkers, which retries on that.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface WorkerRun {
  rank: number;
  child: ChildProcess;
  /** Resolves with the exit code (or signal), stdout and stderr. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }>;
}

/** Starts `world` processes of worker.js (compiled next to this file) with torchrun's variables set. */
export function startWorkers(world: number, port: number, args: string[], env: Record<string, string> = {}): WorkerRun[] {
  const script = fileURLToPath(new URL('./worker.js', import.meta.url));
  return [...Array(world).keys()].map((rank) => {
    const start = Date.now();
    const child = spawn(process.execPath, [script, ...args], {
      env: {
        ...process.env,
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
        RANK: String(rank),
        WORLD_SIZE: String(world),
        STREAMNEST_THREADS: '1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - start })),
    );
    return { rank, child, done };
  });
}

/** Rank 0's TCPStore could not bind the port (another process took it after freePort closed it). */
export function portTaken(r: { code: number | null; stderr: string }): boolean {
  return r.code !== 0 && /could not join the process group at [^\n]*Address already in use/.test(r.stderr);
}

export interface LaunchOptions {
  env?: Record<string, string>;
  /**
   * Resolves once the workers are under way (e.g. rank 1 printed its RESULT after joining); without it, the launch
   * counts as under way once rank 0 has exited without a bind failure.
   */
  ready?: (runs: WorkerRun[]) => Promise<unknown>;
  /** Whole starts tried before giving up (default 5). */
  tries?: number;
  /** Where the port comes from (default freePort). */
  pickPort?: () => Promise<number>;
}

/**
 * startWorkers on a port from freePort, retried as a whole when rank 0 fails to bind it: the store's port cannot be
 * 0 with several ranks (the others must know it in advance), so the free port is closed before rank 0 binds it and
 * a concurrent test or process may take it in between. On such a failure every rank of that start is killed (a rank
 * may have connected to whoever holds the port) and a new port is tried, at most `tries` times.
 */
export async function launchWorkers(world: number, args: string[], o: LaunchOptions = {}): Promise<{ runs: WorkerRun[]; attempts: number }> {
  const tries = o.tries ?? 5;
  const failures: string[] = [];
  for (let attempt = 1; attempt <= tries; attempt++) {
    const port = await (o.pickPort ?? freePort)();
    const runs = startWorkers(world, port, args, o.env);
    const rank0 = runs[0]!.done.then((r) => (portTaken(r) ? r : null));
    const outcome = await Promise.race([rank0, ...(o.ready ? [o.ready(runs).then(() => null)] : [])]);
    if (outcome === null) return { runs, attempts: attempt };
    failures.push(`port ${port}: ${outcome.stderr.split('\n').find((l) => /could not join/.test(l)) ?? outcome.stderr}`);
    for (const r of runs) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await Promise.all(runs.map((r) => r.done));
  }
  throw new Error(`${world} workers could not start in ${tries} tries, the port being taken each time:\n${failures.join('\n')}`);
}

/** Resolves when the worker prints `mark` on stdout. */
export function printed(run: WorkerRun, mark: string): Promise<void> {
  return new Promise<void>((resolve) => {
    let seen = '';
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(mark)) {
        run.child.stdout!.off('data', onData);
        resolve();
      }
    };
    run.child.stdout!.on('data', onData);
  });
}

/** The JSON a worker printed on its `RESULT ` line. */
export function resultOf(stdout: string): unknown {
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`no RESULT line in worker output:\n${stdout}`);
  return JSON.parse(line.slice('RESULT '.length));
}
