// The fine-tuning configuration's key tables (FINETUNE_KEY_TABLES, src/config/schema/finetune.ts), audited as
// key-audit.test.ts audits the NEST training config's, through the loader `streamnest finetune` uses: every key has
// one status, every refused key's non-inert value is a ConfigError naming the key and the reason while its inert value
// loads without a warning, no-effect keys are named in one warning line, and what fine-tuning does not run (several
// processes, bf16, noise mixing, an endless run) is refused, not ignored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { ConfigError, FINETUNE_KEY_TABLES, keyStatus, loadConfig, tableKeys } from '../../src/config/index.js';
import { loadFinetuneConfig, type LoadedFinetuneConfig } from '../../src/train/asr-finetuning.js';
import { REFUSED_SAMPLES as NEST_SAMPLES } from '../helpers/refused-samples.js';

const INIT_MODEL = stringify(loadConfig('tiny').raw.model);
const load = (overrides: string[], preset = 'ctc_tiny'): LoadedFinetuneConfig => loadFinetuneConfig(preset, INIT_MODEL, overrides);

function configError(overrides: string[], preset = 'ctc_tiny'): ConfigError {
  try {
    load(overrides, preset);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  assert.fail(`expected a ConfigError for ${overrides.join(' ')}`);
}

/** Samples for the keys fine-tuning refuses and NEST pretraining does not (or refuses with other inert values). */
const FINETUNE_SAMPLES: Record<string, { refused: string; inert: string }> = {
  'model.ctc_reduction': { refused: 'sum', inert: 'mean_batch' },
  'model.use_cer': { refused: 'true', inert: 'false' },
  'model.decoding': { refused: '{strategy: beam}', inert: '{strategy: greedy_batch}' },
  'model.skip_nan_grad': { refused: 'true', inert: 'false' },
  'model.interctc': { refused: '{loss_weights: [0.3], apply_at_layers: [8]}', inert: '{loss_weights: [], apply_at_layers: []}' },
  'model.decoder.init_mode': { refused: 'tds_uniform', inert: 'xavier_uniform' },
  'model.train_ds.use_start_end_token': { refused: 'true', inert: 'false' },
  'exp_manager.checkpoint_callback_params.monitor': { refused: 'val_loss', inert: 'val_wer' },
};
const sampleFor = (path: string): { refused: string; inert: string } | undefined => FINETUNE_SAMPLES[path] ?? NEST_SAMPLES[path];

const at = (section: string, key: string): string => (section === '' ? key : `${section}.${key}`);
const REFUSED = FINETUNE_KEY_TABLES.flatMap((t) => Object.entries(t.refused).map(([key, entry]) => ({ path: at(t.paths[0]!, key), entry })));
const NO_EFFECT = FINETUNE_KEY_TABLES.flatMap((t) => Object.entries(t.noEffect).map(([key, entry]) => ({ section: t.paths[0]!, key, entry })));

test('the fine-tuning presets load with no warnings; their values reach the typed config', () => {
  for (const preset of ['ctc_tiny', 'rnnt_tiny', 'hybrid_tiny']) {
    const l = load([], preset);
    assert.deepEqual(l.warnings, [], preset);
    assert.equal(l.config.trainer.max_steps, 300, preset);
    assert.deepEqual(l.config.model.optim.betas, [0.9, 0.98], preset);
    assert.equal(l.config.model.optim.weight_decay, 1e-3, preset);
    assert.equal(l.config.model.optim.sched?.name, 'NoamAnnealing', preset);
    assert.equal(l.config.exp_manager.checkpoint_callback_params.save_top_k, 1, preset);
    assert.equal(l.config.model.train_ds.batch_size, 4, preset);
    assert.equal(l.config.model.validation_ds?.manifest_filepath, 'data/corpus/val_manifest.json', preset);
  }
  const l = load(['model.validation_ds.manifest_filepath=null', 'model.freeze_encoder_steps=20', 'exp_manager.name=run1']);
  assert.equal(l.config.model.validation_ds, null);
  assert.equal(l.config.model.freeze_encoder_steps, 20);
  assert.equal(l.config.exp_manager.name, 'run1');
  // NoamAnnealing without d_model takes the encoder's width when the schedule is built (not a problem here)
  assert.equal(load(['~model.optim.sched.d_model']).config.model.optim.sched?.d_model, null);
});

test('every key of every fine-tuning section has exactly one status, and every refused key a reason', () => {
  for (const table of FINETUNE_KEY_TABLES) {
    const keys = tableKeys(table);
    assert.equal(new Set(keys).size, keys.length, `${table.paths[0]}: a key has more than one status`);
    for (const k of keys) assert.ok(keyStatus(table, k) !== undefined);
  }
  for (const { path, entry } of REFUSED) assert.ok(entry.reason.length > 10 && entry.accepted.length > 0, path);
  for (const { section, key, entry } of NO_EFFECT) assert.ok(entry.reason.length > 10, at(section, key));
});

test('a refused fine-tuning key with a value that is not inert is a ConfigError naming the key and the reason; its inert value loads cleanly', () => {
  const missing = REFUSED.map((r) => r.path).filter((p) => sampleFor(p) === undefined);
  assert.deepEqual(missing, [], 'every refused key needs a sample');
  for (const { path, entry } of REFUSED) {
    const sample = sampleFor(path)!;
    const e = configError([`++${path}=${sample.refused}`]);
    const issue = e.issues.find((i) => i.path === path);
    assert.ok(issue, `${path}=${sample.refused}: ${e.message}`);
    assert.ok(issue.message.startsWith(entry.reason), `${path}: ${issue.message}`);
    assert.match(issue.message, /accepted: /);
    assert.equal(e.issues.length, 1, e.message);
    assert.deepEqual(load([`++${path}=${sample.inert}`]).warnings, [], `${path}=${sample.inert}`);
  }
});

test("every no-effect fine-tuning key, set to a value streamnest does not mimic, is named in its section's one warning line", () => {
  for (const { section, key, entry } of NO_EFFECT) {
    const path = at(section, key);
    const { warnings } = load([`++${path}=zz_not_inert`]);
    const lines = warnings.filter((w) => w.startsWith(`${section || 'top level'}: has no effect in streamnest: `));
    assert.equal(lines.length, 1, `${path}: ${warnings.join('\n')}`);
    assert.ok(lines[0]!.includes(key) && lines[0]!.includes(`(${entry.reason})`), `${path}: ${lines[0]}`);
  }
});

test('what fine-tuning does not run is refused by key, every problem at once; an unknown key is a warning', () => {
  const e = configError([
    'trainer.devices=2',
    'trainer.precision=bf16-mixed',
    '++model.train_ds.noise_manifest=noise.json',
    'trainer.max_steps=-1',
    '++model.optim.amsgrad=true',
  ]);
  assert.deepEqual(e.issues.map((i) => i.path).sort(), [
    'model.optim.amsgrad',
    'model.train_ds.noise_manifest',
    'trainer.devices',
    'trainer.max_steps',
    'trainer.precision',
  ]);
  assert.match(e.message, /trainer\.devices \(override 'trainer\.devices=2'\): fine-tuning runs in one process/);
  assert.match(e.message, /trainer\.precision \(override 'trainer\.precision=bf16-mixed'\): fine-tuning trains in float32/);
  assert.match(e.message, /model\.train_ds\.noise_manifest .*noise and speech mixing is built for NEST pretraining only/);
  assert.match(e.message, /trainer\.max_steps .*the run would never end/);
  // the transducer presets share the sections (their model keys are read by the transducer schema)
  assert.deepEqual(
    configError(['trainer.num_nodes=2'], 'rnnt_tiny').issues.map((i) => i.path),
    ['trainer.num_nodes'],
  );
  // a key nobody reads is reported, not dropped silently (a YAML key no override would check)
  assert.deepEqual(load(['++model.comment=hello']).warnings, ["model.comment (override '++model.comment=hello'): unknown key, ignored"]);
  assert.match(configError(['++model.use_crr=true']).message, /model\.use_crr .*did you mean 'use_cer'\?/);
  assert.match(configError(['++trainer.gradient_clip_algoritm=norm']).message, /trainer\.gradient_clip_algoritm .*did you mean 'gradient_clip_algorithm'\?/);
});
