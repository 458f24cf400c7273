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

test('the bound grows to the live peak and evicts the least recently used class: a steady loop above the floor hits', () => {
  // Floor 1 MiB. Three 1 MiB blocks live at once set the peak (3 MiB, the bound); a 1.5 MiB block used once is then
  // the stale class. The steady loop frees and reallocates two 1 MiB blocks per iteration: with the bound at the
  // floor, or evicting the steady class instead of the stale one, every iteration would miss once.
  const r = JSON.parse(
    inFreshProcess(
      1,
      `
      const mib = 1 << 18; // float32 elements in 1 MiB
      t.tidy(() => { t.zeros([mib]); t.zeros([mib]); t.zeros([mib]); });
      const peak = t.cpuAllocatorStats().peakLiveBytes;
      t.tidy(() => t.zeros([mib + mib / 2]));
      for (let i = 0; i < 3; i++) t.tidy(() => { t.zeros([mib]); t.zeros([mib]); });
      const s0 = t.cpuAllocatorStats();
      for (let i = 0; i < 100; i++) t.tidy(() => { t.zeros([mib]); t.zeros([mib]); });
      const s1 = t.cpuAllocatorStats();
      console.log(JSON.stringify({ peak, hits: s1.hits - s0.hits, misses: s1.misses - s0.misses, cached: s1.cachedBytes, live: s1.liveBytes }));
      `,
    ),
  ) as { peak: number; hits: number; misses: number; cached: number; live: number };
  assert.ok(r.peak >= 3 << 20, `live peak ${r.peak} bytes`);
  assert.equal(r.misses, 0, `steady loop: ${r.hits} hits, ${r.misses} misses`);
  assert.ok(r.cached <= r.peak, `cached ${r.cached} bytes stays within the live peak ${r.peak}`);
});
