// A sum all-reduce of float32 tensors through a shared-memory file, for process groups whose ranks share one host.
// Gloo's ring over TCP loopback moves about 1 GB/s on the development VM (17-22 ms for a 12 MB gradient bucket in a
// 200 ms data-parallel step, BENCHMARKS.md); through shared memory the same reduction is a few copies at memory speed.
// The memory is an ATen tensor mapped from a file in /dev/shm (aten::from_file, shared), so the copies and sums are
// ATen ops. The ranks synchronise with the process group's own barrier, so a dead or hung peer still fails within the
// group's timeout, as every other collective does.
//
// Layout: two sets (A and B) of W regions of `capacity` floats; region k of a set receives rank k's data. One pass
// (a tensor in pieces of at most `capacity`) uses the next set: every rank copies its piece into its region; barrier;
// every rank sums the W regions, in rank order, into its own tensor. The next pass writes the other set, and the pass
// after it (the same set again) starts only after every rank has passed the next pass's barrier, so after it has read
// this pass's regions: one barrier per pass. Every rank sums the same numbers in the same order, so the ranks' results
// are identical (and, for 2 ranks, bit for bit Gloo's). Each rank reads all W regions: meant for a few ranks per host.
import { existsSync, statfsSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { call, op } from './dispatch.js';
import { scalarTypeCode } from './dtype.js';
import type { Tensor } from './tensor.js';
import { noGrad } from './autograd.js';
import { tidy } from './scope.js';
import { tensor } from './ops/creation.js';

const OPS = { fromFile: op('from_file') };

/** The collectives the reducer needs from its process group. */
export interface ReducerGroup {
  readonly rank: number;
  readonly worldSize: number;
  barrier(): void;
  allgatherJson<T>(value: T): T[];
}

const SHM_DIR = '/dev/shm';
/** Below this many floats per region (where /dev/shm is nearly full) the all-reduce stays with Gloo. */
const MIN_CAPACITY = 64 * 1024;

export class SharedMemoryReducer {
  /** Passes so far: pass i uses set i % 2. */
  private passes = 0;

  private constructor(
    private readonly group: ReducerGroup,
    private readonly memory: Tensor,
    readonly capacity: number,
  ) {}

  /**
   * Maps one shared-memory file on every rank (collective). Returns null on every rank, so that all fall back to
   * Gloo together, when any rank cannot map rank 0's file (ranks on other hosts, separate /dev/shm namespaces) or
   * /dev/shm lacks the room.
   */
  static open(group: ReducerGroup, maxCapacity: number): SharedMemoryReducer | null {
    const w = group.worldSize;
    // rank 0 makes the file (at most a quarter of /dev/shm's free room) and writes a token the others must read back
    // from it; if it cannot, every rank learns so from the all-gather and stays with Gloo
    const made = group.rank === 0 ? makeFile(Math.min(maxCapacity, Math.floor(freeBytes() / 4 / 4 / (2 * w))), w) : null;
    const [offer] = group.allgatherJson(made && { path: made.path, token: made.token, capacity: made.capacity });
    if (!offer) return null;
    let memory: Tensor | null = made?.memory ?? null;
    try {
      let ok = true;
      if (group.rank !== 0) {
        ok = existsSync(offer.path);
        if (ok) {
          memory = mapFile(offer.path, 2 * w * offer.capacity);
          ok = sameToken(memory, offer.token);
        }
      }
      const oks = group.allgatherJson(ok); // every rank has mapped (or failed to) before the file goes
      if (group.rank === 0) unlinkSync(offer.path); // the mappings stay; no file outlives the run
      group.barrier(); // and none is there once open() returns
      if (!oks.every(Boolean)) {
        memory?.dispose();
        return null;
      }
      return new SharedMemoryReducer(group, memory!, offer.capacity);
    } catch (e) {
      memory?.dispose();
      if (group.rank === 0 && existsSync(offer.path)) unlinkSync(offer.path);
      throw e;
    }
  }

  /** Sums `x` (float32 on the CPU) over the ranks, in place. Collective: every rank passes the same numel. */
  allreduceSum(x: Tensor): void {
    if (x.dtype !== 'float32' || x.device !== 'cpu') throw new TypeError(`shared-memory all-reduce: a float32 CPU tensor, got ${x.dtype} on ${x.device}`);
    noGrad(() =>
      tidy(() => {
        const whole = x.contiguous(); // x itself when contiguous (then the final copy_ is a no-op)
        const flat = whole.view([-1]);
        for (let at = 0; at < flat.numel; at += this.capacity) this.pass([flat.narrow(0, at, Math.min(this.capacity, flat.numel - at))], 1);
        x.copy_(whole);
      }),
    );
  }

  /**
   * Replaces each tensor (float32 CPU, together at most `capacity` elements) with its mean over the ranks, copying
   * straight between the tensors and the shared regions (no flattened copy). Collective: the same shapes on every rank.
   */
  meanInPlace(parts: Tensor[]): void {
    const total = parts.reduce((a, x) => a + x.numel, 0);
    if (total > this.capacity) throw new RangeError(`shared-memory mean: ${total} elements exceed the regions' ${this.capacity}`);
    for (const x of parts) {
      if (x.dtype !== 'float32' || x.device !== 'cpu') throw new TypeError(`shared-memory mean: float32 CPU tensors, got ${x.dtype} on ${x.device}`);
    }
    noGrad(() => tidy(() => this.pass(parts, 1 / this.group.worldSize)));
  }

  /** One pass: `parts` (together at most `capacity` elements) become their sum over the ranks, times `scale`. */
  private pass(parts: Tensor[], scale: number): void {
    const { rank, worldSize: w } = this.group;
    const set = (this.passes++ % 2) * w * this.capacity;
    const region = (k: number, at: number, x: Tensor) => this.memory.narrow(0, set + k * this.capacity + at, x.numel).view(x.shape);
    let at = 0;
    for (const x of parts) {
      region(rank, at, x).copy_(x);
      at += x.numel;
    }
    this.group.barrier();
    at = 0;
    for (const x of parts) {
      if (w === 2)
        x.add_(region(1 - rank, at, x)); // a + b == b + a: the same bits on both ranks
      else {
        x.copy_(region(0, at, x));
        for (let k = 1; k < w; k++) x.add_(region(k, at, x));
      }
      if (scale !== 1) x.mul_(scale);
      at += x.numel;
    }
  }

  dispose(): void {
    this.memory.dispose();
  }
}

/** Rank 0's shared file for W ranks, mapped, its pages committed and its token written; null where that fails. */
function makeFile(capacity: number, w: number): { path: string; token: number[]; capacity: number; memory: Tensor } | null {
  if (capacity < MIN_CAPACITY) return null;
  const path = `${SHM_DIR}/streamnest-allreduce-${process.pid}-${randomBytes(6).toString('hex')}`;
  const token = randomToken();
  let memory: Tensor | null = null;
  try {
    memory = mapFile(path, 2 * w * capacity);
    const m = memory;
    noGrad(() =>
      tidy(() => {
        m.zero_(); // commits every page now: tmpfs allocates on first write, and a failed one is SIGBUS
        m.narrow(0, 0, 4).copy_(tensor(token, [4], { dtype: 'float32' }));
      }),
    );
    return { path, token, capacity, memory };
  } catch {
    memory?.dispose();
    if (existsSync(path)) unlinkSync(path);
    return null;
  }
}

function mapFile(path: string, floats: number): Tensor {
  return call(OPS.fromFile, path, true, floats, scalarTypeCode('float32'), null, null);
}

/** Free bytes in /dev/shm (0 where there is none). */
function freeBytes(): number {
  try {
    const s = statfsSync(SHM_DIR);
    return s.bavail * s.bsize;
  } catch {
    return 0;
  }
}

/** Four random integers below 2^16 (exact in float32). */
function randomToken(): number[] {
  const b = randomBytes(8);
  return [0, 1, 2, 3].map((i) => b.readUInt16LE(2 * i));
}

function sameToken(memory: Tensor, token: number[]): boolean {
  const seen = tidy(() => memory.narrow(0, 0, 4).toArray());
  return token.every((v, i) => seen[i] === v);
}
