// Transducer modules: the LSTM against the textbook cell, RNNTDecoder and RNNTJoint names, shapes and initialisation
// as NeMo, the decoder's step API against its whole-sequence forward, and greedy decoding (batched = one row at a time
// = a plain per-row reference; chunk by chunk with the carried state = whole utterance).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import {
  RnntDecoder,
  RnntJoint,
  disposeRnntGreedyState,
  initRnntGreedyState,
  rnntGreedyDecode,
  rnntGreedyStep,
  type CtcToken,
  type RnntDecoderConfig,
  type RnntJointConfig,
} from '../../src/asr/index.js';
import { compare } from '../helpers/assert.js';

const decCfg = (layers = 1, dropout = 0): RnntDecoderConfig => ({ prednet: { pred_hidden: 8, pred_rnn_layers: layers, dropout }, vocab_size: 5 });
const jointCfg = (dropout = 0): RnntJointConfig => ({
  jointnet: { encoder_hidden: 6, pred_hidden: 8, joint_hidden: 7, activation: 'relu', dropout },
  num_classes: 5,
});

/** torch.nn.LSTM's documented cell, gates (i, f, g, o), one layer, written out with matmuls. */
function textbookLstm(x: Tensor, p: Tensor[], h0: Tensor, c0: Tensor): { y: Tensor; h: Tensor; c: Tensor } {
  const [wi, wh, bi, bh] = p as [Tensor, Tensor, Tensor, Tensor];
  let h = h0;
  let c = c0;
  const ys: Tensor[] = [];
  for (let i = 0; i < x.size(1); i++) {
    const z = t.linear(t.select(x, 1, i), wi, bi).add(t.linear(h, wh, bh)); // [B, 4H]
    const [gi, gf, gg, go] = t.chunk(z, 4, 1) as [Tensor, Tensor, Tensor, Tensor];
    c = t
      .sigmoid(gf)
      .mul(c)
      .add(t.sigmoid(gi).mul(t.tanh(gg)));
    h = t.sigmoid(go).mul(t.tanh(c));
    ys.push(h);
  }
  return { y: t.stack(ys, 1), h, c };
}

test("Lstm: ATen's fused lstm equals the textbook cell; state in and out; two layers chain", () => {
  const before = t.liveTensorCount();
  const m = new t.Lstm(3, 4, 2, 0, { generator: new t.Generator(1) });
  assert.deepEqual(
    [...m.stateDict().keys()],
    ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0', 'weight_ih_l1', 'weight_hh_l1', 'bias_ih_l1', 'bias_hh_l1'],
  );
  t.tidy(() => {
    const g = new t.Generator(2);
    const x = t.randn([2, 5, 3], { generator: g });
    const s0 = { h: t.randn([2, 2, 4], { generator: g }), c: t.randn([2, 2, 4], { generator: g }) };
    const r = m.forward(x, s0);
    const l0 = textbookLstm(x, m.layerParameters(0), t.select(s0.h, 0, 0), t.select(s0.c, 0, 0));
    const l1 = textbookLstm(l0.y, m.layerParameters(1), t.select(s0.h, 0, 1), t.select(s0.c, 0, 1));
    assert.ok(compare(r.y, l1.y).maxAbs < 1e-6);
    assert.ok(compare(r.state.h, t.stack([l0.h, l1.h], 0)).maxAbs < 1e-6);
    assert.ok(compare(r.state.c, t.stack([l0.c, l1.c], 0)).maxAbs < 1e-6);
    // two calls carrying the state = one call
    const a = m.forward(t.narrow(x, 1, 0, 2), s0);
    const b = m.forward(t.narrow(x, 1, 2, 3), a.state);
    assert.ok(compare(t.cat([a.y, b.y], 1), r.y).maxAbs < 1e-6);
  });
  m.dispose();
  assert.equal(t.liveTensorCount(), before);
});

