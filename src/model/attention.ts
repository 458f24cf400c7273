// Multi-head self-attention: plain (abs_pos) and Transformer-XL relative-position attention (rel_pos).
// Provenance: nemo.collections.asr.parts.submodules.multi_head_attention.RelPositionMultiHeadAttention (and MultiHeadAttention)
import * as t from '../torch/index.js';
import type { Generator, LayerInit, Tensor } from '../torch/index.js';

/** Score given to blocked positions before the softmax (NeMo's INF_VAL; finite, not -inf). */
export const MASK_FILL = -10000.0;

export interface AttentionOptions {
  nHeads: number;
  dModel: number;
  dropoutAtt: number;
  useBias: boolean;
  init?: LayerInit;
  generator?: Generator;
}

/**
 * Streaming cache of one attention layer. `inputs` is NeMo's cache_last_channel for the layer: the last C frames of
 * the layer's (normalised) attention input, [B, C, d], left-padded with zeros until filled; null when not kept (a
 * step needs only the projections: serving drops it, which saves a third of the cache's memory traffic). `keys` and
 * `values` are linear_k / linear_v of those same frames, carried so that a step projects only its new frames (NeMo
 * re-projects all C + T frames at every step; the two agree up to float rounding). They are stored split into heads,
 * in the layouts the step's products read: keys transposed, [B, h, d_k, C], so that q k^T multiplies by a contiguous
 * matrix (BLAS's small-matrix kernels, no packing: 2-3x faster for a batch of streams), values [B, h, C, d_k].
 * keysAsRows / valuesAsRows give them back as [B, C, d].
 *
 * `room`: keys and values made by a step are windows of a longer buffer (room for `capacity` frames along time: the
 * cache, then C + T or ROOM_STEPS chunks, whichever is less), so that the next step appends its new frames in place
 * instead of copying the whole cache (a copy is made only when the buffer is full, at most every ROOM_STEPS steps).
 * Appending needs the cache to be the newest made from its buffer (it ends at `written`, shared by the caches of one
 * buffer): a cache stepped from a second time, or one already followed by a newer one, copies into a new buffer
 * instead, so that every cache handed out keeps its values. Steps with autograd on concatenate (a later write would
 * change what an earlier step saved for backward). null: no buffer (a fresh cache, one picked out of a batch, a short
 * last chunk, a step with autograd on); the next step makes one.
 */
export interface AttentionCache {
  inputs: Tensor | null;
  /** [B, h, d_k, C] */
  keys: Tensor;
  /** [B, h, C, d_k] */
  values: Tensor;
  room?: CacheRoom | null;
}

/**
 * Chunks a cache buffer holds beyond the cache (at most C + T frames): a copy every ROOM_STEPS steps at most, for
 * ROOM_STEPS T frames more memory per layer (at 80 ms chunks and C = 251, 13% more than the cache itself).
 */
export const ROOM_STEPS = 32;

/** The buffer behind a cache's keys and values (see AttentionCache). */
export interface CacheRoom {
  /** Frames the buffer holds along time. */
  capacity: number;
  /** Where the newest cache made from this buffer ends (shared by every cache of the buffer): appends go there. */
  written: { frames: number };
  /** Where this cache's C frames start in the buffer. */
  offset: number;
}

/** The cache's keys as linear_k outputs, [B, h, d_k, C] -> [B, C, d] (a new tensor). */
export function keysAsRows(c: AttentionCache): Tensor {
  const [b, h, dk, n] = c.keys.shape as [number, number, number, number];
  return t.tidy(() => c.keys.permute([0, 3, 1, 2]).reshape([b, n, h * dk]));
}

/** The cache's values as linear_v outputs, [B, h, C, d_k] -> [B, C, d] (a new tensor). */
export function valuesAsRows(c: AttentionCache): Tensor {
  const [b, h, n, dk] = c.values.shape as [number, number, number, number];
  return t.tidy(() => c.values.transpose(1, 2).reshape([b, n, h * dk]));
}

/** The cache's tensors, in a fixed order (for dispose and keep). */
export function attentionCacheTensors(c: AttentionCache): Tensor[] {
  return c.inputs ? [c.inputs, c.keys, c.values] : [c.keys, c.values];
}

