// Streaming vs offline CTC transcription (transcribeStreaming: the recognizer `transcribe --streaming` and `eval
// --streaming` run): for the exact configurations (fully causal regular [-1, 0] and chunked_limited [-1, 4], causal
// subsampling and convolutions) the per-frame argmax sequence — hence the transcript and the word timestamps — is
// identical whether the audio arrives at once or in pieces, for any chunk and push size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { loadAudio } from '../../src/audio/index.js';
import { CtcModel, NotStreamableError, assertStreamable, type CtcModelArgs } from '../../src/asr/index.js';
import { streamingTranscriber, transcribeStreaming } from '../../src/serving/index.js';
import { repoRoot } from '../../src/data/corpus.js';

function args(enc: Record<string, unknown>, seed = 7): CtcModelArgs {
  return {
    preprocessor: { sample_rate: 16000, normalize: 'NA', features: 80, dither: 0.00001, pad_to: 16 },
    encoder: {
      feat_in: 80,
      n_layers: 2,
      d_model: 32,
      n_heads: 2,
      subsampling: 'dw_striding',
      subsampling_factor: 8,
      subsampling_conv_channels: 16,
      causal_downsampling: true,
      conv_kernel_size: 9,
      conv_norm_type: 'layer_norm',
      conv_context_size: 'causal',
      ...enc,
    } as CtcModelArgs['encoder'],
    labels: [' ', ...'abcdefghijklmnopqrstuvwxyz', "'"],
    specAugment: null,
    seed,
  };
}

function argmaxOffline(m: CtcModel, audio: Float32Array): number[] {
  return t.noGrad(() =>
    t.tidy(() => {
      const f = m.forward(t.tensor(audio, [1, audio.length]), t.tensor(BigInt64Array.of(BigInt(audio.length)), [1]));
      const n = f.encodedLen.toArray()[0]!;
      return f.logProbs.narrow(1, 0, n).argmax(-1).toArray();
    }),
  );
}

const wav = join(repoRoot(), 'data', 'corpus', 'val', 'val-00000.wav');

for (const [name, enc, pushes] of [
  ['fully causal [-1,0] regular', { att_context_size: [-1, 0], att_context_style: 'regular' }, [0.32, 0.05]],
  ['lookahead [-1,4] chunked_limited', { att_context_size: [-1, 4], att_context_style: 'chunked_limited' }, [0.32, 0.13]],
] as const) {
  test(`${name}: streaming transcript and timestamps equal offline`, () => {
    const before = t.liveTensorCount();
    const m = new CtcModel(args(enc as Record<string, unknown>));
    m.eval();
    // a sharper random decoder so that many different labels are emitted (a strong test of frame alignment)
    t.noGrad(() => m.decoder.decoder_layers.items[0]!.weight.mul_(20));
    const audio = loadAudio(wav, { targetSampleRate: 16000 }).samples;
    const off = m.transcribe([audio])[0]!;
    const ids = argmaxOffline(m, audio);
    assert.ok(off.tokens.length > 5, `offline decoded ${off.tokens.length} tokens`);
    for (const push of pushes) {
      for (const chunk of name.startsWith('fully') ? [0.16, 0.3, 0.64] : [undefined]) {
        const rec = streamingTranscriber(m, { chunkSeconds: chunk });
        assert.deepEqual(rec.geometry.exactnessIssues, []);
        const s = transcribeStreaming(rec, audio, { pushSeconds: push });
        rec.dispose();
        assert.equal(s.text, off.text, `push ${push} s, chunk ${chunk}`);
        assert.deepEqual(s.tokens, off.tokens, `push ${push} s, chunk ${chunk}: token frames`);
        assert.deepEqual(s.words, off.words);
        assert.ok(s.stepTimes.length > 0);
      }
    }
    assert.equal(ids.length > 0, true);
    m.dispose();
    assert.equal(t.liveTensorCount(), before, 'leaked tensors');
  });
}

test('a bidirectional model refuses to stream with a clear error', () => {
  const m = new CtcModel(args({ att_context_size: [-1, -1], causal_downsampling: false, conv_context_size: null }));
  m.eval();
  assert.throws(
    () => assertStreamable(m),
    (e: Error) => e instanceof NotStreamableError && /causal_downsampling/.test(e.message),
  );
  m.dispose();
});
