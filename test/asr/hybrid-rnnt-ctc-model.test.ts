// The hybrid RNN-T/CTC model (EncDecHybridRNNTCTCModel layout): NeMo's state-dict names and order (ctc_decoder.* after
// the transducer's), and its training loss equal to (1 - w) * rnnt + w * ctc with the two losses computed separately
// by the plain transducer (RnntModel) and the plain CTC model (CtcModel) holding the same weights, in value and in
// gradient; a weight of 0 is the transducer loss alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { CtcModel, HybridRnntCtcModel, RnntModel, type RnntModelArgs } from '../../src/asr/index.js';
import { tinyRnntArgs } from './rnnt-helpers.js';

function args(w: number): RnntModelArgs & { auxCtc: { ctcLossWeight: number } } {
  const noDropout = {
    decoder: { prednet: { pred_hidden: 12, pred_rnn_layers: 1, dropout: 0 } },
    joint: { jointnet: { joint_hidden: 10, activation: 'relu' as const, dropout: 0 } },
  };
  return { ...tinyRnntArgs(noDropout), auxCtc: { ctcLossWeight: w } };
}

function batch(): { audio: t.Tensor; audioLen: t.Tensor; targets: t.Tensor; targetLen: t.Tensor } {
  const g = new t.Generator(1);
  return {
    audio: t.randn([3, 8000], { generator: g }).mul(0.1),
    audioLen: t.tensor(BigInt64Array.of(8000n, 5000n, 6400n), [3]),
    targets: t.tensor(BigInt64Array.of(8n, 9n, 0n, 1n, 2n, 0n, 0n, 0n, 20n, 5n, 5n, 0n), [3, 4]),
    targetLen: t.tensor(BigInt64Array.of(4n, 1n, 3n), [3]),
  };
}

const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) <= 1e-5 * (Math.abs(b) + 1e-3), `${what}: ${a} vs ${b}`);

test("HybridRnntCtcModel: NeMo's state-dict layout, the CTC head last", () => {
  const m = new HybridRnntCtcModel(args(0.3));
  const keys = [...m.stateDict().keys()];
  assert.deepEqual(keys.slice(-2), ['ctc_decoder.decoder_layers.0.weight', 'ctc_decoder.decoder_layers.0.bias']);
  assert.ok(keys.indexOf('joint.joint_net.1.weight') < keys.indexOf('ctc_decoder.decoder_layers.0.weight'));
  assert.deepEqual(m.stateDict().get('ctc_decoder.decoder_layers.0.weight')!.shape, [29, 16, 1]);
  assert.throws(() => new HybridRnntCtcModel(args(1.5)), /ctc_loss_weight must be in \[0, 1\], got 1.5/);
  m.dispose();
});

test('hybrid loss = (1 - w) * RnntModel loss + w * CtcModel loss (same weights), in value and gradient; w = 0 is the transducer alone', () => {
  const before = t.liveTensorCount();
  const w = 0.3;
  const h = new HybridRnntCtcModel(args(w));
  const { auxCtc: _, ...plain } = args(w);
  const rnnt = new RnntModel(plain);
  const ctc = new CtcModel({ preprocessor: plain.preprocessor, encoder: plain.encoder, labels: plain.labels, specAugment: null, seed: 9 });
  const sd = h.stateDict();
  rnnt.loadStateDict(new Map([...sd].filter(([k]) => !k.startsWith('ctc_decoder.'))));
  ctc.loadStateDict(
    new Map(
      [...sd]
        .filter(([k]) => k.startsWith('preprocessor.') || k.startsWith('encoder.') || k.startsWith('ctc_decoder.'))
        .map(([k, v]) => [k.replace(/^ctc_decoder\./, 'decoder.'), v]),
    ),
  );
  for (const m of [h, rnnt, ctc]) m.eval();
  t.tidy(() => {
    const b = batch();
    const parts = h.hybridLossOf(h.forward(b.audio, b.audioLen), b.targets, b.targetLen);
    const r = rnnt.lossOf(rnnt.forward(b.audio, b.audioLen), b.targets, b.targetLen);
    const c = ctc.lossOf(ctc.forward(b.audio, b.audioLen), b.targets, b.targetLen);
    close(parts.rnnt.item(), r.item(), 'rnnt part');
    close(parts.ctc!.item(), c.item(), 'ctc part');
    close(parts.loss.item(), (1 - w) * r.item() + w * c.item(), 'weighted sum');
    assert.ok(Math.abs(r.item() - c.item()) > 1e-2, 'the two losses differ (the weighting is visible)');
    parts.loss.backward();
    r.backward();
    c.backward();
    const grad = (m: t.Module, k: string): t.Tensor => m.stateDict().get(k)!.grad!;
    // the CTC head and the joint see only their own loss, scaled by its weight; the encoder sees both
    const gc = grad(h, 'ctc_decoder.decoder_layers.0.weight');
    assert.ok(gc.sub(grad(ctc, 'decoder.decoder_layers.0.weight').mul(w)).abs().max().item() < 1e-5 * (gc.abs().max().item() + 1e-6), 'CTC head gradient');
    const gj = grad(h, 'joint.joint_net.1.weight');
    assert.ok(
      gj
        .sub(grad(rnnt, 'joint.joint_net.1.weight').mul(1 - w))
        .abs()
        .max()
        .item() <
        1e-5 * (gj.abs().max().item() + 1e-6),
      'joint gradient',
    );
    const k = 'encoder.layers.0.feed_forward1.linear1.weight';
    const ge = grad(h, k);
    const expected = grad(rnnt, k)
      .mul(1 - w)
      .add(grad(ctc, k).mul(w));
    assert.ok(ge.sub(expected).abs().max().item() < 1e-5 * (ge.abs().max().item() + 1e-6), 'encoder gradient');
  });
  const h0 = new HybridRnntCtcModel(args(0));
  h0.loadStateDict(h.stateDict());
  h0.eval();
  t.noGrad(() =>
    t.tidy(() => {
      const b = batch();
      const p = h0.hybridLossOf(h0.forward(b.audio, b.audioLen), b.targets, b.targetLen);
      assert.equal(p.ctc, null);
      assert.equal(p.loss.item(), rnnt.lossOf(rnnt.forward(b.audio, b.audioLen), b.targets, b.targetLen).item());
    }),
  );
  for (const m of [h, h0, rnnt, ctc]) m.dispose();
  assert.equal(t.liveTensorCount(), before, 'leaked tensors');
});
