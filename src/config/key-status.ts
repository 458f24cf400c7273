// What streamnest does with each key of a configuration section. Every key NeMo (or Lightning) reads there is:
//   honoured   read by the section's reader and used;
//   refused    a value that is not inert (null, false, NeMo's default, an empty list...) would change what NeMo
//              does, and streamnest does not implement it: such a value is a ConfigError naming the key and why;
//   no effect  nothing in streamnest changes with it: reported once per section (one warning line), unless its
//              value is what streamnest does anyway.
// Each schema file keeps its section's table in one `KeyTable` constant; `SectionReader.classify` applies it.

import type { ConfigScalar, ConfigValue } from './config-tree.js';

export interface RefusedKey {
  /** True for a value that asks for nothing streamnest lacks. Absent keys are never checked. */
  readonly inert: (v: ConfigValue) => boolean;
  /** The inert values in words, for the message: `false or null`. */
  readonly accepted: string;
  /** Why the other values are refused, and what to do instead. */
  readonly reason: string;
  /**
   * Overrides the table's `trainingOnly` for this key (e.g. a preprocessor setting that only matters when the
   * features are computed for training).
   */
  readonly trainingOnly?: boolean;
}

export interface NoEffectKey {
  /** Why setting it changes nothing in streamnest. */
  readonly reason: string;
  /** Values that are what streamnest does anyway: not reported. Without it, any value is reported. */
  readonly inert?: (v: ConfigValue) => boolean;
}

export interface KeyTable {
  /** Where the section sits, e.g. `model.train_ds` (more than one when several sections share the table). */
  readonly paths: readonly string[];
  /**
   * True for training settings (data, optimiser, trainer, exp_manager): in the configuration stored with a model
   * (a .nemo read for inference) their refused values are reported as warnings instead of errors.
   */
  readonly trainingOnly: boolean;
  readonly honoured: readonly string[];
  readonly refused: Readonly<Record<string, RefusedKey>>;
  readonly noEffect: Readonly<Record<string, NoEffectKey>>;
}

export type KeyStatus = 'honoured' | 'refused' | 'noEffect';

const own = (rec: object, key: string): boolean => Object.hasOwn(rec, key);

/** The status of `key` in `table`, or undefined for a key the table does not know. */
export function keyStatus(table: KeyTable, key: string): KeyStatus | undefined {
  if (table.honoured.includes(key)) return 'honoured';
  if (own(table.refused, key)) return 'refused';
  if (own(table.noEffect, key)) return 'noEffect';
  return undefined;
}

export function refusedEntry(table: KeyTable, key: string): RefusedKey | undefined {
  return own(table.refused, key) ? table.refused[key] : undefined;
}

export function noEffectEntry(table: KeyTable, key: string): NoEffectKey | undefined {
  return own(table.noEffect, key) ? table.noEffect[key] : undefined;
}

/** Every key of the table (honoured, refused, no effect). */
export function tableKeys(table: KeyTable): string[] {
  return [...table.honoured, ...Object.keys(table.refused), ...Object.keys(table.noEffect)];
}

// ---- inert predicates and entry builders ------------------------------------------------------------------

/** null, an empty list or an empty mapping. */
export function isEmpty(v: ConfigValue): boolean {
  if (v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.keys(v).length === 0;
}

/** null or one of `values` (numbers compared by value, so YAML's 1 and 1.0 are the same). */
export function isOneOf(values: readonly ConfigScalar[]): (v: ConfigValue) => boolean {
  return (v) => v === null || values.includes(v as ConfigScalar);
}

/** null, or a number <= `max` (a disabled minimum or count). */
export function isAtMost(max: number): (v: ConfigValue) => boolean {
  return (v) => v === null || (typeof v === 'number' && v <= max);
}

function describeScalar(v: ConfigScalar): string {
  return typeof v === 'string' ? `'${v}'` : String(v);
}

/** Refused unless null or one of `values`. */
export function refuseUnless(reason: string, values: readonly ConfigScalar[]): RefusedKey {
  const words = [...values.map(describeScalar), 'null'];
  return { inert: isOneOf(values), accepted: words.join(' or '), reason };
}

/** Refused unless null, an empty list or an empty mapping. */
export function refuseUnlessEmpty(reason: string): RefusedKey {
  return { inert: isEmpty, accepted: 'null or empty', reason };
}

/** Refused with an inert predicate of its own. */
export function refuseWhen(reason: string, accepted: string, inert: (v: ConfigValue) => boolean): RefusedKey {
  return { inert, accepted, reason };
}

export function noEffect(reason: string, inert?: (v: ConfigValue) => boolean): NoEffectKey {
  return inert === undefined ? { reason } : { reason, inert };
}

/** The same no-effect reason for several keys. */
export function noEffectAll(keys: readonly string[], reason: string, inert?: (v: ConfigValue) => boolean): Record<string, NoEffectKey> {
  return Object.fromEntries(keys.map((k) => [k, noEffect(reason, inert)]));
}

/** `k1, k2 (why); k3 (other why)`: the keys in order, those sharing a reason grouped. */
export function formatKeyReasons(entries: readonly (readonly [string, string])[]): string {
  const groups = new Map<string, string[]>();
  for (const [key, reason] of entries) {
    const g = groups.get(reason);
    if (g) g.push(key);
    else groups.set(reason, [key]);
  }
  return [...groups].map(([reason, keys]) => `${keys.join(', ')} (${reason})`).join('; ');
}
