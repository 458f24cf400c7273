// The additive angular margin (ArcFace) softmax loss on cosine logits: the target class's cosine cos(theta) becomes
// cos(theta + margin), every logit is scaled, and the loss is the mean cross-entropy.
// Provenance: nemo.collections.asr.losses.angularloss.AngularSoftmaxLoss (numerator s * cos(acos(clamp(cos_y, -1 + eps,
// 1 - eps)) + m), denominator exp(numerator) + sum over the other classes of exp(s * cos_j), eps 1e-7; NeMo's speaker
// configs use scale 30, margin 0.2). The same value is written as cross-entropy over the logits with the target's
// replaced, and cos(theta + m) as cos(theta) cos m - sin(theta) sin m with sin(theta) = sqrt(1 - cos^2) (theta in [0, pi]),
// which avoids acos (not in the addon) and is exact.
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';

export interface AngularSoftmaxOptions {
  scale?: number;
  margin?: number;
}

const EPS = 1e-7;

/** cosines [B, C] in [-1, 1], labels [B] int64 -> the scalar mean loss. */
export function angularSoftmaxLoss(cosines: Tensor, labels: Tensor, o: AngularSoftmaxOptions = {}): Tensor {
  const scale = o.scale ?? 30;
  const margin = o.margin ?? 0.2;
  const [B, C] = cosines.shape as [number, number];
  if (labels.shape.length !== 1 || labels.size(0) !== B) throw new RangeError(`angular softmax loss: ${labels.shape} labels for ${B} rows`);
  return t.tidy(() => {
    const target = t.arange(C).unsqueeze(0).eq(labels.unsqueeze(1)); // [B, C] bool
    const cos = cosines.clamp(-1 + EPS, 1 - EPS);
    const sin = cos.mul(cos).neg().add(1).sqrt();
    const shifted = cos.mul(Math.cos(margin)).sub(sin.mul(Math.sin(margin))); // cos(theta + m)
    const logits = t.where(target, shifted, cosines).mul(scale);
    return t.crossEntropy(logits, labels);
  });
}
