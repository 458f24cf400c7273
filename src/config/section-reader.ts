// Typed, validated reading of one configuration section (a mapping), collecting every problem with
// its key path instead of stopping at the first. Each reader classifies its section's keys with a
// KeyTable (key-status.ts): honoured keys are read; a refused key with a value that is not inert is an
// error naming the reason; keys with no effect in streamnest are reported in one warning line per
// section. An unknown key that is a near miss of a known one is an error (a typo would otherwise
// silently fall back to a default); other unknown keys are warnings.

import type { ConfigIssue } from './config-error.js';
import type { ConfigMap, ConfigValue, KeyPath } from './config-tree.js';
import { MISSING, formatPath, isConfigMap } from './config-tree.js';
import { closestMatch } from './edit-distance.js';
import type { KeyTable } from './key-status.js';
import { formatKeyReasons, keyStatus, noEffectEntry, refusedEntry, tableKeys } from './key-status.js';
import type { ConfigSourceMap } from './source-map.js';

export interface ValidationContext {
  readonly file: string;
  readonly sources?: ConfigSourceMap;
  readonly issues: ConfigIssue[];
  readonly warnings: string[];
  /**
   * True when the configuration is about to train (loadConfig): refused training settings are errors. False for
   * the configuration stored with a model (a .nemo read for inference): they are reported as warnings.
   */
  readonly training: boolean;
}

export function newValidationContext(file: string, sources?: ConfigSourceMap, training = false): ValidationContext {
  return sources === undefined ? { file, issues: [], warnings: [], training } : { file, sources, issues: [], warnings: [], training };
}

/** Marks a key without a default. */
export const REQUIRED = Symbol('required');
export type Default<T> = T | typeof REQUIRED;

export interface NumberRange {
  readonly min?: number;
  readonly max?: number;
  /** min is excluded (value must be > min). */
  readonly minExclusive?: boolean;
  /** max is excluded (value must be < max). */
  readonly maxExclusive?: boolean;
}

/** Short description of a value for messages: `"abc" (text)`, `[1, 2] (list)`. */
export function describeValue(v: ConfigValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return `"${v}" (text)`;
  if (typeof v === 'boolean') return `${v} (boolean)`;
  if (typeof v === 'number') return `${v} (number)`;
  if (Array.isArray(v)) return `${JSON.stringify(v)} (list)`;
  return 'a mapping';
}

export function rangeProblem(v: number, r: NumberRange | undefined): string | undefined {
  if (r === undefined) return undefined;
  if (r.min !== undefined && (r.minExclusive ? !(v > r.min) : !(v >= r.min))) {
    return `must be ${r.minExclusive ? '>' : '>='} ${r.min}, got ${v}`;
  }
  if (r.max !== undefined && (r.maxExclusive ? !(v < r.max) : !(v <= r.max))) {
    return `must be ${r.maxExclusive ? '<' : '<='} ${r.max}, got ${v}`;
  }
  return undefined;
}

export class SectionReader {
  private readonly asked = new Set<string>();
  private table: KeyTable | undefined;

  private constructor(
    readonly ctx: ValidationContext,
    readonly path: KeyPath,
    readonly raw: ConfigMap,
    /** True for a section that is missing altogether: its own problems are not repeated per key. */
    private readonly silent: boolean,
  ) {}

  /** Opens the mapping at `path`; reports a missing required section or a non-mapping value. */
  static open(ctx: ValidationContext, path: KeyPath, value: ConfigValue | undefined, required: boolean): SectionReader {
    const report = (message: string): SectionReader => {
      ctx.issues.push(issueAt(ctx, path, message));
      return new SectionReader(ctx, path, {}, true);
    };
    if (value === undefined || value === null) {
      return required ? report('required section is missing') : new SectionReader(ctx, path, {}, false);
    }
    if (value === MISSING) return report(mandatoryMessage(path));
    if (!isConfigMap(value)) return report(`expected a mapping of keys, got ${describeValue(value)}`);
    return new SectionReader(ctx, path, value, false);
  }

  /** The path of a key of this section. */
  keyPath(key: string | number, ...more: (string | number)[]): KeyPath {
    return [...this.path, key, ...more];
  }

  /** Records a problem at `key` (or a deeper path under it). */
  problem(key: string | number | KeyPath, message: string): void {
    if (this.silent) return;
    const p = Array.isArray(key) ? (key as KeyPath) : this.keyPath(key as string | number);
    this.ctx.issues.push(issueAt(this.ctx, p, message));
  }

