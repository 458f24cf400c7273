// ProcessGroup across real processes (c10d TCPStore + Gloo on 127.0.0.1): all-gather built from all-reduces,
// and the fault cases: a hung peer (SIGSTOP) or a killed one (SIGKILL) makes the survivor fail within its
// timeout with a message naming its rank, never an endless hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { freePort, launchWorkers, printed, resultOf, sharedMemoryUsable } from './fixtures.js';

test('collectives across 2 processes: all-reduce sum/max, broadcast, barrier, all-gather of unequal bytes and JSON', async () => {
  const { runs } = await launchWorkers(2, ['collectives']);
  const res = await Promise.all(runs.map((r) => r.done));
  for (const r of res) assert.equal(r.code, 0, r.stderr);
  const [a, b] = res.map((r) => resultOf(r.stdout)) as { gathered: number[][]; json: unknown[]; sum: number[]; max: number[]; bcast: number[] }[];
  const expect = [0, 1].map((rank) => Array.from({ length: 3 + rank * 5 }, (_, i) => (i * 37 + rank * 101) % 256));
  assert.deepEqual(a!.gathered, expect);
  assert.deepEqual(b!.gathered, expect);
  assert.deepEqual(a!.json, [
    { rank: 0, text: 'é' },
    { rank: 1, text: 'éé' },
  ]);
  assert.deepEqual(b!.json, a!.json);
  assert.deepEqual(a!.sum, [3, 30]);
  assert.deepEqual(b!.max, [1]);
  assert.deepEqual(b!.bcast, [42]);
});

test('averageGradients: the mean over ranks; a parameter unused on one rank counts zeros there, one unused on every rank keeps no gradient', async () => {
  const { runs } = await launchWorkers(2, ['grads']);
  const res = await Promise.all(runs.map((r) => r.done));
  for (const r of res) assert.equal(r.code, 0, r.stderr);
  const [a, b] = res.map((r) => resultOf(r.stdout)) as { grads: (number[] | null)[] }[];
  // parameter i's gradient on rank r is [r + 1 + i, 10 (r + 1)]: the mean over ranks 0 and 1 is [i + 1.5, 15]
  const expected = [[1.5, 15], [2.5, 15], [3.5, 15], [(2 + 3) / 2, 20 / 2], null];
  assert.deepEqual(a!.grads, expected);
  assert.deepEqual(b!.grads, expected);
});

for (const viaShm of [true, false]) {
  test(`large float32 sums ${viaShm ? 'through shared memory' : 'through Gloo (STREAMNEST_SHM_ALLREDUCE=0)'}: exact, in place, in passes, and averaged gradients`, async () => {
    const { runs } = await launchWorkers(2, ['shm'], { env: viaShm ? {} : { STREAMNEST_SHM_ALLREDUCE: '0' } });
    const res = await Promise.all(runs.map((r) => r.done));
    for (const r of res) assert.equal(r.code, 0, r.stderr);
    for (const r of res) {
      const got = resultOf(r.stdout) as { shm: boolean; leftover: string[]; sums: Record<string, number>; means: (number | null)[] };
      assert.equal(got.shm, viaShm && sharedMemoryUsable(), 'shared memory where /dev/shm allows it');
      assert.deepEqual(got.leftover, [], 'no file is left in /dev/shm once every rank has mapped it');
      for (const [what, err] of Object.entries(got.sums)) assert.equal(err, 0, what);
      // used on both ranks, on rank 1 only (zeros on rank 0: half its gradient), on none (no gradient)
      assert.deepEqual(got.means, [0, 0, 0, null]);
    }
  });
}

test('a hung peer: the other rank fails within its timeout, naming its rank', async () => {
  // wait until rank 1 has joined (it prints RESULT after the barrier), then freeze it
  const { runs } = await launchWorkers(2, ['hang'], { env: { PG_TIMEOUT_MS: '3000' }, ready: (rs) => printed(rs[1]!, 'RESULT') });
  runs[1]!.child.kill('SIGSTOP');
  const t0 = Date.now();
  const r0 = await runs[0]!.done;
  const waited = Date.now() - t0;
  runs[1]!.child.kill('SIGKILL');
  await runs[1]!.done;
  assert.equal(r0.code, 3, r0.stdout + r0.stderr);
  assert.match(r0.stderr, /allreduce failed on rank 0 of 2/);
  // a hang bound, not a speed check: the 3 s timeout fires long before this on any machine
  assert.ok(waited < 120_000, `failed after ${waited} ms (timeout 3 s)`);
  process.stderr.write(`# hung peer detected after ${waited} ms\n`);
});

test('a hung peer during a shared-memory all-reduce: the other rank fails within its timeout, naming its rank', {
  skip: !sharedMemoryUsable() && 'no usable /dev/shm here',
}, async () => {
  const { runs } = await launchWorkers(2, ['hang', String(1024 * 1024)], { env: { PG_TIMEOUT_MS: '3000' }, ready: (rs) => printed(rs[1]!, 'RESULT') });
  runs[1]!.child.kill('SIGSTOP');
  const r0 = await runs[0]!.done;
  runs[1]!.child.kill('SIGKILL');
  await runs[1]!.done;
  assert.equal(r0.code, 3, r0.stdout + r0.stderr);
  // the ranks meet at the process group's barrier, which has the group's timeout
  assert.match(r0.stderr, /barrier failed on rank 0 of 2/);
});

test('a killed peer: the other rank fails promptly, naming its rank', async () => {
  const { runs } = await launchWorkers(2, ['die-after-join'], { env: { PG_TIMEOUT_MS: '20000' }, ready: (rs) => printed(rs[1]!, 'RESULT') });
  const t0 = Date.now();
  runs[1]!.child.kill('SIGKILL');
  const r0 = await runs[0]!.done;
  const waited = Date.now() - t0;
  assert.equal(r0.code, 3, r0.stdout + r0.stderr);
  assert.match(r0.stderr, /allreduce failed on rank 0 of 2 \(a peer died, hung or timed out\)/);
  assert.ok(waited < 120_000, `failed after ${waited} ms (a hang bound: the 20 s timeout is the slowest path)`);
  process.stderr.write(`# killed peer detected after ${waited} ms\n`);
});

test('a port taken before rank 0 binds it: the whole start is retried on another port, a bounded number of times', async () => {
  const taken = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as { port: number }).port;
  try {
    const ports: number[] = [];
    const pickPort = async (): Promise<number> => {
      const p = ports.length === 0 ? port : await freePort();
      ports.push(p);
      return p;
    };
    const { runs, attempts } = await launchWorkers(2, ['collectives'], { pickPort });
    const res = await Promise.all(runs.map((r) => r.done));
    for (const r of res) assert.equal(r.code, 0, r.stderr);
    assert.equal(attempts, 2, `ports tried: ${ports}`);
    assert.equal(ports[0], port);
    assert.notEqual(ports[1], port);
    assert.deepEqual((resultOf(res[0]!.stdout) as { sum: number[] }).sum, [3, 30]);
    // a port that stays taken is an error after the last try, naming the port and the bind failure
    await assert.rejects(
      launchWorkers(2, ['collectives'], { tries: 2, pickPort: async () => port }),
      new RegExp(`could not start in 2 tries[\\s\\S]*port ${port}: .*Address already in use[\\s\\S]*port ${port}: `),
    );
  } finally {
    taken.close();
  }
});
