// Archives read front to back without holding them: a ByteStream over bytes in memory, over a plain file (positioned
// reads; skipping is a seek, nothing is read), or over a gzip file decompressed piece by piece (skipping decompresses
// and discards). The tar reader (tar-stream.ts) works over these, for .nemo archives and tarred audio datasets.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { gunzipSync } from 'node:zlib';
import { FileRangeSource, MemorySource, type RandomAccessSource } from '../torch/serialize/random-access.js';

export interface ByteStream {
  /** Up to `n` bytes (fewer only at the end): a view for in-memory streams, new bytes otherwise. */
  read(n: number): Uint8Array;
  /** Fills `dst` from the stream; returns how many bytes it filled (fewer only at the end). */
  readInto(dst: Uint8Array): number;
  /** Skips up to `n` bytes (a seek where the stream allows it); returns how many were skipped (fewer only at the end). */
  skip(n: number): number;
  /** Bytes consumed so far (decompressed bytes for gzip). */
  readonly position: number;
  /** Total bytes, when known without reading (memory, plain files); null for decompressed streams. */
  readonly size: number | null;
  /** The bytes at [start, start + length) by position, without reading them now; null when the stream cannot seek. */
  range(start: number, length: number): RandomAccessSource | null;
  close(): void;
}

/** A ByteStream over bytes in memory: reads are views. */
export class MemoryStream implements ByteStream {
  position = 0;
  constructor(readonly bytes: Uint8Array) {}
  get size(): number {
    return this.bytes.length;
  }
  read(n: number): Uint8Array {
    const b = this.bytes.subarray(this.position, Math.min(this.bytes.length, this.position + Math.max(0, n)));
    this.position += b.length;
    return b;
  }
  readInto(dst: Uint8Array): number {
    const b = this.read(dst.length);
    dst.set(b);
    return b.length;
  }
  skip(n: number): number {
    const k = Math.max(0, Math.min(n, this.bytes.length - this.position));
    this.position += k;
    return k;
  }
  range(start: number, length: number): RandomAccessSource {
    return new MemorySource(this.bytes.subarray(start, Math.min(this.bytes.length, start + length)));
  }
  close(): void {}
}

/**
 * A ByteStream over an open file, by positioned reads (the file offset is not used). Skipping moves the position
 * without reading; `bytesRead` counts what was actually read, ranges handed out included.
 */
export class FileStream implements ByteStream {
  position = 0;
  private ownBytes = 0;
  private readonly ranges: FileRangeSource[] = [];
  constructor(
    readonly fd: number,
    readonly size: number,
  ) {}
  get bytesRead(): number {
    return this.ownBytes + this.ranges.reduce((a, r) => a + r.bytesRead, 0);
  }
  read(n: number): Uint8Array {
    const k = Math.max(0, Math.min(n, this.size - this.position));
    const b = Buffer.allocUnsafe(k); // not zero-filled: every byte is read over
    const dst = new Uint8Array(b.buffer, b.byteOffset, k); // a plain Uint8Array, as callers of readNemoArchive get
    const got = this.readInto(dst);
    return got === dst.length ? dst : dst.subarray(0, got);
  }
  readInto(dst: Uint8Array): number {
    let got = 0;
    while (got < dst.length) {
      const r = readSync(this.fd, dst, got, dst.length - got, this.position);
      if (r === 0) break;
      got += r;
      this.position += r;
    }
    this.ownBytes += got;
    return got;
  }
  skip(n: number): number {
    const k = Math.max(0, Math.min(n, this.size - this.position));
    this.position += k;
    return k;
  }
  range(start: number, length: number): RandomAccessSource {
    const r = new FileRangeSource(this.fd, start, Math.max(0, Math.min(length, this.size - start)));
    this.ranges.push(r);
    return r;
  }
  close(): void {}
}

/** The gzip data could not be decompressed (corrupt, truncated, or the decompressor failed). */
export class GzipError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'GzipError';
  }
}

/** Control words shared with the worker (gunzip-worker.ts): pieces posted, pieces taken, state, then each slot's length. */
export const GZ_POSTED = 0;
export const GZ_TAKEN = 1;
export const GZ_STATE = 2; // 0 running, 1 ended, 2 failed (the message follows on the port)
export const GZ_LENGTHS = 3;

/**
 * A ByteStream of the decompressed contents of a gzip file (several concatenated members too, as gunzip reads them).
 * A worker thread runs node:zlib's streaming gunzip and writes the pieces into `slots` shared buffers of `chunkBytes`
 * (a ring: never more than `slots` pieces ahead of what was taken), so memory stays at a few MiB whatever the
 * decompressed size, and nothing is allocated per piece; this thread waits for them synchronously (Atomics.wait).
 * Skipping decompresses and discards.
 */
export class GzipStream implements ByteStream {
  position = 0;
  readonly size = null;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly ctl: Int32Array;
  private readonly data: Uint8Array;
  private readonly slots: number;
  private readonly chunkBytes: number;
  private taken = 0;
  /** Whether the piece in `chunk` still holds its slot (released when the next piece is asked for). */
  private holding = false;
  private chunk: Uint8Array = new Uint8Array(0);
  private at = 0;
  private ended = false;
  private closed = false;
  private readonly stallMs: number;

