// The addon's caching CPU allocator: freed blocks of 64 KiB and more are reused by size class, so a loop that makes
// and disposes the same large tensors stops faulting in fresh pages; data stays correct, oneDNN's raw allocations
// work, and STREAMNEST_CPU_CACHE_MB=0 turns it off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as t from '../../src/torch/index.js';

test('large blocks are reused: hits, no page faults in a steady loop, correct values', () => {
  const s0 = t.cpuAllocatorStats();
  assert.equal(s0.enabled, true);
  const a = t.randn([1, 384, 176], { generator: new t.Generator(1) }); // 264 KiB
  const b = t.randn([1, 2, 176], { generator: new t.Generator(2) });
  const expect = t.tidy(() => t.cat([a, b], 1).sum().item());
  for (let i = 0; i < 10; i++) t.tidy(() => t.cat([a, b], 1)); // warm up
  const f0 = process.resourceUsage().minorPageFault;
  const h0 = t.cpuAllocatorStats().hits!;
  for (let i = 0; i < 200; i++) {
    const got = t.tidy(() => t.cat([a, b], 1).sum().item());
    assert.equal(got, expect, `iteration ${i}`);
  }
  const faults = process.resourceUsage().minorPageFault - f0;
  const hits = t.cpuAllocatorStats().hits! - h0;
  assert.ok(hits >= 190, `${hits} cache hits for 200 large allocations`);
  // Without the cache each 266 KiB block costs about 66 fresh pages (13,000 faults here); page faults depend on the
  // kernel and the machine, so they are reported, and the cache hits above are what is asserted.
  process.stderr.write(`# ${faults} minor page faults in 200 iterations\n`);
  a.dispose();
  b.dispose();
});

test('oneDNN convolutions (raw_allocate / raw_deallocate) and zero-size tensors go through it', () => {
  const before = t.liveTensorCount();
  t.tidy(() => {
    const x = t.ones([2, 16, 64, 64]); // 512 KiB
    const w = t.ones([32, 16, 3, 3]);
    const y = t.conv2d(x, w, null, { padding: 1 }); // [2, 32, 64, 64]
    assert.deepEqual(y.shape, [2, 32, 64, 64]);
    assert.equal(y.narrow(2, 1, 1).narrow(3, 1, 1).max().item(), 16 * 9);
    const e = t.zeros([0, 176]);
    assert.equal(e.numel, 0);
  });
  assert.equal(t.liveTensorCount(), before);
});

