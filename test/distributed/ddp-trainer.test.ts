// Data parallelism through the Trainer with a ProcessGroup (2 Gloo processes on 127.0.0.1):
//  - 2 ranks x 8 items reach the parameters of 1 process x 16 items (gradients averaged, loss a mean over items);
//  - a 2-rank run stopped at step 3 and resumed (fresh processes, another init seed) equals the uninterrupted run,
//    with rank-dependent dropout generators and shards, whose states must be saved per rank.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { Trainer } from '../../src/train/trainer.js';
import { loadTrainingCheckpoint } from '../../src/train/checkpoint.js';
import { RegressionTask, ShardedStream, launchWorkers, resultOf, trainerOptions, validationBatches } from './fixtures.js';

interface TrainOut {
  params: number[][];
  losses: number[];
  globalStep: number;
  lastCheckpoint: string | null;
}

async function train2(expDir: string, maxSteps: number, initSeed: number, dropoutP: number): Promise<TrainOut[]> {
  const { runs } = await launchWorkers(2, ['train', expDir, String(maxSteps), String(initSeed), String(dropoutP)]);
  const res = await Promise.all(runs.map((r) => r.done));
  for (const r of res) assert.equal(r.code, 0, r.stdout + r.stderr);
  return res.map((r) => resultOf(r.stdout) as TrainOut);
}

function maxAbsDiff(a: number[][], b: number[][]): number {
  let m = 0;
  a.forEach((row, i) => {
    row.forEach((v, j) => {
      m = Math.max(m, Math.abs(v - b[i]![j]!));
    });
  });
  return m;
}

test('2 ranks x 8 items equal 1 process x 16 items after 6 steps', async () => {
  const [r0, r1] = await train2(mkdtempSync(join(tmpdir(), 'sn-ddp-2-')), 6, 1, 0);
  // ranks stay identical (same averaged gradients, same optimizer state)
  assert.deepEqual(r0!.params, r1!.params);
  const task = new RegressionTask(1, 0);
  const trainer = new Trainer(task, new ShardedStream(0, 1, 2), validationBatches, trainerOptions(mkdtempSync(join(tmpdir(), 'sn-ddp-1-')), 6, null));
  const ref = await trainer.fit();
  const single = task.module.parameters().map((p) => p.toArray());
  const d = maxAbsDiff(r0!.params, single);
  assert.ok(d < 1e-5, `parameters differ by ${d}`);
  // the 1-process loss is the mean of the two ranks' losses; rank 0 logs its own
  assert.equal(ref.trainLoss.length, 6);
  assert.equal(r0!.losses.length, 6, 'rank 0 logged every step');
  assert.ok(
    r0!.losses.every((l, i) => Math.abs(l - ref.trainLoss[i]!.loss) < 0.5),
    'losses of the same order',
  );
  process.stderr.write(`# 2-rank vs 1-process parameter max |diff| = ${d.toExponential(2)}\n`);
  task.module.dispose();
  trainer.dispose();
});

test('distributed resume: 2 ranks stopped at step 3 and restarted equal an uninterrupted 2-rank run of 6 steps', async () => {
  const whole = await train2(mkdtempSync(join(tmpdir(), 'sn-ddp-whole-')), 6, 1, 0.2);
  const dir = mkdtempSync(join(tmpdir(), 'sn-ddp-resume-'));
  const first = await train2(dir, 3, 1, 0.2);
  assert.equal(first[0]!.globalStep, 3);
  assert.ok(first[0]!.lastCheckpoint, 'rank 0 wrote a checkpoint');
  assert.equal(first[1]!.lastCheckpoint, null, 'rank 1 writes none');
  const ck = loadTrainingCheckpoint(first[0]!.lastCheckpoint!);
  const ranks = ck.progress.extra?.ranks as { sampler: { index: number } }[];
  assert.equal(ranks.length, 2, 'per-rank positions saved');
  assert.deepEqual(
    ranks.map((r) => r.sampler.index),
    [5, 6],
    'rank r consumed the common batches up to 2*3-2+r',
  );
  for (const x of [...ck.stateDict.values(), ...ck.rngStates.values()]) x.dispose();
  for (const s of ck.optimizer.state.values()) for (const x of [s.step, s.exp_avg, s.exp_avg_sq]) if (x instanceof t.Tensor) x.dispose();
  // restart from another initialisation: the resume must overwrite it
  const second = await train2(dir, 6, 777, 0.2);
  assert.equal(second[0]!.globalStep, 6);
  for (const r of [0, 1]) assert.deepEqual(second[r]!.params, whole[r]!.params, `rank ${r}: resumed weights equal the uninterrupted run bit for bit`);
  assert.deepEqual([...first[0]!.losses, ...second[0]!.losses], whole[0]!.losses, 'rank 0 losses equal');
  assert.deepEqual([...first[1]!.losses, ...second[1]!.losses], whole[1]!.losses, 'rank 1 losses equal');
});
