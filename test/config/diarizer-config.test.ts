// The diarizer's configuration route (src/config/schema/sortformer.ts through loadDiarizerTrainingConfig): the shipped
// preset validates with the encoder and preprocessor of a real .nemo (the golden cache-aware model), every refused
// key of the diarizer's own tables is a ConfigError naming the key and the reason (its inert value loads), and the
// model_config.yaml a diarizer .nemo stores validates with the same schema to the same head.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  ConfigError,
  DIARIZER_KEY_TABLES,
  DIARIZER_LOSS_KEYS,
  DIARIZER_MODEL_KEYS,
  DIARIZER_TOP_KEYS,
  DIARIZATION_TRAIN_DS_KEYS,
  DIARIZATION_VALIDATION_DS_KEYS,
  SORTFORMER_DEFAULTS,
  validateDiarizerConfig,
  type ConfigMap,
  type KeyTable,
} from '../../src/config/index.js';
import { diarizerConfigYaml } from '../../src/diarization/diarizer-archive.js';
import { DIARIZER_RUN_DEFAULTS, diarizerTrainingOptions, loadDiarizerTrainingConfig } from '../../src/train/diarization-training.js';
import { GOLDEN } from '../helpers/assert.js';

const INIT = join(GOLDEN, 'nemo', 'e_chunked_limited.nemo');
const BASE = [`init_from_nemo_model=${INIT}`, 'model.train_ds.manifest_filepath=train.json'];
const load = (extra: string[] = []) => loadDiarizerTrainingConfig('diar_streaming_tiny', [...BASE, ...extra]);

