// Text normalisation and the character vocabulary of the CTC model.
// Provenance: NeMo's character CTC models (EncDecCTCModel with `labels`, ConvASRDecoder with blank = len(labels))
// and the usual WER normalisation (lowercase, punctuation removed, whitespace collapsed).
import type { CtcVocabulary, EncodedText, WordSpan } from './vocabulary.js';

/** Lowercase, apostrophes kept, every other non-letter/digit becomes a space, spaces collapsed, trimmed. */
export function normalizeText(s: string): string {
  return s
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // accents: é -> e
    .replace(/[’‘`]/g, "'")
    .replace(/[^a-z0-9' ]+/g, ' ')
    .replace(/(^|\s)'+|'+(?=\s|$)/g, '$1') // quotes around words, not apostrophes inside them
    .replace(/\s+/g, ' ')
    .trim();
}

export class VocabularyError extends Error {}

/** The CTC labels: index i is labels[i]; the blank is index labels.length (NeMo's ConvASRDecoder adds it last). */
export class CharVocabulary implements CtcVocabulary {
  readonly kind = 'characters';
  private readonly index: Map<string, number>;
  constructor(readonly labels: readonly string[]) {
    if (labels.length === 0) throw new VocabularyError('model.labels: the vocabulary is empty');
    this.index = new Map();
    for (const [i, c] of labels.entries()) {
      if ([...c].length !== 1) throw new VocabularyError(`model.labels[${i}]: ${JSON.stringify(c)} is not a single character`);
      if (this.index.has(c)) throw new VocabularyError(`model.labels[${i}]: ${JSON.stringify(c)} appears twice`);
      this.index.set(c, i);
    }
  }

  /** NeMo's classic English character set: space, a-z, apostrophe (28 labels, blank = 28). */
  static english(): CharVocabulary {
    return new CharVocabulary([' ', ...'abcdefghijklmnopqrstuvwxyz', "'"]);
  }

  /** Space, then every character of the normalised texts, sorted (digits and letters). */
  static fromTexts(texts: Iterable<string>): CharVocabulary {
    const seen = new Set<string>();
    for (const s of texts) for (const c of normalizeText(s)) if (c !== ' ') seen.add(c);
    return new CharVocabulary([' ', ...[...seen].sort()]);
  }

  get size(): number {
    return this.labels.length;
  }
  get blank(): number {
    return this.labels.length;
  }

  /** Normalised text -> label ids; characters outside the vocabulary are dropped (counted in `dropped`). */
  encode(text: string): EncodedText {
    const ids: number[] = [];
    let dropped = 0;
    for (const c of normalizeText(text)) {
      const i = this.index.get(c);
      if (i === undefined) dropped++;
      else ids.push(i);
    }
    return { ids, dropped };
  }

  decode(ids: readonly number[]): string {
    return ids.map((i) => this.labels[i] ?? '').join('');
  }

  /** Words are the runs of labels between space labels. */
  wordSpans(ids: readonly number[]): WordSpan[] {
    const spans: WordSpan[] = [];
    let start = -1;
    for (let i = 0; i <= ids.length; i++) {
      const sep = i === ids.length || this.labels[ids[i]!] === ' ';
      if (sep && start >= 0) {
        spans.push({ start, end: i });
        start = -1;
      } else if (!sep && start < 0) start = i;
    }
    return spans;
  }
}