/** Applies f to every tensor of the cache (each has the batch on axis 0); the result has no buffer room. */
export function mapAttentionCache(c: AttentionCache, f: (x: Tensor) => Tensor): AttentionCache {
  return { inputs: c.inputs ? f(c.inputs) : null, keys: f(c.keys), values: f(c.values) };
}

/**
 * The cache's keys and values extended by the new frames kNew [B, h, d_k, T] / vNew [B, h, T, d_k], written into the
 * cache's buffer after its frames when it may append there (see AttentionCache), else into a new buffer with room for
 * C + min(C + T, ROOM_STEPS T) frames. Returns the [C+T]-frame windows (the step's keys and values) and the buffer's
 * room for the next cache, whose window starts `keep` frames later.
 */
function appendFrames(
  cache: AttentionCache,
  kNew: Tensor,
  vNew: Tensor,
  keep: number,
  spares: Tensor[] | undefined,
): { keys: Tensor; values: Tensor; room: CacheRoom } {
  const [b, h, dk, c] = cache.keys.shape as [number, number, number, number];
  const tt = kNew.size(3);
  const r = cache.room;
  let keysAll: Tensor; // [B, h, d_k, capacity]
  let valuesAll: Tensor; // [B, h, capacity, d_k]
  let room: CacheRoom;
  if (r && r.offset + c === r.written.frames && r.written.frames + tt <= r.capacity) {
    // the views reach back over the whole buffer (the same storage; its offset 0 is the buffer's start)
    keysAll = t.asStrided(cache.keys, [b, h, dk, r.capacity], [h * dk * r.capacity, dk * r.capacity, r.capacity, 1], 0);
    valuesAll = t.asStrided(cache.values, [b, h, r.capacity, dk], [h * r.capacity * dk, r.capacity * dk, dk, 1], 0);
    room = r;
  } else {
    const capacity = c + Math.min(c + tt, ROOM_STEPS * tt);
    const dtype = cache.keys.dtype;
    keysAll = t.empty([b, h, dk, capacity], { dtype, device: cache.keys.device });
    valuesAll = t.empty([b, h, capacity, dk], { dtype, device: cache.keys.device });
    if (!r && spares) reserveReplacement(keysAll, spares);
    keysAll.narrow(3, 0, c).copy_(cache.keys);
    valuesAll.narrow(2, 0, c).copy_(cache.values);
    room = { capacity, written: { frames: c }, offset: 0 };
  }
  const at = room.written.frames; // = room.offset + C
  keysAll.narrow(3, at, tt).copy_(kNew);
  valuesAll.narrow(2, at, tt).copy_(vNew);
  // The next cache ends `keep` frames later; frames past it (dropped ones) are seen by this step only and may be
  // overwritten by the next.
  room.written.frames = room.offset + keep + c;
  return {
    keys: keysAll.narrow(3, room.offset, c + tt), // [B, h, d_k, C+T]
    values: valuesAll.narrow(2, room.offset, c + tt), // [B, h, C+T, d_k]
    room: { capacity: room.capacity, written: room.written, offset: room.offset + keep },
  };
}

/**
 * Adds to `spares` two zeroed blocks of the buffer's size (one for the keys, one for the values), kept: the caller of
 * the step frees them once every layer has stepped, so that the caching CPU allocator (native/src/cpu-allocator.cc)
 * then holds, for every layer, blocks whose pages are already mapped. When the buffer is full, ROOM_STEPS steps later,
 * the buffer that replaces it takes such a block instead of faulting in fresh pages in the middle of the stream: that
 * first replacement cost 1,700 page faults and 20 ms on top of a 12 ms step (NEST-Small, 320 ms chunks, this VM);
 * later ones reuse the blocks of the buffers before them. Freed one layer at a time instead, each layer's spares
 * would be taken by the next layer's new buffers. Done once per buffer lineage (a fresh cache's first step, which is
 * cold anyway). CPU only.
 */
function reserveReplacement(buffer: Tensor, spares: Tensor[]): void {
  if (buffer.device !== 'cpu') return;
  for (let i = 0; i < 2; i++) spares.push(t.keep(t.zeros(buffer.shape, { dtype: buffer.dtype })));
}

