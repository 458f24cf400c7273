// Speaker verification scoring of utterance embeddings: cosine scores of trial pairs and the equal error rate (the
// false-acceptance rate where it equals the false-rejection rate, on the ROC curve joined by straight lines).
// Provenance: NeMo's examples/speaker_tasks/recognition/voxceleb_eval.py (score = (cos + 1) / 2; EER = brentq root of
// 1 - fpr - interp1d(fpr, tpr) over sklearn.metrics.roc_curve, whose points group equal scores).
import { Rng } from '../data/rng.js';

/** NeMo's trial score: (cosine similarity + 1) / 2, in [0, 1]. */
export function cosineScore(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`cosine score: embeddings of ${a.length} and ${b.length} values`);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  if (aa === 0 || bb === 0) throw new RangeError('cosine score: an embedding is all zeros');
  return (ab / Math.sqrt(aa * bb) + 1) / 2;
}

export interface EqualErrorRate {
  /** False-acceptance (= false-rejection) rate at the crossing, in [0, 1]. */
  eer: number;
  /** The score threshold of the ROC point nearest the crossing (accept when score >= threshold). */
  threshold: number;
}

/** EER of trial scores; `target[i]` says whether trial i pairs the same speaker. Needs both kinds of trials. */
export function equalErrorRate(scores: readonly number[], target: readonly boolean[]): EqualErrorRate {
  if (scores.length !== target.length) throw new RangeError(`EER: ${scores.length} scores for ${target.length} labels`);
  const nT = target.filter(Boolean).length;
  const nN = target.length - nT;
  if (nT === 0 || nN === 0) throw new RangeError(`EER: needs target and non-target trials (got ${nT} and ${nN})`);
  const order = scores.map((_s, i) => i).sort((i, j) => scores[j]! - scores[i]!);
  // ROC points from the highest threshold down; equal scores make one point (sklearn roc_curve)
  const pts: { fpr: number; tpr: number; threshold: number }[] = [{ fpr: 0, tpr: 0, threshold: Number.POSITIVE_INFINITY }];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    if (target[i]) tp++;
    else fp++;
    if (k + 1 < order.length && scores[order[k + 1]!] === scores[i]) continue;
    pts.push({ fpr: fp / nN, tpr: tp / nT, threshold: scores[i]! });
  }
  for (let k = 1; k < pts.length; k++) {
    const p = pts[k - 1]!;
    const q = pts[k]!;
    const h1 = 1 - p.fpr - p.tpr;
    const h2 = 1 - q.fpr - q.tpr;
    if (h1 >= 0 && h2 <= 0) {
      const s = h1 === h2 ? 0 : h1 / (h1 - h2);
      return { eer: p.fpr + s * (q.fpr - p.fpr), threshold: s < 0.5 ? p.threshold : q.threshold };
    }
  }
  throw new Error('EER: the ROC curve does not cross fpr + tpr = 1 (unreachable: it runs from (0, 0) to (1, 1))');
}

/** Every pair of utterances as a trial: (cosine score, same speaker?). */
export function allPairTrials(utterances: readonly { speaker: string; embedding: ArrayLike<number> }[]): { scores: number[]; target: boolean[] } {
  const scores: number[] = [];
  const target: boolean[] = [];
  for (let i = 0; i < utterances.length; i++) {
    for (let j = i + 1; j < utterances.length; j++) {
      scores.push(cosineScore(utterances[i]!.embedding, utterances[j]!.embedding));
      target.push(utterances[i]!.speaker === utterances[j]!.speaker);
    }
  }
  return { scores, target };
}

/**
 * Trials over utterance pairs: every pair when there are at most `maxTrials`, else `maxTrials` distinct pairs drawn
 * with the seeded generator (in index order), so that large sets are scored in bounded time and reproducibly.
 */
export function sampledPairTrials(
  utterances: readonly { speaker: string; embedding: ArrayLike<number> }[],
  maxTrials: number,
  seed: number,
): { scores: number[]; target: boolean[]; all: boolean } {
  if (!(Number.isInteger(maxTrials) && maxTrials >= 1)) throw new RangeError(`trials: the maximum must be a positive integer, got ${maxTrials}`);
  const n = utterances.length;
  if ((n * (n - 1)) / 2 <= maxTrials) return { ...allPairTrials(utterances), all: true };
  const rng = new Rng(seed);
  const picked = new Set<number>();
  while (picked.size < maxTrials) {
    const i = rng.int(0, n - 1);
    const j = rng.int(0, n - 1);
    if (i !== j) picked.add(Math.min(i, j) * n + Math.max(i, j));
  }
  const scores: number[] = [];
  const target: boolean[] = [];
  for (const k of [...picked].sort((a, b) => a - b)) {
    const a = utterances[Math.floor(k / n)]!;
    const b = utterances[k % n]!;
    scores.push(cosineScore(a.embedding, b.embedding));
    target.push(a.speaker === b.speaker);
  }
  return { scores, target, all: false };
}
