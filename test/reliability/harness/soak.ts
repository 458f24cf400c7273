// Training soak: the tiny preset's NEST model, data loader and Trainer (as `streamnest pretrain` builds them), with a
// probing batch stream that records RSS, live libtorch tensors and the time at the start of every step.
// Checks: memory flat after warm-up, no slowdown between the first and the last tenth of the run.
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import * as t from '../../../src/torch/index.js';
import { loadConfig } from '../../../src/config/index.js';
import { buildNestModel } from '../../../src/ssl/nest-factory.js';
import type { NestBatch } from '../../../src/ssl/nest-model.js';
import { createDatasetLoader, type DatasetLoader } from '../../../src/data/dataset.js';
import { batchToTensors } from '../../../src/data/batch-tensors.js';
import type { SamplerState } from '../../../src/data/sampler.js';
import { Trainer, type BatchStream } from '../../../src/train/trainer.js';
import { modelConfigYaml, nestTask, schedulerFor } from '../../../src/train/nest-pretraining.js';
import { REPO_ROOT } from './common.js';

export interface SoakOptions {
  steps: number;
  warmupSteps: number;
  overrides?: string[];
  workDir: string;
  seed?: number;
  log?: (line: string) => void;
}

export interface SoakSample {
  step: number;
  ms: number;
  /** process CPU time (user + system, ms): steps per CPU-second is what a busy shared machine disturbs least */
  cpuMs: number;
  rss: number;
  live: number;
}

export interface SoakReport {
  steps: number;
  wallMs: number;
  /** RSS (MiB) right after warm-up, and the largest after it. */
  rssAfterWarmupMiB: number;
  rssMaxMiB: number;
  rssGrowth: number;
  /** Live tensors at step starts after warm-up: min and max. */
  liveMin: number;
  liveMax: number;
  /** Steps per second (wall clock) over the first and the last tenth of the run after warm-up. */
  firstStepsPerS: number;
  lastStepsPerS: number;
  /** last / first, wall clock */
  speedRatio: number;
  /** Steps per CPU-second over the same windows, and their ratio (last / first). */
  firstStepsPerCpuS: number;
  lastStepsPerCpuS: number;
  cpuSpeedRatio: number;
  samples: SoakSample[];
}

class ProbeStream implements BatchStream<NestBatch> {
  data: DatasetLoader;
  readonly samples: SoakSample[] = [];
  private step = 0;
  constructor(make: (s?: SamplerState) => DatasetLoader) {
    this.data = make();
  }
  async next(): Promise<{ batch: NestBatch; epoch: number }> {
    const cpu = process.cpuUsage();
    this.samples.push({
      step: this.step++,
      ms: performance.now(),
      cpuMs: (cpu.user + cpu.system) / 1000,
      rss: process.memoryUsage().rss,
      live: t.liveTensorCount(),
    });
    const b = await this.data.loader.next();
    const x = batchToTensors(b);
    return { batch: { audio: x.audio, audioLen: x.audioLen, noisy: x.noisyAudio, noisyLen: x.noisyAudioLen }, epoch: b.epoch };
  }
  state(): unknown {
    return { sampler: this.data.loader.state(), taken: this.step };
  }
  restore(): void {
    throw new Error('the soak does not resume');
  }
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const log = o.log ?? (() => {});
  const seed = o.seed ?? 1234;
  const interval = Math.max(1, Math.floor(o.steps / 4));
  const loaded = loadConfig('tiny', [`trainer.max_steps=${o.steps}`, `trainer.val_check_interval=${interval}`, ...(o.overrides ?? [])]);
  const c = loaded.config;
  rmSync(o.workDir, { recursive: true, force: true });
  const model = buildNestModel(c.model, seed);
  const stream = new ProbeStream((state) =>
    createDatasetLoader(c.model.train_ds as unknown as Record<string, unknown>, { seed, baseDir: REPO_ROOT, where: 'model.train_ds', state }),
  );
  const trainer = new Trainer(nestTask(model, modelConfigYaml(loaded.raw)), stream, null, {
    maxSteps: o.steps,
    logEveryNSteps: 50,
    valCheckInterval: interval,
    gradientClipVal: c.trainer.gradient_clip_val,
    accumulateGradBatches: 1,
    maxConsecutiveNonFinite: 10,
    expDir: o.workDir,
    name: 'soak',
    resumeIfExists: false,
    saveTopK: 1,
    optimizer: {
      lr: c.model.optim.lr,
      betas: [c.model.optim.betas[0], c.model.optim.betas[1]],
      eps: c.model.optim.eps,
      weightDecay: c.model.optim.weight_decay,
    },
    scheduler: schedulerFor(c),
    progress: false,
    handleSignals: false,
  });
  const t0 = Date.now();
  try {
    await trainer.fit();
  } finally {
    await stream.data.loader.close();
    trainer.dispose();
    model.dispose();
  }
  const wallMs = Date.now() - t0;
  const s = stream.samples;
  const after = s.filter((x) => x.step >= o.warmupSteps);
  if (after.length < 20) throw new Error(`soak: ${s.length} steps is too few after a ${o.warmupSteps}-step warm-up`);
  const tenth = Math.max(5, Math.floor(after.length / 10));
  const rate = (w: SoakSample[]): number => (w.length - 1) / ((w[w.length - 1]!.ms - w[0]!.ms) / 1000);
  const first = rate(after.slice(0, tenth));
  const last = rate(after.slice(after.length - tenth));
  const cpuRate = (w: SoakSample[]): number => (w.length - 1) / ((w[w.length - 1]!.cpuMs - w[0]!.cpuMs) / 1000);
  const firstCpu = cpuRate(after.slice(0, tenth));
  const lastCpu = cpuRate(after.slice(after.length - tenth));
  const MiB = (x: number): number => Math.round((x / 1048576) * 10) / 10;
  const rss0 = after[0]!.rss;
  const rssMax = Math.max(...after.map((x) => x.rss));
  const r: SoakReport = {
    steps: s.length,
    wallMs,
    rssAfterWarmupMiB: MiB(rss0),
    rssMaxMiB: MiB(rssMax),
    rssGrowth: (rssMax - rss0) / rss0,
    liveMin: Math.min(...after.map((x) => x.live)),
    liveMax: Math.max(...after.map((x) => x.live)),
    firstStepsPerS: Math.round(first * 100) / 100,
    lastStepsPerS: Math.round(last * 100) / 100,
    speedRatio: Math.round((last / first) * 1000) / 1000,
    firstStepsPerCpuS: Math.round(firstCpu * 100) / 100,
    lastStepsPerCpuS: Math.round(lastCpu * 100) / 100,
    cpuSpeedRatio: Math.round((lastCpu / firstCpu) * 1000) / 1000,
    samples: s,
  };
  log(
    `soak: ${r.steps} steps in ${(wallMs / 1000).toFixed(1)} s; RSS ${r.rssAfterWarmupMiB} -> max ${r.rssMaxMiB} MiB (+${(r.rssGrowth * 100).toFixed(2)}%); live tensors ${r.liveMin}..${r.liveMax}; ${r.firstStepsPerS} -> ${r.lastStepsPerS} steps/s wall (x${r.speedRatio}), ${r.firstStepsPerCpuS} -> ${r.lastStepsPerCpuS} steps/CPU-s (x${r.cpuSpeedRatio})`,
  );
  rmSync(join(o.workDir), { recursive: true, force: true });
  return r;
}
