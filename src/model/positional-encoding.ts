// Sinusoidal positional encodings: relative (Transformer-XL, for rel_pos attention) and absolute (for abs_pos).
// Provenance: nemo.collections.asr.parts.submodules.multi_head_attention.RelPositionalEncoding (and PositionalEncoding)
import * as t from '../torch/index.js';
import type { Generator, Tensor } from '../torch/index.js';

const INF_VAL = 10000.0;

/**
 * Sinusoid rows for the given positions, computed with NeMo's float32 operations (create_pe):
 * pe[p, 2m] = sin(pos_p * w_m), pe[p, 2m+1] = cos(pos_p * w_m), w_m = exp(2m * -(ln 10000 / d)).
 */
export function sinusoidTable(positions: readonly number[], dModel: number): Tensor {
  return t.tidy(() => {
    const pos = t.tensor(Float32Array.from(positions), [positions.length, 1]); // [P, 1]
    const divTerm = t
      .arange(0, dModel, 2, { dtype: 'float32' })
      .mul(-(Math.log(INF_VAL) / dModel))
      .exp(); // [d/2]
    const arg = pos.mul(divTerm); // [P, 1] * [d/2] -> [P, d/2]
    return t.stack([t.sin(arg), t.cos(arg)], -1).reshape([positions.length, dModel]); // [P, d/2, 2] -> [P, d] interleaved
  });
}

/** Shared part of both encodings: x-scaling, dropout of x, optional dropout of the positional matrix. */
abstract class PositionalEncodingBase extends t.Module {
  protected readonly dropout: t.Dropout;
  protected readonly dropoutEmb: t.Dropout | null;
  /** Cached sinusoid table (not part of the state dict), grown on demand like NeMo's extend_pe. */
  private table: Tensor | null = null;

  constructor(
    readonly dModel: number,
    /** sqrt(d_model) when xscaling, else null. */
    readonly xscale: number | null,
    dropoutRate: number,
    dropoutRateEmb: number,
    generator?: Generator,
  ) {
    super();
    this.dropout = this.registerModule('dropout', new t.Dropout(dropoutRate, generator));
    this.dropoutEmb = dropoutRateEmb > 0 ? this.registerModule('dropout_emb', new t.Dropout(dropoutRateEmb, generator)) : null;
  }

  /** Positions of the table's rows for a table able to serve `length` (subclasses decide the layout). */
  protected abstract tablePositions(length: number): number[];
  protected abstract tableCapacity(table: Tensor): number;

  protected tableFor(length: number, dtype: Tensor['dtype']): Tensor {
    if (this.table === null || this.tableCapacity(this.table) < length || this.table.dtype !== dtype) {
      const fresh = t.tidy(() => sinusoidTable(this.tablePositions(length), this.dModel).to({ dtype }));
      this.table?.dispose();
      this.table = t.keep(fresh);
    }
    return this.table;
  }

  protected scale(x: Tensor): Tensor {
    return this.xscale !== null ? x.mul(this.xscale) : x.alias();
  }

  /** Frees the cached table (parameters: none). */
  override dispose(): void {
    this.table?.dispose();
    this.table = null;
    super.dispose();
  }
}

// Provenance: nemo.collections.asr.parts.submodules.multi_head_attention.RelPositionalEncoding
export class RelPositionalEncoding extends PositionalEncodingBase {
  protected tablePositions(length: number): number[] {
    const out: number[] = [];
    for (let r = length - 1; r > -length; r--) out.push(r); // length-1 ... -(length-1)
    return out;
  }
  protected tableCapacity(table: Tensor): number {
    return (table.size(0) + 1) / 2;
  }

  /**
   * x [B, T, d] -> {x: dropout(x * xscale) [B, T, d], posEmb [1, 2(T+cacheLen)-1, d]}: row p holds the
   * sinusoid of relative position (T+cacheLen-1-p), i.e. from +(Tk-1) (key in the past) to -(Tk-1).
   */
  forward(x: Tensor, cacheLen = 0): { x: Tensor; posEmb: Tensor } {
    return t.tidy(() => {
      const tk = x.size(1) + cacheLen;
      const table = this.tableFor(tk, x.dtype);
      const center = (table.size(0) - 1) / 2; // row of relative position 0
      let posEmb = table.narrow(0, center - (tk - 1), 2 * tk - 1).unsqueeze(0); // [2Tk-1, d] -> [1, 2Tk-1, d]
      if (this.dropoutEmb) posEmb = this.dropoutEmb.forward(posEmb);
      return { x: this.dropout.forward(this.scale(x)), posEmb };
    });
  }
}

// Provenance: nemo.collections.asr.parts.submodules.multi_head_attention.PositionalEncoding
export class AbsPositionalEncoding extends PositionalEncodingBase {
  protected tablePositions(length: number): number[] {
    return Array.from({ length }, (_, i) => i);
  }
  protected tableCapacity(table: Tensor): number {
    return table.size(0);
  }

  /** x [B, T, d] -> {x: dropout(x * xscale + pe[0 .. Tk)) [B, T, d], posEmb [1, Tk, d]} with Tk = T + cacheLen. */
  forward(x: Tensor, cacheLen = 0): { x: Tensor; posEmb: Tensor } {
    return t.tidy(() => {
      const tk = x.size(1) + cacheLen;
      let posEmb = this.tableFor(tk, x.dtype).narrow(0, 0, tk).unsqueeze(0); // [Tk, d] -> [1, Tk, d]
      if (this.dropoutEmb) posEmb = this.dropoutEmb.forward(posEmb);
      // NeMo adds pe[:, :T+cache] to x of length T, which only broadcasts when cacheLen == 0 (abs_pos does not stream).
      const y = this.scale(x).add(posEmb.narrow(1, 0, x.size(1))); // [B, T, d] + [1, T, d]
      return { x: this.dropout.forward(y), posEmb };
    });
  }
}
