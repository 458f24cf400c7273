// The transducer sections' key tables (RNNT_KEY_TABLES, src/config/schema/transducer.ts), audited as
// key-audit.test.ts audits the NEST training config's: every key has one status, every refused key's non-inert
// value is a ConfigError naming the key and the reason while its inert value passes, no-effect keys are named in one
// warning line, typos are errors; the rnnt_tiny preset reads without warnings. Schema only (no libtorch).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RNNT_KEY_TABLES,
  applyOverrides,
  keyStatus,
  readTransducerConfig,
  readYamlConfigFile,
  resolveConfigSource,
  resolveInterpolations,
  tableKeys,
  type ConfigIssue,
  type ConfigMap,
  type TransducerConfig,
} from '../../src/config/index.js';
import { SectionReader, newValidationContext } from '../../src/config/section-reader.js';

/** rnnt_tiny with an encoder (the preset takes it from the init model) and the overrides, read by the transducer schema. */
function readRnnt(overrides: string[] = []): { config: TransducerConfig; issues: ConfigIssue[]; warnings: string[] } {
  const file = resolveConfigSource('rnnt_tiny');
  const doc = readYamlConfigFile(file);
  const tree = structuredClone(doc.tree) as ConfigMap;
  (tree.model as ConfigMap).encoder = { d_model: 32 };
  const resolved = resolveInterpolations(applyOverrides(tree, overrides, { file, sources: doc.sources }), { file, sources: doc.sources });
  const ctx = newValidationContext(file, doc.sources, true);
  const config = readTransducerConfig(SectionReader.open(ctx, ['model'], resolved.model, true));
  return { config, issues: ctx.issues, warnings: ctx.warnings };
}

/** A non-inert and an inert value (override syntax) for every refused key. */
const REFUSED_SAMPLES: Record<string, { refused: string; inert: string }> = {
  'model.skip_nan_grad': { refused: 'true', inert: 'false' },
  'model.use_cer': { refused: 'true', inert: 'false' },
  'model.variational_noise': { refused: '{std: 0.075, start_step: 20}', inert: '{std: 0, start_step: 0}' },
  'model.normalize_joint_txu': { refused: 'true', inert: 'false' },
  'model.normalize_encoder_norm': { refused: 'true', inert: 'false' },
  'model.normalize_decoder_norm': { refused: 'true', inert: 'false' },
  'model.normalize_joint_norm': { refused: 'true', inert: 'false' },
  'model.interctc': { refused: '{loss_weights: [0.3], apply_at_layers: [8]}', inert: '{loss_weights: [], apply_at_layers: []}' },
  'model.aux_ctc.ctc_reduction': { refused: 'sum', inert: 'mean_batch' },
  'model.aux_ctc.use_cer': { refused: 'true', inert: 'false' },
  'model.aux_ctc.decoding': { refused: '{strategy: beam}', inert: '{strategy: greedy}' },
  'model.aux_ctc.decoder.init_mode': { refused: 'tds_uniform', inert: 'xavier_uniform' },
  'model.decoder.normalization_mode': { refused: 'layer', inert: 'null' },
  'model.decoder.random_state_sampling': { refused: 'true', inert: 'false' },
  'model.decoder.blank_as_pad': { refused: 'false', inert: 'true' },
  'model.decoder.prednet.rnn_hidden_size': { refused: '128', inert: '-1' },
  'model.joint.num_extra_outputs': { refused: '5', inert: '0' },
  'model.joint.masking_prob': { refused: '0.1', inert: '-1.0' },
  'model.joint.experimental_fuse_loss_wer': { refused: 'true', inert: 'null' },
  'model.decoding.compute_langs': { refused: 'true', inert: 'false' },
  'model.decoding.preserve_frame_confidence': { refused: 'true', inert: 'false' },
  'model.decoding.confidence_cfg': { refused: '{preserve_frame_confidence: true}', inert: '{preserve_frame_confidence: false}' },
  'model.decoding.greedy.preserve_frame_confidence': { refused: 'true', inert: 'false' },
  'model.decoding.greedy.ngram_lm_model': { refused: '/lm/4gram.nemo', inert: 'null' },
  'model.decoding.greedy.boosting_tree': { refused: '{key_phrases_file: phrases.txt}', inert: 'null' },
  'model.decoding.beam.ngram_lm_model': { refused: '/lm/4gram.nemo', inert: 'null' },
  'model.decoding.beam.softmax_temperature': { refused: '0.5', inert: '1' },
  'model.decoding.beam.preserve_frame_confidence': { refused: 'true', inert: 'false' },
  'model.decoding.beam.boosting_tree': { refused: '{key_phrases_file: phrases.txt}', inert: 'null' },
};

