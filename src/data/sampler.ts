// Batch sampler: weighted epoch pool, seeded shuffling, duration bucketing and drop_last, with a state
// (epoch, position in the epoch, RNG state at the epoch's start) that is a plain JSON object: restoring it
// replays exactly the batches an uninterrupted run would have produced.
//
// Bucketing: the shuffled pool is cut into chunks of batchSize * bucketChunk items, each chunk is sorted by
// duration and cut into batches, and the batch order is shuffled. Neighbours in a sorted chunk have similar
// durations, so padding stays small while every epoch still mixes all durations.
//
// Data parallel (stepGroup W > 1): the ranks of one step take W consecutive batches of the common sequence (batch
// `drawn` goes to rank drawn % W). Bucketing then shuffles groups of W neighbouring batches instead of single
// batches, so the W batches of a step come from the same place in a duration-sorted chunk: the ranks get batches of
// about the same length and none waits long for the others at the gradient all-reduce (Lhotse's synced buckets).
import { Rng, type RngState } from './rng.js';

export interface SamplerItem {
  /** Seconds; null (unknown) sorts as 0 and defeats bucketing for that item. */
  duration: number | null;
  /** Which manifest the item came from (index into `weights`). */
  source: number;
}

export interface SamplerOptions {
  batchSize: number;
  seed: number;
  shuffle?: boolean;
  dropLast?: boolean;
  /** Sort by duration within chunks (default: on when shuffling, off otherwise so that order is the manifest's). */
  bucketing?: boolean;
  /** Chunk size in batches for bucketing (default 64). */
  bucketChunk?: number;
  /** Per-manifest sampling multipliers (default 1 each): 2 = every entry twice per epoch, 0.5 = a random half. */
  weights?: readonly number[];
  /**
   * Data-parallel world size W (default 1): with bucketing, groups of W neighbouring batches (one step's batches
   * over the ranks) are shuffled as units, aligned so that each group is drawn by ranks 0..W-1 of one step.
   */
  stepGroup?: number;
}

/** Everything needed to resume; JSON-serialisable. */
export interface SamplerState {
  epoch: number;
  /** Batches of this epoch already drawn. */
  position: number;
  /** RNG state at the start of this epoch (the epoch's plan is recomputed from it). */
  rng: RngState;
  /** Batches drawn since the start, over every epoch (data-parallel sharding counts on it); absent in old states: `position`. */
  drawn?: number;
}

export class BatchSampler {
  private readonly items: readonly SamplerItem[];
  private readonly opts: Required<Omit<SamplerOptions, 'weights'>> & { weights: readonly number[] | null };
  private epoch = 0;
  private position = 0;
  private drawn = 0;
  private epochStart: RngState;
  private plan: number[][];
  private nextEpochStart: RngState;

