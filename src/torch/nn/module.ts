// nn.Module: named parameters, buffers and submodules; state dicts with strict checks; train/eval.
import { keep } from '../scope.js';
import { Tensor } from '../tensor.js';
import { noGrad } from '../autograd.js';

/** A state dict: names in registration order (PyTorch's OrderedDict) to tensors. */
export type StateDict = Map<string, Tensor>;

export class StateDictError extends Error {
  constructor(
    readonly missing: string[],
    readonly unexpected: string[],
    readonly mismatched: { name: string; expected: number[]; got: number[] }[],
    where: string,
  ) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing keys (${missing.length}): ${missing.join(', ')}`);
    if (unexpected.length) parts.push(`unexpected keys (${unexpected.length}): ${unexpected.join(', ')}`);
    if (mismatched.length) {
      parts.push(
        `shape mismatches (${mismatched.length}): ` +
          mismatched.map((m) => `${m.name} expects [${m.expected.join(', ')}] got [${m.got.join(', ')}]`).join('; '),
      );
    }
    super(`loading state dict into ${where} failed:\n  ${parts.join('\n  ')}`);
    this.name = 'StateDictError';
  }
}

export abstract class Module {
  private readonly params = new Map<string, Tensor | null>();
  private readonly buffers = new Map<string, { tensor: Tensor | null; persistent: boolean }>();
  private readonly children = new Map<string, Module | null>();
  training = true;

  /** Registers (and keeps alive across scopes) a trainable parameter. */
  protected registerParameter(name: string, t: Tensor | null): Tensor {
    this.checkName(name);
    if (t !== null) {
      keep(t);
      if (!t.requiresGrad) t.requiresGrad = true;
    }
    this.params.set(name, t);
    return t as Tensor;
  }
  protected registerBuffer(name: string, t: Tensor | null, persistent = true): Tensor {
    this.checkName(name);
    if (t !== null) keep(t);
    this.buffers.set(name, { tensor: t, persistent });
    return t as Tensor;
  }
  protected registerModule<M extends Module | null>(name: string, m: M): M {
    this.checkName(name);
    this.children.set(name, m);
    return m;
  }
  /** Replaces a registered buffer's tensor (BatchNorm's num_batches_tracked, streaming state). */
  protected setBuffer(name: string, t: Tensor): void {
    const b = this.buffers.get(name);
    if (!b) throw new Error(`${this.constructor.name}: no buffer '${name}'`);
    keep(t);
    if (b.tensor && b.tensor !== t) b.tensor.dispose();
    b.tensor = t;
  }
  protected getBuffer(name: string): Tensor {
    const b = this.buffers.get(name)?.tensor;
    if (!b) throw new Error(`${this.constructor.name}: no buffer '${name}'`);
    return b;
  }

  private checkName(name: string): void {
    if (name.includes('.') || name === '') throw new Error(`${this.constructor.name}: invalid member name '${name}'`);
    if (this.params.has(name) || this.buffers.has(name) || this.children.has(name)) {
      throw new Error(`${this.constructor.name}: '${name}' is already registered`);
    }
  }

  *namedChildren(): Generator<[string, Module]> {
    for (const [n, m] of this.children) if (m) yield [n, m];
  }
  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [n, m] of this.namedChildren()) yield* m.namedModules(prefix ? `${prefix}.${n}` : n);
  }
  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, p] of this.params) if (p) yield [prefix ? `${prefix}.${n}` : n, p];
    for (const [n, m] of this.namedChildren()) yield* m.namedParameters(prefix ? `${prefix}.${n}` : n);
  }
  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }
  *namedBuffers(prefix = '', persistentOnly = false): Generator<[string, Tensor]> {
    for (const [n, b] of this.buffers) if (b.tensor && (!persistentOnly || b.persistent)) yield [prefix ? `${prefix}.${n}` : n, b.tensor];
    for (const [n, m] of this.namedChildren()) yield* m.namedBuffers(prefix ? `${prefix}.${n}` : n, persistentOnly);
  }
  numParameters(): number {
    return this.parameters().reduce((a, p) => a + p.numel, 0);
  }

  /**
   * Parameters and persistent buffers in PyTorch's order: each module's own parameters, then its own
   * buffers, then its children recursively. The tensors are the module's own (not copies).
   */
  stateDict(prefix = ''): StateDict {
    const out: StateDict = new Map();
    const add = (m: Module, pre: string): void => {
      for (const [n, p] of m.params) if (p) out.set(pre + n, p);
      for (const [n, b] of m.buffers) if (b.tensor && b.persistent) out.set(pre + n, b.tensor);
      for (const [n, c] of m.children) if (c) add(c, `${pre}${n}.`);
    };
    add(this, prefix ? `${prefix}.` : '');
    return out;
  }

  /**
   * Copies values in (no_grad), converting dtype if needed. strict: every key must match and every shape agree;
   * errors list every missing, unexpected and mismatched name at once. `assign`: the module's tensors take the given
   * tensors' storage instead of copying (PyTorch's load_state_dict(assign=True)), converted only where dtype or device
   * differ (a module built on the 'meta' device takes the given device); the module then shares them with `sd`, whose
   * handles the caller may dispose.
   */
  loadStateDict(sd: StateDict, strict = true, o: { assign?: boolean } = {}): { missing: string[]; unexpected: string[] } {
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !sd.has(k));
    const unexpected = [...sd.keys()].filter((k) => !own.has(k));
    const mismatched: { name: string; expected: number[]; got: number[] }[] = [];
    for (const [k, t] of own) {
      const src = sd.get(k);
      if (!src) continue;
      const a = t.shape;
      const b = src.shape;
      if (a.length !== b.length || a.some((v, i) => v !== b[i])) mismatched.push({ name: k, expected: a, got: b });
    }
    if (mismatched.length || (strict && (missing.length || unexpected.length))) {
      throw new StateDictError(strict ? missing : [], strict ? unexpected : [], mismatched, this.constructor.name);
    }
    noGrad(() => {
      for (const [k, t] of own) {
        const src = sd.get(k);
        if (!src) continue;
        if (!o.assign) {
          t.copy_(src);
          continue;
        }
        const device = t.device === 'meta' ? src.device : t.device;
        const same = src.dtype === t.dtype && src.device === device;
        const value = same ? src : src.to({ dtype: t.dtype, device });
        t.assign(value);
        if (!same) value.dispose();
      }
    });
    return { missing, unexpected };
  }

  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }
  eval(): this {
    return this.train(false);
  }
  /** Clears every parameter's gradient (set to none, as PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }
  /** Frees every parameter and buffer of this module tree. */
  dispose(): void {
    for (const p of this.params.values()) p?.dispose();
    for (const b of this.buffers.values()) b.tensor?.dispose();
    // children dispose themselves, so that a subclass's own state (e.g. a cached table) is freed too
    for (const [, c] of this.namedChildren()) c.dispose();
  }
}

export function isTensor(v: unknown): v is Tensor {
  return v instanceof Tensor;
}
