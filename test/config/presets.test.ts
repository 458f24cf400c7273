import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIGS_DIR, ConfigError, convContextOf, listPresets, loadConfig, loadConfigTree, resolveConfigSource } from '../../src/config/index.js';
import type { NestConfig } from '../../src/config/index.js';
import { REPO_ROOT } from '../helpers/assert.js';

const MANIFESTS = ['model.train_ds.manifest_filepath=train.json', 'model.validation_ds.manifest_filepath=val.json'];

function expectStreamingSafe(c: NestConfig): void {
  const m = c.model;
  assert.equal(c.streaming, true);
  assert.equal(m.masking.causal, true);
  assert.equal(m.encoder.causal_downsampling, true);
  assert.equal(m.encoder.conv_context_size, 'causal');
  assert.equal(m.encoder.conv_norm_type, 'layer_norm');
  assert.equal(m.preprocessor.normalize, 'NA');
  assert.deepEqual(convContextOf(m.encoder), [m.encoder.conv_kernel_size - 1, 0]);
}

test('configs/ is found from the module location', () => {
  assert.equal(CONFIGS_DIR, join(REPO_ROOT, 'configs'));
  for (const name of ['tiny', 'nest_fast-conformer', 'streaming', 'lookahead', 'limited_context']) {
    assert.ok(listPresets().includes(name), name);
  }
});

test('preset names, aliases and paths resolve to files', () => {
  assert.equal(resolveConfigSource('tiny'), join(CONFIGS_DIR, 'tiny.yaml'));
  assert.equal(resolveConfigSource('streaming'), join(CONFIGS_DIR, 'nest_fast-conformer_streaming.yaml'));
  assert.equal(resolveConfigSource('nest_fast-conformer_lookahead'), join(CONFIGS_DIR, 'nest_fast-conformer_lookahead.yaml'));
  assert.equal(resolveConfigSource('configs/tiny.yaml', REPO_ROOT), join(REPO_ROOT, 'configs', 'tiny.yaml'));
  assert.throws(
    () => resolveConfigSource('tinny'),
    (e: unknown) => e instanceof ConfigError && /did you mean 'tiny'\?/.test(e.message),
  );
  assert.throws(() => resolveConfigSource('nowhere/x.yaml'), /configuration file not found/);
});

