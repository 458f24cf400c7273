// Reads a YAML configuration in NeMo's key layout into a plain data tree, keeping the line of every
// key for error messages. YAML 1.2 core schema (as OmegaConf's loader: `1e-3` is a float, `True` a bool).

import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import { ConfigError } from './config-error.js';
import type { ConfigMap, ConfigValue } from './config-tree.js';
import { isConfigMap } from './config-tree.js';
import { ConfigSourceMap } from './source-map.js';

/** A configuration document as read: its data tree and where each key was written. */
export interface ConfigDocument {
  readonly file: string;
  readonly tree: ConfigMap;
  readonly sources: ConfigSourceMap;
}

function recordLines(node: unknown, path: (string | number)[], lines: LineCounter, sources: ConfigSourceMap): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const keyNode = pair.key as YamlNode | null;
      const at = keyNode?.range?.[0];
      const childPath = [...path, key];
      if (at !== undefined) sources.set(childPath, `line ${lines.linePos(at).line}`);
      recordLines(pair.value, childPath, lines, sources);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const at = (item as YamlNode | null)?.range?.[0];
      if (at !== undefined) sources.set([...path, i], `line ${lines.linePos(at).line}`);
      recordLines(item, [...path, i], lines, sources);
    });
  }
}

/** Parses YAML text; `file` is only used in messages. */
export function parseYamlConfig(text: string, file: string): ConfigDocument {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        const message = `invalid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`;
        return pos ? { path: '', message, where: `line ${pos.line}, column ${pos.col}` } : { path: '', message };
      }),
    );
  }
  const tree = (doc.toJS({ maxAliasCount: 1000 }) ?? {}) as ConfigValue;
  if (!isConfigMap(tree)) {
    throw ConfigError.at(file, '', 'the top level of a configuration must be a mapping of keys');
  }
  const sources = new ConfigSourceMap();
  recordLines(doc.contents, [], lines, sources);
  return { file, tree, sources };
}

/** Reads and parses a YAML configuration file. */
export function readYamlConfigFile(file: string): ConfigDocument {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw ConfigError.at(file, '', `cannot read the configuration file: ${(e as Error).message}`);
  }
  return parseYamlConfig(text, file);
}
