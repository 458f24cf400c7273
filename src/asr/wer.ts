// Word error rate with a Levenshtein alignment: substitutions, deletions, insertions.
// Provenance: NeMo's metrics/wer.py word_error_rate (sum of word edit distances over sum of reference words),
// with the breakdown into S/D/I from the alignment's backtrace and the normalisation of ./text.ts.
import { normalizeText } from './text.js';

export interface WordErrors {
  /** Reference words. */
  words: number;
  substitutions: number;
  deletions: number;
  insertions: number;
  /** substitutions + deletions + insertions */
  errors: number;
}

export interface UtteranceWer extends WordErrors {
  reference: string;
  hypothesis: string;
  /** errors / max(1, words): an empty reference scores its insertions as if it had one word. */
  wer: number;
}

/**
 * Minimal edit alignment of hyp to ref (words). Among alignments with the fewest edits, the backtrace prefers
 * a substitution (or match) over a deletion over an insertion, so equal-cost cases break the same way always.
 */
export function alignWords(ref: readonly string[], hyp: readonly string[]): WordErrors {
  const n = ref.length;
  const m = hyp.length;
  const d: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = 0; i <= n; i++) d[i]![0] = i;
  for (let j = 0; j <= m; j++) d[0]![j] = j;
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= m; j++) {
      const sub = d[i - 1]![j - 1]! + (ref[i - 1] === hyp[j - 1] ? 0 : 1);
      d[i]![j] = Math.min(sub, d[i - 1]![j]! + 1, d[i]![j - 1]! + 1);
    }
  }
  let i = n;
  let j = m;
  let s = 0;
  let del = 0;
  let ins = 0;
  while (i > 0 || j > 0) {
    if (i > 0 && j > 0 && d[i]![j] === d[i - 1]![j - 1]! + (ref[i - 1] === hyp[j - 1] ? 0 : 1)) {
      if (ref[i - 1] !== hyp[j - 1]) s++;
      i--;
      j--;
    } else if (i > 0 && d[i]![j] === d[i - 1]![j]! + 1) {
      del++;
      i--;
    } else {
      ins++;
      j--;
    }
  }
  return { words: n, substitutions: s, deletions: del, insertions: ins, errors: s + del + ins };
}

export function words(text: string): string[] {
  const t = normalizeText(text);
  return t ? t.split(' ') : [];
}

/** WER of one utterance after normalisation of both texts. */
export function utteranceWer(reference: string, hypothesis: string): UtteranceWer {
  const e = alignWords(words(reference), words(hypothesis));
  return { reference: normalizeText(reference), hypothesis: normalizeText(hypothesis), ...e, wer: e.errors / Math.max(1, e.words) };
}

/**
 * CER of one utterance: the edit distance over the characters of the normalised texts, spaces included (NeMo's
 * WER(use_cer=True) aligns list(hypothesis) with list(reference)); `words` counts the reference's characters.
 */
export function utteranceCer(reference: string, hypothesis: string): UtteranceWer {
  const r = normalizeText(reference);
  const h = normalizeText(hypothesis);
  const e = alignWords([...r], [...h]);
  return { reference: r, hypothesis: h, ...e, wer: e.errors / Math.max(1, e.words) };
}

/** Corpus WER: total errors over total reference words (not the mean of utterance WERs). */
export function corpusWer(utts: readonly WordErrors[]): WordErrors & { wer: number } {
  const tot = { words: 0, substitutions: 0, deletions: 0, insertions: 0, errors: 0 };
  for (const u of utts) {
    tot.words += u.words;
    tot.substitutions += u.substitutions;
    tot.deletions += u.deletions;
    tot.insertions += u.insertions;
    tot.errors += u.errors;
  }
  return { ...tot, wer: tot.words > 0 ? tot.errors / tot.words : tot.errors > 0 ? Infinity : 0 };
}
