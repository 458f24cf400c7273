// One rank of the data-parallel tests (started by the tests with MASTER_ADDR/MASTER_PORT/RANK/WORLD_SIZE set).
// Modes: collectives | grads | shm | train <expDir> <maxSteps> <initSeed> <dropoutP> | syncbn | hang [numel] | die-after-join.
// Prints `RESULT <json>` on success.
import { readdirSync } from 'node:fs';
import * as t from '../../src/torch/index.js';
import { Trainer } from '../../src/train/trainer.js';
import { RegressionTask, ShardedStream, trainerOptions, validationBatches } from './fixtures.js';
import { syncBnInput, syncBnWeights } from './syncbn-data.js';

t.applyThreadSetting();
const [mode, ...args] = process.argv.slice(2);
const timeoutMs = Number(process.env.PG_TIMEOUT_MS ?? 60_000);
const pg = t.ProcessGroup.fromEnv(process.env, timeoutMs);
const out = (v: unknown): void => {
  process.stdout.write(`RESULT ${JSON.stringify(v)}\n`);
};

/** Zero parameters of these sizes that require gradients. */
function trainableZeros(sizes: number[]): t.Tensor[] {
  return sizes.map((n) => {
    const p = t.zeros([n]);
    p.requiresGrad = true;
    return p;
  });
}

/** Backward through sum(p * weightOf(p, i)) over the parameters marked used: the others get no gradient. */
function backwardThroughUsed(params: t.Tensor[], used: boolean[], weightOf: (p: t.Tensor, i: number) => t.Tensor): void {
  t.tidy(() =>
    params
      .map((p, i) => (used[i] ? p.mul(weightOf(p, i)).sum() : null))
      .filter((x): x is t.Tensor => x !== null)
      .reduce((a, b) => a.add(b))
      .backward(),
  );
}

