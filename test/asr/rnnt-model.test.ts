// The transducer model (EncDecRNNTModel layout): NeMo's state-dict names and order, the loss reductions (mean_batch
// = mean of the per-utterance rnntLoss), fused sub-batching equal to the whole batch in value and gradient, a few SGD
// steps on a real clip lowering the loss, and greedy transcription without tensor leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { loadAudio } from '../../src/audio/index.js';
import { RnntModel, rnntLoss } from '../../src/asr/index.js';
import { REPO_ROOT } from '../helpers/assert.js';
import { tinyRnntArgs } from './rnnt-helpers.js';

const args = tinyRnntArgs;

function batch(): { audio: t.Tensor; audioLen: t.Tensor; targets: t.Tensor; targetLen: t.Tensor } {
  const g = new t.Generator(1);
  return {
    audio: t.randn([3, 8000], { generator: g }).mul(0.1),
    audioLen: t.tensor(BigInt64Array.of(8000n, 5000n, 6400n), [3]),
    targets: t.tensor(BigInt64Array.of(8n, 9n, 0n, 1n, 2n, 0n, 0n, 0n, 20n, 5n, 5n, 0n), [3, 4]),
    targetLen: t.tensor(BigInt64Array.of(4n, 0n, 3n), [3]),
  };
}

test("RnntModel: NeMo's state-dict names in NeMo's order (preprocessor, encoder, decoder, joint)", () => {
  const m = new RnntModel(args());
  const keys = [...m.stateDict().keys()];
  const firstOf = (p: string): number => keys.findIndex((k) => k.startsWith(p));
  assert.ok(firstOf('encoder.') < firstOf('decoder.') && firstOf('decoder.') < firstOf('joint.'));
  assert.deepEqual(
    keys.filter((k) => k.startsWith('decoder.') || k.startsWith('joint.')),
    [
      'decoder.prediction.embed.weight',
      'decoder.prediction.dec_rnn.lstm.weight_ih_l0',
      'decoder.prediction.dec_rnn.lstm.weight_hh_l0',
      'decoder.prediction.dec_rnn.lstm.bias_ih_l0',
      'decoder.prediction.dec_rnn.lstm.bias_hh_l0',
      'joint.pred.weight',
      'joint.pred.bias',
      'joint.enc.weight',
      'joint.enc.bias',
      'joint.joint_net.2.weight',
      'joint.joint_net.2.bias',
    ],
  );
  assert.deepEqual(m.stateDict().get('decoder.prediction.embed.weight')!.shape, [29, 12]); // 28 labels + blank
  assert.deepEqual(m.stateDict().get('joint.joint_net.2.weight')!.shape, [29, 10]);
  assert.deepEqual(m.stateDict().get('joint.enc.weight')!.shape, [10, 16]);
  m.dispose();
});

test('RnntModel: mean_batch loss = mean of rnntLoss; fused sub-batches give the same loss and gradients', () => {
  const before = t.liveTensorCount();
  const plain = new RnntModel(args());
  const fused = new RnntModel(args({ joint: { jointnet: { joint_hidden: 10, activation: 'relu', dropout: 0.1 }, fuse_loss_wer: true, fused_batch_size: 2 } }));
  fused.loadStateDict(plain.stateDict());
  plain.eval();
  fused.eval();
  t.tidy(() => {
    const b = batch();
    const f = plain.forward(b.audio, b.audioLen);
    const loss = plain.lossOf(f, b.targets, b.targetLen);
    const manual = t.noGrad(() => {
      const g = plain.decoder.forward(b.targets).g;
      return rnntLoss(plain.joint.logits(f.encoded, g), b.targets, f.encodedLen, b.targetLen, { reduction: 'mean' }).item();
    });
    assert.ok(Math.abs(loss.item() - manual) < 1e-5 * manual, `${loss.item()} vs ${manual}`);
    loss.backward();
    const ff = fused.forward(b.audio, b.audioLen);
    const lf = fused.lossOf(ff, b.targets, b.targetLen);
    assert.ok(Math.abs(lf.item() - loss.item()) < 1e-5 * manual, `fused ${lf.item()} vs ${loss.item()}`);
    lf.backward();
    for (const name of ['joint.joint_net.2.weight', 'decoder.prediction.dec_rnn.lstm.weight_ih_l0', 'encoder.layers.0.feed_forward1.linear1.weight']) {
      const a = plain.stateDict().get(name)!.grad!;
      const c = fused.stateDict().get(name)!.grad!;
      assert.ok(a.sub(c).abs().max().item() < 1e-5 * (a.abs().max().item() + 1e-3), name);
    }
    // NeMo's other reductions over the same costs
    const sum = new RnntModel({ ...args(), loss: { reduction: 'sum', fastemitLambda: 0, clamp: -1 } });
    sum.loadStateDict(plain.stateDict());
    sum.eval();
    assert.ok(Math.abs(t.noGrad(() => sum.lossOf(f, b.targets, b.targetLen)).item() - 3 * manual) < 1e-4 * manual);
    sum.dispose();
  });
  plain.dispose();
  fused.dispose();
  assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
});

test('RnntModel: SGD steps on a real clip lower the loss; greedy transcription without leaks', () => {
  const m = new RnntModel(args({ decoder: { prednet: { pred_hidden: 12, pred_rnn_layers: 1, dropout: 0 } } }));
  const clip = loadAudio(join(REPO_ROOT, 'test', 'fixtures', 'audio', 'ms16.wav'), { targetSampleRate: 16000 }).samples.subarray(0, 16000);
  const opt = new t.SGD(m.parameters(), { lr: 0.05 });
  const losses: number[] = [];
  for (let i = 0; i < 8; i++) {
    t.tidy(() => {
      const f = m.forward(t.tensor(clip, [1, clip.length]), t.tensor(BigInt64Array.of(BigInt(clip.length)), [1]));
      const ids = m.vocab.encode('hello').ids;
      const loss = m.lossOf(f, t.tensor(BigInt64Array.from(ids, BigInt), [1, ids.length]), t.tensor(BigInt64Array.of(BigInt(ids.length)), [1]));
      m.zeroGrad();
      loss.backward();
      opt.step();
      losses.push(loss.item());
    });
  }
  assert.ok(losses.at(-1)! < losses[0]! * 0.9, `loss ${losses.map((x) => x.toFixed(2))}`);
  m.zeroGrad();
  const before = t.liveTensorCount();
  const out = m.transcribe([clip, clip.subarray(0, 9000)]);
  assert.equal(out.length, 2);
  for (const r of out) {
    assert.equal(typeof r.text, 'string');
    for (const tok of r.tokens) assert.ok(tok.id >= 0 && tok.id < 28);
  }
  assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
  m.dispose();
});
