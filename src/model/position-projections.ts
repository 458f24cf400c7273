// linear_pos(posEmb) of every layer, computed once per key length for a stream instead of at every step.
// Provenance: a streamnest cache over nemo...RelPositionMultiHeadAttention.linear_pos(pos_emb), which NeMo recomputes per step.
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import type { ConformerLayer } from './conformer-layer.js';

/**
 * The projected relative positions ([1, h, P, d_k] per layer) depend only on the weights and on the key length
 * C + T, which takes one or two values in a stream. Valid while the weights stay as they are (eval-mode streaming);
 * owned and disposed by whoever streams (StreamingEncoder, a transcription session). Each is held with its last two
 * axes stored swapped (the [1, h, d_k, P] transpose is the contiguous tensor): the scores q pos^T then multiply by a
 * contiguous matrix, which BLAS's small-matrix kernels take without packing it (2x faster at 8 query frames,
 * BENCHMARKS.md "Small products"); the values are the same.
 */
export class RelativePositionProjections {
  private readonly byKeyLength = new Map<number, (Tensor | null)[]>();

  constructor(private readonly layers: readonly ConformerLayer[]) {}

  /** Every layer's projectPositions(posEmb) for `keyLength` keys (posEmb [1, 2 keyLength - 1, d]); not to be disposed. */
  forKeyLength(keyLength: number, posEmb: Tensor): (Tensor | null)[] {
    let p = this.byKeyLength.get(keyLength);
    if (!p) {
      p = t.noGrad(() =>
        this.layers.map(
          (layer) => t.tidy(() => layer.self_attn.projectPositions(posEmb)?.transpose(-2, -1).contiguous().transpose(-2, -1) ?? null), // [1, h, P, d_k], stored as [1, h, d_k, P]
        ),
      );
      for (const x of p) if (x) t.keep(x);
      this.byKeyLength.set(keyLength, p);
    }
    return p;
  }

  /** Key lengths held (for tests and memory accounting). */
  get keyLengths(): number[] {
    return [...this.byKeyLength.keys()];
  }

  dispose(): void {
    for (const p of this.byKeyLength.values()) for (const x of p) x?.dispose();
    this.byKeyLength.clear();
  }
}
