// Data-parallel collectives from libtorch's c10d (TCPStore rendezvous + Gloo on CPU), with the torchrun
// environment conventions (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK).
import { native, type NativeProcessGroup } from './native.js';
import type { Tensor } from './tensor.js';
import { noGrad } from './autograd.js';
import { tidy } from './scope.js';
import { cat, split, zerosLike } from './ops/index.js';

export interface ProcessGroupOptions {
  host: string;
  port: number;
  rank: number;
  worldSize: number;
  /** Every collective fails with a clear error after this long (a dead or hung peer never hangs the others). */
  timeoutMs?: number;
}

export class ProcessGroup {
  private readonly pg: NativeProcessGroup;
  readonly rank: number;
  readonly worldSize: number;
  constructor(o: ProcessGroupOptions) {
    if (!Number.isInteger(o.worldSize) || o.worldSize < 1) throw new RangeError(`world size must be a positive integer, got ${o.worldSize}`);
    this.pg = new native.NativeProcessGroup(o.host, o.port, o.rank, o.worldSize, o.timeoutMs ?? 120_000);
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

  allreduce(tensors: Tensor[], op: 'sum' | 'max' | 'min' | 'product' = 'sum'): void {
    this.pg.allreduce(
      tensors.map((t) => t.native),
      op,
    );
  }
  broadcast(tensors: Tensor[], root = 0): void {
    this.pg.broadcast(
      tensors.map((t) => t.native),
      root,
    );
  }
  barrier(): void {
    this.pg.barrier();
  }

  /** Makes every rank start from rank `root`'s parameters and buffers. */
  broadcastParameters(tensors: Tensor[], root = 0): void {
    noGrad(() => this.broadcast(tensors, root));
  }

  /**
   * Averages gradients across ranks (DistributedDataParallel's result): gradients are flattened into
   * buckets of about `bucketBytes`, each bucket all-reduced once, then divided by the world size.
   * Parameters without a gradient contribute zeros so that every rank reduces the same layout.
   */
  averageGradients(params: Tensor[], bucketBytes = 25 * 1024 * 1024): void {
    if (this.worldSize === 1) return;
    const buckets: Tensor[][] = [];
    let current: Tensor[] = [];
    let bytes = 0;
    for (const p of params) {
      current.push(p);
      bytes += p.numel * 4;
      if (bytes >= bucketBytes) {
        buckets.push(current);
        current = [];
        bytes = 0;
      }
    }
    if (current.length) buckets.push(current);
    noGrad(() => {
      for (const bucket of buckets) {
        tidy(() => {
          const grads = bucket.map((p) => {
            const g = p.grad;
            if (g) return g;
            const z = zerosLike(p);
            p.grad = z;
            return z;
          });
          const flat = cat(grads.map((g) => g.reshape([-1])));
          this.allreduce([flat]);
          flat.mul_(1 / this.worldSize);
          const pieces = split(
            flat,
            grads.map((g) => g.numel),
          );
          grads.forEach((g, i) => g.copy_(pieces[i]!.view(g.shape)));
        });
      }
    });
  }
}
