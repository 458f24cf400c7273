// The end of a training run, shared by pretraining and fine-tuning: fit, close the data stream, export the .nemo.
import { join } from 'node:path';
import { exportNemoFromCheckpoint } from './checkpoint.js';
import type { TrainResult, Trainer } from './trainer.js';

export interface RunEnd extends TrainResult {
  /** The exported .nemo (rank 0 only), or null when this rank exports nothing. */
  nemoPath: string | null;
}

/**
 * Runs `trainer.fit()`, then always closes the training stream and the trainer (also when fit throws), and on the
 * main rank exports `<name>.nemo` (NeMo's always_save_nemo) from the best checkpoint by the monitored metric, or
 * from the last one when no validation ever ran (e.g. max_steps below val_check_interval, or no validation set): a
 * run that ends always leaves a .nemo beside its last checkpoint.
 */
export async function fitAndExport<B>(
  trainer: Trainer<B>,
  train: { close(): Promise<void> },
  o: { name: string; isMain: boolean; log: (line: string) => void },
): Promise<RunEnd> {
  let result: TrainResult;
  try {
    result = await trainer.fit();
  } finally {
    await train.close();
    trainer.dispose();
  }
  const source = nemoSource(result);
  let nemoPath: string | null = null;
  if (o.isMain && source) {
    nemoPath = join(trainer.checkpoints.dir, `${o.name}.nemo`);
    exportNemoFromCheckpoint(source, nemoPath);
    o.log(`streamnest: wrote ${nemoPath}${source === result.bestCheckpoint ? '' : ' (from the last checkpoint: no validation result to pick a best one)'}`);
  }
  return { ...result, nemoPath };
}

/** The best-or-last rule: the best checkpoint by the monitored metric, else the last one. */
export function nemoSource(r: Pick<TrainResult, 'bestCheckpoint' | 'lastCheckpoint'>): string | null {
  return r.bestCheckpoint ?? r.lastCheckpoint;
}
