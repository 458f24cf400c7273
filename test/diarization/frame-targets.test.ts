// Frame targets from RTTM turns: arrival order, NeMo's feature-rate mask and 80 ms windows worked out by hand,
// speakers past the model's outputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arrivalOrder, frameTargets } from '../../src/diarization/frame-targets.js';
import { parseRttm, type SpeakerTurn } from '../../src/diarization/rttm.js';

const turn = (speaker: string, start: number, end: number): SpeakerTurn => ({
  file: 'f',
  channel: '1',
  start,
  duration: end - start,
  speaker,
  where: `ref.rttm:${speaker}`,
});

const column = (v: Float32Array, S: number, s: number): number[] => Array.from({ length: v.length / S }, (_, i) => v[i * S + s]!);

test('arrival order: by first turn start; ties keep the RTTM order; empty turns do not count', () => {
  assert.deepEqual(arrivalOrder([turn('A', 1, 3), turn('B', 0.5, 2), turn('C', 0.2, 0.2), turn('D', 0.5, 1), turn('C', 4, 5)]), ['B', 'D', 'A', 'C']);
});

test('windows by hand (100 features/s, stride 8): B [0.5, 2.0) is column 0, A [1.0, 3.0) column 1', () => {
  const turns = parseRttm('SPEAKER f 1 1.000 2.000 <NA> <NA> A <NA> <NA>\nSPEAKER f 1 0.500 1.500 <NA> <NA> B <NA> <NA>\n', 'ref.rttm');
  const r = frameTargets(turns, { frames: 40, featureRate: 100, stride: 8 });
  assert.deepEqual(r.speakers, ['B', 'A']);
  assert.equal(r.values.length, 40 * 4);
  // frame i averages features 8i-5 .. 8i+3 (9 frames), speech when the mean is > 0.5
  // B: features 50..199. frame 6: 43..51 -> 2/9; frame 7: 51..59 -> 9/9; frame 25: 195..203 -> 5/9; frame 26: 203..211 -> 0
  const b = column(r.values, 4, 0);
  assert.deepEqual(
    b.map((v, i) => (v ? i : -1)).filter((i) => i >= 0),
    Array.from({ length: 19 }, (_, k) => 7 + k),
  );
  // A: features 100..299. frame 13: 99..107 -> 8/9; frame 12: 91..99 -> 0; frame 37: 291..299 -> 9/9; frame 38: 299..307 -> 1/9
  const a = column(r.values, 4, 1);
  assert.deepEqual(
    a.map((v, i) => (v ? i : -1)).filter((i) => i >= 0),
    Array.from({ length: 25 }, (_, k) => 13 + k),
  );
  assert.ok(column(r.values, 4, 2).every((v) => v === 0) && column(r.values, 4, 3).every((v) => v === 0));
  // soft targets: the window means
  const soft = frameTargets(turns, { frames: 40, featureRate: 100, stride: 8, soft: true });
  assert.ok(Math.abs(soft.values[6 * 4]! - 2 / 9) < 1e-6 && Math.abs(soft.values[25 * 4]! - 5 / 9) < 1e-6);
  // frame 0 averages features 0..3 only
  const early = frameTargets([turn('X', 0, 0.03)], { frames: 3, featureRate: 100, stride: 8 });
  assert.deepEqual(Array.from(early.values.filter((_, k) => k % 4 === 0)), [1, 0, 0]);
});

test('offset shifts the time line; a turn past the frames is cut; a fifth speaker is an error naming the RTTM line unless dropped', () => {
  const r = frameTargets([turn('A', 10.5, 20)], { frames: 10, featureRate: 100, stride: 8, offset: 10 });
  assert.deepEqual(column(r.values, 4, 0), [0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
  const five = ['A', 'B', 'C', 'D', 'E'].map((s, i) => turn(s, i, i + 0.5));
  assert.throws(
    () => frameTargets(five, { frames: 80, featureRate: 100, stride: 8 }),
    /ref\.rttm:E: 5 speakers \(A, B, C, D, E\) but the model has 4 speaker outputs/,
  );
  const dropped = frameTargets(five, { frames: 80, featureRate: 100, stride: 8, extraSpeakers: 'drop' });
  assert.deepEqual(dropped.speakers, ['A', 'B', 'C', 'D']);
  assert.throws(() => frameTargets(five, { frames: -1, featureRate: 100, stride: 8 }), /non-negative integer/);
});
