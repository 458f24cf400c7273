import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseYamlConfig } from '../../src/config/index.js';

test('YAML 1.2 core scalars as OmegaConf reads them', () => {
  const { tree } = parseYamlConfig('a: 1e-3\nb: True\nc: 60.0\nd: [-1, 4]\ne: null\nf: ???\ng: "NA"\n', 'x.yaml');
  assert.deepEqual(tree, { a: 0.001, b: true, c: 60, d: [-1, 4], e: null, f: '???', g: 'NA' });
});

test('every key remembers its line', () => {
  const { sources } = parseYamlConfig('model:\n  encoder:\n    d_model: 512\n    att: [1, 2]\n', 'x.yaml');
  assert.equal(sources.describe('model.encoder.d_model'), 'line 3');
  assert.equal(sources.describe('model.encoder.att[1]'), 'line 4');
  assert.equal(sources.describe('model.encoder.nothing'), 'line 2');
});

test('syntax errors name the file and line; duplicate keys are refused', () => {
  assert.throws(
    () => parseYamlConfig('model:\n  a: [1, 2\n  b: 3\n', 'bad.yaml'),
    (e: unknown) => e instanceof ConfigError && /^bad\.yaml: .*invalid YAML/.test(e.message) && /line \d+/.test(e.message),
  );
  assert.throws(() => parseYamlConfig('a: 1\na: 2\n', 'dup.yaml'), /dup\.yaml: .*line 2/);
  assert.throws(() => parseYamlConfig('- 1\n- 2\n', 'list.yaml'), /list\.yaml: the top level of a configuration must be a mapping/);
});