test("RNNTDecoder: NeMo's keys and shapes, blank = padding row (zeros), forget-gate bias, step = forward", () => {
  const before = t.liveTensorCount();
  const d = new RnntDecoder(decCfg(2, 0.1), { generator: new t.Generator(3), dropoutGenerator: new t.Generator(4) });
  const sd = d.stateDict();
  assert.deepEqual(
    [...sd.keys()],
    [
      'prediction.embed.weight',
      ...[0, 1].flatMap((k) => [`weight_ih_l${k}`, `weight_hh_l${k}`, `bias_ih_l${k}`, `bias_hh_l${k}`].map((n) => `prediction.dec_rnn.lstm.${n}`)),
    ],
  );
  assert.deepEqual(sd.get('prediction.embed.weight')!.shape, [6, 8]);
  assert.deepEqual(sd.get('prediction.dec_rnn.lstm.weight_ih_l0')!.shape, [32, 8]);
  assert.equal(d.blank, 5);
  t.tidy(() => {
    assert.equal(t.select(sd.get('prediction.embed.weight')!, 0, 5).abs().sum().item(), 0, 'blank row is zero');
    const bih = sd.get('prediction.dec_rnn.lstm.bias_ih_l1')!.toArray();
    const bhh = sd.get('prediction.dec_rnn.lstm.bias_hh_l1')!.toArray();
    assert.deepEqual(bih.slice(8, 16), new Array(8).fill(1), 'forget gate bias_ih = 1');
    assert.ok(
      bhh.slice(8, 16).every((v) => v === 0),
      'forget gate bias_hh scaled by 0',
    );
    assert.ok(Math.max(...bih.slice(0, 8).map(Math.abs)) <= 1 / Math.sqrt(8) && bih.slice(0, 8).some((v) => v !== 0));
  });
  d.eval();
  t.tidy(() => {
    const targets = t.tensor([1, 4, 0, 2, 2, 3], [2, 3], { dtype: 'int64' });
    const whole = d.forward(targets); // [B, U+1, H]
    assert.deepEqual(whole.g.shape, [2, 4, 8]);
    let s = d.initState(2);
    let g = d.step(t.full([2], 5, { dtype: 'int64' }), s); // start symbol
    const steps = [g.g];
    for (let u = 0; u < 3; u++) {
      g = d.step(t.select(targets, 1, u).contiguous(), g.state);
      steps.push(g.g);
      s = g.state;
    }
    assert.ok(compare(t.stack(steps, 1), whole.g).maxAbs < 1e-6, 'steps = forward');
    assert.ok(compare(s.h, whole.state.h).maxAbs < 1e-6);
  });
  assert.throws(() => new RnntDecoder({ ...decCfg(), normalization_mode: 'layer' as unknown as null }), /normalization_mode 'layer' is not supported/);
  assert.throws(() => new RnntDecoder({ prednet: { pred_hidden: 8, pred_rnn_layers: 1, rnn_hidden_size: 16 }, vocab_size: 5 }), /rnn_hidden_size 16/);
  d.dispose();
  assert.equal(t.liveTensorCount(), before);
});

test("RNNTJoint: NeMo's keys (joint_net.2 with dropout, joint_net.1 without), logits, log_softmax on CPU", () => {
  const before = t.liveTensorCount();
  const j = new RnntJoint(jointCfg(0.2), { generator: new t.Generator(5) });
  assert.deepEqual([...j.stateDict().keys()], ['pred.weight', 'pred.bias', 'enc.weight', 'enc.bias', 'joint_net.2.weight', 'joint_net.2.bias']);
  assert.deepEqual(j.stateDict().get('joint_net.2.weight')!.shape, [6, 7]);
  const j0 = new RnntJoint(jointCfg(0), { generator: new t.Generator(5) });
  assert.deepEqual([...j0.stateDict().keys()].slice(4), ['joint_net.1.weight', 'joint_net.1.bias']);
  j.eval();
  t.tidy(() => {
    const g = new t.Generator(6);
    const f = t.randn([2, 3, 6], { generator: g });
    const p = t.randn([2, 4, 8], { generator: g });
    const z = j.logits(f, p);
    assert.deepEqual(z.shape, [2, 3, 4, 6]);
    const sd = j.stateDict();
    // logits(b, t, u) = W relu(enc f_t + pred g_u) + b, by hand at one node
    const h = t.relu(
      t
        .linear(t.select(t.select(f, 0, 1), 0, 2), sd.get('enc.weight')!, sd.get('enc.bias')!)
        .add(t.linear(t.select(t.select(p, 0, 1), 0, 3), sd.get('pred.weight')!, sd.get('pred.bias')!)),
    );
    const want = t.linear(h, sd.get('joint_net.2.weight')!, sd.get('joint_net.2.bias')!);
    assert.ok(compare(t.select(t.select(t.select(z, 0, 1), 0, 2), 0, 3), want).maxAbs < 1e-6);
    assert.ok(compare(j.forward(f, p), t.logSoftmax(z, -1)).maxAbs < 1e-6, 'log_softmax null: applied on CPU');
  });
  assert.throws(() => new RnntJoint({ ...jointCfg(), fuse_loss_wer: true }), /fused_batch_size must be a positive integer/);
  assert.throws(() => new RnntJoint({ ...jointCfg(), num_extra_outputs: 4 }), /num_extra_outputs 4 is not supported/);
  j.dispose();
  j0.dispose();
  assert.equal(t.liveTensorCount(), before);
});

