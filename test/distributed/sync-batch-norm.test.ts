// SyncBatchNorm1d: 2 ranks with unequal shares of a batch produce the outputs, running statistics, num_batches_tracked
// and weight/bias gradients of one BatchNorm1d over the concatenated batch; eval mode uses the running stats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { launchWorkers, resultOf } from './fixtures.js';
import { syncBnInput, syncBnWeights } from './syncbn-data.js';

const STEPS = 3;

function close(a: number[], b: number[], tol: number, what: string): void {
  assert.equal(a.length, b.length, what);
  const d = Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
  assert.ok(d <= tol, `${what}: max |diff| ${d}`);
}

test('2 ranks with SyncBatchNorm1d equal 1 process with BatchNorm1d on the concatenated batch', async () => {
  const { runs } = await launchWorkers(2, ['syncbn', String(STEPS)]);
  const res = await Promise.all(runs.map((r) => r.done));
  for (const r of res) assert.equal(r.code, 0, r.stdout + r.stderr);
  const [a, b] = res.map((r) => resultOf(r.stdout)) as {
    outputs: number[][];
    grads: number[][];
    runningMean: number[];
    runningVar: number[];
    evalOut: number[];
    state: string[];
  }[];

  const bn = new t.BatchNorm1d(4);
  bn.train();
  for (let s = 0; s < STEPS; s++) {
    const parts = [syncBnInput(s, 0), syncBnInput(s, 1)];
    const x = t.cat(parts);
    const y = bn.forward(x);
    const w = syncBnWeights();
    const loss = y.mul(w).sum().div(y.numel);
    loss.backward();
    const n0 = parts[0]!.numel;
    const all = y.toArray();
    close(a!.outputs[s]!, all.slice(0, n0), 1e-4, `step ${s} rank 0 outputs`);
    close(b!.outputs[s]!, all.slice(n0), 1e-4, `step ${s} rank 1 outputs`);
    for (const z of [...parts, x, y, w, loss]) z.dispose();
  }
  for (const r of [a!, b!]) {
    close(r.runningMean, bn.runningMean.toArray(), 1e-5, 'running_mean');
    close(r.runningVar, bn.runningVar.toArray(), 1e-4, 'running_var');
    close(r.grads[0]!, bn.weight.grad!.toArray(), 1e-5, 'weight grad');
    close(r.grads[1]!, bn.bias.grad!.toArray(), 1e-5, 'bias grad');
    assert.deepEqual(r.state, ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
  }
  bn.eval();
  const ev = [syncBnInput(99, 0), syncBnInput(99, 1)];
  close(a!.evalOut, bn.forward(ev[0]!).toArray(), 1e-5, 'eval rank 0');
  close(b!.evalOut, bn.forward(ev[1]!).toArray(), 1e-5, 'eval rank 1');
  bn.dispose();
});

test('without a group (or with one rank) SyncBatchNorm1d is BatchNorm1d', () => {
  const a = new t.SyncBatchNorm1d(4, 1e-5, 0.1, {}, null);
  const b = new t.BatchNorm1d(4);
  const x = syncBnInput(0, 0);
  close(a.forward(x).toArray(), b.forward(x).toArray(), 0, 'outputs');
  close(a.runningVar.toArray(), b.runningVar.toArray(), 0, 'running_var');
  a.dispose();
  b.dispose();
  x.dispose();
});

test('the conformer conv module builds SyncBatchNorm1d from a constructor option, with NeMo state-dict names', async () => {
  const { ConformerConvolution } = await import('../../src/model/conformer-convolution.js');
  // one rank: nobody else needs the port, so the store binds port 0 (whatever the OS gives) and no port can be taken
  const pg = new t.ProcessGroup({ host: '127.0.0.1', port: 0, rank: 0, worldSize: 1, timeoutMs: 10_000 });
  const opts = { dModel: 4, kernelSize: 3, normType: 'batch_norm' as const, convContextSize: [2, 0] as [number, number], useBias: true };
  const synced = new ConformerConvolution({ ...opts, syncBatchNorm: pg });
  const plain = new ConformerConvolution(opts);
  assert.ok(synced.batch_norm instanceof t.SyncBatchNorm1d);
  assert.ok(!(plain.batch_norm instanceof t.SyncBatchNorm1d));
  assert.deepEqual([...synced.stateDict().keys()], [...plain.stateDict().keys()]);
  synced.dispose();
  plain.dispose();
});
