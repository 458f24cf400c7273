// SentencePiece as the CTC label set: the fixture tokenizer (test/fixtures/tokenizers/bpe_tiny, a 96-piece BPE model
// trained on data/corpus/train_manifest.json) encodes and decodes the corpus sentences, agrees with SentencePiece's
// own ids and pieces, puts the blank after the last piece, gives word timestamps whose words are the transcript's,
// and the model.tokenizer section and the .nemo artifacts follow NeMo's layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CharVocabulary,
  SentencePieceModelError,
  SentencePieceTokenizer,
  loadTrainingTokenizer,
  normalizeText,
  nemoVocabTxt,
  readTokenizerSection,
  speVocabText,
  tokenizerArtifacts,
  tokensToText,
  wordTimings,
  type CtcVocabulary,
} from '../../src/asr/index.js';
import { readManifests } from '../../src/data/manifest.js';
import { repoRoot } from '../../src/data/corpus.js';

const root = repoRoot();
const dir = join(root, 'test', 'fixtures', 'tokenizers', 'bpe_tiny');
const trainTexts = readManifests(join(root, 'data', 'corpus', 'train_manifest.json')).entries.map((e) => e.text);
const valTexts = readManifests(join(root, 'data', 'corpus', 'val_manifest.json')).entries.map((e) => e.text);

/** SentencePiece itself, loaded independently of SentencePieceTokenizer (non-literal specifier: tsc skips the package's 3 MB types). */
interface RawProcessor {
  load(path: string): Promise<void>;
  encodeIds(text: string): number[];
  encodePieces(text: string): string[];
}
async function rawProcessor(): Promise<RawProcessor> {
  const name: string = '@sctg/sentencepiece-js';
  const mod = (await import(name)) as { SentencePieceProcessor: new () => RawProcessor };
  const p = new mod.SentencePieceProcessor();
  await p.load(join(dir, 'tokenizer.model'));
  return p;
}

/** Emitted tokens at every other frame, as greedy decoding would give them. */
const tokensOf = (ids: number[]): { id: number; frame: number }[] => ids.map((id, i) => ({ id, frame: 2 * i }));

test('labels = the pieces, blank = vocabulary size; ids and pieces agree with SentencePiece; round trip on the corpus', async () => {
  const tok = await SentencePieceTokenizer.fromFile(join(dir, 'tokenizer.model'));
  const raw = await rawProcessor();
  assert.equal(tok.kind, 'sentencepiece');
  assert.equal(tok.size, 96);
  assert.equal(tok.blank, 96);
  assert.equal(tok.unkId, 0);
  assert.deepEqual(
    tok.labels,
    readFileSync(join(dir, 'tokenizer.vocab'), 'utf8')
      .split('\n')
      .filter((l) => l)
      .map((l) => l.split('\t')[0]),
  );
  for (const text of [...trainTexts, ...valTexts]) {
    const norm = normalizeText(text);
    const { ids, dropped } = tok.encode(text);
    assert.equal(dropped, 0);
    assert.deepEqual(ids, raw.encodeIds(norm), text);
    assert.deepEqual(
      ids.map((i) => tok.labels[i]),
      raw.encodePieces(norm),
      `${text}: the piece list's order is SentencePiece's id order`,
    );
    assert.ok(ids.length < norm.length, 'sub-words: fewer labels than characters');
    assert.equal(tok.decode(ids), norm, 'round trip');
    // word timestamps: the words are the transcript's, each from its first piece's frame to the end of its last
    const words = wordTimings(tokensOf(ids), tok, 0.04);
    assert.deepEqual(
      words.map((w) => w.word),
      norm.split(' '),
    );
    assert.equal(words[0]!.start, 0);
    assert.equal(words.at(-1)!.end, Math.round(0.04 * (2 * (ids.length - 1) + 1) * 1e6) / 1e6);
  }
});

test('characters outside the model become <unk>, decoded as its own word', async () => {
  const tok = await SentencePieceTokenizer.fromFile(join(dir, 'tokenizer.model'));
  const { ids } = tok.encode('Zebra 7, quiz!'); // no z or digits in the training texts
  assert.ok(ids.includes(tok.unkId));
  const tokens = tokensOf(ids);
  const text = tokensToText(tokens, tok);
  assert.equal(text, '\u2047 ebra \u2047 qui \u2047');
  assert.deepEqual(
    wordTimings(tokens, tok, 0.08).map((w) => w.word),
    text.split(' '),
  );
  assert.equal(tok.decode([]), '');
  assert.equal(tok.decode([5, 96, -1, 1000]), tok.decode([5]), 'the blank and out-of-range ids are skipped');
});

