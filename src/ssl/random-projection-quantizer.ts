// Provenance: NeMo nemo/collections/asr/modules/ssl_modules/quantizers.py RandomProjectionVectorQuantizer (BEST-RQ targets, as NEST uses it).
//
// Initialisation consumes the generator in NeMo's order (nn.Linear default init, xavier_normal_, randn codebooks,
// normal_ again in float64, L2-normalise), so `new Generator(s)` gives NeMo's weights after `torch.manual_seed(s)`.
import * as t from '../torch/index.js';
import type { Tensor, Generator } from '../torch/index.js';

export interface RandomProjectionQuantizerConfig {
  featIn: number;
  codeDim: number;
  numClasses: number;
  numBooks: number;
  /** 'l2' (NEST). 'cosine' is NeMo's other option; NeMo's einsum fails at runtime for it, so it is not offered. */
  distFn?: 'l2';
  /** Input layout (B, T, D) if true, else (B, D, T). */
  timeAhead?: boolean;
  /** All parameters frozen (NeMo default true). */
  freeze?: boolean;
  /** Drop the book axis of the outputs when numBooks == 1. */
  squeezeSingle?: boolean;
  /** Feature frames stacked per token (NEST pre_conv: the subsampling factor, 8). */
  combineTimeSteps?: number;
}

export interface QuantizerOutput {
  /**
   * Selected code vectors, float64, laid out exactly as NeMo returns them: (B, K, T_tok, H) for (B, D, T) input
   * ((B, T_tok, K, H) with timeAhead), book axis dropped when squeezed. For H > 1 NeMo's .view() scrambles rows
   * (not a permute); NEST ignores xq.
   */
  xq: Tensor;
  /** Token ids, int64: (B, T_tok, H), or (B, T_tok) when squeezeSingle and H == 1. */
  xid: Tensor;
}

/** Elements of the (H, rows, C) float64 score tensor computed at once (bounds memory; results do not depend on it). */
const DIST_ELEMENTS_PER_CHUNK = 1 << 22;

export class RandomProjectionVectorQuantizer extends t.Module {
  readonly featIn: number;
  readonly codeDim: number;
  readonly numClasses: number;
  readonly numBooks: number;
  readonly timeAhead: boolean;
  readonly squeezeSingle: boolean;
  readonly combineTimeSteps: number;
  readonly proj: t.Linear; // weight (H*K, featIn*combine), no bias
  readonly codebooks: Tensor; // (H, C, K) float64, unit rows

  constructor(cfg: RandomProjectionQuantizerConfig, init: { generator?: Generator } = {}) {
    super();
    if ((cfg.distFn ?? 'l2') !== 'l2') throw new Error(`RandomProjectionVectorQuantizer: only dist_fn 'l2' is supported, got '${cfg.distFn}'`);
    for (const k of ['featIn', 'codeDim', 'numClasses', 'numBooks'] as const) {
      if (!Number.isInteger(cfg[k]) || cfg[k] <= 0) throw new RangeError(`RandomProjectionVectorQuantizer: ${k} must be a positive integer, got ${cfg[k]}`);
    }
    this.featIn = cfg.featIn;
    this.codeDim = cfg.codeDim;
    this.numClasses = cfg.numClasses;
    this.numBooks = cfg.numBooks;
    this.timeAhead = cfg.timeAhead ?? false;
    this.squeezeSingle = cfg.squeezeSingle ?? false;
    this.combineTimeSteps = cfg.combineTimeSteps ?? 1;
    if (!Number.isInteger(this.combineTimeSteps) || this.combineTimeSteps < 1) {
      throw new RangeError(`RandomProjectionVectorQuantizer: combineTimeSteps must be a positive integer, got ${cfg.combineTimeSteps}`);
    }
    const g = init.generator;
    const H = this.numBooks;
    const K = this.codeDim;
    const C = this.numClasses;
    // nn.Linear(feat_in * combine, H * K, bias=False) (default init), then xavier_normal_: N(0, 2 / (fan_in + fan_out))
    this.proj = this.registerModule('proj', new t.Linear(this.featIn * this.combineTimeSteps, H * K, false, { generator: g }));
    const { fanIn, fanOut } = t.init.fans(this.proj.weight.shape);
    t.init.normal_(this.proj.weight, 0, Math.sqrt(2 / (fanIn + fanOut)), g);
    // torch.randn(H, C, K).double(); normal_(0, 1) (a second draw, in float64); F.normalize(dim=-1)
    const codebooks = t.tidy(() => {
      const cb = t.randn([H, C, K], { generator: g }).double(); // (H, C, K) f64
      t.init.normal_(cb, 0, 1, g);
      return l2Normalize(cb); // (H, C, K)
    });
    this.codebooks = this.registerParameter('codebooks', codebooks);
    if (cfg.freeze ?? true) for (const p of this.parameters()) p.requiresGrad = false;
  }

  /** Number of tokens for T input frames (T must be divisible by combineTimeSteps, as NeMo requires). */
  numTokens(T: number): number {
    if (T % this.combineTimeSteps !== 0) {
      throw new RangeError(
        `RandomProjectionVectorQuantizer: ${T} frames are not divisible by combine_time_steps ${this.combineTimeSteps} (pad features to a multiple)`,
      );
    }
    return T / this.combineTimeSteps;
  }

