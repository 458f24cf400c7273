// Shared test assertions: closeness of tensors and arrays with a report of where they differ most.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '../../src/torch/index.js';

/** The repository root (tests run from dist/test/... or another outDir inside the repository). */
export const REPO_ROOT = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json')) && d !== '/') d = dirname(d);
  return d;
})();

export const GOLDEN = join(REPO_ROOT, 'test', 'fixtures', 'golden');

function toNumbers(x: Tensor | ArrayLike<number> | number[]): number[] {
  if (Array.isArray(x)) return x;
  if (typeof (x as Tensor).toArray === 'function') return (x as Tensor).toArray();
  return Array.from(x as ArrayLike<number>);
}

export interface CloseReport {
  maxAbs: number;
  maxRel: number;
  worstIndex: number;
}

export function compare(actual: Tensor | ArrayLike<number>, expected: Tensor | ArrayLike<number>): CloseReport {
  const a = toNumbers(actual);
  const e = toNumbers(expected);
  assert.equal(a.length, e.length, `length ${a.length} != expected ${e.length}`);
  let maxAbs = 0;
  let maxRel = 0;
  let worstIndex = -1;
  for (let i = 0; i < a.length; i++) {
    const av = a[i]!;
    const ev = e[i]!;
    if (Number.isNaN(av) && Number.isNaN(ev)) continue;
    if (av === ev) continue;
    const d = Math.abs(av - ev);
    if (!(d <= maxAbs)) {
      maxAbs = Number.isNaN(d) ? Infinity : d;
      worstIndex = i;
    }
    const r = d / Math.max(Math.abs(ev), 1e-12);
    if (r > maxRel) maxRel = r;
  }
  return { maxAbs, maxRel, worstIndex };
}

/** Elementwise |a - e| <= atol + rtol * |e| (NaN equals NaN), with shape equality when both are tensors. */
export function assertClose(actual: Tensor | ArrayLike<number>, expected: Tensor | ArrayLike<number>, atol = 1e-6, rtol = 0, what = 'values'): CloseReport {
  const at = actual as Tensor;
  const et = expected as Tensor;
  if (typeof at.toArray === 'function' && typeof et.toArray === 'function') {
    assert.deepEqual(at.shape, et.shape, `${what}: shape [${at.shape}] != expected [${et.shape}]`);
  }
  const a = toNumbers(actual);
  const e = toNumbers(expected);
  assert.equal(a.length, e.length, `${what}: ${a.length} values, expected ${e.length}`);
  const rep = compare(a, e);
  for (let i = 0; i < a.length; i++) {
    const av = a[i]!;
    const ev = e[i]!;
    if (Number.isNaN(ev)) {
      assert.ok(Number.isNaN(av), `${what}[${i}]: ${av}, expected NaN`);
      continue;
    }
    if (av === ev) continue;
    const tol = atol + rtol * Math.abs(ev);
    if (!(Math.abs(av - ev) <= tol)) {
      assert.fail(`${what}[${i}]: ${av} != expected ${ev} (tol ${tol}); max abs diff ${rep.maxAbs} at ${rep.worstIndex}`);
    }
  }
  return rep;
}