test('cpuAllocatorTrim empties the cache; STREAMNEST_CPU_CACHE_MB=0 disables it', () => {
  t.tidy(() => t.zeros([1 << 18])); // 1 MiB, freed into the cache
  assert.ok(t.cpuAllocatorStats().cachedBytes! > 0);
  t.cpuAllocatorTrim();
  assert.equal(t.cpuAllocatorStats().cachedBytes, 0);
  const index = fileURLToPath(new URL('../../src/torch/index.js', import.meta.url));
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import * as t from ${JSON.stringify(index)}; console.log(JSON.stringify(t.cpuAllocatorStats())); console.log(t.tidy(() => t.ones([1 << 18]).sum().item()));`,
    ],
    {
      env: { ...process.env, STREAMNEST_CPU_CACHE_MB: '0' },
      encoding: 'utf8',
    },
  );
  const [stats, sum] = out.trim().split('\n');
  assert.deepEqual(JSON.parse(stats!), { enabled: false });
  assert.equal(Number(sum), 1 << 18);
});

/** Runs `body` (ESM, with `t` imported) in a fresh process with the given cache floor; returns its last stdout line. */
function inFreshProcess(cacheMb: number, body: string): string {
  const index = fileURLToPath(new URL('../../src/torch/index.js', import.meta.url));
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `import * as t from ${JSON.stringify(index)};\n${body}`], {
    env: { ...process.env, STREAMNEST_CPU_CACHE_MB: String(cacheMb) },
    encoding: 'utf8',
  });
  return out.trim().split('\n').pop()!;
}

type LoopStats = { peak: number; workingSet: number; bound: number; hits: number; misses: number; cached: number };
const LOOP_STATS = `const s1 = t.cpuAllocatorStats();
  console.log(JSON.stringify({ peak: s1.peakLiveBytes, workingSet: s1.workingSetBytes, bound: s1.boundBytes, hits: s1.hits - s0.hits,
    misses: s1.misses - s0.misses, cached: s1.cachedBytes }));`;

test('the bound covers the working set: a step whose size classes peak at different times stops missing', () => {
  // Floor 1 MiB. A "forward" phase holds three 1 MiB blocks at once, a "backward" phase three 3 MiB blocks (more than
  // twice as large, so neither class can serve the other): the live peak is 9 MiB, the working set 12 MiB. With the
  // cache bounded by the live peak, the backward phase's blocks would push the forward phase's out at every step.
  const r = JSON.parse(
    inFreshProcess(
      1,
      `
      const mib = 1 << 18; // float32 elements in 1 MiB
      const step = () => { t.tidy(() => { t.zeros([mib]); t.zeros([mib]); t.zeros([mib]); }); t.tidy(() => { t.zeros([3 * mib]); t.zeros([3 * mib]); t.zeros([3 * mib]); }); };
      for (let i = 0; i < 2; i++) step();
      const s0 = t.cpuAllocatorStats();
      for (let i = 0; i < 50; i++) step();
      ${LOOP_STATS}`,
    ),
  ) as LoopStats;
  assert.equal(r.peak, 9 << 20, 'live peak');
  assert.equal(r.workingSet, 12 << 20, 'working set');
  assert.equal(r.bound, 12 << 20, 'bound: the working set (under twice the peak)');
  assert.equal(r.misses, 0, `steady loop: ${r.hits} hits, ${r.misses} misses`);
  assert.equal(r.hits, 300);
});

test('a miss takes a cached block up to twice its size; values stay right', () => {
  const r = JSON.parse(
    inFreshProcess(
      1,
      `
      const mib = 1 << 18;
      t.tidy(() => { t.zeros([mib + mib / 2]); }); // a cached 1.5 MiB block
      const s0 = t.cpuAllocatorStats();
      const sum = t.tidy(() => t.ones([mib]).sum().item()); // 1 MiB: served by the 1.5 MiB block
      const s1 = t.cpuAllocatorStats();
      t.tidy(() => { t.zeros([mib / 2]); }); // 0.5 MiB: the 1.5 MiB block is more than twice as large: a miss
      const s2 = t.cpuAllocatorStats();
      console.log(JSON.stringify({ sum, hit: s1.hits - s0.hits, miss: s2.misses - s1.misses }));`,
    ),
  ) as { sum: number; hit: number; miss: number };
  assert.deepEqual(r, { sum: 1 << 18, hit: 1, miss: 1 });
});

test('past twice the live peak, the cache evicts the least recently used classes and keeps the recent ones', () => {
  // Floor 1 MiB. Blocks of 1, 1.25, 1.5, 1.75 and 2 MiB used one at a time (each larger than every cached block, so
  // each misses): working set 7.5 MiB, live peak 2 MiB, so the bound is 4 MiB and the oldest classes go first.
  const r = JSON.parse(
    inFreshProcess(
      1,
      `
      const mib = 1 << 18;
      for (const m of [1, 1.25, 1.5, 1.75, 2]) t.tidy(() => { t.zeros([m * mib]); });
      const s0 = t.cpuAllocatorStats();
      for (let i = 0; i < 20; i++) t.tidy(() => { t.zeros([1.75 * mib]); }); // the recent classes are still cached
      for (let i = 0; i < 20; i++) t.tidy(() => { t.zeros([2 * mib]); });
      ${LOOP_STATS}`,
    ),
  ) as LoopStats;
  assert.equal(r.peak, 2 << 20);
  assert.equal(r.workingSet, 7.5 * (1 << 20));
  assert.equal(r.bound, 4 << 20, 'bound: twice the live peak');
  assert.equal(r.cached, 3.75 * (1 << 20), 'the 1.75 and 2 MiB blocks stay cached; 1, 1.25 and 1.5 MiB were evicted');
  assert.equal(r.misses, 0);
  assert.equal(r.hits, 40);
});
