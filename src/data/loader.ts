// AudioLoader: turns sampler batches into decoded, padded, augmented Float32Array batches ahead of the
// training loop (bounded prefetch), in node:worker_threads workers or in-process (workers: 0). Each batch's
// randomness comes from Rng(mixSeed(seed, epoch, batchInEpoch)), so batches do not depend on the number of
// workers, and the loader's state (the sampler state after the last batch handed out) resumes exactly.
import { Worker } from 'node:worker_threads';
import { buildBatch, DEFAULT_BUILD_CONFIG, type BatchBuildConfig, type BatchTask, type LoadedBatch } from './batch-builder.js';
import { DataError, emptySkips, formatSkips, mergeSkips, type BadDataReason, type SkipCounts } from './data-error.js';
import type { AudioRef } from './decode.js';
import type { ManifestEntry } from './manifest.js';
import { mixSeed } from './rng.js';
import type { SamplerState } from './sampler.js';

/** What AudioLoader draws batches from: BatchSampler (manifest indices) or TarredBatchSampler (members of tar shards, as refs). */
export interface BatchSource {
  next(): { indices: number[]; epoch: number; batchInEpoch: number; drawn: number; refs?: AudioRef[] };
  state(): SamplerState;
  readonly batchesPerEpoch: number;
}

export interface LoaderOptions {
  seed: number;
  /** Batches decoded ahead of the consumer (default 2). */
  prefetch?: number;
  /** Worker threads (default 1; 0 = decode on the main thread when next() is called). */
  workers?: number;
  /**
   * Data parallel: this loader yields only the batches with sampler index drawn % world == rank, and never decodes
   * the others (every rank draws the common seeded sequence and takes its share of it).
   */
  shard?: { rank: number; world: number };
  build?: Partial<BatchBuildConfig>;
}

export interface LoaderSummary {
  batches: number;
  utterances: number;
  /** Seconds of (unpadded) audio handed out. */
  seconds: number;
  skips: SkipCounts;
}

export function toAudioRef(e: ManifestEntry): AudioRef {
  return { path: e.audioFilepath, offset: e.offset, duration: e.duration, where: e.where };
}

interface Pending {
  id: number;
  stateAfter: SamplerState;
  result: Promise<LoadedBatch> | null;
  task: BatchTask;
}

interface WorkerSlot {
  worker: Worker;
  pending: Map<number, { resolve: (b: LoadedBatch) => void; reject: (e: Error) => void }>;
}

export class AudioLoader {
  private readonly cfg: BatchBuildConfig;
  private readonly noise: AudioRef[];
  private readonly prefetch: number;
  private readonly slots: WorkerSlot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private consumed: SamplerState;
  private stats: LoaderSummary = { batches: 0, utterances: 0, seconds: 0, skips: emptySkips() };
  private closed = false;

  constructor(
    private readonly entries: readonly ManifestEntry[],
    noise: readonly ManifestEntry[],
    private readonly sampler: BatchSource,
    private readonly opts: LoaderOptions,
  ) {
    this.cfg = { ...DEFAULT_BUILD_CONFIG, ...opts.build };
    this.noise = noise.map(toAudioRef);
    this.prefetch = Math.max(1, opts.prefetch ?? 2);
    this.consumed = sampler.state();
    const nWorkers = opts.workers ?? 1;
    for (let w = 0; w < nWorkers; w++) this.slots.push(this.startWorker());
  }

