// What the random-projection quantizer sees: the clean features after the preprocessor's normalisation and then
// model.target_normalize. Both the streaming-safety check and the degenerate-target warning ask the same question.
import type { TargetNormalize } from './schema/nest.js';

/** True when the preprocessor applies no normalisation (NeMo: anything but per_feature, all_features or fixed statistics). */
export function preprocessorLeavesFeaturesRaw(normalize: unknown): boolean {
  if (normalize !== null && typeof normalize === 'object') return false;
  return normalize !== 'per_feature' && normalize !== 'all_features';
}

/** True when the quantizer would turn unnormalised log-mel into targets (the setting whose targets collapse). */
export function quantizerSeesRawFeatures(preprocessorNormalize: unknown, targetNormalize: TargetNormalize): boolean {
  return targetNormalize === 'none' && preprocessorLeavesFeaturesRaw(preprocessorNormalize);
}
