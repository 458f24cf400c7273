// How the quantizer's input (the clean features) is normalised before it is turned into target tokens. Targets are
// computed in training only, from the whole clean utterance, so this may look at future frames even when the encoder
// is streaming: it never runs at inference. NeMo has no such step (its quantizer sees what the encoder sees: 'none').
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { normalizeBatch } from '../audio/preprocessor.js';
import type { TargetNormalize } from '../config/schema/nest.js';

export type { TargetNormalize };

/**
 * x [B, F, T] clean features, lengths [B] valid frames -> [B, F, T] the quantizer's input.
 * - none: x unchanged (NeMo; targets see exactly what the encoder's preprocessor gives).
 * - per_utterance: every feature centred and scaled by its mean and standard deviation over the utterance's valid
 *   frames (NeMo's `per_feature`, the normalisation BEST-RQ's authors call critical); padded frames are 0.
 *   Invariant to any per-feature affine change of the features (loudness, channel, fixed statistics).
 * - per_frame: every frame centred and scaled over its own F features (a layer norm without parameters, eps 1e-5);
 *   removes each frame's loudness, keeps the spectral shape. Padded frames are 0.
 */
export function normalizeTargetFeatures(x: Tensor, lengths: Tensor, mode: TargetNormalize): Tensor {
  if (mode === 'none') return x;
  return t.tidy(() => {
    const [B, , T] = x.shape as [number, number, number];
    const valid = t.arange(0, T, 1, { device: x.device }).unsqueeze(0).expand([B, T]).lt(lengths.unsqueeze(1)).unsqueeze(1); // [B, 1, T]
    const y =
      mode === 'per_utterance'
        ? normalizeBatch(x, lengths, 'per_feature') // [B, F, T]
        : t.layerNorm(x.transpose(1, 2), [x.size(1)], null, null, 1e-5).transpose(1, 2); // [B, F, T]
    return t.where(valid, y, 0.0);
  });
}