function configError(extra: string[]): ConfigError {
  try {
    load(extra);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  assert.fail(`expected a ConfigError for ${extra.join(' ')}`);
}

test('the diar_streaming_tiny preset validates with the init model sections, nothing unknown or refused, and holds the run defaults', () => {
  const { config, warnings } = load();
  assert.deepEqual(warnings, []);
  const m = config.model;
  assert.equal(config.init_from_nemo_model, INIT);
  assert.equal(m.encoder.d_model, 64, "the golden model's encoder");
  assert.deepEqual(m.sortformer_modules, {
    num_spks: 4,
    fc_d_model: 64,
    tf_d_model: SORTFORMER_DEFAULTS.tf_d_model,
    dropout_rate: SORTFORMER_DEFAULTS.dropout_rate,
  });
  assert.equal(m.validation_ds, null, 'validation_ds.manifest_filepath: null means no validation');
  const o = diarizerTrainingOptions(load());
  const d = DIARIZER_RUN_DEFAULTS;
  assert.deepEqual(
    [o.betas, o.eps, o.weightDecay, o.sched?.min_lr, o.gradientClipVal, o.accumulateGradBatches, o.logEveryNSteps, o.resumeIfExists, o.saveTopK],
    [d.betas, d.eps, d.weightDecay, d.minLr, d.gradientClipVal, d.accumulateGradBatches, d.logEveryNSteps, d.resumeIfExists, d.saveTopK],
    "the preset's values are trainDiarizer's defaults",
  );
  assert.deepEqual(
    [o.numSpeakers, o.sessionLenSec, o.softTargets, o.softLabelThreshold],
    [d.numSpeakers, d.sessionLenSec, d.softTargets, d.softLabelThreshold],
  );
});

test('mandatory keys: without init_from_nemo_model or the training manifest the error names the key', () => {
  assert.throws(
    () => loadDiarizerTrainingConfig('diar_streaming_tiny', ['model.train_ds.manifest_filepath=train.json']),
    (e: unknown) => e instanceof ConfigError && /init_from_nemo_model.*mandatory value is missing/.test(e.message),
  );
  assert.throws(
    () => loadDiarizerTrainingConfig('diar_streaming_tiny', [`init_from_nemo_model=${INIT}`]),
    (e: unknown) => e instanceof ConfigError && /model\.train_ds\.manifest_filepath.*mandatory value is missing/.test(e.message),
  );
});

/** A non-inert and an inert value (override syntax) for every refused key of the diarizer's own tables. */
const REFUSED_SAMPLES: Record<string, { refused: string; inert: string }> = {
  defaults: { refused: '[base]', inert: '[_self_]' },
  init_from_pretrained_model: { refused: 'diar_streaming_sortformer_4spk-v2', inert: 'null' },
  init_from_ptl_ckpt: { refused: '/runs/x.ckpt', inert: 'null' },
  'model.spec_augment': { refused: '{freq_masks: 2}', inert: 'null' },
  'model.augmentor': { refused: '{white_noise: {prob: 0.5}}', inert: '{}' },
  'model.async_streaming': { refused: 'true', inert: 'false' },
  'model.train_ds.use_lhotse': { refused: 'true', inert: 'false' },
  'model.train_ds.is_tarred': { refused: 'true', inert: 'false' },
  'model.train_ds.tarred_audio_filepaths': { refused: 'audio_{0..3}.tar', inert: 'null' },
  'model.train_ds.int_values': { refused: 'true', inert: 'false' },
  'model.train_ds.shuffle': { refused: 'false', inert: 'true' },
  'model.train_ds.drop_last': { refused: 'false', inert: 'true' },
  'model.validation_ds.use_lhotse': { refused: 'true', inert: 'false' },
  'model.validation_ds.is_tarred': { refused: 'true', inert: 'false' },
  'model.validation_ds.tarred_audio_filepaths': { refused: 'audio_{0..3}.tar', inert: 'null' },
  'model.validation_ds.int_values': { refused: 'true', inert: 'false' },
  'model.validation_ds.shuffle': { refused: 'true', inert: 'false' },
  'model.validation_ds.drop_last': { refused: 'true', inert: 'false' },
  'model.loss.weight': { refused: '[0.5,0.5]', inert: 'null' },
  'model.loss.reduction': { refused: 'sum', inert: 'mean' },
  'model.loss.sorted_preds': { refused: 'true', inert: 'false' },
  'model.loss.sorted_loss': { refused: 'true', inert: 'false' },
  'model.loss.class_normalization': { refused: 'true', inert: 'false' },
};

const OWN_TABLES: KeyTable[] = [DIARIZER_TOP_KEYS, DIARIZER_MODEL_KEYS, DIARIZATION_TRAIN_DS_KEYS, DIARIZATION_VALIDATION_DS_KEYS, DIARIZER_LOSS_KEYS];
const at = (section: string, key: string): string => (section === '' ? key : `${section}.${key}`);

test("every refused key of the diarizer's tables is a ConfigError naming the key and its reason; its inert value loads", () => {
  const VAL = 'model.validation_ds.manifest_filepath=val.json';
  for (const table of OWN_TABLES) {
    const section = table.paths[0]!;
    for (const [key, entry] of Object.entries(table.refused)) {
      const path = at(section, key);
      const sample = REFUSED_SAMPLES[path];
      assert.ok(sample, `no sample for refused key ${path}`);
      const extra = section.startsWith('model.validation_ds') ? [VAL] : [];
      const e = configError([...extra, `++${path}=${sample.refused}`]);
      const issue = e.issues.find((i) => i.path === path);
      assert.ok(issue, `${path}: ${e.message}`);
      assert.ok(issue.message.includes(entry.reason), `${path}: ${issue.message}`);
      assert.doesNotThrow(() => load([...extra, `++${path}=${sample.inert}`]), path);
    }
  }
  assert.ok(DIARIZER_KEY_TABLES.includes(DIARIZER_LOSS_KEYS));
});

test('transformer_encoder: null or num_layers 0 load; a Transformer is refused because it is not causal', () => {
  assert.doesNotThrow(() => load(['model.transformer_encoder={num_layers: 0}']));
  const e = configError(['model.transformer_encoder={num_layers: 18, hidden_size: 192}']);
  assert.match(e.message, /transformer_encoder.*not causal.*transformer_encoder: null/);
});

test('checks that name the key: streaming_mode false, speaker counts, sample rates, widths, one process, a run that ends', () => {
  const cases: [string[], RegExp][] = [
    [['model.streaming_mode=false'], /model\.streaming_mode.*always streams/],
    [['model.train_ds.num_spks=3'], /model\.train_ds\.num_spks.*max_num_of_spks \(4\)/],
    [['model.max_num_of_spks=7'], /model\.max_num_of_spks.*<= 6/],
    [['model.train_ds.sample_rate=8000'], /model\.train_ds\.sample_rate.*16000/],
    [['model.sortformer_modules.fc_d_model=512'], /model\.sortformer_modules\.fc_d_model.*output width \(64\)/],
    [['model.ats_weight=0', 'model.pil_weight=0'], /model\.pil_weight.*cannot both be 0/],
    [['model.sortformer_modules.dropout_rate=1'], /model\.sortformer_modules\.dropout_rate.*< 1/],
    [['trainer.devices=2'], /trainer\.devices.*one process/],
    [['trainer.precision=bf16-mixed'], /trainer\.precision.*finetune-diar trains in float32/],
    [['trainer.max_steps=-1'], /trainer\.max_steps.*never ends/],
    [['model.optim.sched.name=PolynomialDecayAnnealing'], /model\.optim\.sched\.name.*'InverseSquareRootAnnealing'/],
    [['model.train_ds.session_len_sec=0'], /model\.train_ds\.session_len_sec.*-1 for whole sessions/],
  ];
  for (const [extra, pattern] of cases) assert.match(configError(extra).message, pattern, extra.join(' '));
  assert.equal(load(['model.optim.sched.name=InverseSquareRootAnnealing']).config.model.optim.sched?.name, 'InverseSquareRootAnnealing');
  assert.ok(load(['++model.train_ds.colour=blue']).warnings.some((w) => /model\.train_ds\.colour.*unknown key, ignored/.test(w)));
});

test('the model_config.yaml a diarizer .nemo stores validates with the same schema to the same head and weights', () => {
  const loaded = load(['model.model_defaults.tf_d_model=32', 'model.ats_weight=0.25']);
  const o = diarizerTrainingOptions(loaded);
  const head = { num_spks: 4, fc_d_model: 64, tf_d_model: o.hidden, dropout_rate: o.dropout };
  const yaml = diarizerConfigYaml({
    encoder: o.architecture!.encoderSection,
    preprocessor: o.architecture!.preprocessorSection,
    head,
    atsWeight: o.atsWeight,
    pilWeight: o.pilWeight,
    rest: o.storedSections!,
  });
  const stored = parse(yaml) as ConfigMap;
  const { config, warnings } = validateDiarizerConfig({ model: stored }, { file: 'model_config.yaml' });
  assert.deepEqual(config.model.sortformer_modules, head);
  assert.deepEqual([config.model.ats_weight, config.model.pil_weight], [0.25, 0.5]);
  assert.deepEqual(config.model.optim, loaded.config.model.optim);
  assert.deepEqual(config.model.train_ds, loaded.config.model.train_ds);
  assert.ok(
    warnings.every((w) => !/unknown key|refused/.test(w)),
    warnings.join('\n'),
  );
});