test('the same word-timestamp code serves characters (space label separates words)', () => {
  const v: CtcVocabulary = CharVocabulary.fromTexts(trainTexts);
  for (const text of trainTexts.slice(0, 5)) {
    const { ids } = v.encode(text);
    assert.deepEqual(
      wordTimings(tokensOf(ids), v, 0.04).map((w) => w.word),
      normalizeText(text).split(' '),
    );
  }
});

test('unreadable or malformed model files fail naming the file', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'streamnest-spm-'));
  try {
    const cut = join(tmp, 'cut.model');
    writeFileSync(cut, readFileSync(join(dir, 'tokenizer.model')).subarray(0, 700));
    await assert.rejects(
      SentencePieceTokenizer.fromFile(cut),
      (e: Error) => e instanceof SentencePieceModelError && e.message.startsWith(`${cut}: not a valid SentencePiece model (`),
    );
    await assert.rejects(
      SentencePieceTokenizer.fromFile(join(tmp, 'missing.model')),
      new RegExp(`${tmp}/missing.model: cannot read the SentencePiece model \\(ENOENT\\)`),
    );
    await assert.rejects(
      loadTrainingTokenizer({ type: 'bpe', dir: tmp, modelPath: null, vocabPath: null, speVocabPath: null }, root, 'model.tokenizer'),
      /model\.tokenizer\.dir: .* has no tokenizer\.model/,
    );
    await assert.rejects(
      loadTrainingTokenizer({ type: 'bpe', dir: join(tmp, 'nope'), modelPath: null, vocabPath: null, speVocabPath: null }, root, 'model.tokenizer'),
      /model\.tokenizer\.dir: .*nope is not a folder/,
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("model.tokenizer: NeMo's {dir, type} layout; wpe and unknown types refused by key", () => {
  assert.equal(readTokenizerSection(undefined, 'model.tokenizer'), null);
  assert.equal(readTokenizerSection({ dir: null, type: 'bpe' }, 'model.tokenizer'), null, 'no dir: characters');
  assert.deepEqual(readTokenizerSection({ dir: 'tok', type: 'BPE' }, 'model.tokenizer'), {
    type: 'bpe',
    dir: 'tok',
    modelPath: null,
    vocabPath: null,
    speVocabPath: null,
  });
  assert.deepEqual(readTokenizerSection({ dir: null, type: 'bpe', model_path: 'nemo:ab_tokenizer.model' }, 't'), {
    type: 'bpe',
    dir: null,
    modelPath: 'nemo:ab_tokenizer.model',
    vocabPath: null,
    speVocabPath: null,
  });
  assert.throws(
    () => readTokenizerSection({ dir: 'tok', type: 'wpe' }, 'model.tokenizer'),
    /^TokenizerConfigError: model\.tokenizer\.type: 'wpe' .* not supported/,
  );
  assert.throws(() => readTokenizerSection({ dir: 'tok', type: 'agg' }, 'model.tokenizer'), /model\.tokenizer\.type: 'agg' .* not supported/);
  assert.throws(() => readTokenizerSection({ dir: 'tok' }, 'model.tokenizer'), /model\.tokenizer\.type: expected 'bpe'/);
  assert.throws(() => readTokenizerSection({ dir: 3, type: 'bpe' }, 'model.tokenizer'), /model\.tokenizer\.dir: expected a path/);
});

test('model.tokenizer: every key is one NeMo reads; special_tokens, hf_kwargs and unknown keys are refused by key', () => {
  const read = (extra: Record<string, unknown>) => () => readTokenizerSection({ dir: 'tok', type: 'bpe', ...extra }, 'model.tokenizer');
  assert.deepEqual(read({ vocab_path: 'v.txt', spe_tokenizer_vocab: 't.vocab', special_tokens: null, hf_kwargs: {} })(), {
    type: 'bpe',
    dir: 'tok',
    modelPath: null,
    vocabPath: 'v.txt',
    speVocabPath: 't.vocab',
  });
  assert.throws(
    read({ vocab_size: 128 }),
    /^TokenizerConfigError: model\.tokenizer: unknown key vocab_size \(a SentencePiece tokenizer section has dir, type,/,
  );
  assert.throws(read({ vocab_size: 128, langs: {} }), /model\.tokenizer: unknown keys vocab_size, langs/);
  assert.throws(read({ special_tokens: ['<s>'] }), /model\.tokenizer\.special_tokens: not supported for SentencePiece/);
  assert.throws(read({ hf_kwargs: { mask_token: '[MASK]' } }), /model\.tokenizer\.hf_kwargs: applies to WordPiece/);
  assert.throws(read({ vocab_path: 7 }), /model\.tokenizer\.vocab_path: expected a path or null/);
});

test('model.tokenizer.vocab_path and spe_tokenizer_vocab: the files named are the ones stored; a missing one fails by key', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'streamnest-spm-'));
  try {
    writeFileSync(join(tmp, 'my_vocab.txt'), 'a\nb\n');
    writeFileSync(join(tmp, 'my.vocab'), 'x\t0\n');
    const base = { type: 'bpe' as const, dir: 'test/fixtures/tokenizers/bpe_tiny', modelPath: null };
    const t = await loadTrainingTokenizer({ ...base, vocabPath: join(tmp, 'my_vocab.txt'), speVocabPath: join(tmp, 'my.vocab') }, root, 'model.tokenizer');
    assert.equal(new TextDecoder().decode(t.vocabTxt!), 'a\nb\n');
    assert.equal(new TextDecoder().decode(t.speVocab!), 'x\t0\n');
    const fromDir = await loadTrainingTokenizer({ ...base, vocabPath: null, speVocabPath: null }, root, 'model.tokenizer');
    assert.equal(new TextDecoder().decode(fromDir.vocabTxt!), readFileSync(join(dir, 'vocab.txt'), 'utf8'));
    await assert.rejects(
      loadTrainingTokenizer({ ...base, vocabPath: join(tmp, 'gone.txt'), speVocabPath: null }, root, 'model.tokenizer'),
      /model\.tokenizer\.vocab_path: .*gone\.txt does not exist/,
    );
    await assert.rejects(
      loadTrainingTokenizer({ ...base, vocabPath: null, speVocabPath: 'nemo:ab_tokenizer.vocab' }, root, 'model.tokenizer'),
      /model\.tokenizer\.spe_tokenizer_vocab: 'nemo:ab_tokenizer\.vocab' names a member of a \.nemo archive/,
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test(".nemo artifacts: NeMo's <32 hex>_<file> names and nemo: paths; vocab.txt and tokenizer.vocab made as NeMo and spm_train make them", async () => {
  const t = await loadTrainingTokenizer(
    { type: 'bpe', dir: 'test/fixtures/tokenizers/bpe_tiny', modelPath: null, vocabPath: null, speVocabPath: null },
    root,
    'model.tokenizer',
  );
  assert.ok(t.vocabTxt && t.speVocab, 'the folder has both files');
  // the files the fixture's trainer wrote equal the ones made from the pieces (used when a folder lacks them)
  assert.equal(nemoVocabTxt(t.tokenizer.pieces), new TextDecoder().decode(t.vocabTxt));
  assert.equal(speVocabText(t.tokenizer.pieces), new TextDecoder().decode(t.speVocab));
  const a = tokenizerArtifacts(t);
  const b = tokenizerArtifacts({ ...t, vocabTxt: null, speVocab: null });
  assert.deepEqual(a.section, b.section, 'same content, same names');
  assert.equal(a.section.dir, null);
  assert.equal(a.section.type, 'bpe');
  assert.match(a.section.model_path, /^nemo:[0-9a-f]{32}_tokenizer\.model$/);
  assert.match(a.section.vocab_path, /^nemo:[0-9a-f]{32}_vocab\.txt$/);
  assert.match(a.section.spe_tokenizer_vocab, /^nemo:[0-9a-f]{32}_tokenizer\.vocab$/);
  assert.deepEqual(
    [...a.files.keys()],
    [a.section.model_path, a.section.vocab_path, a.section.spe_tokenizer_vocab].map((p) => p.slice('nemo:'.length)),
  );
  assert.deepEqual(a.files.get(a.section.model_path.slice(5)), new Uint8Array(readFileSync(join(dir, 'tokenizer.model'))));
});
