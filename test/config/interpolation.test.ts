import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseYamlConfig, resolveInterpolations } from '../../src/config/index.js';
import type { ConfigMap } from '../../src/config/index.js';

function resolve(yamlText: string, env: Record<string, string> = {}): ConfigMap {
  const doc = parseYamlConfig(yamlText, 'test.yaml');
  return resolveInterpolations(doc.tree, { file: 'test.yaml', sources: doc.sources, env });
}

function resolveError(yamlText: string): ConfigError {
  try {
    resolve(yamlText);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  assert.fail('expected a ConfigError');
}

test('absolute references keep the referenced type', () => {
  const r = resolve('model:\n  sample_rate: 16000\n  ds:\n    sample_rate: ${model.sample_rate}\n    pair: ${model.p}\n  p: [-1, 4]\n');
  assert.deepEqual(r, { model: { sample_rate: 16000, ds: { sample_rate: 16000, pair: [-1, 4] }, p: [-1, 4] } });
});

test('chained references resolve in any order', () => {
  const r = resolve('a: ${b}\nb: ${c.d}\nc:\n  d: 3\n');
  assert.equal(r.a, 3);
});

test('relative references: . is the enclosing mapping, each further dot one level up', () => {
  const r = resolve('model:\n  x: 1\n  enc:\n    y: 2\n    same: ${.y}\n    up: ${..x}\n    top: ${...name}\nname: n\n');
  assert.deepEqual(r.model, { x: 1, enc: { y: 2, same: 2, up: 1, top: 'n' } });
});

test('list elements by index, both spellings', () => {
  const r = resolve('a: [10, 20]\nb: ${a[1]}\nc: ${a.0}\n');
  assert.equal(r.b, 20);
  assert.equal(r.c, 10);
});

test("string interpolation: NeMo's checkpoint filename pattern", () => {
  const r = resolve("name: SSL\nexp:\n  cb:\n    monitor: val_loss\n    filename: '${name}--{${exp.cb.monitor}:.3f}-{step}'\n");
  assert.equal((r.exp as ConfigMap).cb && ((r.exp as ConfigMap).cb as ConfigMap).filename, 'SSL--{val_loss:.3f}-{step}');
});

test('escaped interpolation stays literal; environment resolver', () => {
  const r = resolve("a: '\\${x}'\nb: ${oc.env:HOME_DIR}\nc: ${oc.env:NOPE,fallback}\n", { HOME_DIR: '/h' });
  assert.equal(r.a, '${x}');
  assert.equal(r.b, '/h');
  assert.equal(r.c, 'fallback');
});

test('a reference to a ??? value stays ??? (reported later by validation)', () => {
  const r = resolve('a: ???\nb: ${a}\n');
  assert.equal(r.b, '???');
});

test('a cycle is a clear error naming the chain', () => {
  const e = resolveError('a: ${b}\nb: ${c}\nc: ${a}\n');
  assert.match(e.message, /interpolation cycle: a -> b -> c -> a/);
  assert.match(e.message, /test\.yaml/);
  assert.match(e.message, /line 1/);
});

test('a self-reference through a container is a cycle', () => {
  const e = resolveError('a:\n  b: ${a}\n');
  assert.match(e.message, /interpolation cycle/);
});

test('a missing key is reported with the referencing path, its line and a suggestion', () => {
  const e = resolveError('model:\n  sample_rate: 16000\n  ds:\n    sample_rate: ${model.sample_rte}\n');
  assert.match(e.message, /model\.ds\.sample_rate \(line 4\)/);
  assert.match(e.message, /key 'model\.sample_rte' does not exist \(did you mean 'model\.sample_rate'\?\)/);
});

test('unsupported resolvers are refused by name', () => {
  const e = resolveError('a: ${oc.select:b}\nb: 1\n');
  assert.match(e.message, /resolver 'oc.select' is not supported/);
});
