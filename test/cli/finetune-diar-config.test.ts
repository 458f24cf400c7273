// `streamnest finetune-diar --config`: the flags are overrides of the config's keys (the flag route and the key route
// give the same trainDiarizer options, and without flags the old flag defaults), key=value overrides change the run,
// and a short run on two simulated sessions (make-diarization-corpus) writes a .nemo that carries the validated config
// and loads with loadDiarizer. Init model: the golden cache-aware .nemo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import * as t from '../../src/torch/index.js';
import { NEMO_CONFIG_MEMBER, readNemoMember } from '../../src/checkpoint/nemo-archive.js';
import { FLAG_KEYS, run as finetuneDiar, trainingOptionsFromArgs, usage } from '../../src/cli/commands/finetune-diar.js';
import { validateDiarizerConfig, type ConfigMap } from '../../src/config/index.js';
import { makeDiarizationCorpus } from '../../src/diarization/diarization-corpus.js';
import { loadDiarizer } from '../../src/diarization/diarizer-archive.js';
import { DEFAULT_TURN_STATISTICS } from '../../src/diarization/session-plan.js';
import { GOLDEN, REPO_ROOT } from '../helpers/assert.js';

const INIT = join(GOLDEN, 'nemo', 'e_chunked_limited.nemo');
const dir = mkdtempSync(join(tmpdir(), 'streamnest-finetune-diar-config-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const optionsOf = async (argv: string[]) => {
  const { options } = await trainingOptionsFromArgs(argv);
  const { architecture, ...rest } = options;
  return { ...rest, encoderWidth: architecture?.encoder.d_model };
};

test('--help names the config key of every flag', () => {
  for (const { key, flag } of Object.values(FLAG_KEYS)) assert.match(usage, new RegExp(`${flag}[^\\n]*${key.replaceAll('.', '\\.')}`), flag);
});

test('without flags beyond --init/--manifest the options are the old flag defaults', async () => {
  const o = await optionsOf(['--init', INIT, '--manifest', 'train.json']);
  const old = {
    fromScratch: false,
    validationManifest: null,
    expDir: 'diar_exp',
    name: 'diarizer',
    maxSteps: 2000,
    batchSize: 4,
    lr: 1e-3,
    warmupSteps: 50,
    valCheckInterval: 200,
    freezeEncoderSteps: 0,
    hidden: 192,
    dropout: 0.5,
    atsWeight: 0.5,
    pilWeight: 0.5,
    seed: 1234,
  };
  for (const [k, v] of Object.entries(old)) assert.deepEqual(o[k as keyof typeof o], v, k);
  assert.equal(o.sched?.name, 'InverseSquareRootAnnealing');
});

test('the flag route and the key=value route give the same options', async () => {
  const flags = ['--init', INIT, '--manifest', 't.json', '--val-manifest', 'v.json', '--exp-dir', 'x', '--name', 'r', '--max-steps', '7', '--batch-size', '2'];
  const more = ['--lr', '0.002', '--warmup-steps', '3', '--val-check-interval', '5', '--freeze-encoder-steps', '1', '--hidden', '32', '--dropout', '0.1'];
  const last = ['--ats-weight', '0.3', '--pil-weight', '0.7', '--seed', '9', '--from-scratch'];
  const keys = [
    `init_from_nemo_model=${INIT}`,
    'model.train_ds.manifest_filepath=t.json',
    'model.validation_ds.manifest_filepath=v.json',
    'exp_manager.exp_dir=x',
    'exp_manager.name=r',
    'trainer.max_steps=7',
    'model.train_ds.batch_size=2',
    'model.optim.lr=0.002',
    'model.optim.sched.warmup_steps=3',
    'trainer.val_check_interval=5',
    'model.freeze_encoder_steps=1',
    'model.model_defaults.tf_d_model=32',
    'model.sortformer_modules.dropout_rate=0.1',
    'model.ats_weight=0.3',
    'model.pil_weight=0.7',
    'seed=9',
    'from_scratch=true',
  ];
  const byFlags = await optionsOf([...flags, ...more, ...last]);
  const byKeys = await optionsOf(['--config', 'diar_streaming_tiny', ...keys]);
  assert.deepEqual(byFlags, byKeys);
  assert.deepEqual(
    [byFlags.maxSteps, byFlags.batchSize, byFlags.validationBatchSize, byFlags.hidden, byFlags.warmupSteps, byFlags.seed, byFlags.fromScratch],
    [7, 2, 2, 32, 3, 9, true],
  );
});

test('key=value overrides change the options; old flag checks still refuse before any file is read', async () => {
  const o = await optionsOf([
    '--init',
    INIT,
    '--manifest',
    't.json',
    'model.optim.sched.name=InverseSquareRootAnnealing',
    'model.train_ds.session_len_sec=3',
    'model.train_ds.soft_targets=true',
    'trainer.gradient_clip_val=0.5',
  ]);
  assert.deepEqual([o.sched?.name, o.sessionLenSec, o.softTargets, o.gradientClipVal], ['InverseSquareRootAnnealing', 3, true, 0.5]);
  await assert.rejects(trainingOptionsFromArgs(['--init', INIT, '--manifest', 't.json', '--batch-size', '0']), /--batch-size must be >= 1, got 0/);
  await assert.rejects(
    trainingOptionsFromArgs(['--config', 'diar_streaming_tiny', `init_from_nemo_model=${INIT}`]),
    /model\.train_ds\.manifest_filepath.*mandatory/,
  );
});

test('finetune-diar --config on 2 sessions writes a .nemo that carries the validated config and loads', async () => {
  const corpus = join(dir, 'corpus');
  await makeDiarizationCorpus({
    manifests: [join(REPO_ROOT, 'data', 'corpus', 'train_manifest.json')],
    outDir: corpus,
    sessions: 2,
    seed: 3,
    stats: { ...DEFAULT_TURN_STATISTICS, maxSpeakers: 2, sessionSeconds: 4 },
  });
  const manifest = join(corpus, 'diarization_manifest.json');
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    await finetuneDiar([
      '--config',
      'diar_streaming_tiny',
      '--quiet',
      `init_from_nemo_model=${INIT}`,
      `model.train_ds.manifest_filepath=${manifest}`,
      `model.validation_ds.manifest_filepath=${manifest}`,
      `exp_manager.exp_dir=${dir}`,
      'exp_manager.name=cfg',
      'trainer.max_steps=2',
      'trainer.val_check_interval=2',
      'model.train_ds.batch_size=2',
      'model.model_defaults.tf_d_model=24',
      'model.optim.sched.name=InverseSquareRootAnnealing',
      'model.optim.sched.warmup_steps=1',
    ]);
  } finally {
    process.stderr.write = write;
  }
  const nemo = join(dir, 'cfg', 'checkpoints', 'cfg.nemo');
  assert.ok(existsSync(nemo));
  const stored = parse(new TextDecoder().decode(readNemoMember(nemo, NEMO_CONFIG_MEMBER)!)) as ConfigMap;
  const { config } = validateDiarizerConfig({ model: stored }, { file: nemo });
  assert.equal(config.model.sortformer_modules.tf_d_model, 24, 'the override reached the trained model');
  assert.equal(config.model.optim.sched?.name, 'InverseSquareRootAnnealing');
  assert.equal(config.model.train_ds.manifest_filepath, manifest);
  assert.equal(stored.transformer_encoder, null);
  const before = t.liveTensorCount();
  const loaded = loadDiarizer(nemo);
  assert.equal(loaded.model.numSpeakers, 4);
  assert.equal(loaded.model.sortformer_modules.cfg.tf_d_model, 24);
  loaded.model.dispose();
  assert.equal(t.liveTensorCount(), before);
});
