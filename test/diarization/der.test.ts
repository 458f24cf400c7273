// DER by hand: a two-speaker reference with overlap against a hypothesis with a miss in the overlap, a false alarm,
// a confusion and an extra speaker; with no collar, a 0.25 s collar, overlap skipped, and a UEM. The numbers in the
// comments were worked out on paper from the definition in src/diarization/der.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scoreDiarization, scoreRecording } from '../../src/diarization/der.js';
import { optimalSpeakerMapping } from '../../src/diarization/speaker-mapping.js';
import type { SpeakerTurn } from '../../src/diarization/rttm.js';

const turn = (speaker: string, start: number, end: number, file = 'f'): SpeakerTurn => ({
  file,
  channel: '1',
  start,
  duration: end - start,
  speaker,
  where: '',
});

// ref: A [0,10), B [8,15)          hyp: X [0,9) + [13,15), Y [9,13), Z [12,13)
const REF = [turn('A', 0, 10), turn('B', 8, 15)];
const HYP = [turn('X', 0, 9), turn('Y', 9, 13), turn('Z', 12, 13), turn('X', 13, 15)];

function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} != ${expected}`);
}

test('no collar: mapping A->X, B->Y; scored 17 s, missed 2, false alarm 1, confusion 2, DER 5/17', () => {
  // pieces: [0,8) A|X, [8,9) AB|X (1 missed), [9,10) AB|Y (1 missed), [10,12) B|Y, [12,13) B|YZ (1 FA), [13,15) B|X (2 confused)
  const r = scoreRecording(REF, HYP, null);
  assert.deepEqual(
    [...r.mapping],
    [
      ['A', 'X'],
      ['B', 'Y'],
    ],
  );
  close(r.scored, 17, 'scored');
  close(r.missed, 2, 'missed');
  close(r.falseAlarm, 1, 'false alarm');
  close(r.confusion, 2, 'confusion');
  close(r.der, 5 / 17, 'DER');
  close(r.scoredTime, 15, 'scored time');
});

test('0.25 s collar removes +-0.25 s around 0, 8, 10 and 15: scored 15, missed 1.5, FA 1, confusion 1.75', () => {
  const r = scoreRecording(REF, HYP, null, { collar: 0.25 });
  close(r.scored, 15, 'scored');
  close(r.missed, 1.5, 'missed');
  close(r.falseAlarm, 1, 'false alarm');
  close(r.confusion, 1.75, 'confusion');
  close(r.der, 4.25 / 15, 'DER');
});

test('skipping overlap drops [8,10): scored 13, missed 0, DER 3/13', () => {
  const r = scoreRecording(REF, HYP, null, { skipOverlap: true });
  close(r.scored, 13, 'scored');
  close(r.missed, 0, 'missed');
  close(r.der, 3 / 13, 'DER');
});

test('a UEM limits the scored time and hypothesis speech outside the reference extent becomes false alarm', () => {
  // UEM [5,20): [5,8) A|X 3, [8,10) 4 scored / 2 missed, [10,13) 3 / FA 1, [13,15) 2 confused, [15,18) hyp W only: FA 3
  const hyp = [...HYP, turn('W', 15, 18)];
  const r = scoreRecording(REF, hyp, [{ start: 5, end: 20 }]);
  close(r.scored, 3 + 4 + 3 + 2, 'scored');
  close(r.missed, 2, 'missed');
  close(r.falseAlarm, 1 + 3, 'false alarm');
  close(r.confusion, 2, 'confusion');
  close(r.scoredTime, 15, 'scored time');
  // without UEM the default region is the reference extent [0,15): W is not scored
  close(scoreRecording(REF, hyp, null).falseAlarm, 1, 'false alarm without UEM');
});

test('a perfect hypothesis with other labels scores 0; an empty one misses everything', () => {
  const relabelled = REF.map((t) => ({ ...t, speaker: t.speaker === 'A' ? 'spk1' : 'spk0' }));
  assert.equal(scoreRecording(REF, relabelled, null).der, 0);
  const empty = scoreRecording(REF, [], null);
  close(empty.der, 1, 'DER of nothing');
  close(empty.missed, 17, 'missed');
  assert.deepEqual([...empty.mapping.values()], [null, null]);
});

test('turns of one speaker that overlap are merged (counted once)', () => {
  const r = scoreRecording([turn('A', 0, 6), turn('A', 4, 10)], [turn('X', 0, 10)], null);
  close(r.scored, 10, 'scored');
  close(r.der, 0, 'DER');
});

test('scoreDiarization sums recordings, maps speakers per recording and lists hypothesis-only recordings', () => {
  const ref = [turn('A', 0, 4, 'r1'), turn('A', 0, 2, 'r2'), turn('B', 2, 4, 'r2')];
  const hyp = [turn('S', 0, 4, 'r1'), turn('S', 0, 2, 'r2'), turn('S', 2, 4, 'r2'), turn('S', 0, 1, 'r3')];
  const rep = scoreDiarization(ref, hyp, null);
  assert.deepEqual(
    rep.recordings.map((r) => r.file),
    ['r1', 'r2'],
  );
  close(rep.recordings[0]!.der, 0, 'r1');
  close(rep.recordings[1]!.confusion, 2, 'r2 confusion'); // S maps to one of A, B; the other's 2 s are confused
  close(rep.total.scored, 8, 'total scored');
  close(rep.total.der, 2 / 8, 'total DER');
  assert.deepEqual(rep.unscoredHypothesis, ['r3 channel 1']);
});

test('optimalSpeakerMapping maximises total overlap on rectangular matrices (greedy would not)', () => {
  // greedy takes r0->h0 (5) and leaves r1->h1 (0): 5; optimal r0->h1 + r1->h0: 4 + 4 = 8
  assert.deepEqual(
    optimalSpeakerMapping(
      [
        [5, 4],
        [4, 0],
      ],
      2,
    ),
    [1, 0],
  );
  assert.deepEqual(optimalSpeakerMapping([[1, 3, 2]], 3), [1]);
  assert.deepEqual(optimalSpeakerMapping([[1], [3], [2]], 1), [-1, 0, -1]);
  assert.deepEqual(optimalSpeakerMapping([[], []], 0), [-1, -1]);
});

test('a negative collar is refused', () => {
  assert.throws(() => scoreRecording(REF, HYP, null, { collar: -1 }), /collar must be >= 0/);
});
