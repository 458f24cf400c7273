// Provenance: NeMo nemo/collections/asr/modules/ssl_modules/masking.py RandomBlockMasking (+ the project's causal extension,
// spec 02 §2, and multi-scale block sizes, issue 17 item 5).
//
// Random draws are NeMo's exactly: per item, overlap mode calls torch.binomial(count, p) then torch.randperm(count);
// no-overlap mode calls torch.randint(0, block_size, (1,)) then torch.randperm(m - 1). NeMo uses the global generator;
// here the generator is passed in, so `new Generator(s)` reproduces NeMo's masks after `torch.manual_seed(s)`.
//
// Multi-scale (blockSizes with two or more sizes of non-zero probability; not in NeMo): each item runs NeMo's
// algorithm above with block_size = R, the largest of those sizes (short-item test, start count, no-overlap grid and
// offset), then draws one more tensor, torch.rand(n) for its n placed blocks (none for an item without blocks or
// too short for a regular block), and block j takes size k_j = the first size whose cumulative probability exceeds
// u_j. Block j covers [s_j, s_j + k_j) instead of [s_j, s_j + R) (overlap mode: still clipped to L; no-overlap mode:
// k_j capped at the grid's cell length, so blocks stay disjoint). The causal window is applied afterwards, as for one
// size. A single size (or one size with probability 1) is NeMo's masking with that block_size, with no extra draw.
import * as t from '../torch/index.js';
import type { Tensor, Generator } from '../torch/index.js';

export interface RandomBlockMaskingConfig {
  /** Size of the mask embedding (80 feature bins pre_conv, d_model post_conv). */
  featIn: number;
  /** Overlap mode: probability that a block starts at a position. No-overlap mode: target masked fraction. */
  maskProb?: number;
  /** Block length in frames (NeMo's single size). Ignored when blockSizes is set. */
  blockSize?: number;
  /** Multi-scale extension: the block lengths to draw from (positive integers); null/absent = blockSize alone. */
  blockSizes?: readonly number[] | null;
  /** Probability of each blockSizes entry (>= 0, summing to 1); null/absent = uniform. Requires blockSizes. */
  blockSizeProbs?: readonly number[] | null;
  /** null: a random N(0, 0.1^2) embedding; a number: a constant vector of that value (never trainable). */
  maskValue?: number | null;
  /** Embedding not trainable (requiresGrad false). */
  freeze?: boolean;
  allowOverlap?: boolean;
  /** Items with blockSize >= L * maxMaskRatio get one short block at their start instead. */
  maxMaskRatio?: number;
  /** Causal extension: never mask a frame after the item's current frame. */
  causal?: boolean;
  /**
   * Causal extension: -1 = unlimited; n >= 0 restricts masking to [currentFrame - n, currentFrame] (spec 02 §2's
   * formula, so 0 = only the current frame; the seed sketch's `> 0` test would treat 0 as unlimited). Frame units
   * are the mask's: feature frames pre_conv (c encoder frames = c * S feature frames), encoder frames post_conv.
   */
  leftContextSize?: number;
}

export interface MaskingCall {
  /**
   * Causal mode only: the newest frame each item may have seen (one number for all items, or one per item).
   * Default: the last valid frame, lengths[i] - 1.
   */
  currentFrame?: number | readonly number[];
}

export interface MaskingResult {
  /** (B, D, T): input features with every masked frame replaced by mask_embedding. */
  masked: Tensor;
  /** (B, D, T) float32: 1 on masked frames (all D rows), else 0. */
  mask: Tensor;
}

const SHORT_BLOCK = 8; // NeMo's block length for items too short for a regular block

