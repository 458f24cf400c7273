// Sortformer's training loss: binary cross-entropy over frame-level speaker activities [B, T, S] against targets whose
// speaker columns are ordered by first arrival (ATS: arrival-time sort), and the permutation-invariant variant (PIL)
// that takes the best of all S! speaker permutations, for comparison.
// Provenance: nemo.collections.asr.losses.bce_loss.BCELoss (reduction 'mean', class_normalization off: the mean over
// every valid frame and speaker of the batch) + nemo.collections.asr.parts.utils.asr_multispeaker_utils
// get_ats_targets / get_pil_targets (targets permuted before the loss) + SortformerEncLabelModel._get_aux_train_evaluations
// (loss = ats_weight * ats + pil_weight * pil, the weights normalised to sum to 1).
// Differences from NeMo:
//   - which permutation is best: 'min-bce' (default) takes the permutation of least BCE, so that the PIL loss is
//     min over permutations of the BCE (the textbook PIT definition); NeMo picks the permutation of largest overlap
//     sum_t sum_s target * prob ('max-overlap', available and tested). The two agree when predictions are near 0/1.
//   - ATS: NeMo multiplies the overlap scores by the arrival mask and takes argmax, so when every allowed score is 0 it
//     may pick a permutation that breaks the arrival order; here only arrival-ordered permutations are candidates.
//   - padded frames (t >= length) take no part in the arrival times or the scores (NeMo's padded targets are zero, so
//     only its overlap scores could see them, and they contribute 0 there too).
//   - log probabilities are clamped at -100, as torch.nn.BCELoss does; its backward divides by max(p(1-p), 1e-12),
//     ours differentiates the clamped logs (the same away from p = 0 and p = 1).
import * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';

/** Sortformer's speaker count (NeMo max_num_of_spks: 4). */
export const MAX_SPEAKERS = 4;

/** How the best permutation is chosen (see the header). */
export type PermutationChoice = 'min-bce' | 'max-overlap';

export interface SortLossOptions {
  /** NeMo ats_weight (default 0.5, as streaming_sortformer_diarizer_4spk-v2.yaml). */
  atsWeight?: number;
  /** NeMo pil_weight (default 0.5). */
  pilWeight?: number;
  permutationChoice?: PermutationChoice;
  /** Target values >= this count as speech for the arrival times (NeMo find_first_nonzero thres 0.5). */
  threshold?: number;
}

export interface SortLoss {
  /** atsWeight * ats + pilWeight * pil (weights normalised). */
  loss: Tensor;
  ats: Tensor;
  pil: Tensor;
  /** Per batch row, the target column each output speaker was trained on (output s <- target perm[s]). */
  atsPermutations: number[][];
  pilPermutations: number[][];
}

/** Every permutation of 0..n-1 in itertools.permutations order (lexicographic; the identity first). */
export function speakerPermutations(n: number): number[][] {
  if (n <= 0) return [[]];
  const out: number[][] = [];
  const walk = (prefix: number[], rest: number[]): void => {
    if (rest.length === 0) out.push(prefix);
    for (const [i, x] of rest.entries()) walk([...prefix, x], [...rest.slice(0, i), ...rest.slice(i + 1)]);
  };
  walk(
    [],
    Array.from({ length: n }, (_, i) => i),
  );
  return out;
}

function batchLengths(lengths: Tensor | readonly number[], b: number, frames: number): number[] {
  const lens = Array.isArray(lengths) ? [...(lengths as readonly number[])] : (lengths as Tensor).toArray();
  if (lens.length !== b) throw new RangeError(`sort loss: ${lens.length} lengths for a batch of ${b}`);
  for (const l of lens) if (!(Number.isInteger(l) && l >= 0 && l <= frames)) throw new RangeError(`sort loss: length ${l} is outside 0..${frames}`);
  return lens;
}

