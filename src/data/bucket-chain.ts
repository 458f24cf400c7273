// The order in which one epoch of a bucketed tarred dataset reads its buckets. As NeMo's get_chain_dataset builds it:
// each bucket is in the chain `weight` times (bucketing_weights), next to each other, in bucket order; fixed_order reads
// that chain as it is every epoch (torch's ChainDataset), synced_randomized and fully_randomized read a permutation of it
// drawn anew each epoch (RandomizedChainDataset), from a generator every rank shares (synced: all ranks are in the same
// bucket at the same time) or one per rank (fully). Here the permutation is a function of (seed, epoch), or of
// (seed, rank, epoch), so an epoch can be replayed on its own for exact resume; NeMo's generators are numpy RandomStates
// seeded with 0 (synced) or random.randint(0, 30000) + rank (fully), so the orders themselves differ from NeMo's.
// Provenance: nemo.collections.asr.data.audio_to_text_dataset.get_chain_dataset, audio_to_text.RandomizedChainDataset.
import type { BucketingStrategy } from '../config/schema/bucketing.js';
import { Rng, mixSeed } from './rng.js';

/** The chain before any shuffling: bucket b repeated weights[b] times, buckets in order. */
export function bucketChain(weights: readonly number[]): number[] {
  return weights.flatMap((w, b) => Array.from({ length: w }, () => b));
}

/** The buckets one epoch reads, in order (a bucket listed k times is read k times). */
export function epochBucketOrder(weights: readonly number[], strategy: BucketingStrategy, seed: number, rank: number, epoch: number): number[] {
  const chain = bucketChain(weights);
  if (strategy === 'fixed_order' || chain.length < 2) return chain;
  const rng = new Rng(strategy === 'synced_randomized' ? mixSeed(seed, epoch, 0xb0c) : mixSeed(seed, rank, epoch, 0xb0c, 1));
  return rng.shuffle(chain);
}
