// The Sortformer loss: BCE by hand, NeMo's ATS/PIL targets and torch's BCELoss on stored cases
// (test/fixtures/diarization/sort-loss.json), arrival ordering, and PIL as the minimum over all permutations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import {
  atsPermutations,
  binaryCrossEntropy,
  firstArrivals,
  permuteTargets,
  pilPermutations,
  sortLoss,
  speakerPermutations,
} from '../../src/diarization/sort-loss.js';
import { REPO_ROOT } from '../helpers/assert.js';

interface Case {
  name: string;
  shape: [number, number, number];
  lengths: number[];
  probs: number[];
  targets: number[];
  atsTargets: number[];
  pilTargets: number[];
  ats: number;
  pil: number;
  loss: number;
}

const CASES = (JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'diarization', 'sort-loss.json'), 'utf8')) as { cases: Case[] }).cases;

function close(a: number, b: number, tol: number, what: string): void {
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
}

/** Plain-JS BCE of probs against targets with output s <- target perm[s], over valid frames (float64). */
function bceJs(p: number[], y: number[], [B, T, S]: [number, number, number], lens: number[], perms: number[][]): number {
  let sum = 0;
  let n = 0;
  for (let b = 0; b < B; b++) {
    for (let f = 0; f < lens[b]!; f++) {
      for (let s = 0; s < S; s++) {
        const q = p[(b * T + f) * S + s]!;
        const v = y[(b * T + f) * S + perms[b]![s]!]!;
        sum -= v * Math.max(Math.log(q), -100) + (1 - v) * Math.max(Math.log(1 - q), -100);
        n++;
      }
    }
  }
  return sum / n;
}

test('speakerPermutations: itertools.permutations order', () => {
  assert.deepEqual(speakerPermutations(3), [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
  ]);
  assert.equal(speakerPermutations(4).length, 24);
});

test('BCE by hand: mean over valid frames and speakers, padded frames ignored, log clamped at -100', () => {
  const before = t.liveTensorCount();
  t.tidy(() => {
    // row 0: 2 valid frames; row 1: 1 valid frame, its padded frame holds p = 0 against y = 1 (would be +100 if counted)
    const probs = t.tensor([0.9, 0.2, 0.6, 0.5, 0.7, 0.3, 0, 0], [2, 2, 2]);
    const targets = t.tensor([1, 0, 0, 1, 1, 1, 1, 1], [2, 2, 2]);
    const got = binaryCrossEntropy(probs, targets, [2, 1]).item();
    const want = -(Math.log(0.9) + Math.log(0.8) + Math.log(0.4) + Math.log(0.5) + Math.log(0.7) + Math.log(0.3)) / 6;
    close(got, want, 1e-6, 'BCE');
    // p = 0 against y = 1 counts 100 (torch.nn.BCELoss clamps the log)
    close(binaryCrossEntropy(t.tensor([0, 1], [1, 1, 2]), t.tensor([1, 1], [1, 1, 2]), [1]).item(), 50, 1e-4, 'clamped');
    assert.throws(() => binaryCrossEntropy(probs, targets, [3, 1]), /length 3 is outside 0..2/);
  });
  assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
});

for (const c of CASES) {
  test(`NeMo parity (${c.name}): ATS/PIL targets of get_ats_targets / get_pil_targets and torch BCELoss values`, () => {
    const before = t.liveTensorCount();
    t.tidy(() => {
      const probs = t.tensor(c.probs, c.shape);
      const targets = t.tensor(c.targets, c.shape);
      const r = sortLoss(probs, targets, c.lengths, { permutationChoice: 'max-overlap' });
      assert.deepEqual(permuteTargets(targets, r.atsPermutations).toArray(), c.atsTargets, 'ATS targets');
      assert.deepEqual(permuteTargets(targets, r.pilPermutations).toArray(), c.pilTargets, 'PIL targets');
      close(r.ats.item(), c.ats, 2e-6, 'ATS loss');
      close(r.pil.item(), c.pil, 2e-6, 'PIL loss');
      close(r.loss.item(), c.loss, 2e-6, 'loss');
    });
    assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
  });
}

test('ATS: the permuted targets arrive in order (column 0 first), whatever the predictions', () => {
  t.tidy(() => {
    for (const c of CASES) {
      const probs = t.tensor(c.probs, c.shape);
      const targets = t.tensor(c.targets, c.shape);
      for (const choice of ['min-bce', 'max-overlap'] as const) {
        const perms = atsPermutations(probs, targets, c.lengths, { permutationChoice: choice });
        for (const arrivals of firstArrivals(permuteTargets(targets, perms), c.lengths)) {
          assert.deepEqual(
            arrivals,
            [...arrivals].sort((a, b) => a - b),
            `${c.name} (${choice}): arrivals ${arrivals}`,
          );
        }
      }
    }
  });
});