/** [B, T, 1] float mask of frames t < length[b]. */
function frameMask(lens: readonly number[], frames: number): Tensor {
  const m = new Float32Array(lens.length * frames);
  for (const [b, l] of lens.entries()) m.fill(1, b * frames, b * frames + l);
  return t.tensor(m, [lens.length, frames, 1]);
}

/**
 * Per batch row and target speaker, the first valid frame whose target is >= threshold, or T when the speaker never
 * talks (NeMo find_first_nonzero with max_cap_val = T). targets [B, T, S].
 */
export function firstArrivals(targets: Tensor, lengths: Tensor | readonly number[], threshold = 0.5): number[][] {
  const [B, T, S] = targets.shape as [number, number, number];
  const lens = batchLengths(lengths, B, T);
  const v = t.tidy(() => targets.detach().to({ dtype: 'float32' }).contiguous().toArray());
  return lens.map((len, b) =>
    Array.from({ length: S }, (_, s) => {
      for (let f = 0; f < len; f++) if (v[(b * T + f) * S + s]! >= threshold) return f;
      return T;
    }),
  );
}

/** Permutations whose columns arrive in sorted order (ties in arrival time leave several). */
function arrivalOrdered(arrivals: readonly number[], perms: readonly number[][]): number[][] {
  const sorted = [...arrivals].sort((a, b) => a - b);
  return perms.filter((p) => p.every((j, s) => arrivals[j] === sorted[s]));
}

/**
 * Score of every (target speaker j, output speaker s) pair, larger = better, [B][j][s]: the negated BCE of output s
 * against target j over valid frames less its j-independent part ('min-bce'), or sum_t target_j * prob_s ('max-overlap').
 * A permutation's score is sum_s score[perm[s]][s]; the j-independent part is the same for every permutation.
 */
function pairScores(probs: Tensor, targets: Tensor, mask: Tensor, choice: PermutationChoice): number[][][] {
  const [B, , S] = probs.shape as [number, number, number];
  const flat = t.tidy(() =>
    t.noGrad(() => {
      const p = probs.detach().to({ dtype: 'float64' });
      const y = targets.detach().to({ dtype: 'float64' }).mul(mask); // [B, T, S]
      const per = choice === 'max-overlap' ? p : clampedLog(p).sub(clampedLog(t.sub(1, p))); // [B, T, S]
      return t.bmm(y.transpose(1, 2), per.mul(mask)).contiguous().toArray(); // [B, S(target), S(output)]
    }),
  );
  return Array.from({ length: B }, (_, b) => Array.from({ length: S }, (_, j) => flat.slice((b * S + j) * S, (b * S + j + 1) * S)));
}

function bestPermutation(scores: readonly number[][], candidates: readonly number[][]): number[] {
  let best = candidates[0]!;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (const p of candidates) {
    const s = p.reduce((a, j, k) => a + scores[j]![k]!, 0);
    if (s > bestScore) {
      best = p;
      bestScore = s;
    }
  }
  return best;
}

/** log(x) clamped at -100 (torch.nn.BCELoss). */
function clampedLog(x: Tensor): Tensor {
  return t.clamp(t.log(x), -100);
}

/**
 * NeMo's BCELoss (reduction 'mean'): the mean over valid frames (t < length) and speakers of
 * -(y log p + (1 - y) log(1 - p)). probs, targets [B, T, S]; lengths [B].
 */
export function binaryCrossEntropy(probs: Tensor, targets: Tensor, lengths: Tensor | readonly number[]): Tensor {
  const [B, T, S] = probs.shape as [number, number, number];
  if (targets.ndim !== 3 || targets.size(0) !== B || targets.size(1) !== T || targets.size(2) !== S)
    throw new RangeError(`BCE: targets [${targets.shape.join(', ')}] do not match probabilities [${probs.shape.join(', ')}]`);
  const lens = batchLengths(lengths, B, T);
  const count = lens.reduce((a, l) => a + l, 0) * S;
  if (count === 0) throw new RangeError('BCE: no valid frames in the batch');
  return t.tidy(() => {
    const mask = frameMask(lens, T); // [B, T, 1]
    const y = targets.to({ dtype: probs.dtype });
    const elem = y.mul(clampedLog(probs)).add(t.sub(1, y).mul(clampedLog(t.sub(1, probs)))); // [B, T, S]
    return elem.mul(mask).sum().neg().div(count);
  });
}

