// Data-parallel collectives from libtorch's c10d (TCPStore rendezvous + Gloo on CPU), with the torchrun
// environment conventions (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK).
import { native, type NativeProcessGroup } from './native.js';
import type { Tensor } from './tensor.js';
import { noGrad } from './autograd.js';
import { tidy } from './scope.js';
import { cat, split, tensor, zerosLike } from './ops/index.js';
import { SharedMemoryReducer } from './shared-memory-allreduce.js';

/** Sum all-reduces of float32 tensors from this many elements (1 MiB) go through shared memory when the ranks share a host. */
const SHARED_MEMORY_MIN_FLOATS = 256 * 1024;
/** The shared-memory regions' size: 4 Mi floats (16 MiB) each, 2 W of them, less where /dev/shm is small. */
const SHARED_MEMORY_CAPACITY = 4 * 1024 * 1024;

export interface ProcessGroupOptions {
  host: string;
  port: number;
  rank: number;
  worldSize: number;
  /** Every collective fails with a clear error after this long (a dead or hung peer never hangs the others). */
  timeoutMs?: number;
}

/** libtorch's errors carry a C++ stack trace after the message: keep the message. */
function collective<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const err = e as Error;
    const i = err.message.indexOf('\nException raised from');
    if (i >= 0) err.message = err.message.slice(0, i).trimEnd();
    throw err;
  }
}

export class ProcessGroup {
  private readonly pg: NativeProcessGroup;
  readonly rank: number;
  readonly worldSize: number;
  /** The shared-memory reducer: undefined until first needed, null where the ranks cannot share memory (or it is turned off). */
  private reducer: SharedMemoryReducer | null | undefined;
  constructor(o: ProcessGroupOptions) {
    if (!Number.isInteger(o.worldSize) || o.worldSize < 1) throw new RangeError(`world size must be a positive integer, got ${o.worldSize}`);
    this.pg = collective(() => new native.NativeProcessGroup(o.host, o.port, o.rank, o.worldSize, o.timeoutMs ?? 120_000));
    this.rank = o.rank;
    this.worldSize = o.worldSize;
  }

  /** Reads MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE (torchrun's variables); errors name the missing one. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, timeoutMs?: number): ProcessGroup {
    const need = (k: string): string => {
      const v = env[k];
      if (v === undefined || v === '') throw new Error(`distributed: environment variable ${k} is not set (torchrun convention)`);
      return v;
    };
    const num = (k: string): number => {
      const v = Number(need(k));
      if (!Number.isInteger(v) || v < 0) throw new Error(`distributed: ${k}=${env[k]} is not a non-negative integer`);
      return v;
    };
    return new ProcessGroup({ host: need('MASTER_ADDR'), port: num('MASTER_PORT'), rank: num('RANK'), worldSize: num('WORLD_SIZE'), timeoutMs });
  }

  /**
   * All-reduces each tensor in place, one collective per tensor (c10d's tensor list means one tensor per device
   * of the same shape, so tensors are never passed together; flatten many small ones into one first).
   */
  allreduce(tensors: Tensor[], op: 'sum' | 'max' | 'min' | 'product' = 'sum'): void {
    for (const x of tensors) {
      const shm = op === 'sum' ? this.sharedMemoryFor([x], x.numel) : null;
      if (shm) shm.allreduceSum(x);
      else collective(() => this.pg.allreduce([x.native], op));
    }
  }

  /**
   * The shared-memory reducer for a sum over `tensors` (`numel` elements in all): float32 on the CPU, at least
   * SHARED_MEMORY_MIN_FLOATS, and ranks that share memory; null sends the sum through Gloo.
   */
  private sharedMemoryFor(tensors: Tensor[], numel: number): SharedMemoryReducer | null {
    if (numel < SHARED_MEMORY_MIN_FLOATS || tensors.some((x) => x.dtype !== 'float32' || x.device !== 'cpu')) return null;
    return this.sharedMemoryReducer();
  }

  /**
   * Whether large float32 sums (gradients) go through shared memory: true when every rank could map one file in
   * /dev/shm (the ranks share a host) and STREAMNEST_SHM_ALLREDUCE is not 0; otherwise everything goes through Gloo.
   * Collective the first time (every rank must call it, or the first large all-reduce, at the same point).
   */
  sharedMemoryAllreduce(): boolean {
    return this.sharedMemoryReducer() !== null;
  }

  private sharedMemoryReducer(): SharedMemoryReducer | null {
    if (this.reducer === undefined) {
      const off = process.env.STREAMNEST_SHM_ALLREDUCE === '0';
      // every rank must take the same branch: agree on the setting first
      const offs = this.worldSize > 1 ? this.allgatherJson(off) : [true];
      this.reducer = offs.some(Boolean) ? null : SharedMemoryReducer.open(this, SHARED_MEMORY_CAPACITY);
    }
    return this.reducer;
  }
  /** Broadcasts each tensor from `root` in place, one collective per tensor. */
  broadcast(tensors: Tensor[], root = 0): void {
    for (const x of tensors) collective(() => this.pg.broadcast([x.native], root));
  }
  barrier(): void {
    collective(() => this.pg.barrier());
  }