  constructor(path: string, o: { chunkBytes?: number; slots?: number; stallMs?: number } = {}) {
    this.stallMs = o.stallMs ?? 120_000;
    this.chunkBytes = o.chunkBytes ?? 1 << 20;
    this.slots = o.slots ?? 4;
    this.ctl = new Int32Array(new SharedArrayBuffer(4 * (GZ_LENGTHS + this.slots)));
    this.data = new Uint8Array(new SharedArrayBuffer(this.chunkBytes * this.slots));
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(new URL('./gunzip-worker.js', import.meta.url), {
      workerData: { path, ctl: this.ctl, data: this.data, port: port2, chunkBytes: this.chunkBytes, slots: this.slots },
      transferList: [port2],
      stdout: false,
      stderr: false,
    });
    this.worker.unref();
  }

  /** The next decompressed piece (a view into its slot, valid until the next call), or null at the end. */
  private next(): Uint8Array | null {
    if (this.holding) {
      this.holding = false;
      this.taken += 1;
      Atomics.store(this.ctl, GZ_TAKEN, this.taken);
      Atomics.notify(this.ctl, GZ_TAKEN);
    }
    if (this.ended) return null;
    let waitedMs = 0;
    for (;;) {
      const posted = Atomics.load(this.ctl, GZ_POSTED);
      if (posted > this.taken) {
        const slot = this.taken % this.slots;
        const len = Atomics.load(this.ctl, GZ_LENGTHS + slot);
        this.holding = true;
        return this.data.subarray(slot * this.chunkBytes, slot * this.chunkBytes + len);
      }
      const state = Atomics.load(this.ctl, GZ_STATE);
      if (state !== 0 && Atomics.load(this.ctl, GZ_POSTED) === this.taken) {
        this.ended = true;
        const m = state === 2 ? (receiveMessageOnPort(this.port) as { message: { error?: string } } | undefined) : undefined;
        this.close();
        if (state === 2) throw new GzipError(m?.message.error ?? 'the decompressor failed');
        return null;
      }
      if (this.closed) throw new GzipError('the decompressor was closed');
      // bounded waits (a lost wake-up costs 20 ms, not a hang); the stall limit counts from the last piece
      waitedMs = Atomics.wait(this.ctl, GZ_POSTED, posted, 20) === 'timed-out' ? waitedMs + 20 : 0;
      if (waitedMs >= this.stallMs) {
        this.ended = true;
        this.close();
        throw new GzipError(`the decompressor gave nothing for ${this.stallMs / 1000} s`);
      }
    }
  }

  /** Makes `this.chunk` hold unread bytes; false at the end. */
  private fill(): boolean {
    while (this.at >= this.chunk.length) {
      const c = this.next();
      if (c === null) {
        this.chunk = new Uint8Array(0);
        this.at = 0;
        return false;
      }
      this.chunk = c;
      this.at = 0;
    }
    return true;
  }

  read(n: number): Uint8Array {
    if (n <= 0 || !this.fill()) return new Uint8Array(0);
    const dst = new Uint8Array(n); // zero-filled pages are only committed as they are written
    const got = this.readInto(dst);
    return got === dst.length ? dst : dst.subarray(0, got);
  }

  readInto(dst: Uint8Array): number {
    let got = 0;
    while (got < dst.length && this.fill()) {
      const k = Math.min(dst.length - got, this.chunk.length - this.at);
      dst.set(this.chunk.subarray(this.at, this.at + k), got);
      this.at += k;
      got += k;
    }
    this.position += got;
    return got;
  }

  skip(n: number): number {
    let k = 0;
    while (k < n && this.fill()) {
      const s = Math.min(n - k, this.chunk.length - this.at);
      this.at += s;
      k += s;
    }
    this.position += k;
    return k;
  }

  range(): null {
    return null;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.port.close();
    void this.worker.terminate();
  }
}

/** A gzip file up to this size (compressed) is tried in memory first, decompressed up to GZIP_IN_MEMORY_BYTES. */
const GZIP_IN_MEMORY_INPUT = 4 << 20;
const GZIP_IN_MEMORY_BYTES = 32 << 20;

/** An opened archive file: its stream (decompressed when gzip), whether it was gzip, and the plain-file stream under it. */
export interface OpenedArchive {
  stream: ByteStream;
  gzip: boolean;
  /** The file itself (null for gzip: the file is read by the decompressor). */
  file: FileStream | null;
  close(): void;
}

/**
 * Opens `path` as a ByteStream: a plain file as is; gzip (magic 1f 8b) decompressed, in memory when small (up to
 * 32 MiB decompressed), else streamed through GzipStream.
 */
export function openArchiveStream(path: string): OpenedArchive {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const file = new FileStream(fd, size);
    const magic = file.read(2);
    file.position = 0;
    if (!(magic.length === 2 && magic[0] === 0x1f && magic[1] === 0x8b)) {
      return { stream: file, gzip: false, file, close: () => closeSync(fd) };
    }
    if (size <= GZIP_IN_MEMORY_INPUT) {
      const compressed = file.read(size);
      try {
        const bytes = gunzipSync(compressed, { maxOutputLength: GZIP_IN_MEMORY_BYTES });
        closeSync(fd);
        return { stream: new MemoryStream(bytes), gzip: true, file: null, close: () => {} };
      } catch (e) {
        if ((e as { code?: string }).code !== 'ERR_BUFFER_TOO_LARGE' && !(e instanceof RangeError)) throw new GzipError((e as Error).message);
        // larger than the in-memory budget once decompressed: stream it
      }
    }
    closeSync(fd);
    const stream = new GzipStream(path);
    return { stream, gzip: true, file: null, close: () => stream.close() };
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    throw e;
  }
}
