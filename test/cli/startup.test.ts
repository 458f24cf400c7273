// src/torch/startup.ts: thread parsing, the start-up report, and the minor GC that finalises disposed handles.
import { test } from 'node:test';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { collectDisposedHandles, parseThreads, startup } from '../../src/torch/startup.js';
import { getNumThreads } from '../../src/torch/runtime.js';

test('parseThreads accepts positive integers only, naming the source in the error', () => {
  assert.equal(parseThreads('3', 'X'), 3);
  for (const bad of ['', '0', '-1', '1.5', 'two'])
    assert.throws(() => parseThreads(bad, 'STREAMNEST_THREADS'), /STREAMNEST_THREADS must be a positive integer/);
});

test('startup applies an explicit thread count and reports the BLAS', () => {
  const before = getNumThreads();
  try {
    const r = startup({ threads: 1, log: () => {} });
    assert.equal(r.threads, 1);
    assert.equal(r.threadSource, 'option');
    assert.equal(getNumThreads(), 1);
    // independent of the detection: which BLAS library file the process has mapped
    const maps = readFileSync('/proc/self/maps', 'utf8');
    const mapped = /libopenblas/.test(maps) ? 'openblas' : /libmkl/.test(maps) ? 'mkl' : /\/blas\/libblas\.so/.test(maps) ? 'reference' : null;
    if (mapped) assert.equal(r.blas.kind, mapped, `the process maps the ${mapped} BLAS`);
    else assert.ok(['other', 'unknown'].includes(r.blas.kind), `no known BLAS mapped, detected ${r.blas.kind}`);
  } finally {
    startup({ threads: before, log: () => {} });
  }
});

test('collectDisposedHandles runs a minor GC (seen by a PerformanceObserver of gc entries)', async () => {
  const kinds: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) kinds.push((e as unknown as { detail: { kind: number } }).detail.kind);
  });
  obs.observe({ entryTypes: ['gc'] });
  try {
    assert.equal(collectDisposedHandles(), true);
    await new Promise((r) => setTimeout(r, 50)); // gc entries are delivered asynchronously
    assert.ok(kinds.includes(constants.NODE_PERFORMANCE_GC_MINOR), `gc kinds seen: ${kinds.join(', ') || 'none'}`);
  } finally {
    obs.disconnect();
  }
});