/** Joins the caches of several stream groups along the batch axis (all keep their inputs, or none does). */
export function catAttentionCaches(cs: readonly AttentionCache[]): AttentionCache {
  const inputs = cs.map((c) => c.inputs);
  const kept = inputs.filter((x): x is Tensor => x !== null);
  if (kept.length !== 0 && kept.length !== cs.length) throw new Error('catAttentionCaches: some caches keep their inputs and some do not');
  return {
    inputs: kept.length ? t.cat(kept, 0) : null, // [B, C, d]
    keys: t.cat(
      cs.map((c) => c.keys),
      0,
    ), // [B, C, d]
    values: t.cat(
      cs.map((c) => c.values),
      0,
    ), // [B, C, d]
  };
}

// Provenance: nemo.collections.asr.parts.submodules.multi_head_attention.MultiHeadAttention
export class MultiHeadAttention extends t.Module {
  readonly h: number;
  readonly dK: number;
  readonly linear_q: t.Linear;
  readonly linear_k: t.Linear;
  readonly linear_v: t.Linear;
  readonly linear_out: t.Linear;
  protected readonly dropout: t.Dropout;

  constructor(readonly options: AttentionOptions) {
    super();
    const { nHeads, dModel, useBias, init } = options;
    if (dModel % nHeads !== 0) throw new RangeError(`d_model ${dModel} is not divisible by n_heads ${nHeads}`);
    this.h = nHeads;
    this.dK = dModel / nHeads;
    this.linear_q = this.registerModule('linear_q', new t.Linear(dModel, dModel, useBias, init));
    this.linear_k = this.registerModule('linear_k', new t.Linear(dModel, dModel, useBias, init));
    this.linear_v = this.registerModule('linear_v', new t.Linear(dModel, dModel, useBias, init));
    this.linear_out = this.registerModule('linear_out', new t.Linear(dModel, dModel, useBias, init));
    this.dropout = this.registerModule('dropout', new t.Dropout(options.dropoutAtt, options.generator));
  }

  /** Splits x [B, T, d] (or one frame of one stream, [d]) into heads: -> [B, T, h, d_k]. */
  protected splitHeads(x: Tensor): Tensor {
    if (x.shape.length === 1) return x.view([1, 1, this.h, this.dK]); // [d] -> [1, 1, h, d_k]
    const [b, tt] = x.shape as [number, number];
    return x.view([b, tt, this.h, this.dK]); // [B, T, d] -> [B, T, h, d_k]
  }

  /** Projected keys [B, T, d] (or [d]) -> [B, h, d_k, T] (a view): the layout q k^T multiplies by. */
  protected keyHeads(keys: Tensor): Tensor {
    if (keys.shape.length === 1) return keys.view([1, this.h, this.dK, 1]); // one frame: the same view in one call
    return this.splitHeads(keys).permute([0, 2, 3, 1]); // [B, T, h, d_k] -> [B, h, d_k, T]
  }

  /** Projected values [B, T, d] (or [d]) -> [B, h, T, d_k] (a view). */
  protected valueHeads(values: Tensor): Tensor {
    if (values.shape.length === 1) return values.view([1, this.h, 1, this.dK]);
    return this.splitHeads(values).transpose(1, 2); // [B, T, h, d_k] -> [B, h, T, d_k]
  }

  /**
   * Masked softmax over keys, dropout, weighted sum of values and the output projection -> [B, Tq, d], or [d] when
   * `vector` (one query frame of one stream handed in as a vector).
   */
  protected attend(v: Tensor, scores: Tensor, mask: Tensor | null, vector = false): Tensor {
    const [b, , tq] = scores.shape as [number, number, number];
    let attn: Tensor;
    if (mask) {
      // softmax(scores.masked_fill(m, MASK_FILL)).masked_fill(m, 0), as NeMo; without gradients through a bias made
      // once per mask, which every layer of a step shares (t.maskedSoftmax).
      attn = t.maskedSoftmax(scores, mask, MASK_FILL); // [B, h, Tq, Tk], mask [B, Tq, Tk] for every head
    } else {
      attn = t.softmax(scores, -1);
    }
    const o = t.batchedMatmul(this.dropout.forward(attn), v); // [B, h, Tq, Tk] @ [B, h, Tk, d_k] -> [B, h, Tq, d_k]
    const merged = vector ? o.view([this.h * this.dK]) : o.transpose(1, 2).reshape([b, tq, this.h * this.dK]); // -> [B, Tq, d] or [d]
    return this.linear_out.forward(merged); // [B, Tq, d]
  }