const REFUSED = RNNT_KEY_TABLES.flatMap((t) => Object.entries(t.refused).map(([key, entry]) => ({ path: `${t.paths[0]}.${key}`, entry })));
const NO_EFFECT = RNNT_KEY_TABLES.flatMap((t) => Object.entries(t.noEffect).map(([key, entry]) => ({ section: t.paths[0]!, key, entry })));

test('rnnt_tiny reads with no problems and no warnings; its values reach the typed config', () => {
  const { config, issues, warnings } = readRnnt();
  assert.deepEqual(issues, []);
  assert.deepEqual(warnings, []);
  assert.equal(config.decoder.prednet.pred_hidden, 64);
  assert.equal(config.joint.jointnet.joint_hidden, 64);
  assert.equal(config.joint.fused_batch_size, 4);
  assert.deepEqual(config.loss, { loss_name: 'default', fastemit_lambda: 0, clamp: -1 });
  assert.equal(config.decoding.max_symbols, 10);
  assert.deepEqual(config.model_defaults, { enc_hidden: 32, pred_hidden: 64, joint_hidden: 64 });
  const r = readRnnt([
    'model.loss.warprnnt_numba_kwargs.fastemit_lambda=0.001',
    'model.loss.warprnnt_numba_kwargs.clamp=5',
    'model.rnnt_reduction=mean_volume',
  ]);
  assert.deepEqual(r.config.loss, { loss_name: 'default', fastemit_lambda: 0.001, clamp: 5 });
  assert.equal(r.config.rnnt_reduction, 'mean_volume');
});

test('every key of every transducer section has exactly one status, and every refused key a reason', () => {
  const sections = RNNT_KEY_TABLES.flatMap((t) => t.paths);
  assert.equal(new Set(sections).size, sections.length);
  for (const table of RNNT_KEY_TABLES) {
    const keys = tableKeys(table);
    assert.equal(new Set(keys).size, keys.length, `${table.paths[0]}: a key has more than one status`);
    for (const k of keys) assert.ok(keyStatus(table, k) !== undefined);
  }
  for (const { path, entry } of REFUSED) assert.ok(entry.reason.length > 10 && entry.accepted.length > 0, path);
  for (const { section, key, entry } of NO_EFFECT) assert.ok(entry.reason.length > 10, `${section}.${key}`);
});

test('a refused transducer key with a value that is not inert is a problem naming the key and the reason; its inert value reads cleanly', () => {
  assert.deepEqual(
    REFUSED.map((r) => r.path).sort(),
    Object.keys(REFUSED_SAMPLES).sort(),
    'every refused key needs a sample here (and every sample a refused key)',
  );
  for (const { path, entry } of REFUSED) {
    const sample = REFUSED_SAMPLES[path]!;
    const bad = readRnnt([`++${path}=${sample.refused}`]);
    const issue = bad.issues.find((i) => i.path === path);
    assert.ok(issue, `${path}=${sample.refused}: ${JSON.stringify(bad.issues)}`);
    assert.ok(issue.message.startsWith(entry.reason), `${path}: ${issue.message}`);
    assert.match(issue.message, /accepted: /);
    assert.equal(bad.issues.length, 1, JSON.stringify(bad.issues));
    const ok = readRnnt([`++${path}=${sample.inert}`]);
    assert.deepEqual(ok.issues, [], `${path}=${sample.inert}`);
    assert.deepEqual(ok.warnings, [], `${path}=${sample.inert}`);
  }
});