/** targets [B, T, S] with output column s taken from target column perms[b][s] (NeMo reconstruct_labels). */
export function permuteTargets(targets: Tensor, perms: readonly number[][]): Tensor {
  const [B, T, S] = targets.shape as [number, number, number];
  return t.tidy(() => {
    const idx = t
      .tensor(
        BigInt64Array.from(perms.flat(), (v) => BigInt(v)),
        [B, 1, S],
      )
      .expand([B, T, S]);
    return t.gather(targets, 2, idx);
  });
}

/** Per batch row, the arrival-ordered permutation of the targets that best fits the predictions (get_ats_targets). */
export function atsPermutations(probs: Tensor, targets: Tensor, lengths: Tensor | readonly number[], o: SortLossOptions = {}): number[][] {
  const [B, T, S] = probs.shape as [number, number, number];
  const lens = batchLengths(lengths, B, T);
  const perms = speakerPermutations(S);
  const arrivals = firstArrivals(targets, lens, o.threshold ?? 0.5);
  const scores = t.tidy(() => pairScores(probs, targets, frameMask(lens, T), o.permutationChoice ?? 'min-bce'));
  return scores.map((sc, b) => bestPermutation(sc, arrivalOrdered(arrivals[b]!, perms)));
}

/** Per batch row, the permutation of the targets that best fits the predictions over all S! (get_pil_targets). */
export function pilPermutations(probs: Tensor, targets: Tensor, lengths: Tensor | readonly number[], o: SortLossOptions = {}): number[][] {
  const [B, T, S] = probs.shape as [number, number, number];
  const lens = batchLengths(lengths, B, T);
  const perms = speakerPermutations(S);
  const scores = t.tidy(() => pairScores(probs, targets, frameMask(lens, T), o.permutationChoice ?? 'min-bce'));
  return scores.map((sc) => bestPermutation(sc, perms));
}

/**
 * The Sortformer loss: ats_weight * BCE(probs, arrival-sorted targets) + pil_weight * BCE(probs, best-permuted targets).
 * probs [B, T, S] (sigmoid outputs, S <= 6: the permutations are enumerated); targets [B, T, S] in {0, 1} (or soft);
 * lengths [B] valid frames. Gradients flow into probs only.
 */
export function sortLoss(probs: Tensor, targets: Tensor, lengths: Tensor | readonly number[], o: SortLossOptions = {}): SortLoss {
  if (probs.ndim !== 3) throw new RangeError(`sort loss: probabilities must be [B, T, S], got [${probs.shape.join(', ')}]`);
  const S = probs.size(2);
  if (S > 6) throw new RangeError(`sort loss: ${S} speakers would take ${S}! permutations; at most 6 are supported`);
  const a = o.atsWeight ?? 0.5;
  const p = o.pilWeight ?? 0.5;
  if (!(a >= 0 && p >= 0 && a + p > 0)) throw new RangeError(`sort loss: weights for PIL ${p} and ATS ${a} must be >= 0 and not both 0`);
  const lens = batchLengths(lengths, probs.size(0), probs.size(1));
  const atsPerm = atsPermutations(probs, targets, lens, o);
  const pilPerm = pilPermutations(probs, targets, lens, o);
  return t.tidy(() => {
    const ats = binaryCrossEntropy(probs, permuteTargets(targets, atsPerm), lens);
    const pil = binaryCrossEntropy(probs, permuteTargets(targets, pilPerm), lens);
    const loss = ats.mul(a / (a + p)).add(pil.mul(p / (a + p)));
    return { loss, ats, pil, atsPermutations: atsPerm, pilPermutations: pilPerm };
  });
}