export class RandomBlockMasking extends t.Module {
  readonly featIn: number;
  readonly maskProb: number;
  /** The block length NeMo's algorithm runs with: blockSize, or with blockSizes the largest size of non-zero probability. */
  readonly blockSize: number;
  /** Multi-scale: the configured sizes and their probabilities (uniform when not given); null when blockSizes is not set. */
  readonly blockSizes: readonly number[] | null;
  readonly blockSizeProbs: readonly number[] | null;
  /** The sizes drawn per block (non-zero probability) and their cumulative probabilities; empty: no draw. */
  private readonly drawSizes: readonly number[];
  private readonly drawCum: readonly number[];
  readonly allowOverlap: boolean;
  readonly maxMaskRatio: number;
  readonly causal: boolean;
  readonly leftContextSize: number;
  readonly maskEmbedding: Tensor; // (featIn,)

  constructor(cfg: RandomBlockMaskingConfig, init: { generator?: Generator } = {}) {
    super();
    this.featIn = cfg.featIn;
    this.maskProb = cfg.maskProb ?? 0.5;
    this.blockSize = cfg.blockSize ?? 48;
    this.blockSizes = cfg.blockSizes ?? null;
    this.blockSizeProbs = null;
    this.drawSizes = [];
    this.drawCum = [];
    this.allowOverlap = cfg.allowOverlap ?? false;
    this.maxMaskRatio = cfg.maxMaskRatio ?? 0.8;
    this.causal = cfg.causal ?? false;
    this.leftContextSize = cfg.leftContextSize ?? -1;
    if (!Number.isInteger(this.featIn) || this.featIn <= 0) throw new RangeError(`RandomBlockMasking: featIn must be a positive integer, got ${cfg.featIn}`);
    if (!Number.isInteger(this.blockSize) || this.blockSize <= 0)
      throw new RangeError(`RandomBlockMasking: blockSize must be a positive integer, got ${cfg.blockSize}`);
    if (this.blockSizes !== null) {
      const sizes = [...this.blockSizes];
      if (sizes.length === 0 || !sizes.every((k) => Number.isInteger(k) && k > 0)) {
        throw new RangeError(`RandomBlockMasking: blockSizes must be a non-empty list of positive integers, got [${sizes}]`);
      }
      const probs = cfg.blockSizeProbs ? [...cfg.blockSizeProbs] : sizes.map(() => 1 / sizes.length);
      if (probs.length !== sizes.length || !probs.every((p) => p >= 0 && p <= 1) || Math.abs(probs.reduce((a, b) => a + b, 0) - 1) > 1e-6) {
        throw new RangeError(`RandomBlockMasking: blockSizeProbs must be ${sizes.length} probabilities summing to 1, got [${probs}]`);
      }
      const live = sizes.map((k, i) => [k, probs[i]!] as const).filter(([, p]) => p > 0);
      this.blockSizes = sizes;
      this.blockSizeProbs = probs;
      this.blockSize = Math.max(...live.map(([k]) => k));
      if (live.length > 1) {
        let c = 0;
        this.drawSizes = live.map(([k]) => k);
        this.drawCum = live.map(([, p]) => (c += p));
      }
    } else if (cfg.blockSizeProbs != null) {
      throw new RangeError('RandomBlockMasking: blockSizeProbs needs blockSizes');
    }
    if (!(this.maskProb >= 0 && this.maskProb <= 1)) throw new RangeError(`RandomBlockMasking: maskProb must lie in [0, 1], got ${cfg.maskProb}`);
    if (!Number.isInteger(this.leftContextSize) || this.leftContextSize < -1) {
      throw new RangeError(`RandomBlockMasking: leftContextSize must be -1 (unlimited) or an integer >= 0, got ${cfg.leftContextSize}`);
    }
    const maskValue = cfg.maskValue ?? null;
    if (maskValue === null) {
      // NeMo: nn.Parameter(torch.FloatTensor(feat_in)); nn.init.normal_(mean=0, std=0.1)
      this.maskEmbedding = this.registerParameter('mask_embedding', t.init.normal_(t.empty([this.featIn]), 0, 0.1, init.generator));
      if (cfg.freeze ?? true) this.maskEmbedding.requiresGrad = false;
    } else {
      // NeMo: nn.Parameter(torch.ones(feat_in) * mask_value, requires_grad=False), never trainable
      this.maskEmbedding = this.registerParameter('mask_embedding', t.full([this.featIn], maskValue));
      this.maskEmbedding.requiresGrad = false;
    }
  }