  constructor(items: readonly SamplerItem[], opts: SamplerOptions, state?: SamplerState) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new Error(`sampler: batch_size must be a positive integer, got ${opts.batchSize}`);
    if (items.length === 0) throw new Error('sampler: no items (empty manifest, or everything was filtered out)');
    this.items = items;
    this.opts = {
      batchSize: opts.batchSize,
      seed: opts.seed,
      shuffle: opts.shuffle ?? true,
      dropLast: opts.dropLast ?? false,
      bucketing: opts.bucketing ?? opts.shuffle ?? true,
      bucketChunk: opts.bucketChunk ?? 64,
      weights: opts.weights ?? null,
      stepGroup: opts.stepGroup ?? 1,
    };
    if (!Number.isInteger(this.opts.stepGroup) || this.opts.stepGroup < 1)
      throw new Error(`sampler: stepGroup must be a positive integer, got ${opts.stepGroup}`);
    this.epochStart = new Rng(opts.seed).getState();
    ({ plan: this.plan, after: this.nextEpochStart } = this.planEpoch(this.epochStart, 0));
    if (this.plan.length === 0) {
      throw new Error(`sampler: an epoch has no batches (${items.length} items, batch_size ${opts.batchSize}, drop_last ${this.opts.dropLast})`);
    }
    if (state) this.setState(state);
  }

  /**
   * The batches of the epoch that starts from `start`, and the RNG state after planning it. `drawnBefore`: batches
   * drawn in earlier epochs (where this epoch's first step group starts).
   */
  private planEpoch(start: RngState, drawnBefore: number): { plan: number[][]; after: RngState } {
    const rng = Rng.fromState(start);
    const { batchSize, shuffle, dropLast, bucketing, bucketChunk, weights, stepGroup } = this.opts;
    let pool: number[] = [];
    if (weights === null) {
      pool = this.items.map((_, i) => i);
    } else {
      const bySource = new Map<number, number[]>();
      this.items.forEach((it, i) => {
        const l = bySource.get(it.source) ?? [];
        l.push(i);
        bySource.set(it.source, l);
      });
      for (const [src, idx] of [...bySource.entries()].sort((a, b) => a[0] - b[0])) {
        const w = weights[src];
        if (w === undefined) throw new Error(`sampler: no weight for manifest ${src}`);
        for (let k = 0; k < Math.floor(w); k++) pool.push(...idx);
        const extra = Math.round((w - Math.floor(w)) * idx.length);
        if (extra > 0) pool.push(...rng.sample(idx, extra));
      }
    }
    if (shuffle) rng.shuffle(pool);
    let batches: number[][] = [];
    if (bucketing) {
      const chunk = batchSize * bucketChunk;
      for (let c = 0; c < pool.length; c += chunk) {
        const part = pool.slice(c, c + chunk).sort((a, b) => (this.items[a]!.duration ?? 0) - (this.items[b]!.duration ?? 0) || a - b);
        for (let b = 0; b < part.length; b += batchSize) batches.push(part.slice(b, b + batchSize));
      }
    } else {
      for (let b = 0; b < pool.length; b += batchSize) batches.push(pool.slice(b, b + batchSize));
    }
    if (dropLast) batches = batches.filter((b) => b.length === batchSize);
    if (shuffle && bucketing) batches = shuffleStepGroups(rng, batches, stepGroup, (stepGroup - (drawnBefore % stepGroup)) % stepGroup);
    return { plan: batches, after: rng.getState() };
  }

  get batchesPerEpoch(): number {
    return this.plan.length;
  }

  /** A copy of the current state (JSON-serialisable). */
  state(): SamplerState {
    return { epoch: this.epoch, position: this.position, rng: { s: [...this.epochStart.s] }, drawn: this.drawn };
  }

  setState(s: SamplerState): void {
    if (!s || !Number.isInteger(s.epoch) || s.epoch < 0 || !Number.isInteger(s.position) || s.position < 0) {
      throw new Error(`sampler state: expected {epoch, position, rng}, got ${JSON.stringify(s)}`);
    }
    const r = Rng.fromState(s.rng); // validates
    const drawn = s.drawn ?? s.position; // states written before `drawn` existed: this epoch's batches
    if (!Number.isInteger(drawn) || drawn < s.position) throw new Error(`sampler state: drawn ${s.drawn} is less than position ${s.position}`);
    this.epoch = s.epoch;
    this.epochStart = r.getState();
    ({ plan: this.plan, after: this.nextEpochStart } = this.planEpoch(this.epochStart, drawn - s.position));
    if (s.position > this.plan.length)
      throw new Error(`sampler state: position ${s.position} > ${this.plan.length} batches in the epoch (different data or batch size?)`);
    this.position = s.position;
    this.drawn = drawn;
  }

  /** The next batch of item indices with its epoch, index in the epoch and index since the start; rolls over to the next epoch. */
  next(): { indices: number[]; epoch: number; batchInEpoch: number; drawn: number } {
    if (this.position >= this.plan.length) {
      this.epoch++;
      this.position = 0;
      this.epochStart = this.nextEpochStart;
      ({ plan: this.plan, after: this.nextEpochStart } = this.planEpoch(this.epochStart, this.drawn));
    }
    const batchInEpoch = this.position++;
    return { indices: this.plan[batchInEpoch]!.slice(), epoch: this.epoch, batchInEpoch, drawn: this.drawn++ };
  }
}

/**
 * Shuffles `batches` in groups of `size` (one data-parallel step's batches), keeping each group's batches together
 * and in order. The first `lead` batches complete the group the previous epoch left open and stay first; a final
 * incomplete group stays last. With size 1 this is a plain shuffle (the single-process order).
 */
function shuffleStepGroups(rng: Rng, batches: number[][], size: number, lead: number): number[][] {
  if (size === 1) return rng.shuffle(batches);
  const head = batches.slice(0, lead);
  const groups: number[][][] = [];
  for (let i = head.length; i < batches.length; i += size) groups.push(batches.slice(i, i + size));
  const tail = groups.length > 0 && groups[groups.length - 1]!.length < size ? groups.pop()! : [];
  rng.shuffle(groups);
  return [...head, ...groups.flat(), ...tail];
}

/** Padding share of a set of batches: Σ(B·max − Σlen) / Σ(B·max). */
export function paddingFraction(batches: readonly (readonly number[])[], durationOf: (i: number) => number): number {
  let padded = 0;
  let real = 0;
  for (const b of batches) {
    const d = b.map(durationOf);
    const mx = Math.max(...d);
    padded += mx * d.length;
    real += d.reduce((a, x) => a + x, 0);
  }
  return padded === 0 ? 0 : (padded - real) / padded;
}
