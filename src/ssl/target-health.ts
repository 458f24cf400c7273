// Codebook health: are the quantizer's targets informative? A target distribution with a handful of tokens (the
// symptom of quantising unnormalised log-mel, where loudness dominates every projection) lets the model reach a high
// masked accuracy by always predicting the majority token, and pretraining then learns nothing useful.
import { quantizerSeesRawFeatures } from '../config/target-input.js';
import type { TargetNormalize } from './target-normalization.js';

/** Below this fraction of min(num_classes, targets seen) the target perplexity is called degenerate. */
export const DEGENERATE_FRACTION = 0.1;

export interface TargetHealthInput {
  /** exp(entropy) of the target tokens seen. */
  perplexity: number;
  /** Target tokens the perplexity was measured on. */
  targets: number;
  numClasses: number;
  /** model.preprocessor.normalize: what the encoder (and, with target_normalize none, the quantizer) sees. */
  preprocessorNormalize: unknown;
  targetNormalize: TargetNormalize;
}

/** The "degenerate targets" warning with its cause and fix, or null when the targets are healthy. */
export function degenerateTargetsWarning(h: TargetHealthInput): string | null {
  const bound = DEGENERATE_FRACTION * Math.min(h.numClasses, h.targets);
  if (!(h.perplexity < bound)) return null;
  const head = `degenerate targets: the quantizer's target tokens have perplexity ${h.perplexity.toFixed(1)} over ${h.targets} targets, below ${(100 * DEGENERATE_FRACTION).toFixed(0)}% of min(num_classes ${h.numClasses}, targets ${h.targets}) = ${bound.toFixed(1)}; the model can reach a high masked accuracy by predicting the majority token, and pretraining learns little.`;
  if (quantizerSeesRawFeatures(h.preprocessorNormalize, h.targetNormalize)) {
    return (
      `${head} Cause: the quantizer sees unnormalised log-mel (model.preprocessor.normalize: ${JSON.stringify(h.preprocessorNormalize)}, model.target_normalize: none), which loudness dominates. ` +
      'Fix: model.target_normalize=per_utterance (targets only, computed in training from the whole clean utterance; the encoder stays streaming-safe), or fixed global statistics for the encoder (streamnest stats).'
    );
  }
  return `${head} The quantizer's input is normalised (target_normalize: ${h.targetNormalize}), so look at the audio: silence, constant or clipped clips, or a wrong sample rate.`;
}
