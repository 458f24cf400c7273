// What the CTC model, greedy decoding, word timestamps and fine-tuning need from a label set, whether characters
// (CharVocabulary, NeMo's EncDecCTCModel `labels`) or SentencePiece sub-words (SentencePieceTokenizer, NeMo's
// EncDecCTCModelBPE `tokenizer`). In both NeMo appends the CTC blank after the last label: blank = size.

/** Label ids of a text. */
export interface EncodedText {
  ids: number[];
  /**
   * Characters left out of `ids` because no label covers them (characters); SentencePiece never drops any:
   * it encodes them as its unknown piece.
   */
  dropped: number;
}

/** Emitted labels [start, end) (indices into the decoded id list) that make one word. */
export interface WordSpan {
  start: number;
  end: number;
}

export interface CtcVocabulary {
  readonly kind: 'characters' | 'sentencepiece';
  /** The CTC output labels in id order, blank excluded (NeMo's decoder.vocabulary). */
  readonly labels: readonly string[];
  /** Number of labels (NeMo's decoder.num_classes). */
  readonly size: number;
  /** The blank's id: size (the last output of the ConvASRDecoder). */
  readonly blank: number;
  /** Normalised text (./text.ts normalizeText) -> label ids. */
  encode(text: string): EncodedText;
  /** Label ids (already CTC-collapsed, no blanks) -> text. */
  decode(ids: readonly number[]): string;
  /** How emitted labels group into words (for word timestamps); spans whose text is empty may occur. */
  wordSpans(ids: readonly number[]): WordSpan[];
}