  /**
   * The positional keys of relative-position attention, linear_pos(posEmb) split into heads ([1, P, d] ->
   * [1, h, P, d_k]); null for absolute positions (added to the input instead). Depends on the weights only, so a
   * stream may compute it once per key length (see RelativePositionProjections).
   */
  projectPositions(_posEmb: Tensor | null): Tensor | null {
    return null;
  }

  /**
   * query [B, Tq, d] (or one frame of one stream, [d], which gives [d]) attends over keys / values already projected
   * by linear_k / linear_v and split into heads:
   * kT [B, h, d_k, Tk] (keyHeads), v [B, h, Tk, d_k] (valueHeads). mask [B, Tq, Tk] bool, true = blocked;
   * pos = projectPositions(posEmb).
   */
  protected attendProjected(query: Tensor, kT: Tensor, v: Tensor, mask: Tensor | null, _pos: Tensor | null): Tensor {
    return t.tidy(() => {
      const q = this.splitHeads(this.linear_q.forward(query)).transpose(1, 2); // [B, Tq, h, d_k] -> [B, h, Tq, d_k]
      const scores = t.batchedMatmul(q, kT).div(Math.sqrt(this.dK)); // [B, h, Tq, Tk]
      return this.attend(v, scores, mask, query.shape.length === 1);
    });
  }

  /**
   * query [B, Tq, d] attends over kv [B, Tk, d] (kv = query offline). mask [B, Tq, Tk] bool, true = blocked.
   * posEmb: the relative positional matrix for rel_pos (ignored for abs_pos).
   */
  attendOver(query: Tensor, kv: Tensor, mask: Tensor | null, posEmb?: Tensor | null): Tensor {
    return t.tidy(() =>
      this.attendProjected(
        query,
        this.keyHeads(this.linear_k.forward(kv)),
        this.valueHeads(this.linear_v.forward(kv)),
        mask,
        this.projectPositions(posEmb ?? null),
      ),
    );
  }

  /** Offline self-attention: x [B, T, d], mask [B, T, T] (true = blocked) -> [B, T, d]. */
  forward(x: Tensor, mask: Tensor | null, posEmb?: Tensor | null): Tensor {
    return this.attendOver(x, x, mask, posEmb);
  }

  /**
   * The cache holding the given attention inputs [B, C, d] (e.g. one layer of NeMo's cache_last_channel); takes
   * `inputs` (disposed when keepInputs is false).
   */
  cacheOf(inputs: Tensor, keepInputs = true): AttentionCache {
    const c = t.noGrad(() =>
      t.tidy(() => ({
        inputs,
        keys: this.keyHeads(this.linear_k.forward(inputs)).contiguous(), // [B, h, d_k, C]
        values: this.valueHeads(this.linear_v.forward(inputs)).contiguous(), // [B, h, C, d_k]
      })),
    );
    if (keepInputs) return c;
    inputs.dispose();
    return { ...c, inputs: null };
  }

  /**
   * A zero cache of C slots for `batch` streams (with the projections of those zeros, as NeMo computes them);
   * keepInputs false leaves NeMo's cache_last_channel out (see AttentionCache).
   */
  initCache(batch: number, cacheSize: number, dtype: 'float32' | 'float64' = 'float32', keepInputs = true): AttentionCache {
    return this.cacheOf(t.zeros([batch, cacheSize, this.options.dModel], { dtype }), keepInputs);
  }

