import test from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { batchToTensors } from '../../src/data/batch-tensors.js';
import type { LoadedBatch } from '../../src/data/batch-builder.js';

test('batchToTensors: [B, N] float32 audio and int64 lengths', () => {
  const audio = Float32Array.from({ length: 6 }, (_, i) => i / 10);
  const b = {
    batchSize: 2,
    maxLen: 3,
    audio,
    audioLens: Int32Array.from([3, 2]),
    noise: new Float32Array(6),
    noiseLens: Int32Array.from([3, 2]),
    noisyAudio: audio.map((x) => x + 1),
    noisyLens: Int32Array.from([3, 1]),
    id: 0,
    epoch: 0,
    batchInEpoch: 0,
    indices: [0, 1],
    skips: { counts: {}, examples: [] },
    draws: [],
  } satisfies LoadedBatch;
  t.tidy(() => {
    const x = batchToTensors(b);
    assert.deepEqual(x.audio.shape, [2, 3]);
    assert.equal(x.audio.dtype, 'float32');
    assert.equal(x.audioLen.dtype, 'int64');
    assert.deepEqual(x.audioLen.toArray(), [3, 2]);
    assert.deepEqual(x.noisyAudioLen.toArray(), [3, 1]);
    const got = x.noisyAudio.toArray();
    Array.from(audio).forEach((v, i) => {
      assert.ok(Math.abs(got[i]! - (v + 1)) < 1e-6);
    });
  });
});
