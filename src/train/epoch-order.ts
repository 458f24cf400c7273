// The order in which a training stream visits its items: indices 0..size-1 shuffled afresh each epoch from the run's
// seed and the epoch number, handed out in fixed-size batches (the last partial batch dropped); the position (epoch,
// batch start) is a plain object saved in checkpoints, from which the same order continues exactly.
// Provenance: torch.utils.data.BatchSampler(RandomSampler, drop_last=True) with the sampler reseeded per epoch as
// torch.utils.data.distributed.DistributedSampler.set_epoch does (seed + epoch), here a Fisher-Yates shuffle of a
// seeded xoshiro128** (src/data/rng.ts) so that the order is the same on every machine.
import { Rng } from '../data/rng.js';

/** Where an EpochOrder stands: the epoch, and the index in that epoch's order of the next batch's first item. */
export interface EpochOrderState {
  epoch: number;
  pos: number;
}

export class EpochOrder {
  private epoch = 0;
  private pos = 0;
  private order: number[];

  /** `what` names the stream in the error for a bad saved position. */
  constructor(
    private readonly size: number,
    private readonly batchSize: number,
    private readonly seed: number,
    private readonly what: string,
  ) {
    this.order = this.shuffle(0);
  }

  get batchesPerEpoch(): number {
    return Math.floor(this.size / this.batchSize);
  }

  /** Epoch `epoch`'s order of the indices (Fisher-Yates, seeded by seed and epoch). */
  private shuffle(epoch: number): number[] {
    const rng = new Rng(this.seed * 7919 + epoch);
    const o = Array.from({ length: this.size }, (_, i) => i);
    for (let i = o.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [o[i], o[j]] = [o[j]!, o[i]!];
    }
    return o;
  }

  /** The next batch's indices and its epoch; a new epoch (a new shuffle) starts when fewer than a batch remain. */
  next(): { indices: number[]; epoch: number } {
    if (this.pos + this.batchSize > this.order.length) {
      this.epoch++;
      this.pos = 0;
      this.order = this.shuffle(this.epoch);
    }
    const indices = this.order.slice(this.pos, this.pos + this.batchSize);
    this.pos += this.batchSize;
    return { indices, epoch: this.epoch };
  }

  state(): EpochOrderState {
    return { epoch: this.epoch, pos: this.pos };
  }

  restore(state: unknown): void {
    const s = state as { epoch?: unknown; pos?: unknown };
    if (typeof s?.epoch !== 'number' || typeof s.pos !== 'number') throw new Error(`${this.what}: bad saved position`);
    this.epoch = s.epoch;
    this.pos = s.pos;
    this.order = this.shuffle(this.epoch);
  }
}
