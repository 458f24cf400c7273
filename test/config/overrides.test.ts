import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, type ConfigSourceMap, applyOverrides, parseOverride, parseYamlConfig } from '../../src/config/index.js';
import type { ConfigMap } from '../../src/config/index.js';

const BASE = `model:
  sample_rate: 16000
  encoder:
    d_model: 512
    att_context_size: [-1, -1]
  optim:
    sched:
      warmup_steps: 25000
trainer:
  devices: -1
  strategy: ddp
`;

function apply(overrides: string[]): ConfigMap {
  const doc = parseYamlConfig(BASE, 'base.yaml');
  return applyOverrides(doc.tree, overrides, { file: 'base.yaml', sources: doc.sources });
}

function applyError(overrides: string[]): ConfigError {
  try {
    apply(overrides);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  assert.fail('expected a ConfigError');
}

const enc = (t: ConfigMap) => (t.model as ConfigMap).encoder as ConfigMap;

test('values are parsed as YAML: numbers, floats, bools, null, text', () => {
  assert.equal(parseOverride('a=3').value, 3);
  assert.equal(parseOverride('a=1e-3').value, 0.001);
  assert.equal(parseOverride('a=0.25').value, 0.25);
  assert.equal(parseOverride('a=true').value, true);
  assert.equal(parseOverride('a=null').value, null);
  assert.equal(parseOverride('a=bf16').value, 'bf16');
  assert.equal(parseOverride("a='16'").value, '16');
  assert.equal(parseOverride('a=').value, '');
  assert.equal(parseOverride('a=x=y').value, 'x=y');
});

test('set: changes an existing key, leaving the input untouched', () => {
  const doc = parseYamlConfig(BASE, 'base.yaml');
  const t = applyOverrides(doc.tree, ['model.encoder.d_model=256', 'trainer.devices=1'], { file: 'base.yaml' });
  assert.equal(enc(t).d_model, 256);
  assert.equal((t.trainer as ConfigMap).devices, 1);
  assert.equal(((doc.tree.model as ConfigMap).encoder as ConfigMap).d_model, 512);
});

test('list values, nested lists and list elements', () => {
  assert.deepEqual(enc(apply(['model.encoder.att_context_size=[-1,4]'])).att_context_size, [-1, 4]);
  assert.deepEqual(enc(apply(['model.encoder.att_context_size=[[-1,0],[-1,4]]'])).att_context_size, [
    [-1, 0],
    [-1, 4],
  ]);
  assert.deepEqual(enc(apply(['model.encoder.att_context_size[1]=0'])).att_context_size, [-1, 0]);
  assert.deepEqual(enc(apply(['model.encoder.att_context_size.0=320'])).att_context_size, [320, -1]);
});

test('+ adds a new key, creating missing parents', () => {
  const t = apply(['+model.masking.causal=true', '+model.encoder.conv_context_size=causal']);
  assert.deepEqual(t.model && (t.model as ConfigMap).masking, { causal: true });
  assert.equal(enc(t).conv_context_size, 'causal');
});

test('+ refuses a key that exists; ++ sets either way', () => {
  assert.match(applyError(['+model.encoder.d_model=3']).message, /already exists.*'\+\+model\.encoder\.d_model=\.\.\.'/);
  assert.equal(enc(apply(['++model.encoder.d_model=3'])).d_model, 3);
  assert.equal(enc(apply(['++model.encoder.n_heads=2'])).n_heads, 2);
});

test('~ deletes a key (optionally only if it has the given value)', () => {
  const t = apply(['~trainer.strategy']);
  assert.deepEqual(t.trainer, { devices: -1 });
  assert.deepEqual(apply(['~trainer.strategy=ddp']).trainer, { devices: -1 });
  assert.match(applyError(['~trainer.strategy=fsdp']).message, /not deleted/);
  assert.match(applyError(['~trainer.stratgy']).message, /did you mean 'trainer\.strategy'/);
});

test('an unknown key without + is refused with the closest valid key', () => {
  const e = applyError(['model.encodr.d_model=256']);
  assert.match(e.message, /^base\.yaml: model\.encodr\.d_model \(override 'model\.encodr\.d_model=256'\)/);
  assert.match(e.message, /did you mean 'model\.encoder\.d_model'\?/);
  assert.match(e.message, /'\+model\.encodr\.d_model=\.\.\.'/);
  assert.match(applyError(['model.d_model=256']).message, /did you mean 'model\.encoder\.d_model'/);
  assert.match(applyError(['model.optim.sched.warmup_step=10']).message, /did you mean 'model\.optim\.sched\.warmup_steps'/);
  assert.match(applyError(['trainer.devices.x=1']).message, /trainer\.devices\.x .*unknown key/);
});

test('malformed overrides are refused', () => {
  assert.throws(() => parseOverride('model.encoder.d_model'), /expected key=value/);
  assert.throws(() => parseOverride('=3'), /not a valid key path/);
  assert.throws(() => parseOverride('a=[1,'), /cannot parse the value/);
});

test('overridden values are recorded as coming from the override', () => {
  const doc = parseYamlConfig(BASE, 'base.yaml');
  const sources: ConfigSourceMap = doc.sources.clone();
  applyOverrides(doc.tree, ['model.encoder.d_model=8'], { file: 'base.yaml', sources });
  assert.equal(sources.describe('model.encoder.d_model'), "override 'model.encoder.d_model=8'");
  assert.equal(sources.describe('model.sample_rate'), 'line 2');
  assert.equal(sources.describe('model.encoder.att_context_size[1]'), 'line 5');
});