test('every transducer no-effect key set to a value streamnest does not mimic is named in its section warning with the reason', () => {
  for (const { section, key, entry } of NO_EFFECT) {
    const { issues, warnings } = readRnnt([`++${section}.${key}=zz_not_inert`]);
    assert.deepEqual(issues, [], `${section}.${key}`);
    const lines = warnings.filter((w) => w.startsWith(`${section}: has no effect in streamnest: `));
    assert.equal(lines.length, 1, `${section}.${key}: ${warnings.join('\n')}`);
    assert.ok(lines[0]!.includes(key) && lines[0]!.includes(`(${entry.reason})`), lines[0]);
  }
});

test('values the port does not implement are refused by key: other beam searches, TDT / multi-blank losses, bad sizes, typos', () => {
  const path = (o: string[]): string[] => readRnnt(o).issues.map((i) => i.path);
  const maes = readRnnt(['model.decoding.strategy=maes']);
  assert.deepEqual(
    maes.issues.map((i) => i.path),
    ['model.decoding.strategy'],
  );
  assert.match(maes.issues[0]!.message, /greedy, greedy_batch .* and beam \(modified beam search\) are implemented; tsd, alsd and maes are not/);
  assert.deepEqual(path(['++model.decoding.beam.search_type=tsd']), ['model.decoding.beam.search_type']);
  // strategy beam: NeMo's keys reach the typed config, with a warning that the search is icefall's modified one
  const beam = readRnnt(['model.decoding.strategy=beam', '++model.decoding.beam.beam_size=8', '++model.decoding.beam.score_norm=false']);
  assert.deepEqual(beam.issues, []);
  assert.deepEqual(beam.config.decoding, { strategy: 'beam', max_symbols: 10, beam_size: 8, score_norm: false });
  assert.ok(beam.warnings.some((w) => /strategy: beam runs icefall's modified beam search/.test(w)));
  const tdt = readRnnt(['model.loss.loss_name=tdt']);
  assert.match(tdt.issues[0]!.message, /must be one of 'default', 'warprnnt_numba', 'pytorch', 'warprnnt'/);
  assert.deepEqual(path(['model.decoder.prednet.pred_hidden=32']), ['model.model_defaults.pred_hidden'], 'NeMo sizes the joint from model_defaults');
  assert.deepEqual(path(['model.joint.fused_batch_size=null']), ['model.joint.fused_batch_size']);
  assert.deepEqual(path(['model.decoder.prednet.dropout=1.5']), ['model.decoder.prednet.dropout']);
  assert.deepEqual(path(['model.joint.jointnet.activation=gelu']), ['model.joint.jointnet.activation']);
  assert.deepEqual(path(['model.decoder._target_=nemo.collections.asr.modules.StatelessTransducerDecoder']), ['model.decoder._target_']);
  assert.deepEqual(path(['model.rnnt_reduction=mean_batches']), ['model.rnnt_reduction']);
  const typo = readRnnt(['++model.joint.masking_prop=0.1']);
  assert.match(typo.issues[0]!.message, /unknown key; did you mean 'masking_prob'\?/);
  // kwargs of a loss that is not selected: NeMo ignores them, so does streamnest, saying so
  const other = readRnnt(['model.loss.loss_name=pytorch']);
  assert.deepEqual(other.issues, []);
  assert.deepEqual(other.config.loss, { loss_name: 'pytorch', fastemit_lambda: 0, clamp: -1 });
  assert.ok(other.warnings.some((w) => w.startsWith("model.loss.warprnnt_numba_kwargs: has no effect in streamnest: loss_name is 'pytorch'")));
});
