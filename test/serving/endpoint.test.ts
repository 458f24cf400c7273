// Endpoint rules (sherpa-onnx's three rules) on known values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_ENDPOINT_RULES, endpointRules, isEndpoint } from '../../src/serving/endpoint.js';

const F = 0.08; // seconds per encoder frame

test('rule 1: 2.4 s of silence ends a segment even when nothing was said', () => {
  assert.equal(isEndpoint(DEFAULT_ENDPOINT_RULES, { frames: 29, trailingSilenceFrames: 29 }, F), false); // 2.32 s
  assert.equal(isEndpoint(DEFAULT_ENDPOINT_RULES, { frames: 30, trailingSilenceFrames: 30 }, F), true); // 2.4 s
});

test('rule 2: 1.2 s of silence ends a segment only after speech', () => {
  assert.equal(isEndpoint(DEFAULT_ENDPOINT_RULES, { frames: 20, trailingSilenceFrames: 15 }, F), true); // spoke, then 1.2 s
  assert.equal(isEndpoint(DEFAULT_ENDPOINT_RULES, { frames: 20, trailingSilenceFrames: 14 }, F), false); // 1.12 s
  assert.equal(isEndpoint(DEFAULT_ENDPOINT_RULES, { frames: 15, trailingSilenceFrames: 15 }, F), false); // silence only: rule 1 needs 2.4 s
});

test('rule 3: a 20 s segment ends whatever its trailing silence', () => {
  assert.equal(isEndpoint(DEFAULT_ENDPOINT_RULES, { frames: 250, trailingSilenceFrames: 0 }, F), true);
  assert.equal(isEndpoint(DEFAULT_ENDPOINT_RULES, { frames: 249, trailingSilenceFrames: 0 }, F), false);
});

test('an empty segment is never an endpoint; overrides replace single fields; bad values are refused by name', () => {
  const r = endpointRules({ rule3: { minUtteranceLength: 0 } });
  assert.equal(isEndpoint(r, { frames: 0, trailingSilenceFrames: 0 }, F), false);
  assert.equal(isEndpoint(r, { frames: 1, trailingSilenceFrames: 0 }, F), true);
  assert.equal(r.rule1.minTrailingSilence, 2.4);
  assert.throws(() => endpointRules({ rule2: { minTrailingSilence: -1 } }), /rule2\.minTrailingSilence must be a number >= 0/);
  assert.throws(() => endpointRules({ rule1: { minUtteranceLength: Number.NaN } }), /rule1\.minUtteranceLength/);
});
