// model.tokenizer: the SentencePiece tokenizer of a sub-word CTC model, in NeMo's layout (ASRBPEMixin):
//   fine-tuning config   tokenizer: {dir: FOLDER, type: bpe}   FOLDER holds tokenizer.model (+ vocab.txt, tokenizer.vocab),
//                        as written by NeMo's process_asr_text_tokenizer.py
//   .nemo model_config   tokenizer: {dir: null, type: bpe, model_path: nemo:<hex>_tokenizer.model,
//                                    vocab_path: nemo:<hex>_vocab.txt, spe_tokenizer_vocab: nemo:<hex>_tokenizer.vocab}
// Provenance: ASRBPEMixin._setup_monolingual_tokenizer (type bpe = any SentencePiece model, wpe = a BERT WordPiece
// vocab.txt; model_path defaults to dir/tokenizer.model) and SaveRestoreConnector.register_artifact / _handle_artifacts
// (each artifact is copied into the archive as `<32 hex digits>_<file name>` and the config key becomes 'nemo:<that name>').
// NeMo's hex is a random uuid4; here it is the first 32 hex digits of the file's SHA-256, so that the same model writes
// the same archive. NeMo's restore registers all three keys (with dir null, a missing vocab_path or
// spe_tokenizer_vocab fails there), so all three files are written; vocab.txt and tokenizer.vocab are copied from
// the folder when it has them, else made from the pieces as create_spt_model / spm_train write them.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { SentencePieceTokenizer, WORD_START } from './sentencepiece-tokenizer.js';
import type { SentencePiece } from './sentencepiece-model.js';

export class TokenizerConfigError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'TokenizerConfigError';
  }
}

export interface TokenizerSection {
  type: 'bpe';
  /** The tokenizer folder (fine-tuning); in a .nemo, null or the folder it was trained from (unused). */
  dir: string | null;
  /** As written: a file path, or 'nemo:NAME' (a member of the archive holding the config). */
  modelPath: string | null;
  /** NeMo's vocab.txt and spm_train's tokenizer.vocab, as written (null: dir/vocab.txt, dir/tokenizer.vocab). */
  vocabPath: string | null;
  speVocabPath: string | null;
}

/** The keys of a monolingual `tokenizer:` section NeMo reads (ASRBPEMixin._setup_monolingual_tokenizer). */
const TOKENIZER_KEYS = ['dir', 'type', 'model_path', 'vocab_path', 'spe_tokenizer_vocab', 'special_tokens', 'hf_kwargs'];

/**
 * Reads a `tokenizer:` section; `where` is its key path ('model.tokenizer', or 'ARCHIVE: model_config.yaml tokenizer').
 * Null when the section is absent or sets neither dir nor model_path (a character model).
 */
export function readTokenizerSection(v: unknown, where: string): TokenizerSection | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v))
    throw new TokenizerConfigError(`${where}: expected a mapping {dir: FOLDER, type: bpe}, got ${JSON.stringify(v)}`);
  const m = v as Record<string, unknown>;
  checkTokenizerKeys(m, where);
  const path = (k: string): string | null => {
    const x = m[k];
    if (x === undefined || x === null) return null;
    if (typeof x !== 'string' || x === '') throw new TokenizerConfigError(`${where}.${k}: expected a path or null, got ${JSON.stringify(x)}`);
    return x;
  };
  const dir = path('dir');
  const modelPath = path('model_path');
  if (dir === null && modelPath === null) return null;
  const type = typeof m.type === 'string' ? m.type.toLowerCase() : m.type;
  if (type === 'wpe') {
    throw new TokenizerConfigError(
      `${where}.type: 'wpe' (a BERT WordPiece vocab.txt) is not supported; use a SentencePiece model with type 'bpe' ` +
        "(NeMo's name for any SentencePiece model, BPE or unigram: process_asr_text_tokenizer.py --tokenizer=spe)",
    );
  }
  if (type !== 'bpe') throw new TokenizerConfigError(`${where}.type: expected 'bpe' (a SentencePiece tokenizer.model), got ${JSON.stringify(m.type ?? null)}`);
  return { type: 'bpe', dir, modelPath, vocabPath: path('vocab_path'), speVocabPath: path('spe_tokenizer_vocab') };
}

