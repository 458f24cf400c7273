// TensorBoard event files: TFRecord framing (length, masked CRC32C) around hand-encoded `Event` protobufs
// with scalar summaries. Readable by TensorBoard and tensorboard's EventAccumulator.
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { maskedCrc32c } from './crc32c.js';

function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}
function key(field: number, wire: number): number[] {
  return varint((field << 3) | wire);
}
function lengthDelimited(field: number, payload: Uint8Array | number[]): number[] {
  return [...key(field, 2), ...varint(payload.length), ...payload];
}
function double(field: number, v: number): number[] {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return [...key(field, 1), ...b];
}
function float(field: number, v: number): number[] {
  const b = Buffer.alloc(4);
  b.writeFloatLE(v);
  return [...key(field, 5), ...b];
}

/** Event { wall_time=1, step=2, file_version=3 | summary=5 } */
export function encodeEvent(e: { wallTime: number; step?: number; fileVersion?: string; scalars?: [string, number][] }): Uint8Array {
  const bytes: number[] = [...double(1, e.wallTime)];
  if (e.step !== undefined) bytes.push(...key(2, 0), ...varint(e.step));
  if (e.fileVersion !== undefined) bytes.push(...lengthDelimited(3, Buffer.from(e.fileVersion, 'utf8')));
  if (e.scalars?.length) {
    // Summary { repeated Value value = 1 }, Value { tag = 1, simple_value = 2 }
    const summary: number[] = [];
    for (const [tag, v] of e.scalars) summary.push(...lengthDelimited(1, [...lengthDelimited(1, Buffer.from(tag, 'utf8')), ...float(2, v)]));
    bytes.push(...lengthDelimited(5, summary));
  }
  return Uint8Array.from(bytes);
}

/** One TFRecord: uint64 length, masked crc of the length, data, masked crc of the data. */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(data.length), true);
  dv.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  dv.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** Appends scalar events to `events.out.tfevents.<time>.<host>` in a log directory. */
export class TensorBoardWriter {
  readonly path: string;
  private fd: number;
  constructor(logDir: string, now = Date.now()) {
    mkdirSync(logDir, { recursive: true });
    this.path = join(logDir, `events.out.tfevents.${Math.floor(now / 1000)}.${hostname()}.${process.pid}`);
    this.fd = openSync(this.path, 'a');
    this.write(encodeEvent({ wallTime: now / 1000, fileVersion: 'brain.Event:2' }));
  }
  private write(event: Uint8Array): void {
    if (this.fd < 0) throw new Error(`TensorBoard writer for ${this.path} is closed`);
    writeSync(this.fd, frameRecord(event));
  }
  scalars(step: number, values: Record<string, number>, wallTime = Date.now() / 1000): void {
    const entries = Object.entries(values).filter(([, v]) => Number.isFinite(v));
    if (entries.length) this.write(encodeEvent({ wallTime, step, scalars: entries }));
  }
  flush(): void {
    if (this.fd >= 0) fsyncSync(this.fd);
  }
  close(): void {
    if (this.fd >= 0) {
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}

/** Reads back the scalar events of a file (for tests and `streamnest` tools): [{step, tag, value, wallTime}]. */
export function readScalarEvents(bytes: Uint8Array): { step: number; tag: string; value: number; wallTime: number }[] {
  const out: { step: number; tag: string; value: number; wallTime: number }[] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  while (off < bytes.length) {
    if (off + 12 > bytes.length) throw new Error(`truncated record header at byte ${off}`);
    const len = Number(dv.getBigUint64(off, true));
    if (dv.getUint32(off + 8, true) !== maskedCrc32c(bytes.subarray(off, off + 8))) throw new Error(`bad length CRC at byte ${off}`);
    const data = bytes.subarray(off + 12, off + 12 + len);
    if (data.length !== len || off + 16 + len > bytes.length) throw new Error(`truncated record at byte ${off}`);
    if (dv.getUint32(off + 12 + len, true) !== maskedCrc32c(data)) throw new Error(`bad data CRC at byte ${off}`);
    off += 16 + len;
    decodeEventScalars(data, out);
  }
  return out;
}

function readVarint(b: Uint8Array, pos: { p: number }): bigint {
  let shift = 0n;
  let v = 0n;
  for (;;) {
    const byte = b[pos.p++]!;
    v |= BigInt(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return v;
    shift += 7n;
  }
}

function fields(b: Uint8Array, fn: (field: number, wire: number, pos: { p: number }, end: number) => void): void {
  const pos = { p: 0 };
  while (pos.p < b.length) {
    const k = Number(readVarint(b, pos));
    const field = k >> 3;
    const wire = k & 7;
    const start = pos.p;
    fn(field, wire, pos, b.length);
    if (pos.p === start) {
      // skip unread field
      if (wire === 0) readVarint(b, pos);
      else if (wire === 1) pos.p += 8;
      else if (wire === 5) pos.p += 4;
      else if (wire === 2) pos.p += Number(readVarint(b, pos));
      else throw new Error(`unsupported protobuf wire type ${wire}`);
    }
  }
}

function decodeEventScalars(data: Uint8Array, out: { step: number; tag: string; value: number; wallTime: number }[]): void {
  let wallTime = 0;
  let step = 0;
  const summaries: Uint8Array[] = [];
  fields(data, (f, w, pos) => {
    if (f === 1 && w === 1) {
      wallTime = Buffer.from(data.subarray(pos.p, pos.p + 8)).readDoubleLE();
      pos.p += 8;
    } else if (f === 2 && w === 0) {
      step = Number(readVarint(data, pos));
    } else if (f === 5 && w === 2) {
      const n = Number(readVarint(data, pos));
      summaries.push(data.subarray(pos.p, pos.p + n));
      pos.p += n;
    }
  });
  for (const s of summaries) {
    fields(s, (f, w, pos) => {
      if (f !== 1 || w !== 2) return;
      const n = Number(readVarint(s, pos));
      const value = s.subarray(pos.p, pos.p + n);
      pos.p += n;
      let tag = '';
      let v = NaN;
      fields(value, (vf, vw, vpos) => {
        if (vf === 1 && vw === 2) {
          const m = Number(readVarint(value, vpos));
          tag = Buffer.from(value.subarray(vpos.p, vpos.p + m)).toString('utf8');
          vpos.p += m;
        } else if (vf === 2 && vw === 5) {
          v = Buffer.from(value.subarray(vpos.p, vpos.p + 4)).readFloatLE();
          vpos.p += 4;
        }
      });
      out.push({ step, tag, value: v, wallTime });
    });
  }
}