  /**
   * Draws the masked frames of every item (sorted, distinct frame indices in [0, T)).
   * `T` is the padded time length; `lengths` are valid frame counts.
   */
  selectFrames(lengths: readonly number[], T: number, generator: Generator, call: MaskingCall = {}): number[][] {
    const out: number[][] = [];
    for (let i = 0; i < lengths.length; i++) {
      const L = lengths[i]!;
      if (!Number.isInteger(L) || L < 0) throw new RangeError(`RandomBlockMasking: lengths[${i}] must be a non-negative integer, got ${L}`);
      let lo = 0;
      let hi = L - 1;
      if (this.causal) {
        const cf = this.currentFrameOf(call.currentFrame, i, L);
        hi = Math.min(cf, L - 1);
        lo = this.leftContextSize < 0 ? 0 : Math.max(0, cf - this.leftContextSize);
      } else if (call.currentFrame !== undefined) {
        throw new Error('RandomBlockMasking: currentFrame is only meaningful with causal: true');
      }
      const Lw = hi - lo + 1; // window length; the whole item when not causal
      const frames = new Set<number>();
      // not causal: always run NeMo's algorithm (even for L = 0, where no-overlap mode masks [0, 8) of padding)
      if (Lw > 0 || !this.causal) {
        const local = this.allowOverlap ? this.overlapFrames(Lw, generator) : this.noOverlapFrames(Lw, generator);
        // shift the window to [lo, hi]; NeMo itself clips only to T (causal: also to the window)
        const top = this.causal ? Math.min(hi + 1, T) : T;
        for (const f of local) {
          const g = f + lo;
          if (g >= lo && g < top) frames.add(g);
        }
      }
      out.push([...frames].sort((a, b) => a - b));
    }
    return out;
  }

  private currentFrameOf(cf: number | readonly number[] | undefined, i: number, L: number): number {
    if (cf === undefined) return L - 1;
    const v = typeof cf === 'number' ? cf : cf[i];
    if (v === undefined || !Number.isInteger(v)) throw new RangeError(`RandomBlockMasking: currentFrame for item ${i} must be an integer, got ${v}`);
    return v;
  }

  /** forward_with_overlap for one item of length L: frame indices relative to the item start. */
  private overlapFrames(L: number, generator: Generator): number[] {
    const frames: number[] = [];
    if (this.blockSize >= L * this.maxMaskRatio) {
      // too short: one block [0, min(8, L))
      for (let f = 0; f < Math.min(SHORT_BLOCK, L); f++) frames.push(f);
      return frames;
    }
    const count = Math.max(0, L - this.blockSize);
    const { starts, sizes } = t.tidy(() => {
      // torch.binomial(torch.tensor(count).float(), torch.tensor(mask_prob)).long(), then torch.randperm(count)[:n]
      const n = t.call(t.op('binomial'), t.scalar(count), t.scalar(this.maskProb), generator).item();
      const starts = t.randperm(count, { generator }).toArray().slice(0, n);
      return { starts, sizes: this.drawBlockSizes(starts.length, generator) };
    });
    starts.forEach((s, j) => {
      const e = Math.min(s + (sizes?.[j] ?? this.blockSize), L);
      for (let f = s; f < e; f++) frames.push(f);
    });
    return frames;
  }

