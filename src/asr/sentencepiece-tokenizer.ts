// A SentencePiece (BPE or unigram) model as the CTC label set: NeMo's EncDecCTCModelBPE with tokenizer.type `bpe`
// (nemo.collections.common.tokenizers.SentencePieceTokenizer, legacy = False): the labels are the model's pieces in
// id order (decoder.vocabulary), num_classes = number of pieces, blank = that number. Encoding and decoding run in
// SentencePiece itself (@sctg/sentencepiece-js: the C++ library compiled to WebAssembly); the piece list comes from
// the model file (./sentencepiece-model.ts), since the WebAssembly binding has no id_to_piece.
// Word starts for timestamps: a piece beginning with '▁' (as NeMo's _get_word_offsets_subwords_sentencepiece),
// and the unknown piece, which SentencePiece decodes as a separate ' ⁇ '.
import { readFileSync } from 'node:fs';
import { normalizeText } from './text.js';
import { readSentencePieces, SentencePieceModelError, type SentencePiece } from './sentencepiece-model.js';
import type { CtcVocabulary, EncodedText, WordSpan } from './vocabulary.js';

/** SentencePiece's word-boundary marker (U+2581). */
export const WORD_START = '\u2581';

/** The members of @sctg/sentencepiece-js that are used (its own .d.ts is 3 MB of embedded models). */
interface WasmProcessor {
  loadFromB64StringModel(b64: string): Promise<void>;
  encodeIds(text: string): number[];
  decodeIds(ids: number[]): string;
}
interface WasmModule {
  SentencePieceProcessor: new () => WasmProcessor;
}

/** Imported through a non-literal specifier so that tsc does not read the package's types. */
const PACKAGE: string = '@sctg/sentencepiece-js';
let wasmModule: Promise<WasmModule> | null = null;

export class SentencePieceTokenizer implements CtcVocabulary {
  readonly kind = 'sentencepiece';
  readonly labels: readonly string[];
  /** The id of the piece of type UNKNOWN (<unk>). */
  readonly unkId: number;

  private constructor(
    /** The model file's bytes (written into .nemo archives as is). */
    readonly modelBytes: Uint8Array,
    readonly pieces: readonly SentencePiece[],
    /** Where the model came from (a path, or an archive and its member), for messages. */
    readonly source: string,
    private readonly spp: WasmProcessor,
  ) {
    this.labels = pieces.map((p) => p.piece);
    this.unkId = pieces.findIndex((p) => p.type === 'unknown');
  }

  /** Loads `tokenizer.model` (or any SentencePiece model file). */
  static async fromFile(path: string): Promise<SentencePieceTokenizer> {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new SentencePieceModelError(`${path}: cannot read the SentencePiece model (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return SentencePieceTokenizer.fromBytes(bytes, path);
  }

  /** Loads a model held in memory; `source` names it in errors. */
  static async fromBytes(bytes: Uint8Array, source: string): Promise<SentencePieceTokenizer> {
    const pieces = readSentencePieces(bytes, source); // validates before the WebAssembly loader, which fails silently
    wasmModule ??= import(PACKAGE) as Promise<WasmModule>;
    const spp = new (await wasmModule).SentencePieceProcessor();
    await spp.loadFromB64StringModel(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'));
    // a model SentencePiece refused encodes everything to nothing; a loaded one gives at least <unk> for any letter
    if (spp.encodeIds('a').length === 0) throw new SentencePieceModelError(`${source}: SentencePiece could not load this model (${pieces.length} pieces read)`);
    return new SentencePieceTokenizer(Uint8Array.from(bytes), pieces, source, spp);
  }

  get size(): number {
    return this.labels.length;
  }
  get blank(): number {
    return this.labels.length;
  }

  /** Normalised text -> piece ids (characters outside the model become the unknown piece). */
  encode(text: string): EncodedText {
    return { ids: this.spp.encodeIds(normalizeText(text)), dropped: 0 };
  }

  /** Piece ids -> text ('▁' becomes a space, control pieces vanish, <unk> reads ' ⁇ '); ids outside the pieces are skipped. */
  decode(ids: readonly number[]): string {
    return this.spp.decodeIds(ids.filter((i) => Number.isInteger(i) && i >= 0 && i < this.labels.length));
  }

  /** A word starts at each piece beginning with '▁', at the unknown piece and right after it. */
  wordSpans(ids: readonly number[]): WordSpan[] {
    const spans: WordSpan[] = [];
    let start = 0;
    for (let i = 1; i < ids.length; i++) {
      const starts = this.labels[ids[i]!]?.startsWith(WORD_START) === true || ids[i] === this.unkId || ids[i - 1] === this.unkId;
      if (starts) {
        spans.push({ start, end: i });
        start = i;
      }
    }
    if (ids.length > 0) spans.push({ start, end: ids.length });
    return spans;
  }
}
