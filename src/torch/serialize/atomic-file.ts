// Atomic file replacement: write a temporary file in the target's folder, fsync it, rename it over the target.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Writes `chunks` to `path` so that readers see either the old file or the complete new one. Chunks may be made on
 * demand (a generator): each is written before the next is asked for, so a large file streams through.
 */
export function writeFileAtomic(path: string, chunks: Uint8Array | Iterable<Uint8Array>): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const list = chunks instanceof Uint8Array ? [chunks] : chunks;
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    try {
      for (const c of list) {
        let off = 0;
        while (off < c.length) off += writeSync(fd, c, off, c.length - off);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // the temporary file is already gone
    }
    throw e;
  }
  // make the rename itself durable (not possible on every platform; best effort)
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // directories cannot be opened for fsync here
  }
}
