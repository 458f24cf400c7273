// The assembled NEST model (preprocessor -> quantizer on clean, masking on noisy -> encoder -> decoder -> loss)
// against NeMo's whole-pipeline golden outputs, loaded from the golden .nemo archives through the config factory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { readNpy } from '../../src/torch/serialize/npy.js';
import { readNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { readWav } from '../../src/audio/wav.js';
import { nestModelConfigFromYaml } from '../../src/ssl/nest-config.js';
import { buildNestModel } from '../../src/ssl/nest-factory.js';
import type { NestBatch } from '../../src/ssl/nest-model.js';
import { loadConfig } from '../../src/config/index.js';
import { GOLDEN, assertClose } from '../helpers/assert.js';

function audioBatch(files: string[]): { audio: t.Tensor; len: t.Tensor } {
  const clips = files.map((f) => readWav(join(GOLDEN, f)).samples);
  const N = Math.max(...clips.map((c) => c.length));
  const buf = new Float32Array(clips.length * N);
  clips.forEach((c, i) => buf.set(c, i * N));
  return { audio: t.tensor(buf, [clips.length, N]), len: t.tensor(clips.map((c) => c.length), [clips.length], { dtype: 'int64' }) };
}

function goldenBatch(): NestBatch {
  const clean = audioBatch(['audio/speech_fox.wav', 'audio/speech_edge.wav']);
  const noisy = audioBatch(['audio/noisy_fox.wav', 'audio/noisy_edge.wav']);
  return { audio: clean.audio, audioLen: clean.len, noisy: noisy.audio, noisyLen: noisy.len };
}

function maskFrames(name: string): number[][] {
  const m = readNpy(join(GOLDEN, 'e2e', name, 'masks_BT.npy')); // [B, T]
  const [B, T] = m.shape as [number, number];
  const v = m.toArray();
  m.dispose();
  return [...Array(B).keys()].map((b) => [...Array(T).keys()].filter((k) => v[b * T + k]! > 0));
}

for (const name of ['a_bidirectional', 'b_fully_causal', 'e_chunked_limited']) {
  test(`NestModel from golden/nemo/${name}.nemo reproduces NeMo's tokens, encoder output and log-probs`, () => {
    const live = t.liveTensorCount();
    const archive = readNemoArchive(join(GOLDEN, 'nemo', `${name}.nemo`));
    const model = buildNestModel(nestModelConfigFromYaml(archive.configYaml, name).model, 0);
    model.loadStateDict(archive.stateDict);
    for (const x of archive.stateDict.values()) x.dispose();
    model.eval();
    t.tidy(() => {
      const batch = goldenBatch();
      const f = t.noGrad(() => model.forward(batch, { maskFrames: maskFrames(name) }));
      const tokens = readNpy(join(GOLDEN, 'e2e', name, 'tokens.npy'));
      assert.deepEqual(f.tokens.toArray(), tokens.toArray(), 'tokens exact');
      const lens = readNpy(join(GOLDEN, 'e2e', name, 'encoded_len.npy')).toArray();
      assert.deepEqual(f.encodedLen.toArray(), lens);
      const enc = readNpy(join(GOLDEN, 'e2e', name, 'encoded.npy'));
      const lp = readNpy(join(GOLDEN, 'e2e', name, 'log_probs.npy'));
      for (let b = 0; b < 2; b++) {
        assertClose(f.encoded.select(0, b).narrow(1, 0, lens[b]!), enc.select(0, b).narrow(1, 0, lens[b]!), 1e-4, 0, `encoded[${b}]`);
        assertClose(f.logProbs.select(0, b).narrow(0, 0, lens[b]!), lp.select(0, b).narrow(0, 0, lens[b]!), 1e-4, 0, `log_probs[${b}]`);
      }
      const loss = model.lossOf(f).item();
      if (name === 'a_bidirectional') {
        const ref = readNpy(join(GOLDEN, 'e2e', name, 'loss.npy')).item();
        assert.ok(Math.abs(loss - ref) <= 1e-4 + 1e-5 * Math.abs(ref), `loss ${loss} vs NeMo ${ref}`);
      } else {
        // NeMo raises on causal downsampling (T/8 + 1 frames); streamnest drops the extra final frame (spec 00 §1.2)
        assert.ok(Number.isFinite(loss), `causal-downsampling loss is defined: ${loss}`);
      }
      const m = model.metricsOf(f);
      assert.equal(m.scored, 8 * (f.tokens.ndim === 3 ? f.tokens.size(2) : 1), 'NeMo scores 8 token groups per book in this batch');
      assert.ok(m.maskedAccuracy >= 0 && m.maskedAccuracy <= 1 && m.codebookUsage > 0 && m.targetPerplexity >= 1);
    });
    model.dispose();
    assert.equal(t.liveTensorCount(), live, 'no tensors leaked');
  });
}

test('the tiny preset trains: loss is finite, gradients reach every trainable parameter, frozen parts get none', () => {
  const { config } = loadConfig('tiny');
  const model = buildNestModel(config.model, 1);
  model.train();
  const trainable = model.trainableParameters();
  assert.ok(!trainable.includes(model.quantizer.codebooks as never), 'the quantizer is frozen');
  t.tidy(() => {
    const batch = goldenBatch();
    const f = model.forward(batch);
    const loss = model.lossOf(f);
    // the golden batch masks enough frames for a finite loss; a NaN (nothing scored, or a broken forward) fails here
    assert.ok(Number.isFinite(loss.item()), `loss ${loss.item()}`);
    loss.backward();
    const withGrad = trainable.filter((p) => p.grad !== null).length;
    assert.ok(withGrad >= trainable.length - 2, `${withGrad}/${trainable.length} trainable parameters got a gradient`);
  });
  model.zeroGrad();
  model.dispose();
});