/**
 * Every key of the section is one NeMo reads, and those streamnest cannot honour are refused with the reason:
 * aggregate tokenizers, special_tokens (NeMo refuses them for SentencePiece too) and hf_kwargs (WordPiece only).
 */
function checkTokenizerKeys(m: Record<string, unknown>, where: string): void {
  if (typeof m.type === 'string' && m.type.toLowerCase() === 'agg') {
    throw new TokenizerConfigError(
      `${where}.type: 'agg' (an aggregate of per-language tokenizers under ${where}.langs) is not supported; give one SentencePiece tokenizer with type 'bpe'`,
    );
  }
  const unknown = Object.keys(m).filter((k) => !TOKENIZER_KEYS.includes(k));
  if (unknown.length > 0) {
    throw new TokenizerConfigError(
      `${where}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (a SentencePiece tokenizer section has ${TOKENIZER_KEYS.join(', ')})`,
    );
  }
  if (m.special_tokens !== undefined && m.special_tokens !== null) {
    throw new TokenizerConfigError(
      `${where}.special_tokens: not supported for SentencePiece tokenizers (NeMo refuses them too: the pieces come from tokenizer.model); set it to null`,
    );
  }
  const hf = m.hf_kwargs;
  const emptyMap = hf !== null && typeof hf === 'object' && !Array.isArray(hf) && Object.keys(hf).length === 0;
  if (hf !== undefined && hf !== null && !emptyMap) {
    throw new TokenizerConfigError(
      `${where}.hf_kwargs: applies to WordPiece tokenizers (type 'wpe'), which streamnest does not support; a SentencePiece tokenizer takes none (remove it)`,
    );
  }
}

export interface TrainingTokenizer {
  tokenizer: SentencePieceTokenizer;
  /** NeMo's vocab.txt and tokenizer.vocab from the folder (null when it has none). */
  vocabTxt: Uint8Array | null;
  speVocab: Uint8Array | null;
}

/** Loads the tokenizer a fine-tuning config names (paths relative to baseDir). */
export async function loadTrainingTokenizer(s: TokenizerSection, baseDir: string, where: string): Promise<TrainingTokenizer> {
  if (s.modelPath?.startsWith('nemo:')) {
    throw new TokenizerConfigError(
      `${where}.model_path: '${s.modelPath}' names a member of a .nemo archive; for fine-tuning give ${where}.dir (a folder with tokenizer.model) or a model file path`,
    );
  }
  const dir = s.dir === null ? null : resolve(baseDir, s.dir);
  if (dir !== null && !(existsSync(dir) && statSync(dir).isDirectory())) throw new TokenizerConfigError(`${where}.dir: ${dir} is not a folder`);
  const model = s.modelPath !== null ? resolve(baseDir, s.modelPath) : join(dir!, 'tokenizer.model');
  if (!existsSync(model)) {
    throw new TokenizerConfigError(
      s.modelPath !== null
        ? `${where}.model_path: ${model} does not exist`
        : `${where}.dir: ${dir} has no tokenizer.model (NeMo's tokenizer folder, as process_asr_text_tokenizer.py or spm_train --model_prefix=DIR/tokenizer writes it)`,
    );
  }
  // vocab_path / spe_tokenizer_vocab: the file named (it must exist), else the folder's, else made from the pieces
  const companion = (key: string, given: string | null, name: string): Uint8Array | null => {
    if (given !== null) {
      if (given.startsWith('nemo:')) throw new TokenizerConfigError(`${where}.${key}: '${given}' names a member of a .nemo archive; give a file path or null`);
      const file = resolve(baseDir, given);
      if (!existsSync(file)) throw new TokenizerConfigError(`${where}.${key}: ${file} does not exist`);
      return readFileSync(file);
    }
    return dir !== null && existsSync(join(dir, name)) ? readFileSync(join(dir, name)) : null;
  };
  return {
    tokenizer: await SentencePieceTokenizer.fromFile(model),
    vocabTxt: companion('vocab_path', s.vocabPath, 'vocab.txt'),
    speVocab: companion('spe_tokenizer_vocab', s.speVocabPath, 'tokenizer.vocab'),
  };
}

