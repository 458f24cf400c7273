// The NEST model under CPU bfloat16 autocast (trainer.precision: bf16-mixed) on NeMo's golden whole-pipeline cases:
// the quantizer's targets stay exactly NeMo's tokens, the log-probabilities and the loss come out in float32 and
// close to the float32 ones, and the encoder really ran in bfloat16.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { readNpy } from '../../src/torch/serialize/npy.js';
import { readNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { nestModelConfigFromYaml } from '../../src/ssl/nest-config.js';
import { buildNestModel } from '../../src/ssl/nest-factory.js';
import type { NestModel } from '../../src/ssl/nest-model.js';
import { GOLDEN, assertClose } from '../helpers/assert.js';
import { goldenBatch, maskFrames } from './golden-batch.js';

const bf16 = { device: 'cpu', dtype: 'bfloat16' } as const;

function goldenModel(name: string): NestModel {
  const archive = readNemoArchive(join(GOLDEN, 'nemo', `${name}.nemo`));
  const model = buildNestModel(nestModelConfigFromYaml(archive.configYaml, name).model, 0);
  model.loadStateDict(archive.stateDict);
  for (const x of archive.stateDict.values()) x.dispose();
  model.eval();
  return model;
}

for (const name of ['a_bidirectional', 'b_fully_causal']) {
  test(`golden ${name} under bf16 autocast: NeMo's tokens exactly, float32 log-probs and loss close to float32`, (tc) => {
    const live = t.liveTensorCount();
    const model = goldenModel(name);
    t.tidy(() => {
      const batch = goldenBatch();
      const frames = maskFrames(name);
      const full = t.noGrad(() => model.forward(batch, { maskFrames: frames }));
      const mixed = t.noGrad(() => t.autocast(bf16, () => model.forward(batch, { maskFrames: frames })));
      const golden = readNpy(join(GOLDEN, 'e2e', name, 'tokens.npy')).toArray();
      assert.deepEqual(mixed.tokens.toArray(), golden, 'tokens under autocast are exactly NeMo tokens');
      assert.deepEqual(full.tokens.toArray(), golden, 'tokens in float32 are exactly NeMo tokens');
      assert.equal(mixed.logProbs.dtype, 'float32');
      const lens = mixed.encodedLen.toArray();
      let lpMax = 0;
      for (let b = 0; b < 2; b++) {
        const valid = (x: t.Tensor): t.Tensor => x.select(0, b).narrow(0, 0, lens[b]!);
        lpMax = Math.max(lpMax, assertClose(valid(mixed.logProbs), valid(full.logProbs), 0.15, 0.02, `log_probs[${b}] bf16 vs fp32`).maxAbs);
      }
      // bfloat16 keeps 8 mantissa bits: a float32-identical result would mean autocast never reached the encoder
      assert.ok(lpMax > 1e-4, `bf16 log-probs differ from float32 ones (max abs ${lpMax})`);
      const lossFull = model.lossOf(full).item();
      const lossMixed = t.autocast(bf16, () => model.lossOf(mixed));
      assert.equal(lossMixed.dtype, 'float32');
      const rel = Math.abs(lossMixed.item() - lossFull) / Math.abs(lossFull);
      assert.ok(rel < 0.01, `loss bf16 ${lossMixed.item()} vs fp32 ${lossFull}: relative difference ${rel}`);
      tc.diagnostic(`${name}: log_probs max abs diff bf16 vs fp32 ${lpMax.toExponential(2)}, loss relative diff ${rel.toExponential(2)}`);
    });
    model.dispose();
    assert.equal(t.liveTensorCount(), live, 'no tensors leaked');
  });
}

test('features and targets need the full-precision fence: a bf16 projection picks other tokens, the fenced path does not', () => {
  const model = goldenModel('a_bidirectional');
  t.tidy(() => {
    const batch = goldenBatch();
    // the preprocessor fences itself: features under autocast are the float32 ones, bit for bit
    const clean = model.preprocessor.forward(batch.audio, batch.audioLen);
    const cleanMixed = t.autocast(bf16, () => model.preprocessor.forward(batch.audio, batch.audioLen));
    assert.equal(cleanMixed.features.dtype, 'float32');
    assert.deepEqual(cleanMixed.features.toArray(), clean.features.toArray());
    // and so does the per-frame part the streaming front end calls directly
    const frames = model.preprocessor.featurizer.spectralFrames(batch.audio);
    const framesMixed = t.autocast(bf16, () => model.preprocessor.featurizer.spectralFrames(batch.audio));
    assert.deepEqual(framesMixed.toArray(), frames.toArray());
    // many random frames: some lie close enough to two codes that a bf16 projection flips them
    const input = t.randn([4, model.quantizer.featIn, 800], { generator: new t.Generator(11) }); // (B, F, T)
    const exact = t.noGrad(() => model.quantizer.tokens(input)).toArray();
    const lowered = t.noGrad(() => t.autocast(bf16, () => model.quantizer.tokens(input))).toArray();
    const changed = exact.filter((x, i) => x !== lowered[i]).length;
    assert.ok(changed > 0, 'a bf16 projection changes some tokens (so NestModel.forward computes them with autocast off)');
    const fenced = t.noGrad(() => t.autocast(bf16, () => t.autocastOff(() => model.quantizer.tokens(input)))).toArray();
    assert.deepEqual(fenced, exact);
  });
  model.dispose();
});
