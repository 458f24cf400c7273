// The end of a run is never lost: `pretrain --config streaming` with the preset's 8 decode workers and max_steps below
// the first validation (the case that used to exit 0 having written nothing: an unref'd worker's terminate() never
// settled), and the guard that makes any CLI exit before the command's end non-zero.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNemoArchive } from '../../src/checkpoint/nemo-archive.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

function run(args: string[], cwd = REPO): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { cwd, env: { ...process.env, STREAMNEST_THREADS: '1', STREAMNEST_DEBUG: '' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The streaming preset at a test size; everything about data loading (8 workers, prefetch) stays the preset's. */
const SMALL = [
  'model.encoder.n_layers=1',
  'model.encoder.d_model=32',
  'model.encoder.n_heads=2',
  'model.encoder.subsampling_conv_channels=16',
  'model.num_classes=64',
  'model.train_ds.batch_size=2',
  'model.validation_ds.batch_size=4',
  'model.train_ds.manifest_filepath=data/corpus/train_manifest.json',
  'model.train_ds.noise_manifest=data/corpus/noise_manifest.json',
];

for (const withValidation of [true, false]) {
  test(`pretrain --config streaming with 8 workers, max_steps below the first validation${withValidation ? '' : ', no validation set'}: last checkpoint, .nemo, summary, exit 0`, {
    timeout: 240_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'streamnest-end-of-run-'));
    try {
      const val = withValidation
        ? ['model.validation_ds.manifest_filepath=data/corpus/val_manifest.json', 'model.validation_ds.noise_manifest=data/corpus/noise_manifest.json']
        : ['model.validation_ds.manifest_filepath=null'];
      const r = await run([
        MAIN,
        'pretrain',
        '--config',
        'streaming',
        '--quiet',
        ...SMALL,
        ...val,
        'trainer.max_steps=3',
        `exp_manager.exp_dir=${dir}`,
        'exp_manager.name=run',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /pretraining finished at step 3 \(max_steps\)/);
      assert.match(r.stdout, /model: .*run\.nemo/);
      // the streaming preset asks for TensorBoard (exp_manager.create_tensorboard_logger: true)
      assert.ok(
        readdirSync(join(dir, 'run')).some((f) => f.startsWith('events.out.tfevents')),
        'TensorBoard events written',
      );
      const ckDir = join(dir, 'run', 'checkpoints');
      const files = readdirSync(ckDir);
      assert.ok(files.includes('run--last.ckpt'), `checkpoints: ${files.join(', ')}`);
      assert.ok(files.includes('run.nemo'), `checkpoints: ${files.join(', ')}`);
      const a = readNemoArchive(join(ckDir, 'run.nemo'));
      try {
        assert.ok(a.stateDict.has('encoder.layers.0.self_attn.linear_q.weight'), 'the .nemo holds the encoder');
      } finally {
        for (const x of a.stateDict.values()) x.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a CLI process whose command never finishes exits non-zero and says so (never 0)', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamnest-unfinished-'));
  try {
    const script = join(dir, 'hang.mjs');
    // the same guard main.js installs, around a command that awaits a promise nothing will ever settle
    writeFileSync(
      script,
      `import { guardUnfinishedExit } from ${JSON.stringify(MAIN)};\n` +
        `let done = false;\nguardUnfinishedExit(() => done);\n` +
        `void (async () => {\n  await new Promise(() => {});\n  done = true;\n  process.stdout.write('end reached\\n');\n})();\n`,
    );
    const r = await run([script], dir);
    assert.equal(r.code, 70, r.stderr);
    assert.doesNotMatch(r.stdout, /end reached/);
    assert.match(r.stderr, /about to exit before the command finished/);
    // and a command that does finish keeps its own exit status
    writeFileSync(
      script,
      `import { guardUnfinishedExit } from ${JSON.stringify(MAIN)};\nlet done = false;\nguardUnfinishedExit(() => done);\nawait new Promise((r) => setTimeout(r, 10));\ndone = true;\n`,
    );
    const ok = await run([script], dir);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(existsSync(script));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
