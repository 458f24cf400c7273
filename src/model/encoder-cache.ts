// The typed streaming state of a ConformerEncoder and the few structural operations on it (list, map, join), so
// that code above the model never spells out the cache's fields.
// Provenance: NeMo's (cache_last_channel, cache_last_time, cache_last_channel_len) triple, as named fields.
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { attentionCacheTensors, catAttentionCaches, mapAttentionCache } from './attention.js';
import type { LayerCache } from './conformer-layer.js';

/** Every layer's caches plus how many trailing attention-cache slots hold real frames (cache_last_channel_len). */
export interface EncoderCache {
  layers: LayerCache[];
  /** int64 [B] */
  channelLen: Tensor;
}

/** Every tensor of the cache (for dispose / keep / leak accounting). */
export function encoderCacheTensors(c: EncoderCache): Tensor[] {
  return [...c.layers.flatMap((l) => [...attentionCacheTensors(l.attention), l.conv.frames]), c.channelLen];
}

/** Disposes every tensor of the cache. */
export function disposeEncoderCache(c: EncoderCache): void {
  for (const x of encoderCacheTensors(c)) x.dispose();
}

/** Moves the cache's tensors out of the enclosing tidy scope; returns the same cache. */
export function keepEncoderCache(c: EncoderCache): EncoderCache {
  for (const x of encoderCacheTensors(c)) t.keep(x);
  return c;
}

/** Applies f to every tensor (all have the batch on axis 0), e.g. to pick one stream. */
export function mapEncoderCache(c: EncoderCache, f: (x: Tensor) => Tensor): EncoderCache {
  return {
    layers: c.layers.map((l) => ({ attention: mapAttentionCache(l.attention, f), conv: { frames: f(l.conv.frames) } })),
    channelLen: f(c.channelLen),
  };
}

/** Caches of several stream groups joined along the batch axis (new tensors; the inputs are not consumed). */
export function catEncoderCaches(cs: readonly EncoderCache[]): EncoderCache {
  const n = cs[0]!.layers.length;
  const layers: LayerCache[] = [];
  for (let l = 0; l < n; l++) {
    layers.push({
      attention: catAttentionCaches(cs.map((c) => c.layers[l]!.attention)),
      conv: {
        frames: t.cat(
          cs.map((c) => c.layers[l]!.conv.frames),
          0,
        ),
      }, // [B, d, cl]
    });
  }
  return {
    layers,
    channelLen: t.cat(
      cs.map((c) => c.channelLen),
      0,
    ),
  };
}

/** NeMo's cache_last_channel layout of the attention inputs: [n_layers, B, C, d] (a new tensor); the cache must keep its inputs. */
export function cacheLastChannel(c: EncoderCache): Tensor {
  return t.stack(
    c.layers.map((l, i) => {
      if (!l.attention.inputs) throw new Error(`cacheLastChannel: layer ${i}'s cache does not keep its inputs (initCache with keepInputs)`);
      return l.attention.inputs;
    }),
    0,
  );
}