test('arrival order by hand: speakers 2, 0, 3 talk first at frames 1, 4, 9; silent speaker 1 arrives at T', () => {
  t.tidy(() => {
    const c = CASES[0]!;
    const targets = t.tensor(c.targets, c.shape);
    assert.deepEqual(firstArrivals(targets, c.lengths)[0], [4, 20, 1, 9]);
    // predictions that already follow the arrival order: the ATS permutation takes column 2, then 0, then 3
    const [, T, S] = c.shape;
    const sorted = permuteTargets(targets, [
      [2, 0, 3, 1],
      [1, 3, 0, 2],
    ]);
    const probs = sorted.mul(0.8).add(0.1);
    const perms = atsPermutations(probs, targets, c.lengths);
    assert.deepEqual(perms[0], [2, 0, 3, 1]);
    assert.deepEqual(perms[1], [1, 3, 0, 2]);
    assert.equal(T * S, 80);
  });
});

test('PIL (min-bce) is the minimum BCE over all 24 permutations, and never above ATS; max-overlap picks the largest overlap', () => {
  t.tidy(() => {
    const rnd = new t.Generator(5);
    for (let trial = 0; trial < 4; trial++) {
      const shape: [number, number, number] = [2, 15, 4];
      const probs = t.rand(shape, { generator: rnd }).mul(0.9).add(0.05);
      const targets = t.rand(shape, { generator: rnd }).gt(0.6).to({ dtype: 'float32' });
      const lens = [15, 11];
      const p = probs.toArray();
      const y = targets.toArray();
      const all = speakerPermutations(4);
      const r = sortLoss(probs, targets, lens);
      for (let b = 0; b < 2; b++) {
        const row = (perm: number[]): number => bceJs(p.slice(b * 60, (b + 1) * 60), y.slice(b * 60, (b + 1) * 60), [1, 15, 4], [lens[b]!], [perm]);
        const best = Math.min(...all.map(row));
        close(row(r.pilPermutations[b]!), best, 1e-9, `row ${b} PIL permutation`);
        const overlap = (perm: number[]): number => {
          let s = 0;
          for (let f = 0; f < lens[b]!; f++) for (let k = 0; k < 4; k++) s += y[(b * 15 + f) * 4 + perm[k]!]! * p[(b * 15 + f) * 4 + k]!;
          return s;
        };
        const mo = pilPermutations(probs, targets, lens, { permutationChoice: 'max-overlap' })[b]!;
        close(overlap(mo), Math.max(...all.map(overlap)), 1e-4, `row ${b} max-overlap`);
      }
      close(r.pil.item(), bceJs(p, y, shape, lens, r.pilPermutations), 1e-5, 'PIL loss');
      close(r.ats.item(), bceJs(p, y, shape, lens, r.atsPermutations), 1e-5, 'ATS loss');
      assert.ok(r.pil.item() <= r.ats.item() + 1e-6, `PIL ${r.pil.item()} > ATS ${r.ats.item()}`);
    }
  });
});

test('gradients reach the probabilities; weights are normalised; bad weights and too many speakers are refused', () => {
  const before = t.liveTensorCount();
  const c = CASES[1]!;
  const probs = t.tensor(c.probs, c.shape);
  probs.requiresGrad = true;
  const targets = t.tensor(c.targets, c.shape);
  t.tidy(() => {
    const r = sortLoss(probs, targets, c.lengths, { atsWeight: 3, pilWeight: 1 });
    close(r.loss.item(), 0.75 * r.ats.item() + 0.25 * r.pil.item(), 1e-6, 'weighted');
    r.loss.backward();
    const g = probs.grad!;
    assert.ok(g.abs().sum().item() > 0, 'gradient');
    close(sortLoss(probs, targets, c.lengths, { atsWeight: 1, pilWeight: 0 }).loss.item(), r.ats.item(), 1e-7, 'ATS only');
  });
  assert.throws(() => sortLoss(probs, targets, c.lengths, { atsWeight: 0, pilWeight: 0 }), /not both 0/);
  t.tidy(() => assert.throws(() => sortLoss(t.rand([1, 2, 7]), t.rand([1, 2, 7]), [2]), /at most 6/));
  probs.grad = null;
  probs.dispose();
  targets.dispose();
  assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
});