  /** Marks `key` as read; with a key table, reading a key it does not list as honoured is a schema bug. */
  private ask(key: string): void {
    if (this.table !== undefined && !this.table.honoured.includes(key)) {
      throw new Error(`schema bug: ${formatPath(this.keyPath(key))} is read but its key table lists it as ${keyStatus(this.table, key) ?? 'unknown'}`);
    }
    this.asked.add(key);
  }

  has(key: string): boolean {
    this.ask(key);
    return Object.hasOwn(this.raw, key) && this.raw[key] !== undefined;
  }

  /** The raw value of a key (undefined when absent); `???` is reported as missing and read as absent. */
  value(key: string): ConfigValue | undefined {
    this.ask(key);
    if (!Object.hasOwn(this.raw, key)) return undefined;
    const v = this.raw[key];
    if (v === MISSING) {
      this.problem(key, mandatoryMessage(this.keyPath(key)));
      return undefined;
    }
    return v;
  }

  private absent<T>(key: string, def: Default<T>, placeholder: T): T {
    if (def === REQUIRED) {
      if (!(Object.hasOwn(this.raw, key) && this.raw[key] === MISSING)) {
        this.problem(key, 'required key is missing');
      }
      return placeholder;
    }
    return def;
  }

  number(key: string, def: Default<number>, range?: NumberRange): number {
    const v = this.value(key);
    if (v === undefined) return this.absent(key, def, 0);
    return this.checkNumber(key, v, false, range) ?? (def === REQUIRED ? 0 : def);
  }

  int(key: string, def: Default<number>, range?: NumberRange): number {
    const v = this.value(key);
    if (v === undefined) return this.absent(key, def, 0);
    return this.checkNumber(key, v, true, range) ?? (def === REQUIRED ? 0 : def);
  }

  nullableNumber(key: string, def: number | null, range?: NumberRange): number | null {
    const v = this.value(key);
    if (v === undefined) return def;
    if (v === null) return null;
    return this.checkNumber(key, v, false, range) ?? def;
  }

  nullableInt(key: string, def: number | null, range?: NumberRange): number | null {
    const v = this.value(key);
    if (v === undefined) return def;
    if (v === null) return null;
    return this.checkNumber(key, v, true, range) ?? def;
  }

  /** Checks a number (at `key`, or at a deeper path when `key` is a path). */
  checkNumber(key: string | KeyPath, v: ConfigValue, integer: boolean, range?: NumberRange): number | undefined {
    if (typeof v !== 'number' || Number.isNaN(v)) {
      this.problem(key, `expected ${integer ? 'an integer' : 'a number'}, got ${describeValue(v)}`);
      return undefined;
    }
    if (integer && !Number.isInteger(v)) {
      this.problem(key, `expected an integer, got ${v}`);
      return undefined;
    }
    const bad = rangeProblem(v, range);
    if (bad !== undefined) {
      this.problem(key, bad);
      return undefined;
    }
    return v;
  }

  bool(key: string, def: Default<boolean>): boolean {
    const v = this.value(key);
    if (v === undefined) return this.absent(key, def, false);
    if (typeof v !== 'boolean') {
      this.problem(key, `expected true or false, got ${describeValue(v)}`);
      return def === REQUIRED ? false : def;
    }
    return v;
  }

  string(key: string, def: Default<string>): string {
    const v = this.value(key);
    if (v === undefined) return this.absent(key, def, '');
    if (typeof v !== 'string') {
      this.problem(key, `expected text, got ${describeValue(v)}`);
      return def === REQUIRED ? '' : def;
    }
    return v;
  }

  nullableString(key: string, def: string | null): string | null {
    const v = this.value(key);
    if (v === undefined) return def;
    if (v === null) return null;
    if (typeof v !== 'string') {
      this.problem(key, `expected text or null, got ${describeValue(v)}`);
      return def;
    }
    return v;
  }