/** NeMo's name for a file copied into a .nemo: 32 hex digits, '_', the file name. */
export function nemoArtifactName(fileName: string, data: Uint8Array): string {
  return `${createHash('sha256').update(data).digest('hex').slice(0, 32)}_${fileName}`;
}

/** NeMo's vocab.txt (create_spt_model): special pieces left out, '▁x' written x, other pieces ##x. */
export function nemoVocabTxt(pieces: readonly SentencePiece[]): string {
  const lines: string[] = [];
  for (const p of pieces) {
    if (p.type === 'unknown' || p.type === 'control' || p.type === 'user_defined') continue;
    const token = p.piece.startsWith(WORD_START) ? p.piece.slice(1) : `##${p.piece}`;
    lines.push(token.length > 0 ? token : p.piece[0]!);
  }
  return lines.map((l) => `${l}\n`).join('');
}

/** spm_train's MODEL.vocab: piece TAB score per line (scores with 6 significant digits, as absl::StrCat writes floats). */
export function speVocabText(pieces: readonly SentencePiece[]): string {
  const fmt = (x: number): string => (Object.is(x, -0) ? '-0' : String(Number(x.toPrecision(6))));
  return pieces.map((p) => `${p.piece}\t${fmt(p.score)}\n`).join('');
}

export interface TokenizerArtifacts {
  /** The model_config.yaml `tokenizer:` section. */
  section: { dir: null; type: 'bpe'; model_path: string; vocab_path: string; spe_tokenizer_vocab: string };
  /** Archive members by name. */
  files: Map<string, Uint8Array>;
}

/** What a .nemo stores for a tokenizer: the config section and the three files. */
export function tokenizerArtifacts(t: TrainingTokenizer): TokenizerArtifacts {
  const enc = new TextEncoder();
  const model = nemoArtifactName('tokenizer.model', t.tokenizer.modelBytes);
  const vocabTxt = t.vocabTxt ?? enc.encode(nemoVocabTxt(t.tokenizer.pieces));
  const speVocab = t.speVocab ?? enc.encode(speVocabText(t.tokenizer.pieces));
  const vocab = nemoArtifactName('vocab.txt', vocabTxt);
  const spe = nemoArtifactName('tokenizer.vocab', speVocab);
  return {
    section: { dir: null, type: 'bpe', model_path: `nemo:${model}`, vocab_path: `nemo:${vocab}`, spe_tokenizer_vocab: `nemo:${spe}` },
    files: new Map([
      [model, t.tokenizer.modelBytes],
      [vocab, vocabTxt],
      [spe, speVocab],
    ]),
  };
}

/**
 * The tokenizer stored in a .nemo: model_path 'nemo:NAME' is the member NAME; a plain model_path (or none) is looked
 * up by its file name among the members, as NeMo's restore does for older archives. Files outside the archive are
 * never read.
 */
export async function tokenizerFromArchive(
  s: TokenizerSection,
  members: ReadonlyMap<string, Uint8Array>,
  file: string,
  where: string,
): Promise<SentencePieceTokenizer> {
  const name = s.modelPath?.startsWith('nemo:') ? s.modelPath.slice('nemo:'.length).replace(/^(\.\/)+/, '') : basename(s.modelPath ?? 'tokenizer.model');
  const data = members.get(name);
  if (!data) {
    throw new TokenizerConfigError(
      `${file}: ${where}.model_path is ${JSON.stringify(s.modelPath)} but the archive has no member ${name} (other members: ${[...members.keys()].join(', ') || 'none'})`,
    );
  }
  return SentencePieceTokenizer.fromBytes(data, `${file}: ${name}`);
}
