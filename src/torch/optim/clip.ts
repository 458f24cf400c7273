// Provenance: torch.nn.utils.clip_grad_norm_
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';

/** Scales all gradients so that their total norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(params: Tensor[], maxNorm: number, normType = 2): number {
  return native.clipGradNorm(
    params.map((p) => p.native),
    maxNorm,
    normType,
  );
}
