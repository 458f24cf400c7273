// The worker thread behind GzipStream (byte-stream.ts): streams a gzip file through node:zlib's gunzip and writes the
// decompressed pieces into a ring of shared slots, never more than `slots` pieces ahead of what the reading thread
// has taken. Pieces are at most `chunkBytes` (zlib's chunkSize).
import { createReadStream } from 'node:fs';
import { workerData, type MessagePort } from 'node:worker_threads';
import { createGunzip } from 'node:zlib';

const { path, ctl, data, port, chunkBytes, slots } = workerData as {
  path: string;
  ctl: Int32Array;
  data: Uint8Array;
  port: MessagePort;
  chunkBytes: number;
  slots: number;
};
// the layout of GzipStream's control words (byte-stream.ts; not imported, so that this thread loads nothing else)
const POSTED = 0;
const TAKEN = 1;
const STATE = 2;
const LENGTHS = 3;
// Atomics.waitAsync (Node >= 16) is not in the ES2022 library typings. Waits are bounded (20 ms): a wake-up lost
// between the threads then costs a moment, not a hang.
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, ms: number): { value: Promise<string> | string } }).waitAsync;
let posted = 0;

function finish(state: 1 | 2): void {
  Atomics.store(ctl, STATE, state);
  Atomics.notify(ctl, POSTED);
}

/** Copies `piece` into the next free slot (waiting for one) and publishes it. */
async function put(piece: Uint8Array): Promise<void> {
  for (;;) {
    const taken = Atomics.load(ctl, TAKEN);
    if (posted - taken < slots) break;
    await waitAsync(ctl, TAKEN, taken, 20).value;
  }
  const slot = posted % slots;
  data.set(piece, slot * chunkBytes);
  Atomics.store(ctl, LENGTHS + slot, piece.length);
  posted += 1;
  Atomics.store(ctl, POSTED, posted);
  Atomics.notify(ctl, POSTED);
}

async function pump(): Promise<void> {
  const gunzip = createGunzip({ chunkSize: chunkBytes });
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  file.on('error', (e) => gunzip.destroy(e));
  file.pipe(gunzip);
  for await (const piece of gunzip as AsyncIterable<Buffer>) {
    for (let at = 0; at < piece.length; at += chunkBytes) await put(piece.subarray(at, Math.min(piece.length, at + chunkBytes)));
  }
}

// a pending Atomics.waitAsync does not keep a thread's event loop alive: without this timer the worker could exit
// while it waits for the reading thread to free a slot
const keepAlive = setInterval(() => {}, 1 << 30);
pump().then(
  () => {
    clearInterval(keepAlive);
    finish(1);
  },
  (e: unknown) => {
    clearInterval(keepAlive);
    port.postMessage({ error: (e as Error).message });
    finish(2);
  },
);
