// NeMo's golden whole-pipeline inputs for the NEST model tests: the clean and noisy clips as a batch, and each
// case's masked frames (shared by nest-model.test.ts and nest-autocast.test.ts).
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { readNpy } from '../../src/torch/serialize/npy.js';
import { readWav } from '../../src/audio/wav.js';
import type { NestBatch } from '../../src/ssl/nest-model.js';
import { GOLDEN } from '../helpers/assert.js';

function audioBatch(files: string[]): { audio: t.Tensor; len: t.Tensor } {
  const clips = files.map((f) => readWav(join(GOLDEN, f)).samples);
  const N = Math.max(...clips.map((c) => c.length));
  const buf = new Float32Array(clips.length * N);
  for (const [i, c] of clips.entries()) buf.set(c, i * N);
  return {
    audio: t.tensor(buf, [clips.length, N]),
    len: t.tensor(
      clips.map((c) => c.length),
      [clips.length],
      { dtype: 'int64' },
    ),
  };
}

/** The golden clean/noisy pair of clips (fox, edge) as a NEST batch. */
export function goldenBatch(): NestBatch {
  const clean = audioBatch(['audio/speech_fox.wav', 'audio/speech_edge.wav']);
  const noisy = audioBatch(['audio/noisy_fox.wav', 'audio/noisy_edge.wav']);
  return { audio: clean.audio, audioLen: clean.len, noisy: noisy.audio, noisyLen: noisy.len };
}

/** The masked encoder frames of golden case `name`, per utterance. */
export function maskFrames(name: string): number[][] {
  const m = readNpy(join(GOLDEN, 'e2e', name, 'masks_BT.npy')); // [B, T]
  const [B, T] = m.shape as [number, number];
  const v = m.toArray();
  m.dispose();
  return [...Array(B).keys()].map((b) => [...Array(T).keys()].filter((k) => v[b * T + k]! > 0));
}