  /**
   * Streaming self-attention over [cache, x]: x [B, T, d] (or one frame of one stream as a vector [d], whose
   * projections are then matrix-vector products without reshapes; y is then [d]), mask [B, T, C+T],
   * pos = projectPositions(posEmb) with posEmb [1, 2(C+T)-1, d]. Only the T new frames are projected. The next cache keeps the last C frames of
   * [cache, x[:, :T-cacheDropSize]] (NeMo's update_cache), for the inputs and their projections alike. `spares`: when
   * given and the step starts a new cache buffer, it receives blocks for the caller to free after the step (see
   * reserveReplacement).
   */
  step(
    x: Tensor,
    mask: Tensor | null,
    pos: Tensor | null,
    cache: AttentionCache,
    cacheDropSize: number,
    spares?: Tensor[],
  ): { y: Tensor; cache: AttentionCache } {
    return t.tidy(() => {
      const kNew = this.keyHeads(this.linear_k.forward(x)); // [B, T, d] -> [B, h, d_k, T]
      const vNew = this.valueHeads(this.linear_v.forward(x)); // [B, T, d] -> [B, h, T, d_k]
      // next = old[keep:] ++ fresh[:keep] along time with Python slicing, as NeMo's update_cache: for 0 <= keep <= T
      // that is the window [keep, keep + C) of [old, fresh] (a view, no copy); keep < 0 (a short last chunk) shrinks
      // the cache.
      const frames = x.shape.length === 1 ? 1 : x.size(1);
      const keep = frames - cacheDropSize;
      const windowed = keep >= 0 && keep <= frames;
      const next = (joined: Tensor, old: Tensor, fresh: Tensor, time: number): Tensor =>
        windowed ? joined.narrow(time, keep, old.size(time)) : t.cat([t.slice(old, time, keep, null), t.slice(fresh, time, 0, keep)], time); // -> C frames along `time`
      const rows = cache.inputs && x.shape.length === 1 ? x.view([1, 1, x.size(0)]) : x; // [B, T, d]
      const inputs = cache.inputs ? next(t.cat([cache.inputs, rows], 1), cache.inputs, rows, 1) : null; // [B, C+T, d] -> [B, C, d]
      // In-place appends only without autograd: a later step's writes would change what an earlier one saved for backward.
      if (windowed && cache.keys.size(3) > 0 && !t.isGradEnabled()) {
        const a = appendFrames(cache, kNew, vNew, keep, spares); // [B, h, d_k, C+T], [B, h, C+T, d_k], in the cache's buffer
        const y = this.attendProjected(x, a.keys, a.values, mask, pos); // [B, T, d]
        return { y, cache: { inputs, keys: next(a.keys, cache.keys, kNew, 3), values: next(a.values, cache.values, vNew, 2), room: a.room } };
      }
      const keys = t.cat([cache.keys, kNew], 3); // [B, h, d_k, C] + [B, h, d_k, T] -> [B, h, d_k, C+T]
      const values = t.cat([cache.values, vNew], 2); // [B, h, C+T, d_k]
      const y = this.attendProjected(x, keys, values, mask, pos); // [B, T, d]
      return { y, cache: { inputs, keys: next(keys, cache.keys, kNew, 3), values: next(values, cache.values, vNew, 2), room: null } };
    });
  }
}

// Provenance: nemo.collections.asr.parts.submodules.multi_head_attention.RelPositionMultiHeadAttention
export class RelPositionMultiHeadAttention extends MultiHeadAttention {
  readonly linear_pos: t.Linear;
  readonly pos_bias_u: Tensor; // [h, d_k]
  readonly pos_bias_v: Tensor; // [h, d_k]

  /** shared: the encoder-level (pos_bias_u, pos_bias_v) pair when untie_biases is false. */
  constructor(options: AttentionOptions, shared?: { u: Tensor; v: Tensor }) {
    super(options);
    const dtype = options.init?.dtype;
    this.pos_bias_u = this.registerParameter('pos_bias_u', shared?.u ?? t.zeros([this.h, this.dK], { dtype }));
    this.pos_bias_v = this.registerParameter('pos_bias_v', shared?.v ?? t.zeros([this.h, this.dK], { dtype }));
    this.linear_pos = this.registerModule('linear_pos', new t.Linear(options.dModel, options.dModel, false, options.init));
  }

