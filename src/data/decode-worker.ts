// Worker thread body for AudioLoader: builds batches (decode, noise, augmentation) off the main thread.
// workerData: { noise: AudioRef[], cfg: BatchBuildConfig }; messages in: BatchTask; out: { id, batch } | { id, error }.
import { parentPort, workerData } from 'node:worker_threads';
import { buildBatch, type BatchBuildConfig, type BatchTask, type LoadedBatch } from './batch-builder.js';
import { DataError } from './data-error.js';
import type { AudioRef } from './decode.js';

const { noise, cfg } = workerData as { noise: AudioRef[]; cfg: BatchBuildConfig };

function transferables(b: LoadedBatch): ArrayBuffer[] {
  const set = new Set<ArrayBuffer>();
  for (const a of [b.audio, b.audioLens, b.noise, b.noiseLens, b.noisyAudio, b.noisyLens]) set.add(a.buffer as ArrayBuffer);
  return [...set];
}

parentPort!.on('message', async (task: BatchTask) => {
  try {
    const batch = await buildBatch(task, noise, cfg);
    parentPort!.postMessage({ id: task.id, batch }, transferables(batch));
  } catch (e) {
    const err = e as Error;
    parentPort!.postMessage({
      id: task.id,
      error: { message: err.message, stack: err.stack, reason: e instanceof DataError ? e.reason : null, where: e instanceof DataError ? e.where : null },
    });
  }
});
