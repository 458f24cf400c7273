// Bytes read by position, from memory or from a range of an open file: what the zip reader works over, so that a
// torch.save file (or the weights member of a plain .nemo tar) is read piece by piece instead of whole.
import { readSync } from 'node:fs';

/** A read-only, position-addressed byte range. */
export interface RandomAccessSource {
  /** Bytes in the range. */
  readonly size: number;
  /** True when `read` returns views into memory (no copy is made). */
  readonly inMemory: boolean;
  /**
   * Up to `length` bytes at `position` (fewer only at the end of the range): a view for in-memory sources; otherwise
   * new bytes, or `into` (its first bytes) when given.
   */
  read(position: number, length: number, into?: Uint8Array): Uint8Array;
}

/** A RandomAccessSource over bytes in memory: reads are views (no copy). */
export class MemorySource implements RandomAccessSource {
  readonly inMemory = true;
  constructor(readonly bytes: Uint8Array) {}
  get size(): number {
    return this.bytes.length;
  }
  read(position: number, length: number): Uint8Array {
    const start = Math.min(Math.max(0, position), this.bytes.length);
    return this.bytes.subarray(start, Math.min(this.bytes.length, start + Math.max(0, length)));
  }
}

/**
 * A RandomAccessSource over `size` bytes of an open file starting at byte `start` (positioned reads: the file offset is
 * not used, nothing else is read). `bytesRead` counts what was read, for tests and measurements. The caller owns `fd`.
 */
export class FileRangeSource implements RandomAccessSource {
  readonly inMemory = false;
  bytesRead = 0;
  constructor(
    readonly fd: number,
    readonly start: number,
    readonly size: number,
  ) {}
  read(position: number, length: number, into?: Uint8Array): Uint8Array {
    const from = Math.min(Math.max(0, position), this.size);
    const n = Math.max(0, Math.min(length, this.size - from));
    const dst = into ? into.subarray(0, n) : Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const r = readSync(this.fd, dst, got, n - got, this.start + from + got);
      if (r === 0) break; // the file is shorter than it was said to be
      got += r;
    }
    this.bytesRead += got;
    return got === n ? dst : dst.subarray(0, got);
  }
}

/** `bytes` as a RandomAccessSource (unchanged when it already is one). */
export function asRandomAccess(bytes: Uint8Array | RandomAccessSource): RandomAccessSource {
  return bytes instanceof Uint8Array ? new MemorySource(bytes) : bytes;
}
