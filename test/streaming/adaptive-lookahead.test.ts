// Adaptive look-ahead under a simulated load change: the policy takes the largest trained look-ahead whose algorithmic
// latency plus expected compute fits the budget, moves down as soon as steps slow down, and back up (with hysteresis)
// once they are fast again. Step times are handed in, so the test does not depend on the machine's speed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  calibrate,
  calibrateLookahead,
  chooseLookahead,
  configureStreaming,
  contextsUsed,
  expectedLatencyMs,
  initLookaheadState,
  lookaheadPolicy,
  observeStep,
  StreamingEncoder,
  switchableGeometries,
  type LookaheadChoice,
  type LookaheadState,
} from '../../src/streaming/index.js';
import { buildEncoder, buildPreprocessor } from './helpers.js';

const PAIRS: [number, number][] = [
  [8, 3],
  [8, 0],
  [8, 1],
];

function policy(budgetMs: number): LookaheadChoice {
  const enc = buildEncoder({ att_context_size: PAIRS });
  const geos = PAIRS.map((p) => configureStreaming(enc, { attContextSize: p, hopSeconds: 0.01 }));
  enc.dispose();
  return lookaheadPolicy(geos, budgetMs);
}

const pairOf = (p: LookaheadChoice, s: LookaheadState): string => p.geometries[s.current]!.attContextSize.join(',');

test('contexts are ordered by algorithmic latency; with nothing measured the largest look-ahead that fits is taken', () => {
  const p = policy(200);
  assert.deepEqual(
    p.geometries.map((g) => [g.attContextSize.join(','), Math.round(g.algorithmicLatencySeconds * 1000)]),
    [
      ['8,0', 80],
      ['8,1', 160],
      ['8,3', 320],
    ],
  );
  assert.equal(pairOf(p, initLookaheadState(p)), '8,1');
  assert.equal(pairOf(policy(50), initLookaheadState(policy(50))), '8,0', 'nothing fits: the smallest');
  assert.throws(() => lookaheadPolicy([], 100), /at least one context/);
  assert.throws(() => lookaheadPolicy(p.geometries, 0), /positive number of milliseconds/);
});

test('a load change moves the look-ahead down at once and back up when the load is gone', () => {
  const p = policy(400);
  let s = initLookaheadState(p);
  for (const [k, ms] of [10, 12, 20].entries()) s = calibrate(s, k, ms);
  s = chooseLookahead(p, s);
  assert.equal(pairOf(p, s), '8,3', 'quiet: 320 ms + 20 ms fits 400 ms');
  const trace: string[] = [];
  const run = (steps: number, load: number) => {
    for (let i = 0; i < steps; i++) {
      s = observeStep(p, s, [10, 12, 20][s.current]! * load);
      s = chooseLookahead(p, s);
      trace.push(pairOf(p, s));
    }
  };
  run(5, 1);
  assert.deepEqual(trace, ['8,3', '8,3', '8,3', '8,3', '8,3']);
  run(1, 5); // 100 ms steps: 320 + 100 > 400
  assert.equal(trace.at(-1), '8,1', 'one slow step moves it down');
  run(10, 5);
  assert.ok(
    trace.slice(-10).every((x) => x === '8,1'),
    `stays down under load: ${trace.slice(-10).join(' ')}`,
  );
  assert.ok(expectedLatencyMs(p, s, 2) > 400, 'the big look-ahead is expected to miss the budget');
  run(12, 1);
  const back = trace.slice(-12).indexOf('8,3');
  assert.ok(back > 0, `moves back up after a few fast steps (hysteresis), not at once: ${trace.slice(-12).join(' ')}`);
  assert.ok(
    trace.slice(-12 + back).every((x) => x === '8,3'),
    'and stays up',
  );
  run(1, 30); // 30x slower: only the smallest look-ahead (80 + 300 ms) fits
  assert.equal(trace.at(-1), '8,0', 'overload: the smallest look-ahead');
  assert.deepEqual(Object.keys(contextsUsed(p, s)).sort(), ['8,1', '8,3']);
});

test('contexts never measured are estimated from the nearest measured one, never cheaper', () => {
  const p = policy(1000);
  let s = initLookaheadState(p);
  s = calibrate(s, 1, 30); // only [8,1] measured: 30 ms for 2 frames
  assert.equal(expectedLatencyMs(p, s, 0), 80 + 30, 'a smaller chunk is not assumed cheaper');
  assert.equal(expectedLatencyMs(p, s, 2), 320 + 60, 'a larger chunk in proportion to its frames');
});

test('calibration measures every switchable context of a real encoder; contexts with another left context are left out', () => {
  const enc = buildEncoder({ att_context_size: [...PAIRS, [16, 1]] });
  const pre = buildPreprocessor();
  const base = configureStreaming(enc, { attContextSize: [8, 1], hopSeconds: 0.01 });
  const se = new StreamingEncoder(enc, { geometry: base, preprocessor: pre });
  try {
    const { geometries, skipped } = switchableGeometries(se, { hopSeconds: 0.01 });
    assert.deepEqual(
      geometries.map((g) => g.attContextSize.join(',')),
      ['8,3', '8,0', '8,1'],
    );
    assert.ok(geometries.includes(base), "the stream's own pair keeps its geometry");
    assert.equal(skipped.length, 1);
    assert.match(skipped[0]!, /\[16, 1\].*8 and 16 frames of left context/);
    const p = lookaheadPolicy(geometries, 500);
    const s = calibrateLookahead(se, p, initLookaheadState(p), 1.5);
    assert.ok(
      s.baselineMs.every((b) => b !== null && b > 0),
      `every context measured: ${s.baselineMs.join(', ')}`,
    );
    assert.deepEqual(s.steps, [0, 0, 0], 'calibration steps are not counted as streaming');
  } finally {
    se.dispose();
    enc.dispose();
    pre.dispose();
  }
});
