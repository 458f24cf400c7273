// Deterministic tensor memory: every Tensor made inside `tidy(fn)` is disposed when fn returns,
// except the tensors fn returns (handed to the enclosing scope) and those passed to `keep`. A tensor no scope owns
// (made outside any scope, kept, or returned from the outermost one) is told so (Tensor.unscoped) and from then on
// has the garbage collector as a safety net, should it never be disposed.
//
// A scope is the list of tensors made in it; each tensor names the one scope that owns it (Tensor.ownerScope), so
// keep() and handing a tensor on are O(1): a list's entries owned elsewhere are skipped when the scope closes.
import type { Tensor } from './tensor.js';

export type ScopeList = Tensor[];

const stack: ScopeList[] = [];

/** Registers a new tensor with the innermost open scope; false when no scope is open. */
export function track(t: Tensor): boolean {
  const top = stack[stack.length - 1];
  if (top === undefined) return false;
  top.push(t);
  t.ownerScope = top;
  return true;
}

/** Takes a tensor out of its scope so that it outlives every open scope (parameters, caches, state). */
export function keep<T extends Tensor>(t: T): T {
  const owner = t.ownerScope;
  if (owner !== null && owner[owner.length - 1] === t) owner.pop(); // the usual case: kept right after it was made
  t.ownerScope = null;
  t.unscoped();
  return t;
}

/** Hands a surviving tensor to the enclosing scope, or marks it as owned by none. */
function handOver(t: Tensor, parent: ScopeList | undefined): void {
  if (parent) {
    parent.push(t);
    t.ownerScope = parent;
  } else {
    t.ownerScope = null;
    t.unscoped();
  }
}

function collect(value: unknown, out: Set<Tensor>, seen: Set<unknown>, isTensor: (v: unknown) => v is Tensor): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (isTensor(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out, seen, isTensor);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, seen, isTensor);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, seen, isTensor);
  }
}

let tensorCheck: ((v: unknown) => v is Tensor) | null = null;
/** Called once by tensor.ts (avoids an import cycle at module evaluation). */
export function registerTensorCheck(check: (v: unknown) => v is Tensor): void {
  tensorCheck = check;
}

/**
 * Runs fn in a fresh scope. Tensors it returns (directly, or inside arrays, Maps and plain objects)
 * move to the enclosing scope; all other tensors made inside are disposed. fn must be synchronous.
 */
export function tidy<T>(fn: () => T): T {
  const scope: ScopeList = [];
  stack.push(scope);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) throw new Error('tidy(fn): fn must be synchronous; use a Scope for async work');
  } catch (e) {
    stack.pop();
    for (const t of scope) if (t.ownerScope === scope) t.dispose();
    throw e;
  }
  stack.pop();
  const returned = new Set<Tensor>();
  if (tensorCheck) collect(result, returned, new Set(), tensorCheck);
  const parent = stack[stack.length - 1];
  for (const t of scope) {
    if (t.ownerScope !== scope) continue; // kept, handed on or disposed already
    if (returned.has(t)) handOver(t, parent);
    else t.dispose();
  }
  return result;
}

/** An explicit scope for code that awaits: open it, work, then dispose (or use `using`-style try/finally). */
export class Scope {
  private readonly tensors: ScopeList = [];
  private open = true;
  constructor() {
    stack.push(this.tensors);
  }
  /** Closes the scope, disposing every tensor made in it except `survivors`. */
  dispose(...survivors: Tensor[]): void {
    if (!this.open) return;
    this.open = false;
    const i = stack.lastIndexOf(this.tensors);
    if (i >= 0) stack.splice(i, 1);
    const parent = stack[stack.length - 1];
    const keepSet = new Set(survivors);
    for (const t of this.tensors) {
      if (t.ownerScope !== this.tensors) continue;
      if (keepSet.has(t)) handOver(t, parent);
      else t.dispose();
    }
  }
}

/** Number of native tensor handles alive in this process (for leak tests). */
export { liveTensorCount, derivedTensorCount } from './runtime.js';