  /** Every rank's bytes, in rank order (an all-gather made of two all-reduces: lengths, then zero-padded slots). */
  allgatherBytes(data: Uint8Array): Uint8Array[] {
    if (this.worldSize === 1) return [data.slice()];
    const w = this.worldSize;
    const lens = new Float64Array(w);
    lens[this.rank] = data.length;
    const lt = tensor(lens, [w], { dtype: 'float64' });
    this.allreduce([lt]);
    const all = Array.from(lt.data() as Float64Array);
    lt.dispose();
    const slot = Math.max(1, ...all);
    const buf = new Uint8Array(w * slot);
    buf.set(data, this.rank * slot);
    const bt = tensor(buf, [w * slot], { dtype: 'uint8' });
    this.allreduce([bt]);
    const out = new Uint8Array(bt.data() as Uint8Array);
    bt.dispose();
    return all.map((n, r) => out.slice(r * slot, r * slot + n));
  }

  /** Every rank's JSON-serialisable value, in rank order. */
  allgatherJson<T>(value: T): T[] {
    const bytes = this.allgatherBytes(new TextEncoder().encode(JSON.stringify(value)));
    return bytes.map((b) => JSON.parse(new TextDecoder().decode(b)) as T);
  }

  /** Makes every rank start from rank `root`'s parameters and buffers. */
  broadcastParameters(tensors: Tensor[], root = 0): void {
    if (this.worldSize === 1) return;
    // one flattened broadcast per dtype (float parameters and buffers, int64 counters)
    const byDtype = new Map<string, Tensor[]>();
    for (const x of tensors) byDtype.set(x.dtype, [...(byDtype.get(x.dtype) ?? []), x]);
    noGrad(() => {
      for (const group of byDtype.values()) {
        tidy(() => throughFlatCopy(group, (flat) => this.broadcast([flat], root)));
      }
    });
  }

  /**
   * Averages gradients across ranks (DistributedDataParallel's result): gradients are flattened into
   * buckets of about `bucketBytes`, each bucket all-reduced once, then divided by the world size.
   * A parameter without a gradient on some ranks contributes zeros there so that every rank reduces the same
   * layout; one without a gradient on every rank keeps none (as DDP leaves unused parameters' .grad None).
   * Whether each rank had a gradient travels at the end of its bucket (a count summed with the gradients), so a
   * step costs one collective per bucket and no extra round trip.
   */
  averageGradients(params: Tensor[], bucketBytes = 25 * 1024 * 1024): void {
    if (this.worldSize === 1) return;
    const shm = this.sharedMemoryReducer();
    // through shared memory a bucket is one pass over the shared regions (with room for its flags)
    const limit = shm ? Math.min(bucketBytes / 4, shm.capacity - params.length) : bucketBytes / 4;
    noGrad(() => {
      for (const bucket of gradientBuckets(params, limit)) {
        tidy(() => {
          const local = bucket.map((p) => p.grad ?? null);
          const grads = bucket.map((p, i) => local[i] ?? zerosLike(p));
          const had = tensor(
            Float32Array.from(local, (g) => (g ? 1 : 0)),
            [bucket.length],
            { dtype: 'float32', device: bucket[0]!.device }, // beside the gradients: one flat tensor with them
          );
          this.averageInPlace([...grads, had]);
          const shareWithGradient = had.toArray();
          bucket.forEach((p, i) => {
            if (shareWithGradient[i] === 0) return; // unused on every rank: no gradient, as before
            if (!local[i]) p.grad = grads[i]!;
          });
        });
      }
    });
  }

  /** Replaces every tensor with its mean over the ranks (float32; the same tensors, in the same order, on every rank). */
  private averageInPlace(parts: Tensor[]): void {
    const total = parts.reduce((a, x) => a + x.numel, 0);
    const shm = this.sharedMemoryFor(parts, total);
    if (shm && total <= shm.capacity) {
      shm.meanInPlace(parts); // straight from and back into the tensors, no flat copy
      return;
    }
    throughFlatCopy(parts, (flat) => {
      this.allreduce([flat]);
      flat.mul_(1 / this.worldSize);
    });
  }
}

/** Runs `collective` on one flattened copy of `parts` (the same dtype), then copies the result back into each part. */
function throughFlatCopy(parts: Tensor[], collective: (flat: Tensor) => void): void {
  const flat = cat(parts.map((x) => x.reshape([-1])));
  collective(flat);
  const pieces = split(
    flat,
    parts.map((x) => x.numel),
  );
  parts.forEach((x, i) => {
    x.copy_(pieces[i]!.view(x.shape));
  });
}

/**
 * Consecutive parameters in buckets of at most `limit` floats (a parameter larger than that alone); the same on
 * every rank.
 */
function gradientBuckets(params: Tensor[], limit: number): Tensor[][] {
  const buckets: Tensor[][] = [];
  let current: Tensor[] = [];
  let floats = 0;
  for (const p of params) {
    if (current.length > 0 && floats + p.numel > limit) {
      buckets.push(current);
      current = [];
      floats = 0;
    }
    current.push(p);
    floats += p.numel;
  }
  if (current.length) buckets.push(current);
  return buckets;
}
