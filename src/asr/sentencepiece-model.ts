// The piece list of a SentencePiece model file (tokenizer.model): a protobuf ModelProto whose field 1 is
// `repeated SentencePiece pieces` (piece = 1: string, score = 2: float, type = 3: enum). Only that is read; every
// other field (trainer_spec, normalizer_spec, ...) is skipped after its bounds are checked.
// Provenance: sentencepiece_model.proto (google/sentencepiece); the protobuf wire format (varint, fixed64,
// length-delimited, fixed32). A piece's index in the list is its id.

export type PieceType = 'normal' | 'unknown' | 'control' | 'user_defined' | 'unused' | 'byte';

/** ModelProto.SentencePiece.Type, by enum value (NORMAL = 1 is the default when the field is absent). */
const PIECE_TYPES: Record<number, PieceType> = { 1: 'normal', 2: 'unknown', 3: 'control', 4: 'user_defined', 5: 'unused', 6: 'byte' };

export interface SentencePiece {
  piece: string;
  score: number;
  type: PieceType;
}

export class SentencePieceModelError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'SentencePieceModelError';
  }
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** A bounds-checked cursor over one protobuf message. */
class Reader {
  pos: number;
  constructor(
    private readonly b: Uint8Array,
    start: number,
    readonly end: number,
    private readonly fail: (msg: string) => never,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** An unsigned varint (up to 64 bits; exact below 2^53, which covers every length and enum). */
  varint(what: string): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail(`truncated ${what} at byte ${this.pos}`);
      const byte = this.b[this.pos++]!;
      v += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) return v;
      mul *= 128;
    }
    this.fail(`${what} at byte ${this.pos - 10} is longer than 10 bytes`);
  }

  /** The bounds [start, end) of a length-delimited field's payload; moves past it. */
  span(what: string): [number, number] {
    const len = this.varint(`length of ${what}`);
    const start = this.pos;
    if (len > this.end - start) this.fail(`truncated ${what}: ${len} bytes announced at byte ${start}, ${this.end - start} left`);
    this.pos = start + len;
    return [start, start + len];
  }

  fixed32(what: string): DataView {
    if (this.end - this.pos < 4) this.fail(`truncated ${what} at byte ${this.pos}`);
    const v = new DataView(this.b.buffer, this.b.byteOffset + this.pos, 4);
    this.pos += 4;
    return v;
  }

  /** Moves past a field of an unused number. */
  skip(wire: number, field: number): void {
    const what = `field ${field}`;
    if (wire === WIRE_VARINT) this.varint(what);
    else if (wire === WIRE_LEN) this.span(what);
    else if (wire === WIRE_FIXED32) this.fixed32(what);
    else if (wire === WIRE_FIXED64) {
      if (this.end - this.pos < 8) this.fail(`truncated ${what} at byte ${this.pos}`);
      this.pos += 8;
    } else this.fail(`field ${field} at byte ${this.pos} has wire type ${wire}, which protobuf does not define (or deprecated groups)`);
  }

  /** A field key: [field number, wire type]. */
  key(): [number, number] {
    const k = this.varint('field key');
    const field = Math.floor(k / 8);
    if (field === 0) this.fail(`field number 0 at byte ${this.pos - 1}`);
    return [field, k % 8];
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The pieces of a SentencePiece model, in id order. `file` names the model in errors. */
export function readSentencePieces(bytes: Uint8Array, file: string): SentencePiece[] {
  const fail: (msg: string) => never = (msg) => {
    throw new SentencePieceModelError(`${file}: not a valid SentencePiece model (${msg})`);
  };
  if (bytes.length === 0) fail('the file is empty');
  const top = new Reader(bytes, 0, bytes.length, fail);
  const pieces: SentencePiece[] = [];
  while (!top.done) {
    const [field, wire] = top.key();
    if (field !== 1) {
      top.skip(wire, field);
      continue;
    }
    if (wire !== WIRE_LEN) fail(`field 1 (pieces) at byte ${top.pos} has wire type ${wire}, expected a message`);
    const [start, end] = top.span(`piece ${pieces.length}`);
    const r = new Reader(bytes, start, end, (msg) => fail(`piece ${pieces.length}: ${msg}`));
    let piece: string | null = null;
    let score = 0;
    let type: PieceType = 'normal';
    while (!r.done) {
      const [f, w] = r.key();
      if (f === 1 && w === WIRE_LEN) {
        const [s, e] = r.span('piece text');
        try {
          piece = utf8.decode(bytes.subarray(s, e));
        } catch {
          fail(`piece ${pieces.length}: its text is not UTF-8`);
        }
      } else if (f === 2 && w === WIRE_FIXED32) {
        score = r.fixed32('score').getFloat32(0, true);
      } else if (f === 3 && w === WIRE_VARINT) {
        const v = r.varint('type');
        const t = PIECE_TYPES[v];
        if (!t) fail(`piece ${pieces.length}: type ${v} is not a SentencePiece type (1-6)`);
        type = t;
      } else if (f <= 3) {
        fail(`piece ${pieces.length}: field ${f} has wire type ${w}`);
      } else r.skip(w, f);
    }
    if (piece === null || piece === '') fail(`piece ${pieces.length} has no text`);
    pieces.push({ piece, score, type });
  }
  if (pieces.length === 0) fail('no pieces');
  const seen = new Map<string, number>();
  for (const [i, p] of pieces.entries()) {
    const j = seen.get(p.piece);
    if (j !== undefined) fail(`piece ${JSON.stringify(p.piece)} appears twice (ids ${j} and ${i})`);
    seen.set(p.piece, i);
  }
  const unk = pieces.filter((p) => p.type === 'unknown').length;
  if (unk !== 1) fail(`${unk} pieces of type UNKNOWN; SentencePiece needs exactly one`);
  return pieces;
}