  /** One of a fixed set of values; the error lists the allowed ones. */
  oneOf<T extends string | number | boolean | null>(key: string, allowed: readonly T[], def: Default<T>): T {
    const v = this.value(key);
    if (v === undefined) return this.absent(key, def, allowed[0]!);
    if (!allowed.includes(v as T)) {
      const list = allowed.map((a) => (typeof a === 'string' ? `'${a}'` : String(a))).join(', ');
      const near =
        typeof v === 'string'
          ? closestMatch(
              v,
              allowed.filter((a): a is T & string => typeof a === 'string'),
            )
          : undefined;
      this.problem(key, `must be one of ${list}; got ${describeValue(v)}${near ? ` (did you mean '${near}'?)` : ''}`);
      return def === REQUIRED ? allowed[0]! : def;
    }
    return v as T;
  }

  /** Opens a sub-section. */
  section(key: string, required: boolean): SectionReader {
    return SectionReader.open(this.ctx, this.keyPath(key), this.value(key), required && !this.silent);
  }

  /**
   * Checks NeMo's `_target_` class path, if present: its last component must be one of `classNames`
   * (so both `nemo.collections.asr.modules.X` and the full module path are accepted).
   */
  target(...classNames: string[]): void {
    const v = this.value('_target_');
    if (v === undefined || v === null) return;
    const cls = typeof v === 'string' ? v.slice(v.lastIndexOf('.') + 1) : undefined;
    if (cls === undefined || !classNames.includes(cls)) {
      this.problem('_target_', `streamnest implements ${classNames.join(' or ')} here; got ${describeValue(v)}`);
    }
  }

  /**
   * Declares the section's key table (call first): honoured keys are the only ones the reader may read; `finish`
   * refuses the refused keys' non-inert values and reports the keys with no effect.
   */
  classify(table: KeyTable): void {
    this.table = table;
  }

  /**
   * Classifies the keys that were not read (call once, after reading): refused keys with a value that is not inert
   * are problems (warnings in a stored model's configuration for training settings); keys with no effect are
   * listed in one warning line; unknown keys are warnings, or errors when they look like a typo of a known key.
   */
  finish(): void {
    if (this.silent) return;
    const where = formatPath(this.path) || 'top level';
    const t = this.table;
    const noEffectPresent: [string, string][] = [];
    const notForTraining: [string, string][] = [];
    const unknown: string[] = [];
    for (const key of Object.keys(this.raw)) {
      if (this.asked.has(key)) continue;
      const status = t === undefined ? undefined : keyStatus(t, key);
      if (t === undefined || status === undefined) {
        unknown.push(key);
        continue;
      }
      if (status === 'honoured') throw new Error(`schema bug: ${formatPath(this.keyPath(key))} is listed as honoured but its reader did not read it`);
      const v = this.raw[key];
      if (v === undefined || v === MISSING) continue;
      const refused = refusedEntry(t, key);
      const none = noEffectEntry(t, key);
      if (refused !== undefined) {
        if (refused.inert(v)) continue;
        if (!this.ctx.training && (refused.trainingOnly ?? t.trainingOnly)) notForTraining.push([key, refused.reason]);
        else this.problem(key, `${refused.reason} (got ${describeValue(v)}; accepted: ${refused.accepted})`);
      } else if (none !== undefined && !(none.inert?.(v) ?? false)) {
        noEffectPresent.push([key, none.reason]);
      }
    }
    if (noEffectPresent.length > 0) this.ctx.warnings.push(`${where}: has no effect in streamnest: ${formatKeyReasons(noEffectPresent)}`);
    if (notForTraining.length > 0) {
      this.ctx.warnings.push(`${where}: refused for training, accepted in a stored model's configuration: ${formatKeyReasons(notForTraining)}`);
    }
    const known = [...this.asked, ...(t === undefined ? [] : tableKeys(t))];
    for (const key of unknown) {
      const near = closestMatch(key, known);
      if (near !== undefined && !Object.hasOwn(this.raw, near)) {
        this.problem(key, `unknown key; did you mean '${near}'?`);
      } else {
        const at = formatPath(this.keyPath(key));
        const src = this.ctx.sources?.describe(this.keyPath(key));
        this.ctx.warnings.push(`${at}${src ? ` (${src})` : ''}: unknown key, ignored`);
      }
    }
  }
}

function mandatoryMessage(path: KeyPath): string {
  return `mandatory value is missing (???); set it, e.g. on the command line: ${formatPath(path)}=<value>`;
}

function issueAt(ctx: ValidationContext, path: KeyPath, message: string): ConfigIssue {
  const where = ctx.sources?.describe(path);
  return where === undefined ? { path: formatPath(path), message } : { path: formatPath(path), message, where };
}