  /** Token ids only (what NEST uses): (B, T_tok, H) int64, or (B, T_tok) when squeezed. */
  tokens(input: Tensor): Tensor {
    return t.tidy(() => this.tokensUnsqueezed(input).xid3.reshape(this.outTokenShape(input)));
  }

  forward(input: Tensor): QuantizerOutput {
    return t.tidy(() => {
      const { xid3, B, Tt } = this.tokensUnsqueezed(input); // (B, T_tok, H)
      const H = this.numBooks;
      const K = this.codeDim;
      const C = this.numClasses;
      // NeMo: xid2 = xid + C*h, laid out (B, H, T_tok), rows gathered, then .view(B, T_tok, K, H) (a reinterpretation)
      const offs = t.arange(H, undefined, 1, { dtype: 'int64' }).mul(C).reshape([1, 1, H]); // (1, 1, H)
      const xid2 = xid3.add(offs).transpose(1, 2).contiguous().reshape([-1]); // (B*H*T_tok,)
      const rows = t.embedding(this.codebooks.reshape([-1, K]), xid2); // (B*H*T_tok, K) f64
      let xq = rows.reshape([B, Tt, K, H]); // (B, T_tok, K, H)
      if (!this.timeAhead) xq = xq.transpose(1, 2); // (B, K, T_tok, H)
      const squeeze = this.numBooks === 1 && this.squeezeSingle;
      return {
        xq: squeeze ? xq.squeeze(-1) : xq, // (B, K, T_tok) when squeezed
        xid: squeeze ? xid3.squeeze(-1) : xid3, // (B, T_tok) when squeezed
      };
    });
  }

  private outTokenShape(input: Tensor): number[] {
    const B = input.size(0);
    const Tt = this.numTokens(input.size(this.timeAhead ? 1 : 2));
    return this.numBooks === 1 && this.squeezeSingle ? [B, Tt] : [B, Tt, this.numBooks];
  }

  private tokensUnsqueezed(input: Tensor): { xid3: Tensor; B: number; Tt: number } {
    if (input.ndim !== 3) throw new RangeError(`RandomProjectionVectorQuantizer: input must be 3-d, got [${input.shape}]`);
    const x = this.timeAhead ? input : input.transpose(1, 2); // (B, T, D)
    const [B, T, D] = x.shape as [number, number, number];
    if (D !== this.featIn) throw new RangeError(`RandomProjectionVectorQuantizer: input has ${D} features per frame, expected ${this.featIn}`);
    const Tt = this.numTokens(T);
    const H = this.numBooks;
    const K = this.codeDim;
    const C = this.numClasses;
    const stacked = x.contiguous().reshape([B, Tt, this.combineTimeSteps * D]); // (B, T_tok, c*D): frame-major, then feature
    const z = l2Normalize(this.proj.forward(stacked).reshape([B, Tt, H, K])); // (B, T_tok, H, K) f32, unit vectors
    // l2 argmin in float64, as NeMo's argmin over C of ||z - c||: NeMo forms every difference (N, H, K, C); here
    // ||z - c||^2 = ||z||^2 - 2 z.c + ||c||^2 with one float64 matmul per chunk, and ||z||^2 (the same for every c)
    // dropped. A zero z (padding: every code at distance ||c|| = 1 up to rounding) takes the code NeMo's rounding
    // picks, computed once its way. Otherwise tokens equal NeMo's unless two codes lie within float64 rounding of
    // each other (none in the golden fixtures).
    const cb = this.codebooks; // (H, C, K) f64
    const cbT = cb.transpose(1, 2); // (H, K, C) f64
    const cNorm = cb.mul(cb).sum([-1]).unsqueeze(1); // (H, 1, C) ||c||^2
    const zeroToken = t.argmin(t.norm(t.zeros([1, H, K, 1], { dtype: 'float64' }).sub(cbT.unsqueeze(0)), 2, -2), -1).reshape([H, 1]); // (H, 1)
    const zh = z
      .reshape([B * Tt, H, K])
      .transpose(0, 1)
      .to({ dtype: 'float64' }); // (H, N, K) f64
    const isZero = zh.abs().sum([-1]).eq(0); // (H, N)
    const N = B * Tt;
    const per = Math.max(1, Math.floor(DIST_ELEMENTS_PER_CHUNK / (H * C)));
    const parts: Tensor[] = [];
    for (let s = 0; s < N; s += per) {
      const n = Math.min(per, N - s);
      parts.push(
        t.tidy(() => {
          const dot = zh.narrow(1, s, n).matmul(cbT); // (H, n, K) @ (H, K, C) -> (H, n, C)
          const best = t.argmin(cNorm.sub(dot.mul(2)), -1); // (H, n) int64
          return t.where(isZero.narrow(1, s, n), zeroToken.expand([H, n]), best).transpose(0, 1); // (n, H)
        }),
      );
    }
    const xid3 = (parts.length === 1 ? parts[0]! : t.cat(parts, 0)).reshape([B, Tt, H]); // (B, T_tok, H)
    return { xid3, B, Tt };
  }
}

/** torch.nn.functional.normalize(x, p=2, dim=-1, eps=1e-12): x / max(||x||, eps). */
function l2Normalize(x: Tensor): Tensor {
  return t.tidy(() => x.div(t.norm(x, 2, -1, true).clamp(1e-12).expand(x.shape))); // same shape as x
}
