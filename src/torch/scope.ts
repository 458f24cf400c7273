// Deterministic tensor memory: every Tensor made inside `tidy(fn)` is disposed when fn returns,
// except the tensors fn returns (handed to the enclosing scope) and those passed to `keep`.
import type { Tensor } from './tensor.js';

const stack: Set<Tensor>[] = [];

/** Registers a new tensor with the innermost open scope (if any). */
export function track(t: Tensor): void {
  const top = stack[stack.length - 1];
  if (top !== undefined) top.add(t);
}

/** Removes a tensor from every open scope so that it outlives them (parameters, caches, state). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of stack) s.delete(t);
  return t;
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
  const scope = new Set<Tensor>();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) throw new Error('tidy(fn): fn must be synchronous; use a Scope for async work');
  } catch (e) {
    stack.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  stack.pop();
  const returned = new Set<Tensor>();
  if (tensorCheck) collect(result, returned, new Set(), tensorCheck);
  const parent = stack[stack.length - 1];
  for (const t of scope) {
    if (returned.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/** An explicit scope for code that awaits: open it, work, then dispose (or use `using`-style try/finally). */
export class Scope {
  private readonly tensors = new Set<Tensor>();
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
      if (keepSet.has(t)) parent?.add(t);
      else t.dispose();
    }
  }
}

/** Number of native tensor handles alive in this process (for leak tests). */
export { liveTensorCount } from './runtime.js';