  private startWorker(): WorkerSlot {
    const worker = new Worker(new URL('./decode-worker.js', import.meta.url), { workerData: { noise: this.noise, cfg: this.cfg } });
    const slot: WorkerSlot = { worker, pending: new Map() };
    worker.unref();
    worker.on('message', (m: { id: number; batch?: LoadedBatch; error?: { message: string; reason: BadDataReason | null; where: string | null } }) => {
      const p = slot.pending.get(m.id);
      if (!p) return;
      slot.pending.delete(m.id);
      if (slot.pending.size === 0) worker.unref();
      if (m.batch) p.resolve(m.batch);
      else {
        const e = m.error!;
        p.reject(e.reason && e.where ? new DataError(e.reason, e.where, e.message.slice(e.where.length + 2)) : new Error(e.message));
      }
    });
    const failAll = (err: Error) => {
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
    };
    worker.on('error', (err) => failAll(err));
    worker.on('exit', (code) => {
      if (!this.closed) failAll(new Error(`data loader worker exited with code ${code}`));
    });
    return slot;
  }

  private dispatch(task: BatchTask): Promise<LoadedBatch> {
    const slot = this.slots[task.id % this.slots.length]!;
    return new Promise<LoadedBatch>((resolve, reject) => {
      slot.pending.set(task.id, { resolve, reject });
      slot.worker.ref();
      slot.worker.postMessage(task);
    });
  }

  private enqueue(): void {
    const shard = this.opts.shard;
    let b = this.sampler.next();
    while (shard && b.drawn % shard.world !== shard.rank) b = this.sampler.next(); // another rank's batch: not decoded
    const { indices, epoch, batchInEpoch, refs } = b;
    const id = this.nextId++;
    const task: BatchTask = {
      id,
      epoch,
      batchInEpoch,
      indices,
      seed: mixSeed(this.opts.seed, epoch, batchInEpoch),
      items: refs ?? indices.map((i) => toAudioRef(this.entries[i]!)),
    };
    const p: Pending = { id, stateAfter: this.sampler.state(), task, result: null };
    if (this.slots.length > 0) {
      p.result = this.dispatch(task);
      p.result.catch(() => undefined); // surfaced when consumed
    }
    this.queue.push(p);
  }

  /** The next batch (skipping batches whose every item was bad under skip_bad_audio). */
  async next(): Promise<LoadedBatch> {
    if (this.closed) throw new Error('AudioLoader: next() after close()');
    for (;;) {
      while (this.queue.length < this.prefetch + (this.slots.length > 0 ? 1 : 0) || this.queue.length === 0) this.enqueue();
      const head = this.queue.shift()!;
      const batch = await (head.result ?? buildBatch(head.task, this.noise, this.cfg));
      this.consumed = head.stateAfter;
      this.stats = {
        batches: this.stats.batches + (batch.batchSize > 0 ? 1 : 0),
        utterances: this.stats.utterances + batch.batchSize,
        seconds: this.stats.seconds + batch.audioLens.reduce((a, l) => a + l, 0) / this.cfg.sampleRate,
        skips: mergeSkips(this.stats.skips, batch.skips),
      };
      if (batch.batchSize > 0) return batch;
    }
  }

  /** Sampler state after the last batch returned by next(): save it in checkpoints. */
  state(): SamplerState {
    return { ...this.consumed, rng: { s: [...this.consumed.rng.s] } };
  }

  summary(): LoaderSummary {
    return { ...this.stats, skips: { counts: { ...this.stats.skips.counts }, examples: [...this.stats.skips.examples] } };
  }

  formatSummary(): string {
    const s = this.stats;
    return `${s.batches} batches, ${s.utterances} utterances, ${(s.seconds / 3600).toFixed(4)} h; ${formatSkips(s.skips)}`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // terminate() settles only on the worker's 'exit' event, and a worker that was unref'd while idle does not reliably
    // keep the event loop alive until that event (seen with Node 20 when the worker's thread stops after its last
    // transfer): Node then exits with code 0 while the caller still awaits this promise, so nothing after
    // `await close()` ran (the last checkpoint, the .nemo, the summary). A timer holds the loop until every worker
    // has exited.
    const keepAlive = setInterval(() => undefined, 1000);
    try {
      await Promise.all(this.slots.map((s) => s.worker.terminate()));
    } finally {
      clearInterval(keepAlive);
    }
  }
}