  /**
   * NeMo's rel_shift: x [B, h, Tq, P] (relative positions, +(Tk-1) first; NeMo passes all P = 2Tk-1, any
   * P >= Tk + Tq - 1 gives the same kept columns) -> [B, h, Tq, P] where out[i][j] = x[i][j + Tq - 1 - i] for the key
   * columns j < Tk that are later kept.
   */
  static relShift(x: Tensor): Tensor {
    const [b, h, qlen, posLen] = x.shape as [number, number, number, number];
    const padded = t.pad(x, [1, 0]); // [B, h, Tq, P] -> [B, h, Tq, P+1]
    const folded = padded.view([b, h, -1, qlen]); // -> [B, h, P+1, Tq]
    return folded.narrow(2, 1, posLen).view([b, h, qlen, posLen]); // drop the first row -> [B, h, Tq, P]
  }

  /**
   * qV [B, h, Tq, d_k] against the positional keys pos [1, h, P, d_k] -> [B, h, Tq, P]. The positions are the same
   * for every batch row, so the batch folds into the rows of one [h, B*Tq, d_k] @ [h, d_k, P] product instead of
   * B*h small ones (a broadcast matmul); the same dot products, summed the same way per element.
   */
  static positionScores(qV: Tensor, pos: Tensor): Tensor {
    const [b, h, tq, dk] = qV.shape as [number, number, number, number];
    if (b === 1) return t.batchedMatmul(qV, pos.transpose(-2, -1)); // [1, h, Tq, P]
    const rows = qV.transpose(0, 1).reshape([h, b * tq, dk]); // [B, h, Tq, d_k] -> [h, B*Tq, d_k]
    const s = t.batchedMatmul(rows, pos.squeeze(0).transpose(-2, -1)); // [h, B*Tq, d_k] @ [h, d_k, P] -> [h, B*Tq, P]
    return s.view([h, b, tq, s.size(2)]).transpose(0, 1); // -> [B, h, Tq, P]
  }

  override projectPositions(posEmb: Tensor | null): Tensor {
    if (!posEmb) throw new Error('RelPositionMultiHeadAttention needs the relative positional matrix posEmb');
    const [bp] = posEmb.shape as [number];
    return this.linear_pos.forward(posEmb).view([bp, -1, this.h, this.dK]).transpose(1, 2); // [1, P, d] -> [1, h, P, d_k]
  }

  protected override attendProjected(query: Tensor, kT: Tensor, v: Tensor, mask: Tensor | null, pos: Tensor | null): Tensor {
    if (!pos) throw new Error('RelPositionMultiHeadAttention needs the projected relative positions');
    return t.tidy(() => {
      const q = this.splitHeads(this.linear_q.forward(query)); // [B, Tq, h, d_k]
      const qU = q.add(this.pos_bias_u).transpose(1, 2); // [B, Tq, h, d_k] -> [B, h, Tq, d_k]
      const qV = q.add(this.pos_bias_v).transpose(1, 2); // [B, h, Tq, d_k]
      const ac = t.batchedMatmul(qU, kT); // [B, h, Tq, d_k] @ [B, h, d_k, Tk] -> [B, h, Tq, Tk]
      const [tq, tk] = [ac.size(2), ac.size(3)];
      // rel_shift's kept columns (j < Tk) read positions j + Tq - 1 - i <= Tk + Tq - 2 only, so the scores are taken
      // against the first Tk + Tq - 1 positions (all 2Tk - 1 offline, where Tq = Tk; about half of them in a streaming
      // step, where the queries are the last Tq of Tk keys). One query frame: rel_shift is the identity on its row.
      const used = RelPositionMultiHeadAttention.positionScores(qV, pos.narrow(2, 0, tk + tq - 1)); // [B, h, Tq, Tk+Tq-1]
      const bd = tq === 1 ? used : RelPositionMultiHeadAttention.relShift(used).narrow(3, 0, tk); // -> [B, h, Tq, Tk]
      const scores = ac.add(bd).div(Math.sqrt(this.dK)); // [B, h, Tq, Tk]
      return this.attend(v, scores, mask, query.shape.length === 1);
    });
  }
}