  /** forward_without_overlap for one item of length L (blocks are not clipped to L, as in NeMo). */
  private noOverlapFrames(L: number, generator: Generator): number[] {
    const f32 = Math.fround;
    const frames: number[] = [];
    // NeMo compares tensors here: float32(L * max_mask_ratio)
    if (this.blockSize >= f32(f32(L) * f32(this.maxMaskRatio))) {
      for (let f = 0; f < SHORT_BLOCK; f++) frames.push(f); // [0, 8), not clipped to L
      return frames;
    }
    // num_patches = ceil(L * mask_prob / block_size) in float32
    const numPatches = Math.ceil(f32(f32(f32(L) * f32(this.maskProb)) / this.blockSize));
    const { offset, idx, sizes } = t.tidy(() => {
      const offset = t.randint(0, this.blockSize, [1], { generator }).item();
      let b = this.blockSize;
      if ((numPatches + 1) * this.blockSize > L) b = Math.trunc(L / (numPatches + 1));
      if (b <= 0) throw new Error(`RandomBlockMasking: item of length ${L} is too short for ${numPatches} blocks`);
      const cells = Math.trunc(L / b);
      const idx = t
        .randperm(Math.max(0, cells - 1), { generator })
        .toArray()
        .slice(0, numPatches);
      return { offset: { off: offset, b }, idx, sizes: this.drawBlockSizes(idx.length, generator) };
    });
    idx.forEach((j, k) => {
      const s = j * offset.b + offset.off;
      const len = Math.min(sizes?.[k] ?? offset.b, offset.b); // a cell of the grid: blocks stay disjoint
      for (let f = s; f < s + len; f++) frames.push(f);
    });
    return frames;
  }

  /**
   * Multi-scale: the sizes of an item's n blocks, in the order of its starts: u = torch.rand(n) (float32), size j =
   * the first drawn size whose cumulative probability (float64) exceeds u_j. undefined (and no draw) with one size.
   */
  private drawBlockSizes(n: number, generator: Generator): number[] | undefined {
    if (this.drawSizes.length === 0 || n === 0) return undefined;
    const last = this.drawSizes.length - 1;
    return t
      .rand([n], { generator })
      .toArray()
      .map((u) => {
        const i = this.drawCum.findIndex((c) => u < c);
        return this.drawSizes[i < 0 ? last : i]!;
      });
  }

  /**
   * Masks `feats` (B, D, T) given valid lengths (B,) — the NeMo forward. The input is not modified.
   */
  forward(feats: Tensor, lengths: Tensor | readonly number[], generator: Generator, call: MaskingCall = {}): MaskingResult {
    const [B, D, T] = feats.shape as [number, number, number];
    if (feats.ndim !== 3) throw new RangeError(`RandomBlockMasking: feats must be (B, D, T), got [${feats.shape}]`);
    if (D !== this.featIn) throw new RangeError(`RandomBlockMasking: feats have ${D} features, the mask embedding has ${this.featIn}`);
    const lens = Array.isArray(lengths) ? [...(lengths as readonly number[])] : (lengths as Tensor).toArray();
    if (lens.length !== B) throw new RangeError(`RandomBlockMasking: ${lens.length} lengths for a batch of ${B}`);
    const frames = this.selectFrames(lens, T, generator, call);
    return this.applyFrames(feats, frames);
  }

  /** The deterministic part: marks the given frames of each item and replaces them by the mask embedding. */
  applyFrames(feats: Tensor, frames: readonly (readonly number[])[]): MaskingResult {
    const [B, D, T] = feats.shape as [number, number, number];
    if (frames.length !== B) throw new RangeError(`RandomBlockMasking: frame lists for ${frames.length} items, batch of ${B}`);
    const bt = new Float32Array(B * T);
    frames.forEach((fs, b) => {
      for (const f of fs) {
        if (!(f >= 0 && f < T)) throw new RangeError(`RandomBlockMasking: frame ${f} of item ${b} outside [0, ${T})`);
        bt[b * T + f] = 1;
      }
    });
    return t.tidy(() => {
      const m = t.tensor(bt, [B, 1, T]); // (B, 1, T)
      const mask = m.expand([B, D, T]).contiguous(); // (B, D, T)
      const emb = this.maskEmbedding.to({ dtype: feats.dtype }).reshape([1, D, 1]); // (1, D, 1)
      const masked = t.where(m.gt(0), emb, feats); // (B, D, T)
      return { masked, mask };
    });
  }
}