test("NeMo's recipe file is NeMo's YAML below a header, and loads", () => {
  const text = readFileSync(join(CONFIGS_DIR, 'nest_fast-conformer.yaml'), 'utf8');
  assert.match(text, /8cfedd7203462cb251a914e700e5605444277561/);
  assert.match(text, /Apache/);
  assert.match(text, /\n# This config contains the default values for self-supervised pre-training of a FastConformer model\n/);
  const { config, raw } = loadConfig('nest_fast-conformer', MANIFESTS);
  assert.equal(config.model.encoder.d_model, 512);
  assert.equal(((raw.model as Record<string, unknown>).quantizer as Record<string, unknown>).combine_time_steps, 8);
});

test('the streaming variants load, are streaming-safe and differ only as declared', () => {
  const s = loadConfig('streaming', MANIFESTS).config;
  expectStreamingSafe(s);
  assert.deepEqual(s.model.encoder.att_context_size, [[-1, 0]]);
  assert.equal(s.model.masking.left_context_size, -1);
  assert.equal(s.model.encoder.d_model, 512);

  const l = loadConfig('lookahead', MANIFESTS).config;
  expectStreamingSafe(l);
  assert.deepEqual(l.model.encoder.att_context_size, [[-1, 4]]);
  assert.equal(l.model.encoder.att_context_style, 'chunked_limited');

  const c = loadConfig('limited_context', MANIFESTS).config;
  expectStreamingSafe(c);
  assert.deepEqual(c.model.encoder.att_context_size, [[320, 0]]);
  assert.equal(c.model.masking.left_context_size, 320);
});

test('the tiny preset loads without overrides and is small and streaming-safe', () => {
  const { config, warnings } = loadConfig('tiny');
  expectStreamingSafe(config);
  const { model, trainer, exp_manager } = config;
  assert.deepEqual([model.encoder.d_model, model.encoder.n_layers, model.encoder.n_heads], [64, 2, 2]);
  assert.deepEqual([model.encoder.subsampling, model.encoder.subsampling_factor, model.encoder.subsampling_conv_channels], ['dw_striding', 8, 32]);
  assert.deepEqual(model.encoder.att_context_size, [[-1, 0]]);
  assert.ok(model.quantizer.num_classes <= 256);
  assert.equal(model.decoder.num_classes, model.quantizer.num_classes);
  assert.equal(model.train_ds.manifest_filepath, 'data/corpus/train_manifest.json');
  assert.equal(model.validation_ds?.manifest_filepath, 'data/corpus/val_manifest.json');
  assert.equal(model.train_ds.noise_manifest, 'data/corpus/noise_manifest.json');
  assert.deepEqual(model.validation_ds?.batch_augmentor, model.train_ds.batch_augmentor);
  assert.ok(trainer.max_steps > 0 && trainer.max_steps <= 500);
  assert.equal(exp_manager.exp_dir, 'exp');
  assert.equal(exp_manager.name, 'SSL-NEST-FastConformer-Tiny');
  // every key of tiny is honoured: no remark
  assert.deepEqual(warnings, []);
  assert.equal(config.exp_manager.create_tensorboard_logger, false);
});

test('the tiny_multilatency preset is tiny with chunked_limited dynamic chunk training: three look-aheads, one left context', () => {
  assert.ok(listPresets().includes('tiny_multilatency'));
  assert.equal(resolveConfigSource('tiny_multilatency'), join(CONFIGS_DIR, 'tiny_multilatency.yaml'));
  const { config, warnings } = loadConfig('tiny_multilatency');
  assert.deepEqual(warnings, []);
  expectStreamingSafe(config);
  const e = config.model.encoder;
  assert.equal(e.att_context_style, 'chunked_limited');
  assert.deepEqual(e.att_context_size, [
    [20, 0],
    [20, 1],
    [20, 4],
  ]);
  const frameMs = Math.round((config.model.preprocessor.window_stride ?? 0.01) * 1000) * e.subsampling_factor;
  assert.deepEqual(
    e.att_context_size.map(([, right]) => right * frameMs),
    [0, 80, 320],
    'look-ahead 0, 80 and 320 ms',
  );
  assert.equal(new Set(e.att_context_size.map(([left]) => left)).size, 1, 'one shared left context');
  assert.equal(e.att_context_from_chunks, true);
  // everything else is tiny's
  const tiny = loadConfig('tiny').config;
  const strip = (c: NestConfig): unknown => ({
    ...c,
    name: '',
    exp_manager: { ...c.exp_manager, name: '' },
    model: { ...c.model, encoder: { ...c.model.encoder, att_context_size: [], att_context_probs: [], att_context_style: '', att_context_from_chunks: false } },
  });
  assert.deepEqual(strip(config), strip(tiny));
});

test('loadConfig applies overrides before interpolation and validation', () => {
  const { config } = loadConfig('tiny', ['model.sample_rate=8000', 'model.encoder.d_model=32', 'trainer.max_steps=5']);
  assert.equal(config.model.train_ds.sample_rate, 8000);
  assert.equal(config.model.preprocessor.sample_rate, 8000);
  assert.equal(config.model.decoder.feat_in, 32);
  assert.equal(config.model.optim.sched?.d_model, 32);
  assert.equal(config.trainer.max_steps, 5);
  assert.throws(() => loadConfig('tiny', ['model.encoder.d_modle=32']), /did you mean 'model\.encoder\.d_model'/);
  assert.throws(
    () => loadConfig('tiny', ['model.encoder.d_model=big']),
    (e: unknown) => e instanceof ConfigError && e.file.endsWith('tiny.yaml') && /model\.encoder\.d_model \(override/.test(e.message),
  );
  const tree = loadConfigTree('nest_fast-conformer');
  assert.equal((tree.model as Record<string, Record<string, unknown>>).train_ds!.manifest_filepath, '???');
});
