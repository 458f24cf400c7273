// Named configurations shipped in configs/ and the one-call loader:
//   loadConfig('tiny', ['trainer.max_steps=10'])  →  { config, warnings, raw, file }

import { existsSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from './config-error.js';
import type { ConfigMap } from './config-tree.js';
import { closestMatch } from './edit-distance.js';
import { resolveInterpolations } from './interpolation.js';
import { applyOverrides } from './overrides.js';
import type { ConfigOverride } from './overrides.js';
import { validateNestConfig } from './schema/nest.js';
import type { NestConfig } from './schema/nest.js';
import { readYamlConfigFile } from './yaml-config.js';

/** The repository (or installed package) root: the nearest folder above this module with package.json. */
function packageRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error(`streamnest: no package.json above ${fileURLToPath(import.meta.url)}`);
    d = up;
  }
  return d;
}

/** The folder holding the shipped configurations. */
export const CONFIGS_DIR = join(packageRoot(), 'configs');

/** Short names for the shipped configurations (each file's own stem works too). */
export const PRESET_ALIASES: Readonly<Record<string, string>> = {
  tiny: 'tiny',
  nest: 'nest_fast-conformer',
  'nest_fast-conformer': 'nest_fast-conformer',
  bidirectional: 'nest_fast-conformer',
  streaming: 'nest_fast-conformer_streaming',
  causal: 'nest_fast-conformer_streaming',
  lookahead: 'nest_fast-conformer_lookahead',
  limited_context: 'nest_fast-conformer_limited_context',
};

/** Names accepted by `resolveConfigSource` (aliases and file stems in configs/). */
export function listPresets(): string[] {
  const stems = existsSync(CONFIGS_DIR)
    ? readdirSync(CONFIGS_DIR)
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => f.slice(0, -'.yaml'.length))
    : [];
  return [...new Set([...Object.keys(PRESET_ALIASES), ...stems])].sort();
}

function looksLikePath(s: string): boolean {
  return s.includes('/') || s.includes('\\') || /\.ya?ml$/.test(s);
}

/**
 * The YAML file for a preset name (`tiny`, `streaming`, `lookahead`, `limited_context`,
 * `nest_fast-conformer`, or any `configs/<name>.yaml`) or for a path (absolute, or relative to `cwd`).
 */
export function resolveConfigSource(nameOrPath: string, cwd: string = process.cwd()): string {
  if (looksLikePath(nameOrPath)) {
    const file = isAbsolute(nameOrPath) ? nameOrPath : resolve(cwd, nameOrPath);
    if (!existsSync(file)) throw ConfigError.at(nameOrPath, '', 'configuration file not found');
    return file;
  }
  const stem = PRESET_ALIASES[nameOrPath] ?? nameOrPath;
  const preset = join(CONFIGS_DIR, `${stem}.yaml`);
  if (existsSync(preset)) return preset;
  const local = resolve(cwd, nameOrPath);
  if (existsSync(local)) return local;
  const names = listPresets();
  const near = closestMatch(nameOrPath, names);
  throw ConfigError.at(nameOrPath, '', `no such preset or file${near ? ` (did you mean '${near}'?)` : ''}; presets: ${names.join(', ')}`);
}

export interface LoadedConfig {
  readonly config: NestConfig;
  readonly warnings: string[];
  /** The configuration tree after overrides, with interpolations resolved. */
  readonly raw: ConfigMap;
  /** The YAML file it came from. */
  readonly file: string;
}

/**
 * Reads a preset or file, applies Hydra-style overrides and validates it as a training configuration (settings
 * streamnest does not implement are refused). Throws `ConfigError`.
 */
export function loadConfig(nameOrPath: string, overrides: readonly (string | ConfigOverride)[] = []): LoadedConfig {
  const file = resolveConfigSource(nameOrPath);
  const doc = readYamlConfigFile(file);
  const tree = applyOverrides(doc.tree, overrides, { file, sources: doc.sources });
  const { config, warnings, resolved } = validateNestConfig(tree, { file, sources: doc.sources, training: true });
  return { config, warnings, raw: resolved, file };
}

/** Like `loadConfig` without validation: the resolved tree (for printing or partial configs). */
export function loadConfigTree(nameOrPath: string, overrides: readonly (string | ConfigOverride)[] = []): ConfigMap {
  const file = resolveConfigSource(nameOrPath);
  const doc = readYamlConfigFile(file);
  const tree = applyOverrides(doc.tree, overrides, { file, sources: doc.sources });
  return resolveInterpolations(tree, { file, sources: doc.sources });
}
