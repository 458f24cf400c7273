// Healthy targets from every shipped streaming preset, the degenerate-target warning on the old setting, and fixed
// feature statistics estimated at pretraining start (cached, written into the .nemo) equal to `streamnest stats`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { readNemoArchive } from '../../src/checkpoint/nemo-archive.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CORPUS = join(REPO, 'data', 'corpus');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [MAIN, ...args], { cwd: REPO, env: { ...process.env, STREAMNEST_THREADS: '1', STREAMNEST_DEBUG: '' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A small encoder: the targets depend only on the preprocessor and the quantizer, which stay the preset's. */
const SMALL = ['model.encoder.n_layers=1', 'model.encoder.d_model=32', 'model.encoder.n_heads=2', 'model.encoder.subsampling_conv_channels=16'];
const DATA = [
  `model.train_ds.manifest_filepath=${CORPUS}/train_manifest.json`,
  `model.train_ds.noise_manifest=${CORPUS}/noise_manifest.json`,
  `model.validation_ds.manifest_filepath=${CORPUS}/val_manifest.json`,
  `model.validation_ds.noise_manifest=${CORPUS}/noise_manifest.json`,
  'model.train_ds.batch_size=4',
  'model.validation_ds.batch_size=4',
  'model.train_ds.num_workers=0',
  'model.validation_ds.num_workers=0',
];

const PRESETS = [
  { preset: 'tiny', classes: 128, goal: 40 },
  { preset: 'streaming', classes: 8192, goal: 200 },
];

for (const { preset, classes, goal } of PRESETS) {
  test(`${preset}: healthy targets after training (analyze target_perplexity >= ${goal} of ${classes}); the old raw-log-mel setting warns`, {
    timeout: 300_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), `streamnest-targets-${preset}-`));
    try {
      const r = await run([
        'pretrain',
        '--config',
        preset,
        '--quiet',
        ...SMALL,
        ...DATA,
        'trainer.max_steps=3',
        'trainer.val_check_interval=3',
        `exp_manager.exp_dir=${dir}`,
        'exp_manager.name=run',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /degenerate targets/);
      const csv = readFileSync(join(dir, 'run', 'metrics.csv'), 'utf8').split('\n')[0]!;
      // tiny says exp_manager.create_tensorboard_logger: false, the streaming preset true
      const events = readdirSync(join(dir, 'run')).some((f) => f.startsWith('events.out.tfevents'));
      assert.equal(events, preset !== 'tiny', 'TensorBoard event files as create_tensorboard_logger says');
      for (const col of [
        'target_perplexity',
        'prediction_perplexity',
        'codebook_usage',
        'masked_accuracy',
        'val_target_perplexity',
        'val_prediction_perplexity',
      ]) {
        assert.ok(csv.split(',').includes(col), `metrics.csv has ${col}: ${csv}`);
      }
      const a = await run([
        'analyze',
        '--json',
        '--model',
        join(dir, 'run', 'checkpoints', 'run.nemo'),
        '--manifest',
        `${CORPUS}/train_manifest.json`,
        '--max-utterances',
        '32',
      ]);
      assert.equal(a.code, 0, a.stderr);
      const j = JSON.parse(a.stdout) as { target_perplexity: number; num_classes: number };
      assert.equal(j.num_classes, classes);
      assert.ok(j.target_perplexity >= goal, `target_perplexity ${j.target_perplexity} < ${goal}`);
      // NeMo's setting (the quantizer sees the raw log-mel of normalize: NA): the loud warning, with cause and fix
      const old = await run([
        'pretrain',
        '--config',
        preset,
        '--quiet',
        ...SMALL,
        ...DATA,
        'model.target_normalize=none',
        'trainer.max_steps=3',
        'trainer.val_check_interval=3',
        `exp_manager.exp_dir=${dir}`,
        'exp_manager.name=old',
      ]);
      assert.equal(old.code, 0, old.stderr);
      assert.match(old.stderr, /WARNING: degenerate targets: .*Cause: the quantizer sees unnormalised log-mel .*Fix: model\.target_normalize=per_utterance/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('fixed statistics estimated at pretraining start equal `streamnest stats`, are cached beside the run and written into the .nemo', {
  timeout: 300_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamnest-fixed-stats-'));
  try {
    const stats = join(dir, 'stats.json');
    const s = await run(['stats', '--config', 'tiny', '--manifest', `${CORPUS}/train_manifest.json`, '--out', stats, '--quiet']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /80 features over 32 utterances/);
    const expected = JSON.parse(readFileSync(stats, 'utf8')) as { fixed_mean: number[]; fixed_std: number[] };
    const args = [
      'pretrain',
      '--quiet',
      ...SMALL,
      ...DATA,
      'model.preprocessor.normalize={fixed_mean: null, fixed_std: null}',
      'trainer.max_steps=2',
      'trainer.val_check_interval=2',
      `exp_manager.exp_dir=${dir}`,
      'exp_manager.name=run',
    ];
    const r = await run(args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /estimating fixed feature statistics over .*train_manifest\.json/);
    const cached = JSON.parse(readFileSync(join(dir, 'run', 'feature_statistics.json'), 'utf8')) as { fixed_mean: number[]; fixed_std: number[] };
    assert.deepEqual(cached.fixed_mean, expected.fixed_mean);
    assert.deepEqual(cached.fixed_std, expected.fixed_std);
    const a = readNemoArchive(join(dir, 'run', 'checkpoints', 'run.nemo'));
    try {
      const cfg = parse(a.configYaml) as { preprocessor: { normalize: { fixed_mean: number[]; fixed_std: number[] } } };
      assert.deepEqual(
        cfg.preprocessor.normalize.fixed_mean,
        expected.fixed_mean,
        'the .nemo carries the values (stream, transcribe and NeMo reproduce the features)',
      );
      assert.deepEqual(cfg.preprocessor.normalize.fixed_std, expected.fixed_std);
    } finally {
      for (const x of a.stateDict.values()) x.dispose();
    }
    const again = await run([...args.slice(0, -1), 'exp_manager.name=run', 'exp_manager.resume_if_exists=true', 'trainer.max_steps=3']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /fixed feature statistics from .*feature_statistics\.json/);
    const none = await run([
      'pretrain',
      '--quiet',
      ...SMALL,
      'model.train_ds.manifest_filepath=null',
      'model.preprocessor.normalize={fixed_mean: null, fixed_std: null}',
      `exp_manager.exp_dir=${dir}`,
    ]);
    assert.equal(none.code, 1);
    assert.match(
      none.stderr,
      /model\.train_ds\.manifest_filepath is not set: set it, or compute the statistics with `streamnest stats --manifest FILE --out stats\.json`/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
