// OmegaConf-style `${...}` interpolation over a configuration tree.
//
//   ${model.sample_rate}      absolute key path from the root
//   ${.x} / ${..x}            relative: `.` is the container holding the key, each further `.` one level up
//   ${a.b[0]} / ${a.b.0}      list elements
//   text ${a}-{literal}       string interpolation (braces not preceded by `$` are literal text)
//   ${oc.env:VAR,default}     the environment resolver; other resolvers are refused clearly
//   \${x}                     a literal `${x}`
//
// A value that is exactly one interpolation takes the referenced value's type (number, list, ...).
// Referencing a mandatory `???` value yields `???` (reported by validation). Cycles are an error.

import { ConfigError } from './config-error.js';
import type { ConfigMap, ConfigValue, KeyPath } from './config-tree.js';
import { MISSING, deepClone, formatPath, getAt, isConfigMap, listPaths, normalizePath, parsePath } from './config-tree.js';
import { suggestPath } from './edit-distance.js';
import type { ConfigSourceMap } from './source-map.js';

export interface InterpolationOptions {
  /** File named in error messages. */
  readonly file: string;
  readonly sources?: ConfigSourceMap;
  /** Environment for `${oc.env:...}`; defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

type TemplatePart = { readonly literal: string } | { readonly expr: string };

/** True if the string contains an (unescaped) interpolation. */
export function hasInterpolation(s: string): boolean {
  return /(^|[^\\])\$\{/.test(s);
}

/** Splits a string into literal text and top-level `${...}` expressions (which may nest). */
function splitTemplate(s: string): TemplatePart[] | string {
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  while (i < s.length) {
    if (s.startsWith('\\${', i)) {
      literal += '${';
      i += 3;
      continue;
    }
    if (!s.startsWith('${', i)) {
      literal += s[i];
      i += 1;
      continue;
    }
    let depth = 1;
    let j = i + 2;
    while (j < s.length && depth > 0) {
      if (s.startsWith('${', j)) {
        depth += 1;
        j += 2;
      } else {
        if (s[j] === '}') depth -= 1;
        j += 1;
      }
    }
    if (depth > 0) return `unterminated interpolation in '${s}'`;
    if (literal !== '') parts.push({ literal });
    literal = '';
    parts.push({ expr: s.slice(i + 2, j - 1).trim() });
    i = j;
  }
  if (literal !== '') parts.push({ literal });
  return parts;
}

function scalarToText(v: ConfigValue): string {
  if (v === null) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  return String(v);
}

class Resolver {
  private readonly resolved = new Map<string, ConfigValue>();
  private readonly active: string[] = [];
  private readonly paths: string[];

  constructor(
    private readonly root: ConfigMap,
    private readonly opts: InterpolationOptions,
  ) {
    this.paths = listPaths(root);
  }

  private fail(path: KeyPath, message: string): never {
    throw ConfigError.at(this.opts.file, formatPath(path), message, this.opts.sources?.describe(path));
  }

  /** The fully resolved value at `path` (which must exist). */
  value(path: KeyPath): ConfigValue {
    const key = formatPath(path);
    const done = this.resolved.get(key);
    if (done !== undefined) return done;
    const cycleStart = this.active.indexOf(key);
    if (cycleStart >= 0) {
      const chain = [...this.active.slice(cycleStart), key].join(' -> ');
      const origin = this.active[cycleStart]!;
      throw ConfigError.at(this.opts.file, origin, `interpolation cycle: ${chain}`, this.opts.sources?.describe(origin));
    }
    this.active.push(key);
    try {
      const raw = getAt(this.root, path);
      let out: ConfigValue;
      if (Array.isArray(raw)) out = raw.map((_, i) => this.value([...path, i]));
      else if (isConfigMap(raw)) {
        const m: ConfigMap = {};
        for (const k of Object.keys(raw)) m[k] = this.value([...path, k]);
        out = m;
      } else if (typeof raw === 'string' && raw.includes('${')) out = this.template(raw, path);
      else out = raw === undefined ? null : raw;
      this.resolved.set(key, out);
      return out;
    } finally {
      this.active.pop();
    }
  }

  private template(s: string, path: KeyPath): ConfigValue {
    const parts = splitTemplate(s);
    if (typeof parts === 'string') this.fail(path, parts);
    if (parts.length === 1 && 'expr' in parts[0]!) return this.expression(parts[0].expr, path);
    let text = '';
    for (const part of parts) {
      if ('literal' in part) {
        text += part.literal;
        continue;
      }
      const v = this.expression(part.expr, path);
      if (v === MISSING) return MISSING;
      if (Array.isArray(v) || isConfigMap(v)) {
        this.fail(path, `'\${${part.expr}}' refers to a ${Array.isArray(v) ? 'list' : 'mapping'}, which cannot be embedded in text`);
      }
      text += scalarToText(v);
    }
    return text;
  }

  private expression(exprWithNesting: string, path: KeyPath): ConfigValue {
    let expr = exprWithNesting;
    if (expr.includes('${')) {
      const inner = this.template(expr, path);
      if (typeof inner !== 'string') this.fail(path, `nested interpolation in '\${${expr}}' must produce text`);
      expr = inner;
    }
    const resolver = /^([A-Za-z_][\w.]*):(.*)$/s.exec(expr);
    if (resolver) return this.callResolver(resolver[1]!, resolver[2]!, path);
    return this.reference(expr, path);
  }

  private callResolver(name: string, args: string, path: KeyPath): ConfigValue {
    if (name !== 'oc.env' && name !== 'env') {
      this.fail(path, `resolver '${name}' is not supported (only oc.env is); write the value directly`);
    }
    const comma = args.indexOf(',');
    const variable = (comma < 0 ? args : args.slice(0, comma)).trim();
    const env = this.opts.env ?? process.env;
    const v = env[variable];
    if (v !== undefined) return v;
    if (comma >= 0) {
      const d = args.slice(comma + 1).trim();
      if (d === 'null') return null;
      return d.replace(/^(['"])(.*)\1$/s, '$2');
    }
    this.fail(path, `environment variable '${variable}' is not set (\${oc.env:${args}})`);
  }

  private reference(key: string, path: KeyPath): ConfigValue {
    const dots = /^\.*/.exec(key)![0].length;
    let base: (string | number)[] = [];
    if (dots > 0) {
      if (dots > path.length) this.fail(path, `'\${${key}}' goes above the top of the configuration`);
      base = path.slice(0, path.length - dots);
    }
    const target = normalizePath(this.root, [...base, ...parsePath(key.slice(dots))]);
    if (getAt(this.root, target) === undefined) {
      const wanted = formatPath(target);
      const hint = suggestPath(wanted, this.paths);
      this.fail(path, `cannot resolve '\${${key}}': key '${wanted}' does not exist` + (hint ? ` (did you mean '${hint}'?)` : ''));
    }
    return deepClone(this.value(target));
  }
}

/** Returns a copy of `tree` with every interpolation resolved. */
export function resolveInterpolations(tree: ConfigMap, opts: InterpolationOptions): ConfigMap {
  return new Resolver(tree, opts).value([]) as ConfigMap;
}
