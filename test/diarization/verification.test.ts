// Speaker verification scoring by hand: NeMo's cosine trial score, the EER on worked ROC curves (a crossing at a
// corner, one inside a segment, tied scores, perfect and inverted separation), all-pair trials, and refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allPairTrials, cosineScore, equalErrorRate } from '../../src/diarization/verification.js';

const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

test('cosine score: (cos + 1) / 2', () => {
  close(cosineScore([1, 0], [1, 0]), 1, 'same');
  close(cosineScore([1, 0], [0, 2]), 0.5, 'orthogonal');
  close(cosineScore([1, 1], [-2, -2]), 0, 'opposite');
  close(cosineScore([3, 4], [4, 3]), (24 / 25 + 1) / 2, '3-4-5');
  assert.throws(() => cosineScore([0, 0], [1, 0]), /all zeros/);
  assert.throws(() => cosineScore([1], [1, 0]), /1 and 2 values/);
});

test('EER by hand', () => {
  // targets 0.9 0.8 0.4, non-targets 0.7 0.3 0.2: ROC (0,0) (0,1/3) (0,2/3) (1/3,2/3) (1/3,1) ...; fpr + tpr = 1 at (1/3, 2/3)
  const r = equalErrorRate([0.9, 0.8, 0.4, 0.7, 0.3, 0.2], [true, true, true, false, false, false]);
  close(r.eer, 1 / 3, 'corner crossing');
  close(r.threshold, 0.7, 'threshold');
  // targets 0.9 0.5, non-targets 0.6 0.1: ROC (0,0) (0,1/2) (1/2,1/2) (1/2,1) (1,1): crossing at (1/2, 1/2)
  close(equalErrorRate([0.9, 0.5, 0.6, 0.1], [true, true, false, false]).eer, 0.5, 'two and two');
  // tied scores make one ROC point: targets 0.8 0.8 tie with non-target 0.8 (non-target 0.1): points (0,0) (1/2,1)
  // (1,1); the segment y = 2x meets x + y = 1 at x = 1/3
  close(equalErrorRate([0.8, 0.8, 0.8, 0.1], [true, true, false, false]).eer, 1 / 3, 'tied scores');
  close(equalErrorRate([0.9, 0.8, 0.2, 0.1], [true, true, false, false]).eer, 0, 'perfect');
  close(equalErrorRate([0.1, 0.2, 0.8, 0.9], [true, true, false, false]).eer, 1, 'inverted');
  assert.throws(() => equalErrorRate([0.1, 0.2], [true, true]), /needs target and non-target trials/);
  assert.throws(() => equalErrorRate([0.1], [true, false]), /1 scores for 2 labels/);
});

test('all-pair trials: n(n-1)/2 pairs, same-speaker flags', () => {
  const u = [
    { speaker: 'a', embedding: [1, 0] },
    { speaker: 'a', embedding: [0.9, 0.1] },
    { speaker: 'b', embedding: [0, 1] },
  ];
  const t = allPairTrials(u);
  assert.deepEqual(t.target, [true, false, false]);
  assert.equal(t.scores.length, 3);
  close(equalErrorRate(t.scores, t.target).eer, 0, 'separable');
});
