// The plain data tree a configuration is made of, and helpers to address nodes by key path.

export type ConfigScalar = null | boolean | number | string;
export type ConfigValue = ConfigScalar | ConfigValue[] | ConfigMap;
export interface ConfigMap {
  [key: string]: ConfigValue;
}

/** OmegaConf's marker for a mandatory value that must be supplied before use. */
export const MISSING = '???';

/** A key path: map keys are strings, list indices numbers. */
export type KeyPath = readonly (string | number)[];

export function isConfigMap(v: unknown): v is ConfigMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `model.encoder.att_context_size[0]` (OmegaConf's spelling). */
export function formatPath(path: KeyPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

/**
 * Parses `a.b[0].c` or `a.b.0.c` into segments. Digit-only segments index lists when the container is
 * a list; `getAt`/`setAt` accept either spelling, so numbers are kept as strings here and interpreted
 * against the actual container.
 */
export function parsePath(text: string): string[] {
  if (text === '') return [];
  const out: string[] = [];
  for (const part of text.split('.')) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    if (m[1] !== '' || m[2] === '') out.push(m[1]!);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(idx[1]!);
  }
  return out;
}

/** Steps one level into a container; undefined when the key does not exist. */
export function child(node: ConfigValue | undefined, key: string | number): ConfigValue | undefined {
  if (Array.isArray(node)) {
    const i = typeof key === 'number' ? key : /^\d+$/.test(key) ? Number(key) : NaN;
    return Number.isInteger(i) && i >= 0 && i < node.length ? node[i] : undefined;
  }
  if (isConfigMap(node)) {
    const k = String(key);
    return Object.hasOwn(node, k) ? node[k] : undefined;
  }
  return undefined;
}

/** Normalises string segments to numbers where the container at that point is a list. */
export function normalizePath(root: ConfigValue, segments: readonly (string | number)[]): (string | number)[] {
  const out: (string | number)[] = [];
  let node: ConfigValue | undefined = root;
  for (const seg of segments) {
    const key = Array.isArray(node) && typeof seg === 'string' && /^\d+$/.test(seg) ? Number(seg) : seg;
    out.push(key);
    node = child(node, key);
  }
  return out;
}

export function getAt(root: ConfigValue, path: KeyPath): ConfigValue | undefined {
  let node: ConfigValue | undefined = root;
  for (const seg of path) {
    node = child(node, seg);
    if (node === undefined) return undefined;
  }
  return node;
}

export function hasAt(root: ConfigValue, path: KeyPath): boolean {
  return getAt(root, path) !== undefined;
}

export function deepClone<T extends ConfigValue>(v: T): T {
  return structuredClone(v);
}

export function deepEqual(a: ConfigValue | undefined, b: ConfigValue | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isConfigMap(a) && isConfigMap(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

/** Every path in the tree (containers and leaves), depth first, for key suggestions. */
export function listPaths(root: ConfigValue): string[] {
  const out: string[] = [];
  const walk = (node: ConfigValue, path: (string | number)[]): void => {
    if (path.length > 0) out.push(formatPath(path));
    if (Array.isArray(node))
      node.forEach((v, i) => {
        walk(v, [...path, i]);
      });
    else if (isConfigMap(node)) for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
  };
  walk(root, []);
  return out;
}
