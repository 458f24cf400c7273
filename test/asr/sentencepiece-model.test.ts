// The SentencePiece model reader: the pieces of test/fixtures/tokenizers/bpe_tiny/tokenizer.model equal what
// spm_train wrote to tokenizer.vocab (same order, scores, types); malformed files fail naming the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSentencePieces, SentencePieceModelError } from '../../src/asr/sentencepiece-model.js';
import { repoRoot } from '../../src/data/corpus.js';

const dir = join(repoRoot(), 'test', 'fixtures', 'tokenizers', 'bpe_tiny');
const modelPath = join(dir, 'tokenizer.model');

test('the pieces, in id order, equal the .vocab file written by the trainer', () => {
  const pieces = readSentencePieces(readFileSync(modelPath), modelPath);
  const vocab = readFileSync(join(dir, 'tokenizer.vocab'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
  assert.equal(pieces.length, 96);
  assert.deepEqual(
    pieces.map((p) => p.piece),
    vocab.map((v) => v[0]),
  );
  for (const [i, p] of pieces.entries()) assert.equal(p.score, Number(vocab[i]![1]), `score of piece ${i}`);
  assert.deepEqual(pieces[0], { piece: '<unk>', score: 0, type: 'unknown' });
  assert.ok(pieces.slice(1).every((p) => p.type === 'normal'));
  assert.ok(pieces.some((p) => p.piece === '\u2581the'));
});

test('malformed models: truncated, garbage, empty, without <unk>; each error names the file', () => {
  const bytes = readFileSync(modelPath);
  const bad = (b: Uint8Array, re: RegExp): void => {
    assert.throws(
      () => readSentencePieces(b, '/x/broken.model'),
      (e: Error) => e instanceof SentencePieceModelError && e.message.startsWith('/x/broken.model: not a valid SentencePiece model') && re.test(e.message),
      re.source,
    );
  };
  bad(bytes.subarray(0, Math.floor(bytes.length / 2)), /truncated/);
  bad(bytes.subarray(0, 1), /truncated/);
  bad(new TextEncoder().encode('not a real sentencepiece model'), /wire type|truncated/);
  bad(new Uint8Array(0), /empty/);
  // one piece {piece: 'a', type: NORMAL}: field 1 (len 5) { field 1 (len 1) 'a', field 3 = 1 }
  bad(Uint8Array.of(0x0a, 0x05, 0x0a, 0x01, 0x61, 0x18, 0x01), /UNKNOWN/);
  // the same piece twice, then <unk>
  const a = [0x0a, 0x03, 0x0a, 0x01, 0x61];
  bad(Uint8Array.of(...a, ...a), /appears twice/);
  // an undefined piece type
  bad(Uint8Array.of(0x0a, 0x05, 0x0a, 0x01, 0x61, 0x18, 0x09), /type 9/);
  // the smallest valid model: '<unk>' of type UNKNOWN; unknown fields (trainer_spec = field 2) are skipped
  const unk = [0x0a, 0x09, 0x0a, 0x05, ...new TextEncoder().encode('<unk>'), 0x18, 0x02];
  assert.deepEqual(readSentencePieces(Uint8Array.of(...unk, 0x12, 0x02, 0x18, 0x02), 'min.model'), [{ piece: '<unk>', score: 0, type: 'unknown' }]);
});
