// WER against hand-computed cases: normalisation, S/D/I counts from the alignment, corpus totals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignWords, corpusWer, normalizeText, utteranceCer, utteranceWer, words } from '../../src/asr/index.js';

test('normalisation: lowercase, punctuation stripped, apostrophes inside words kept, spaces collapsed', () => {
  assert.equal(normalizeText('  Hello,   World!  '), 'hello world');
  assert.equal(normalizeText('It\'s the "best" -- isn\'t it?'), "it's the best isn't it");
  assert.equal(normalizeText("'quoted' words"), 'quoted words');
  assert.equal(normalizeText('Café déjà-vu'), 'cafe deja vu');
  assert.deepEqual(words(' ... '), []);
});

test('identical texts: zero errors', () => {
  const r = utteranceWer('The cat sat.', 'the CAT sat');
  assert.deepEqual([r.words, r.errors, r.wer], [3, 0, 0]);
});

test('one substitution and one deletion (hand-aligned, the unique minimum)', () => {
  // ref: the cat sat on the mat    hyp: the bat sat on mat
  //      =   S   =   =  D   =
  const r = utteranceWer('the cat sat on the mat', 'the bat sat on mat');
  assert.deepEqual([r.words, r.substitutions, r.deletions, r.insertions, r.errors], [6, 1, 1, 0, 2]);
  assert.equal(r.wer, 2 / 6);
});

test('one insertion; S + D + I together', () => {
  assert.deepEqual(alignWords(['a', 'b', 'c'], ['a', 'x', 'b', 'c']), { words: 3, substitutions: 0, deletions: 0, insertions: 1, errors: 1 });
  // ref: a b c d e f    hyp: a q c e f g   ->  a=a, b/q S, c=c, d D, e=e, f=f, g I
  const r = alignWords(['a', 'b', 'c', 'd', 'e', 'f'], ['a', 'q', 'c', 'e', 'f', 'g']);
  assert.deepEqual([r.substitutions, r.deletions, r.insertions, r.errors], [1, 1, 1, 3]);
});

test('empty hypothesis: all deletions; empty reference: all insertions', () => {
  assert.deepEqual(alignWords(['a', 'b', 'c'], []), { words: 3, substitutions: 0, deletions: 3, insertions: 0, errors: 3 });
  assert.deepEqual(alignWords([], ['x', 'y']), { words: 0, substitutions: 0, deletions: 0, insertions: 2, errors: 2 });
  assert.equal(utteranceWer('', 'x y').wer, 2);
});

test('WER can exceed 100%', () => {
  const r = utteranceWer('yes', 'no no no');
  assert.deepEqual([r.substitutions, r.insertions, r.errors], [1, 2, 3]);
  assert.equal(r.wer, 3);
});

test('minimal edits: a shifted sequence costs one deletion and one insertion, not n substitutions', () => {
  const r = alignWords(['a', 'b', 'c', 'd'], ['b', 'c', 'd', 'e']);
  assert.deepEqual([r.substitutions, r.deletions, r.insertions], [0, 1, 1]);
});

test('corpus WER sums errors over words (not the mean of utterance WERs)', () => {
  const a = utteranceWer('one two three four', 'one two three four'); // 0/4
  const b = utteranceWer('five', 'six'); // 1/1
  const c = corpusWer([a, b]);
  assert.equal(c.wer, 1 / 5);
  assert.deepEqual([c.words, c.errors, c.substitutions], [5, 1, 1]);
  assert.equal(corpusWer([]).wer, 0);
});

test('CER: edits over the normalised characters, spaces included', () => {
  // "the cat" (7 characters) against "a cat": t->a, h and e deleted: 3 edits
  const c = utteranceCer('The cat.', 'a cat');
  assert.deepEqual([c.words, c.substitutions, c.deletions, c.insertions, c.errors], [7, 1, 2, 0, 3]);
  assert.equal(c.wer, 3 / 7);
  assert.equal(utteranceCer('a b', 'a  b').errors, 0); // spaces collapsed by the normalisation
  assert.equal(utteranceCer('ab', 'a b').insertions, 1); // a missing space is a character error (a word split)
  assert.equal(utteranceCer('', 'xy').wer, 2); // empty reference: insertions over one
  assert.equal(corpusWer([utteranceCer('abcd', 'abcx'), utteranceCer('ef', '')]).wer, 3 / 6);
});
