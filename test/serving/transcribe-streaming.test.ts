// Streaming vs offline CTC transcription (transcribeStreaming: the recognizer `transcribe --streaming` and `eval
// --streaming` run): for the exact configurations (fully causal regular [-1, 0] and chunked_limited [-1, 4], causal
// subsampling and convolutions) the per-frame argmax sequence — hence the transcript and the word timestamps — is
// identical whether the audio arrives at once or in pieces, for any chunk and push size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { loadAudio } from '../../src/audio/index.js';
import { streamingTranscriber, transcribeStreaming } from '../../src/serving/index.js';
import { servingModel } from './model.js';
import { repoRoot } from '../../src/data/corpus.js';

const wav = join(repoRoot(), 'data', 'corpus', 'val', 'val-00000.wav');

for (const [name, style, pushes] of [
  ['fully causal [-1,0] regular', 'regular', [0.32, 0.05]],
  ['lookahead [-1,4] chunked_limited', 'chunked_limited', [0.32, 0.13]],
] as const) {
  test(`${name}: streaming transcript and timestamps equal offline`, () => {
    const before = t.liveTensorCount();
    const m = servingModel(style, 7); // its decoder is sharpened, so many different labels come out: a strong test of frame alignment
    const audio = loadAudio(wav, { targetSampleRate: 16000 }).samples;
    const off = m.transcribe([audio])[0]!;
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
    m.dispose();
    assert.equal(t.liveTensorCount(), before, 'leaked tensors');
  });
}