/** A plain per-row greedy transducer search (one label at a time), the reference for the batched decoder. */
function referenceGreedy(d: RnntDecoder, j: RnntJoint, enc: Tensor, len: number, maxSymbols: number): CtcToken[] {
  return t.tidy(() => {
    const out: CtcToken[] = [];
    let s = d.step(t.full([1], d.blank, { dtype: 'int64' }), d.initState(1));
    for (let i = 0; i < len; i++) {
      for (let n = 0; n < maxSymbols; n++) {
        const k = j
          .logits(t.narrow(enc, 0, i, 1).view([1, 1, -1]), s.g.view([1, 1, -1]))
          .argmax()
          .item();
        if (k === d.blank) break;
        out.push({ id: k, frame: i });
        s = d.step(t.tensor([k], [1], { dtype: 'int64' }), s.state);
      }
    }
    return out;
  });
}

test('greedy RNN-T: batched = per-row reference; chunk by chunk with the carried state = whole utterance; no leaks', () => {
  const d = new RnntDecoder(decCfg(2), { generator: new t.Generator(7) });
  const j = new RnntJoint(jointCfg(), { generator: new t.Generator(8) });
  d.eval();
  j.eval();
  // a blank bias and a strong prediction projection, so that frames emit 0, 1, 2 or max_symbols labels
  t.noGrad(() => {
    t.select(j.stateDict().get('joint_net.1.bias')!, 0, 5).add_(1.5);
    j.stateDict().get('pred.weight')!.mul_(40);
  });
  const before = t.liveTensorCount();
  const enc = t.keep(t.tidy(() => t.randn([3, 11, 6], { generator: new t.Generator(9) }).mul(4)));
  const lens = [11, 7, 4];
  const maxSymbols = 3;
  const whole = rnntGreedyDecode(d, j, enc, lens, { maxSymbols });
  lens.forEach((len, b) => {
    const ref = t.tidy(() => referenceGreedy(d, j, t.select(enc, 0, b), len, maxSymbols));
    assert.deepEqual(whole[b], ref, `row ${b}`);
  });
  const counts = whole.flatMap((row, b) => Array.from({ length: lens[b]! }, (_, f) => row.filter((x) => x.frame === f).length));
  for (const n of [0, 1, maxSymbols]) assert.ok(counts.includes(n), `some frame emits ${n} labels (${counts})`);
  // chunks of 3, 1, 5, 2 frames; each row's valid frames within the chunk
  let s = initRnntGreedyState(d, j, 3);
  let at = 0;
  for (const size of [3, 1, 5, 2]) {
    const chunk = t.narrow(enc, 1, at, size);
    const next = rnntGreedyStep(
      d,
      j,
      chunk,
      lens.map((l) => Math.max(0, Math.min(size, l - at))),
      s,
      { maxSymbols },
    );
    chunk.dispose();
    disposeRnntGreedyState(s);
    s = next;
    at += size;
  }
  assert.deepEqual(s.tokens, whole);
  assert.deepEqual(s.frames, lens);
  disposeRnntGreedyState(s);
  enc.dispose();
  assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
  assert.throws(() => rnntGreedyDecode(d, j, t.zeros([1, 2, 6]), [3]), /lengths \[3\] must be within \[0, 2\]/);
  d.dispose();
  j.dispose();
});
