// Modified beam search (icefall's modified_beam_search with NeMo's LSTM prediction network): beam 1 is greedy search
// with max_symbols 1 (labels, frames and score), a larger beam never reports a lower total log-probability than the
// greedy path on random models, hypotheses with the same labels are merged, and the state handed from chunk to chunk
// makes chunked decoding equal whole decoding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import {
  RnntDecoder,
  RnntJoint,
  disposeRnntBeamState,
  initRnntBeamState,
  rnntBeamDecode,
  rnntBeamStep,
  rnntGreedyDecode,
  type CtcToken,
} from '../../src/asr/index.js';

const V = 12; // labels (blank = 12)
const D = 8;

function parts(seed: number): { decoder: RnntDecoder; joint: RnntJoint } {
  const g = new t.Generator(seed);
  const decoder = new RnntDecoder({ prednet: { pred_hidden: 10, pred_rnn_layers: 2, dropout: 0 }, vocab_size: V }, { generator: g });
  const joint = new RnntJoint({ jointnet: { encoder_hidden: D, pred_hidden: 10, joint_hidden: 16, activation: 'tanh' }, num_classes: V }, { generator: g });
  // sharpen: random joints are near uniform; scaled, the labels and blanks both win at some frames
  t.noGrad(() => {
    for (const p of joint.parameters()) p.mul_(3);
  });
  decoder.eval();
  joint.eval();
  return { decoder, joint };
}

const frames = (seed: number, b: number, T: number): t.Tensor => t.randn([b, T, D], { generator: new t.Generator(1000 + seed) });

/** The log-probability of one alignment with at most one label per frame (the greedy path with max_symbols 1). */
function pathLogProb(decoder: RnntDecoder, joint: RnntJoint, enc: t.Tensor, tokens: readonly CtcToken[]): number {
  return t.noGrad(() =>
    t.tidy(() => {
      let s = decoder.step(t.full([1], decoder.blank, { dtype: 'int64' }), decoder.initState(1));
      let total = 0;
      const f = joint.projectEncoder(enc); // [T, H]
      for (let i = 0; i < enc.size(0); i++) {
        const tok = tokens.find((k) => k.frame === i);
        const lp = t.logSoftmax(joint.jointProjected(t.narrow(f, 0, i, 1), joint.projectPrednet(s.g)), -1).toArray();
        total += lp[tok ? tok.id : decoder.blank]!;
        if (tok) s = decoder.step(t.full([1], tok.id, { dtype: 'int64' }), s.state);
      }
      return total;
    }),
  );
}

test('beam 1 equals greedy search with max_symbols 1: labels, frames and the path score', () => {
  const before = t.liveTensorCount();
  for (const seed of [1, 2, 3]) {
    const { decoder, joint } = parts(seed);
    const enc = frames(seed, 3, 40);
    const lens = [40, 25, 33];
    const greedy = rnntGreedyDecode(decoder, joint, enc, lens, { maxSymbols: 1 });
    const beam = rnntBeamDecode(decoder, joint, enc, lens, { beamSize: 1 });
    assert.ok(
      greedy.some((g) => g.length > 5),
      `seed ${seed}: greedy emitted ${greedy.map((g) => g.length)}`,
    );
    for (let b = 0; b < 3; b++) {
      assert.deepEqual(beam[b]!.tokens, greedy[b], `seed ${seed} row ${b}`);
      const row = t.tidy(() => t.narrow(t.select(enc, 0, b), 0, 0, lens[b]!));
      const lp = pathLogProb(decoder, joint, row, greedy[b]!);
      assert.ok(Math.abs(beam[b]!.score - lp) < 1e-4 * Math.abs(lp) + 1e-4, `score ${beam[b]!.score} vs path ${lp}`);
      row.dispose();
    }
    enc.dispose();
    decoder.dispose();
    joint.dispose();
  }
  assert.equal(t.liveTensorCount(), before, 'leaked tensors');
});

test('a larger beam never reports a lower total log-probability than the greedy path (random models)', () => {
  let better = 0;
  for (const seed of [4, 5, 6, 7, 8, 9]) {
    const { decoder, joint } = parts(seed);
    const enc = frames(seed, 2, 30);
    const lens = [30, 22];
    const greedy = rnntGreedyDecode(decoder, joint, enc, lens, { maxSymbols: 1 });
    for (let b = 0; b < 2; b++) {
      const row = t.tidy(() => t.narrow(t.select(enc, 0, b), 0, 0, lens[b]!));
      const g = pathLogProb(decoder, joint, row, greedy[b]!);
      row.dispose();
      for (const beamSize of [2, 4, 8]) {
        const best = t.tidy(() => rnntBeamDecode(decoder, joint, t.narrow(enc, 0, b, 1), [lens[b]!], { beamSize, scoreNorm: false })[0]!);
        assert.ok(best.score >= g - 1e-4, `seed ${seed} row ${b} beam ${beamSize}: ${best.score} < greedy ${g}`);
        if (best.score > g + 1e-3) better++;
      }
    }
    enc.dispose();
    decoder.dispose();
    joint.dispose();
  }
  assert.ok(better > 0, 'the beam found better (or merged) hypotheses somewhere');
});

test('modified beam search chunk by chunk (state handed in and returned) equals whole-utterance search', () => {
  const before = t.liveTensorCount();
  const { decoder, joint } = parts(11);
  const enc = t.tidy(() => t.select(frames(11, 1, 45), 0, 0).contiguous()); // [45, D]
  const o = { beamSize: 4 };
  const s0 = initRnntBeamState(decoder, joint);
  const whole = rnntBeamStep(decoder, joint, enc, s0, o);
  let s = s0;
  for (const [a, n] of [
    [0, 7],
    [7, 1],
    [8, 0],
    [8, 20],
    [28, 17],
  ] as const) {
    const x = t.narrow(enc, 0, a, n);
    const next = rnntBeamStep(decoder, joint, x, s, o);
    x.dispose();
    if (s !== s0) disposeRnntBeamState(s);
    s = next;
  }
  assert.equal(s.frames, 45);
  assert.deepEqual(
    s.hyps.map((h) => h.tokens),
    whole.hyps.map((h) => h.tokens),
  );
  for (const [i, h] of s.hyps.entries()) assert.ok(Math.abs(h.score - whole.hyps[i]!.score) < 1e-6 * Math.abs(h.score) + 1e-9);
  assert.ok(whole.hyps.length > 1 && whole.hyps[0]!.tokens.length > 3, 'a real search');
  for (const x of [s0, s, whole]) disposeRnntBeamState(x);
  enc.dispose();
  decoder.dispose();
  joint.dispose();
  assert.equal(t.liveTensorCount(), before, 'leaked tensors');
});
