// Hydra-style command-line overrides:
//   key.path=value     change an existing key (value parsed as YAML: 3, 1e-3, true, null, [-1,4], [[-1,0],[-1,4]])
//   +key.path=value    add a key that does not exist yet (missing parents are created)
//   ++key.path=value   add or change
//   ~key.path          delete a key (~key.path=value deletes only if the current value equals value)
// Changing a key that does not exist is refused, suggesting the closest existing key.

import { parse as parseYaml } from 'yaml';
import { ConfigError } from './config-error.js';
import type { ConfigMap, ConfigValue } from './config-tree.js';
import { child, deepClone, deepEqual, formatPath, getAt, isConfigMap, listPaths, normalizePath, parsePath } from './config-tree.js';
import { suggestPath } from './edit-distance.js';
import type { ConfigSourceMap } from './source-map.js';

export type OverrideKind = 'set' | 'add' | 'force_add' | 'delete';

export interface ConfigOverride {
  readonly kind: OverrideKind;
  /** The key path as written. */
  readonly key: string;
  /** Parsed value; undefined only for a delete without a value. */
  readonly value?: ConfigValue;
  /** The override as written on the command line. */
  readonly text: string;
}

const KEY_PATTERN = /^[A-Za-z_][\w\-@]*(?:\[\d+\])*(?:\.(?:[\w\-@]+)(?:\[\d+\])*)*$/;

/** Parses a value the way the YAML loader would (Hydra's grammar agrees on the cases that matter). */
export function parseOverrideValue(text: string, where: string): ConfigValue {
  if (text === '') return '';
  try {
    return (parseYaml(text) ?? null) as ConfigValue;
  } catch (e) {
    throw ConfigError.at('command line', '', `cannot parse the value of ${where}: ${(e as Error).message.split('\n')[0]}`);
  }
}

export function parseOverride(text: string): ConfigOverride {
  let rest = text.trim();
  let kind: OverrideKind = 'set';
  if (rest.startsWith('++')) {
    kind = 'force_add';
    rest = rest.slice(2);
  } else if (rest.startsWith('+')) {
    kind = 'add';
    rest = rest.slice(1);
  } else if (rest.startsWith('~')) {
    kind = 'delete';
    rest = rest.slice(1);
  }
  const eq = rest.indexOf('=');
  const key = (eq < 0 ? rest : rest.slice(0, eq)).trim();
  const where = `override '${text}'`;
  if (!KEY_PATTERN.test(key)) {
    throw ConfigError.at('command line', '', `${where}: '${key}' is not a valid key path (expected e.g. model.encoder.d_model)`);
  }
  if (eq < 0) {
    if (kind !== 'delete') {
      throw ConfigError.at('command line', '', `${where}: expected key=value (or ~key to delete)`);
    }
    return { kind, key, text };
  }
  return { kind, key, value: parseOverrideValue(rest.slice(eq + 1).trim(), where), text };
}

interface ApplyOptions {
  /** File named in error messages (the configuration being overridden). */
  readonly file: string;
  /** Updated with the origin of overridden values. */
  readonly sources?: ConfigSourceMap;
}

function refuseUnknown(tree: ConfigMap, o: ConfigOverride, file: string, path: string): never {
  const hint = suggestPath(path, listPaths(tree));
  let message = hint ? `unknown key; did you mean '${hint}'?` : 'unknown key (no similar key exists)';
  if (o.value !== undefined && o.kind === 'set') message += ` To add a new key write '+${o.key}=...'.`;
  throw ConfigError.at(file, path, message, `override '${o.text}'`);
}

/** Applies one override to `tree` in place. */
function applyOne(tree: ConfigMap, o: ConfigOverride, opts: ApplyOptions): void {
  const path = normalizePath(tree, parsePath(o.key));
  const pathText = formatPath(path);
  const where = `override '${o.text}'`;
  const parentPath = path.slice(0, -1);
  const last = path[path.length - 1]!;
  const exists = getAt(tree, path) !== undefined;

  if (o.kind === 'delete') {
    if (!exists) refuseUnknown(tree, o, opts.file, pathText);
    if (o.value !== undefined && !deepEqual(getAt(tree, path), o.value)) {
      throw ConfigError.at(opts.file, pathText, `not deleted: its value ${JSON.stringify(getAt(tree, path))} differs from ${JSON.stringify(o.value)}`, where);
    }
    const parent = getAt(tree, parentPath)!;
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete (parent as ConfigMap)[String(last)];
    opts.sources?.clearBelow(path);
    return;
  }
  if (o.kind === 'set' && !exists) refuseUnknown(tree, o, opts.file, pathText);
  if (o.kind === 'add' && exists) {
    throw ConfigError.at(opts.file, pathText, `cannot add: the key already exists (use '${o.key}=...' to change it, or '++${o.key}=...')`, where);
  }

  // Walk to the parent, creating mappings for '+'/'++'.
  let node: ConfigValue = tree;
  for (let i = 0; i < parentPath.length; i++) {
    const seg = parentPath[i]!;
    let next = child(node, seg);
    if (next === undefined || next === null) {
      if (o.kind === 'set' || Array.isArray(node)) refuseUnknown(tree, o, opts.file, pathText);
      next = {};
      (node as ConfigMap)[String(seg)] = next;
    }
    if (!isConfigMap(next) && !Array.isArray(next)) {
      throw ConfigError.at(opts.file, formatPath(path.slice(0, i + 1)), `is a ${typeof next} value, not a mapping, so it has no key '${path[i + 1]}'`, where);
    }
    node = next;
  }
  const value = deepClone(o.value as ConfigValue);
  if (Array.isArray(node)) {
    if (typeof last !== 'number' || last >= node.length) {
      throw ConfigError.at(opts.file, pathText, `list index out of range (the list has ${node.length} items)`, where);
    }
    node[last] = value;
  } else {
    (node as ConfigMap)[String(last)] = value;
  }
  opts.sources?.clearBelow(path);
  opts.sources?.set(path, where);
}

/** Returns a copy of `tree` with the overrides applied in order. */
export function applyOverrides(tree: ConfigMap, overrides: readonly (string | ConfigOverride)[], opts: ApplyOptions): ConfigMap {
  const out = deepClone(tree);
  for (const o of overrides) applyOne(out, typeof o === 'string' ? parseOverride(o) : o, opts);
  return out;
}
