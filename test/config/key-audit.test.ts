// Every key of every section is honoured, refused with its reason (only for values that are not inert), or
// reported once per section as having no effect; every shipped preset still loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import {
  ConfigError,
  KEY_TABLES,
  keyStatus,
  listPresets,
  loadConfig,
  readYamlConfigFile,
  resolveConfigSource,
  tableKeys,
  validateNestConfig,
} from '../../src/config/index.js';
import type { ConfigMap, KeyTable } from '../../src/config/index.js';
import { REFUSED_SAMPLES } from '../helpers/refused-samples.js';

const MANIFESTS = ['model.train_ds.manifest_filepath=train.json', 'model.validation_ds.manifest_filepath=val.json'];

/** `section.key` (a top-level key has no section prefix). */
const at = (section: string, key: string): string => (section === '' ? key : `${section}.${key}`);
const where = (section: string): string => section || 'top level';

const TINY_WARNINGS = loadConfig('tiny').warnings;

function configError(overrides: string[]): ConfigError {
  try {
    loadConfig('tiny', overrides);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  assert.fail(`expected a ConfigError for ${overrides.join(' ')}`);
}

/** Every table's refused (or no-effect) entries, each with its table's first section. */
const withSection = <E>(pick: (t: KeyTable) => Readonly<Record<string, E>>): { section: string; key: string; entry: E }[] =>
  KEY_TABLES.flatMap((t) => Object.entries(pick(t)).map(([key, entry]) => ({ section: t.paths[0] ?? '', key, entry })));
const REFUSED = withSection((t) => t.refused);
const NO_EFFECT = withSection((t) => t.noEffect);

test('every key of every section has exactly one status, and every section has a table', () => {
  const sections = KEY_TABLES.flatMap((t) => t.paths);
  for (const s of [
    '',
    'model',
    'model.train_ds',
    'model.validation_ds',
    'model.train_ds.batch_augmentor',
    'model.preprocessor',
    'model.masking',
    'model.quantizer',
    'model.encoder',
    'model.decoder',
    'model.loss',
    'model.optim',
    'model.optim.sched',
    'trainer',
    'exp_manager',
    'exp_manager.checkpoint_callback_params',
  ]) {
    assert.ok(sections.includes(s), `no key table for '${s}'`);
  }
  assert.equal(new Set(sections).size, sections.length, 'a section has two tables');
  for (const table of KEY_TABLES) {
    const section = table.paths[0] ?? '';
    const keys = tableKeys(table);
    assert.equal(new Set(keys).size, keys.length, `${section}: a key has more than one status`);
    for (const key of keys) assert.ok(['honoured', 'refused', 'noEffect'].includes(keyStatus(table, key) ?? 'none'), at(section, key));
  }
  for (const { section, key, entry } of REFUSED) {
    assert.ok(entry.reason.length > 10 && entry.accepted.length > 0, at(section, key));
    assert.equal(entry.inert(null), entry.accepted.includes('null'), `${at(section, key)}: 'accepted' must say whether null is inert`);
  }
  for (const { section, key, entry } of NO_EFFECT) assert.ok(entry.reason.length > 10, at(section, key));
});

test('a refused key with a value that is not inert is a ConfigError naming the key and the reason; its inert value loads', () => {
  assert.deepEqual(
    REFUSED.map((r) => at(r.section, r.key)).sort(),
    Object.keys(REFUSED_SAMPLES).sort(),
    'every refused key needs a sample here (and every sample a refused key)',
  );
  for (const { section, key, entry } of REFUSED) {
    const path = at(section, key);
    const sample = REFUSED_SAMPLES[path];
    assert.ok(sample, path);
    const reason = entry.reason;
    const e = configError([`++${path}=${sample.refused}`]);
    const issue = e.issues.find((i) => i.path === path);
    assert.ok(issue, `${path}=${sample.refused}: no problem at ${path}: ${e.message}`);
    assert.ok(issue.message.startsWith(reason), `${path}: ${issue.message}`);
    assert.match(issue.message, /accepted: /);
    assert.equal(e.issues.length, 1, e.message);
    // any other value that is not inert is refused too (a string stands for one here)
    assert.ok(
      configError([`++${path}=zz_not_inert`]).issues.some((i) => i.path === path),
      `${path}=zz_not_inert`,
    );

    assert.deepEqual(loadConfig('tiny', [`++${path}=${sample.inert}`]).warnings, TINY_WARNINGS, `${path}=${sample.inert}`);
    if (entry.inert(null)) assert.deepEqual(loadConfig('tiny', [`++${path}=null`]).warnings, TINY_WARNINGS, `${path}=null`);
    else
      assert.ok(
        configError([`++${path}=null`]).issues.some((i) => i.path === path),
        `${path}=null`,
      );
  }
});

test("the brief's examples: tarred data and mixed precision name the key, the reason and the inert values", () => {
  // tarred datasets are read (issue #20); a tarred dataset without shards, or bucketed shards, are refused by key
  assert.ok(loadConfig('tiny', ['++model.train_ds.is_tarred=true', '++model.train_ds.tarred_audio_filepaths=/d/audio_{0..3}.tar']));
  const noShards = configError(['++model.train_ds.is_tarred=true']);
  assert.deepEqual(
    noShards.issues.map((i) => i.path),
    ['model.train_ds.tarred_audio_filepaths'],
  );
  // bucketed shards (issue #20) load with one manifest list per bucket; a mismatch names manifest_filepath
  const bucketed = ['++model.train_ds.is_tarred=true', '++model.train_ds.tarred_audio_filepaths=[[/d/b1/a.tar],[/d/b2/a.tar]]'];
  assert.ok(loadConfig('tiny', [...bucketed, 'model.train_ds.manifest_filepath=[[/d/b1/m.json],[/d/b2/m.json]]']));
  const buckets = configError(bucketed);
  assert.match(buckets.message, /model\.train_ds\.manifest_filepath.*1 bucket of manifests for the 2 buckets of shards in tarred_audio_filepaths/);
  // mixed precision (issue #16): bf16-mixed is built (Lightning 1.x's 'bf16' means it too); float16 needs CUDA and is refused
  const fp16 = configError(['trainer.precision=16-mixed']);
  assert.match(
    fp16.message,
    /trainer\.precision .*float16 mixed precision needs CUDA autocast with a dynamic gradient scaler.*use bf16-mixed \(got "16-mixed" \(text\); accepted: 32, '32-true', 'bf16-mixed', or 'bf16' which means bf16-mixed\)/,
  );
  assert.match(configError(['trainer.precision=bf16-true']).message, /trainer\.precision .*16-bit weights and optimizer state are not implemented/);
  for (const p of ['32', "'32'", '32-true']) assert.equal(loadConfig('tiny', [`trainer.precision=${p}`]).config.trainer.precision, '32-true');
  for (const p of ['bf16-mixed', 'bf16']) assert.equal(loadConfig('tiny', [`trainer.precision=${p}`]).config.trainer.precision, 'bf16-mixed');
  // NeMo's own recipe values for the tarred keys are inert when is_tarred is false
  const { warnings } = loadConfig('nest_fast-conformer', MANIFESTS);
  assert.ok(!warnings.some((w) => /is_tarred|tarred_audio_filepaths|bucketing_batch_size/.test(w)), warnings.join('\n'));
  // every refusal is reported at once, each with its path
  const all = configError(['++trainer.max_time=01:00:00', '++exp_manager.create_early_stopping_callback=true', '++model.optim.sched.hold_ratio=0.1']);
  assert.deepEqual(all.issues.map((i) => i.path).sort(), ['exp_manager.create_early_stopping_callback', 'model.optim.sched.hold_ratio', 'trainer.max_time']);
});

test('a key with no effect is reported in one warning line per section; its streamnest-like value is not', () => {
  const { warnings } = loadConfig('tiny', ['++model.train_ds.pin_memory=true', '++model.train_ds.shuffle_n=2048', '++model.train_ds.return_sample_id=true']);
  const lines = warnings.filter((w) => w.startsWith('model.train_ds:'));
  assert.deepEqual(lines, [
    'model.train_ds: has no effect in streamnest: pin_memory (data loading speed only); return_sample_id (batches carry no sample ids)',
  ]);
  assert.ok(!warnings.some((w) => w.includes('accepted for NeMo compatibility')));
  // values that are what streamnest does anyway are not reported
  const quiet = loadConfig('tiny', [
    '++trainer.enable_progress_bar=true',
    '++trainer.logger=false',
    '++trainer.num_sanity_val_steps=0',
    '++exp_manager.create_wandb_logger=false',
  ]);
  assert.ok(!quiet.warnings.some((w) => w.startsWith('trainer:')), quiet.warnings.join('\n'));
  assert.ok(!quiet.warnings.some((w) => w.includes('create_wandb_logger')), quiet.warnings.join('\n'));
  const loud = loadConfig('tiny', ['++trainer.num_sanity_val_steps=2', '++exp_manager.create_wandb_logger=true']);
  assert.ok(
    loud.warnings.includes('trainer: has no effect in streamnest: num_sanity_val_steps (no sanity validation runs before training; training is the same)'),
    loud.warnings.join('\n'),
  );
  assert.ok(loud.warnings.some((w) => w.startsWith('exp_manager: has no effect in streamnest:') && w.includes('create_wandb_logger (no such logger')));
});

test("every no-effect key, set to a value streamnest does not mimic, is named in its section's one warning line with its reason", () => {
  for (const { section, key, entry } of NO_EFFECT) {
    const path = at(section, key);
    const { warnings } = loadConfig('tiny', [`++${path}=zz_not_inert`]);
    const lines = warnings.filter((w) => w.startsWith(`${where(section)}: has no effect in streamnest: `));
    assert.equal(lines.length, 1, `${path}: ${warnings.join('\n')}`);
    const [line = ''] = lines;
    assert.ok(line.includes(key) && line.includes(`(${entry.reason})`), `${path}: ${line}`);
  }
});

test('a typo of a refused or no-effect key is an error naming the key it resembles', () => {
  assert.match(configError(['++model.train_ds.is_tared=true']).message, /model\.train_ds\.is_tared .*did you mean 'is_tarred'\?/);
  assert.match(configError(['++trainer.limit_train_batch=0.5']).message, /did you mean 'limit_train_batches'\?/);
});

test("a stored model's configuration (not training) reports refused training settings instead of refusing them", () => {
  const file = resolveConfigSource('tiny');
  const doc = readYamlConfigFile(file);
  const tree = structuredClone(doc.tree) as ConfigMap;
  const model = tree.model as ConfigMap;
  (model.train_ds as ConfigMap).trim_silence = true;
  (model.optim as ConfigMap).amsgrad = true;
  const { warnings } = validateNestConfig(tree, { file });
  assert.ok(
    warnings.some((w) => w.startsWith("model.train_ds: refused for training, accepted in a stored model's configuration: trim_silence (silence trimming")),
    warnings.join('\n'),
  );
  assert.ok(warnings.some((w) => w.startsWith('model.optim: refused for training') && w.includes('amsgrad')));
  assert.throws(
    () => validateNestConfig(tree, { file, training: true }),
    (e: unknown) => e instanceof ConfigError && e.issues.length === 2,
  );
  // the model's own sections are refused either way
  (model.encoder as ConfigMap).reduction = 'pooling';
  assert.throws(
    () => validateNestConfig(tree, { file }),
    (e: unknown) => e instanceof ConfigError && /model\.encoder\.reduction/.test(e.message),
  );
});

test('every shipped preset loads, with no unknown keys and nothing refused (the CTC and RNN-T presets through their own loader)', async () => {
  const presets = listPresets();
  assert.ok(presets.length >= 6, presets.join(', '));
  for (const name of presets) {
    if (/^(ctc|rnnt|hybrid|diar)_/.test(name)) continue; // the diarizer presets: test/config/diarizer-config.test.ts
    const { warnings } = loadConfig(name, MANIFESTS);
    assert.ok(!warnings.some((w) => /unknown key|refused/.test(w)), `${name}: ${warnings.join('\n')}`);
  }
  const ctc = presets.filter((n) => /^(ctc|rnnt|hybrid)_/.test(n));
  assert.ok(ctc.includes('ctc_tiny'));
  const { loadFinetuneConfig } = await import('../../src/train/ctc-finetuning.js');
  const initModel = stringify(loadConfig('tiny').raw.model);
  for (const name of ctc) {
    const loaded = loadFinetuneConfig(name, initModel, []);
    assert.equal((loaded.tree.model as ConfigMap).encoder !== null, true, name);
    assert.ok(loaded.config.trainer.max_steps > 0, name);
  }
  // fine-tuning trains in float32: another precision is refused, not ignored
  assert.throws(() => loadFinetuneConfig('ctc_tiny', initModel, ['trainer.precision=bf16-mixed']), /trainer\.precision .*: fine-tuning trains in float32/);
  assert.equal(loadFinetuneConfig('ctc_tiny', initModel, ['trainer.precision=32']).config.trainer.max_steps > 0, true);
});