async function main(): Promise<void> {
  if (mode === 'collectives') {
    const mine = new Uint8Array(3 + pg.rank * 5).map((_, i) => (i * 37 + pg.rank * 101) % 256);
    const gathered = pg.allgatherBytes(mine).map((b) => Array.from(b));
    const json = pg.allgatherJson({ rank: pg.rank, text: 'é'.repeat(pg.rank + 1) });
    const x = t.tensor([pg.rank + 1, 10 * (pg.rank + 1)], [2], { dtype: 'float32' });
    pg.allreduce([x]);
    const mx = t.tensor([pg.rank], [1], { dtype: 'float32' });
    pg.allreduce([mx], 'max');
    const b = t.tensor([pg.rank === 0 ? 42 : -1], [1], { dtype: 'float32' });
    pg.broadcast([b], 0);
    pg.barrier();
    out({ gathered, json, sum: x.toArray(), max: mx.toArray(), bcast: b.toArray() });
  } else if (mode === 'grads') {
    // 5 parameters: used on both ranks (3 of them, in separate 8-byte buckets), on rank 1 only, and on no rank
    const params = trainableZeros([2, 2, 2, 2, 2]);
    backwardThroughUsed(params, [true, true, true, pg.rank === 1, false], (_p, i) =>
      t.tensor([pg.rank + 1 + i, 10 * (pg.rank + 1)], [2], { dtype: 'float32' }),
    );
    pg.averageGradients(params, 16); // buckets of 2 parameters (8 bytes each)
    out({ grads: params.map((p) => p.grad?.toArray() ?? null) });
  } else if (mode === 'shm') {
    // large float32 sums (through shared memory unless STREAMNEST_SHM_ALLREDUCE=0): values are small integers, so
    // every sum is exact and the expected result is known
    const shm = pg.sharedMemoryAllreduce();
    const rank0Pid = pg.allgatherJson(process.pid)[0];
    const leftover = readdirSync('/dev/shm').filter((f) => f.startsWith(`streamnest-allreduce-${rank0Pid}-`));
    const ramp = (n: number, r: number) =>
      t.tensor(
        Float32Array.from({ length: n }, (_, i) => (i % 997) + 1000 * (r + 1)),
        [n],
        { dtype: 'float32' },
      );
    const errorOf = (x: t.Tensor, expected: t.Tensor) => t.tidy(() => x.sub(expected).abs().max().item());
    const sums: Record<string, number> = {};
    for (const n of [300_000, 4 * 1024 * 1024 + 12_345]) {
      // the second is larger than the shared regions: summed in two passes
      const x = ramp(n, pg.rank);
      pg.allreduce([x]);
      sums[`contiguous ${n}`] = errorOf(
        x,
        t.tidy(() => ramp(n, 0).add(ramp(n, 1))),
      );
    }
    // a non-contiguous tensor is summed in place too
    const base = ramp(600 * 500, pg.rank).view([600, 500]);
    const view = base.transpose(0, 1);
    pg.allreduce([view]);
    sums.transposed = errorOf(
      base,
      t.tidy(() =>
        ramp(600 * 500, 0)
          .add(ramp(600 * 500, 1))
          .view([600, 500]),
      ),
    );
    // averageGradients through it: large parameters, one used on rank 1 only, one unused
    const params = trainableZeros([200_000, 150_000, 100_000, 50_000]);
    backwardThroughUsed(params, [true, true, pg.rank === 1, false], (p) => ramp(p.numel, pg.rank));
    pg.averageGradients(params);
    const means = params.map((p, i) => {
      const g = p.grad;
      if (!g) return null;
      const expected = t.tidy(() => (i === 2 ? ramp(p.numel, 1).div(2) : ramp(p.numel, 0).add(ramp(p.numel, 1)).div(2)));
      return errorOf(g, expected);
    });
    out({ shm, leftover, sums, means });
  } else if (mode === 'train') {
    const [expDir, maxSteps, initSeed, dropoutP] = args;
    // rank-dependent dropout seeds: each rank's generator state is its own and must be saved per rank
    const task = new RegressionTask(Number(initSeed), Number(dropoutP), 7 + pg.rank);
    const trainer = new Trainer(task, new ShardedStream(pg.rank, pg.worldSize), validationBatches, trainerOptions(expDir!, Number(maxSteps), pg));
    const r = await trainer.fit();
    out({
      params: task.module.parameters().map((p) => p.toArray()),
      losses: r.trainLoss.map((l) => l.loss),
      globalStep: r.globalStep,
      lastCheckpoint: r.lastCheckpoint,
    });
  } else if (mode === 'syncbn') {
    const [trainSteps] = args;
    const bn = new t.SyncBatchNorm1d(4, 1e-5, 0.1, {}, pg);
    const outputs: number[][] = [];
    const grads: number[][] = [];
    for (let s = 0; s < Number(trainSteps); s++) {
      const x = syncBnInput(s, pg.rank);
      const y = bn.forward(x);
      // rank r's part of the global loss sum(y * w) / N (N over all ranks); DDP's averaging divides by W again
      const n = pg.allgatherJson(y.numel).reduce((a, b) => a + b, 0);
      const w = syncBnWeights();
      const loss = t.tidy(() =>
        y
          .mul(w)
          .sum()
          .mul(pg.worldSize / n),
      );
      loss.backward();
      outputs.push(y.toArray());
      for (const x2 of [x, y, w, loss]) x2.dispose();
    }
    pg.averageGradients(bn.parameters());
    grads.push(bn.weight.grad!.toArray(), bn.bias.grad!.toArray());
    bn.eval();
    const ev = syncBnInput(99, pg.rank);
    const evalOut = bn.forward(ev).toArray();
    out({ outputs, grads, runningMean: bn.runningMean.toArray(), runningVar: bn.runningVar.toArray(), evalOut, state: [...bn.stateDict().keys()] });
  } else if (mode === 'hang') {
    // rank 1 joins and then stops answering (the test SIGSTOPs it); rank 0's collective must time out.
    // args: [numel] of rank 0's all-reduce (4; a large one goes through shared memory, set up before rank 1 stops)
    const numel = Number(args[0] ?? 4);
    if (numel >= 256 * 1024 && !pg.sharedMemoryAllreduce()) throw new Error('no shared memory for the large all-reduce');
    pg.barrier();
    if (pg.rank === 1) {
      out({ joined: true });
      setInterval(() => undefined, 1000);
      return;
    }
    const x = t.ones([numel]);
    await new Promise((r) => setTimeout(r, 300));
    pg.allreduce([x]);
    out({ unexpected: 'allreduce returned' });
  } else if (mode === 'die-after-join') {
    // rank 1 joins, then is SIGKILLed by the test; rank 0 keeps reducing until the collective fails
    pg.barrier();
    out({ joined: true });
    if (pg.rank === 1) {
      setInterval(() => undefined, 1000);
      return;
    }
    for (let i = 0; i < 10_000; i++) {
      const x = t.ones([4]);
      pg.allreduce([x]);
      x.dispose();
      await new Promise((r) => setTimeout(r, 20));
    }
    out({ unexpected: 'allreduce kept working' });
  } else throw new Error(`unknown mode ${mode}`);
}

main().then(
  () => {
    if (mode !== 'hang' && mode !== 'die-after-join') process.exit(0);
  },
  (e: unknown) => {
    process.stderr.write(`worker rank ${pg.rank} error: ${(e as Error).message}\n`);
    process.exit(3);
  },
);
