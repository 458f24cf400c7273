// Dynamic chunk training keys (model.encoder.att_chunk_sizes / att_left_context): their expansion into NeMo's
// att_context_size pair list, their refusals (each naming its key), and the stored model_config.yaml, whose encoder
// section holds the pair list and only arguments of NeMo's ConformerEncoder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { ConfigError, DYNAMIC_CHUNK_KEYS, ENCODER_KEYS, dynamicChunkPairs, loadConfig, nemoEncoderSection, tableKeys } from '../../src/config/index.js';
import type { ConfigMap } from '../../src/config/index.js';
import { modelConfigYaml } from '../../src/train/nest-pretraining.js';
import { NEMO_CONFORMER_ENCODER_ARGS, unknownToNemo } from '../helpers/nemo-encoder-args.js';

function issues(overrides: string[]): { path: string; message: string }[] {
  try {
    loadConfig('tiny_multilatency', overrides);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.issues.map((i) => ({ path: i.path, message: i.message }));
  }
  assert.fail(`expected a ConfigError for ${overrides.join(' ')}`);
}

test("the encoder key table is NeMo's ConformerEncoder arguments plus _target_ and the dynamic-chunk keys", () => {
  assert.deepEqual(
    tableKeys(ENCODER_KEYS).sort(),
    [...NEMO_CONFORMER_ENCODER_ARGS, '_target_', ...DYNAMIC_CHUNK_KEYS].sort(),
    'a key NeMo does not have (or lacks one it has) would break or miss NeMo loading',
  );
  for (const k of DYNAMIC_CHUNK_KEYS) assert.ok(!NEMO_CONFORMER_ENCODER_ARGS.includes(k), k);
});

test('att_chunk_sizes x att_left_context expand into [left, chunk - 1] pairs, left contexts outer, uniformly drawn', () => {
  assert.deepEqual(dynamicChunkPairs([1, 2, 5], [20]), [
    [20, 0],
    [20, 1],
    [20, 4],
  ]);
  assert.deepEqual(dynamicChunkPairs([1, 4], [8, -1]), [
    [8, 0],
    [8, 3],
    [-1, 0],
    [-1, 3],
  ]);
  // the preset's own pairs are checked in presets.test.ts; here: drawn uniformly
  assert.deepEqual(loadConfig('tiny_multilatency').config.model.encoder.att_context_probs, [1 / 3, 1 / 3, 1 / 3]);
  // a list of left contexts, and the default left context (-1 = unlimited) when att_left_context is absent
  const two = loadConfig('tiny_multilatency', ['model.encoder.att_chunk_sizes=[2,4]', 'model.encoder.att_left_context=[8,-1]']).config.model.encoder;
  assert.deepEqual(two.att_context_size, [
    [8, 1],
    [8, 3],
    [-1, 1],
    [-1, 3],
  ]);
  assert.deepEqual(two.att_context_probs, [0.25, 0.25, 0.25, 0.25]);
  const unlimited = loadConfig('tiny_multilatency', ['~model.encoder.att_left_context', 'model.encoder.att_chunk_sizes=3']).config.model.encoder;
  assert.deepEqual(unlimited.att_context_size, [[-1, 2]]);
  // null chunk sizes: NeMo's own att_context_size applies
  const nemo = loadConfig('tiny_multilatency', [
    'model.encoder.att_chunk_sizes=null',
    'model.encoder.att_left_context=null',
    '+model.encoder.att_context_size=[[16,0],[16,3]]',
  ]).config.model.encoder;
  assert.deepEqual(nemo.att_context_size, [
    [16, 0],
    [16, 3],
  ]);
});

test('dynamic-chunk refusals name the key and say what to do', () => {
  const one = (overrides: string[], path: string, re: RegExp): void => {
    const got = issues(overrides);
    assert.equal(got.length, 1, JSON.stringify(got));
    assert.equal(got[0]!.path, path, JSON.stringify(got));
    assert.match(got[0]!.message, re);
  };
  one(['model.encoder.att_left_context=25'], 'model.encoder.att_left_context', /25 is not a multiple of chunk size 2 .*use a multiple of 10, e\.g\. 30/);
  one(['model.encoder.att_left_context=[20,15]'], 'model.encoder.att_left_context', /15 is not a multiple of chunk size 2/);
  one(['model.encoder.att_context_style=regular'], 'model.encoder.att_chunk_sizes', /needs att_context_style: chunked_limited.*got 'regular'/);
  one(['+model.encoder.att_context_size=[[20,0],[20,1]]'], 'model.encoder.att_context_size', /either att_context_size .* or att_chunk_sizes .*not both/);
  one(['+model.encoder.att_context_size=[-1,0]'], 'model.encoder.att_context_size', /not both/);
  one(
    ['+model.encoder.att_context_probs=[0.5,0.25,0.25]'],
    'model.encoder.att_context_probs',
    /uniformly; for other probabilities list the pairs in att_context_size/,
  );
  one(['model.encoder.att_chunk_sizes=[1,2,2]'], 'model.encoder.att_chunk_sizes', /lists 2 twice/);
  one(['model.encoder.att_chunk_sizes=[0,2]'], 'model.encoder.att_chunk_sizes', /chunk sizes in encoder frames \(integers >= 1/);
  one(['model.encoder.att_chunk_sizes=[]'], 'model.encoder.att_chunk_sizes', /expected a list of chunk sizes/);
  one(['model.encoder.att_left_context=-2'], 'model.encoder.att_left_context', /-1 = unlimited/);
  one(['model.encoder.att_chunk_sizes=null', '+model.encoder.att_context_size=[-1,0]'], 'model.encoder.att_left_context', /set att_chunk_sizes too/);
  // an explicit null att_context_size is no conflict
  assert.ok(loadConfig('tiny_multilatency', ['+model.encoder.att_context_size=null']));
});

test("the stored model_config.yaml's encoder holds the expanded pair list and only NeMo's ConformerEncoder arguments", () => {
  const { raw } = loadConfig('tiny_multilatency');
  const rawEncoder = (raw.model as ConfigMap).encoder as ConfigMap;
  assert.ok('att_chunk_sizes' in rawEncoder, 'the resolved tree still has the streamnest keys');
  const stored = parse(modelConfigYaml(raw)) as Record<string, Record<string, unknown>>;
  const enc = stored.encoder!;
  assert.deepEqual(enc.att_context_size, [
    [20, 0],
    [20, 1],
    [20, 4],
  ]);
  assert.equal(enc.att_context_probs, undefined, 'uniform: NeMo null (absent)');
  assert.equal(enc.att_context_style, 'chunked_limited');
  assert.deepEqual(unknownToNemo(enc), []);
  // the pair list sits where att_chunk_sizes was; the rest of the section is unchanged
  const keys = Object.keys(enc);
  assert.equal(keys.indexOf('att_context_size'), keys.indexOf('att_context_style') + 1);
  const { att_chunk_sizes: _c, att_left_context: _l, ...others } = rawEncoder;
  const { att_context_size: _p, ...storedOthers } = enc;
  assert.deepEqual(storedOthers, others);
  // read back as a stored model's config, it gives the same encoder
  const again = loadConfig('tiny', [
    'model.encoder.att_context_style=chunked_limited',
    `model.encoder.att_context_size=${JSON.stringify(enc.att_context_size)}`,
  ]);
  assert.deepEqual(again.config.model.encoder.att_context_size, loadConfig('tiny_multilatency').config.model.encoder.att_context_size);
  // a section without the keys is returned as it is; null keys are dropped
  const plain = (loadConfig('tiny').raw.model as ConfigMap).encoder as ConfigMap;
  assert.equal(nemoEncoderSection(plain), plain);
  assert.deepEqual(nemoEncoderSection({ ...plain, att_chunk_sizes: null, att_left_context: null }), plain);
  // every shipped NEST preset stores an encoder NeMo accepts
  for (const name of ['tiny', 'streaming', 'lookahead', 'limited_context', 'nest_fast-conformer']) {
    const s = parse(modelConfigYaml(loadConfig(name, ['model.train_ds.manifest_filepath=t.json', 'model.validation_ds.manifest_filepath=v.json']).raw));
    assert.deepEqual(unknownToNemo((s as Record<string, Record<string, unknown>>).encoder!), [], name);
  }
});
