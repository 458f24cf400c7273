// SIGINT / SIGTERM during `streamnest pretrain`: one signal writes a final checkpoint at the current step and exits 0
// (the run is resumable with exp_manager.resume_if_exists=true); a second signal exits at once with 130.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN_JS, REPO_ROOT, RUN_NAME, checkAllReadable, checkpointsDir, digestCheckpoint, lastCheckpoint } from './harness/common.js';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** ms from the last signal sent to the exit */
  afterLastSignalMs: number;
}

/** Starts a long pretrain run, waits until `afterSteps` steps are logged, sends the signals, waits for the exit. */
async function interrupt(expDir: string, signals: NodeJS.Signals[], afterSteps = 3, gapMs = 0): Promise<Exit> {
  rmSync(expDir, { recursive: true, force: true });
  const child = spawn(
    process.execPath,
    [
      MAIN_JS,
      'pretrain',
      '--quiet',
      'trainer.max_steps=100000',
      'trainer.val_check_interval=100000',
      'trainer.log_every_n_steps=1',
      `exp_manager.exp_dir=${expDir}`,
    ],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STREAMNEST_THREADS: '1' } },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
  const csv = join(expDir, RUN_NAME, 'metrics.csv');
  const deadline = Date.now() + 180_000; // a hang bound: start-up plus 3 steps take seconds
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pretrain exited early (${child.exitCode}):\n${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`no training steps logged within 180 s:\n${stderr}`);
    }
    if (existsSync(csv) && readFileSync(csv, 'utf8').trim().split('\n').length > afterSteps) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  let lastAt = 0;
  for (const [i, s] of signals.entries()) {
    if (i > 0 && gapMs) await new Promise((r) => setTimeout(r, gapMs));
    child.kill(s);
    lastAt = Date.now();
  }
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const e = await exited;
  clearTimeout(killer);
  return { ...e, stdout, stderr, afterLastSignalMs: Date.now() - lastAt };
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  test(`one ${sig} during pretrain: a final checkpoint at the current step, exit code 0`, { timeout: 120_000 }, async () => {
    const dir = join(tmpdir(), `streamnest-signal-${sig}-${process.pid}`);
    try {
      const e = await interrupt(dir, [sig]);
      assert.equal(e.signal, null, e.stderr);
      assert.equal(e.code, 0, e.stderr);
      assert.match(e.stderr, new RegExp(`${sig} received, writing a checkpoint`));
      assert.match(e.stdout, /pretraining finished at step (\d+) \(signal\)/);
      const step = Number(/finished at step (\d+)/.exec(e.stdout)![1]);
      assert.ok(step >= 3, `stopped at step ${step}`);
      const ck = lastCheckpoint(dir);
      assert.ok(existsSync(ck), 'the final checkpoint exists');
      assert.equal(JSON.parse(digestCheckpoint(ck).progress).globalStep, step, 'the checkpoint holds the step it stopped at');
      const { problems, checked } = checkAllReadable(checkpointsDir(dir));
      assert.deepEqual(problems, []);
      assert.ok(checked.length >= 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a second signal exits at once with code 130', { timeout: 120_000 }, async () => {
  const dir = join(tmpdir(), `streamnest-signal-twice-${process.pid}`);
  try {
    const e = await interrupt(dir, ['SIGINT', 'SIGTERM'], 3, 0);
    assert.equal(e.code, 130, e.stderr);
    // two different signals sent back to back may be handled in either order
    assert.match(e.stderr, /(SIGINT|SIGTERM) received, writing a checkpoint[\s\S]*second (SIGINT|SIGTERM), exiting now/);
    // "at once": no checkpoint is written and nothing is awaited; the bound only catches a hang on a loaded machine
    assert.ok(e.afterLastSignalMs < 30_000, `exited ${e.afterLastSignalMs} ms after the second signal`);
    // the run had started: its folder exists and metrics.csv logged the steps interrupt() waited for
    const runDir = join(dir, RUN_NAME);
    assert.ok(existsSync(runDir), `the run folder ${runDir} exists`);
    const [header, ...rows] = readFileSync(join(runDir, 'metrics.csv'), 'utf8').trim().split('\n');
    const stepCol = header!.split(',').indexOf('step');
    assert.ok(stepCol >= 0, `metrics.csv has a step column: ${header}`);
    const steps = rows.map((r) => Number(r.split(',')[stepCol])).filter((v) => Number.isInteger(v));
    assert.ok(steps.length >= 3, `metrics.csv logged ${steps.length} step(s)`);
    // whatever checkpoint is on disk opens (writes are atomic): every finished .ckpt / .nemo file is read back
    const ckDir = checkpointsDir(dir);
    const onDisk = existsSync(ckDir) ? readdirSync(ckDir) : [];
    const finished = onDisk.filter((f) => /\.(ckpt|nemo)$/.test(f) && !/\.tmp[-.]/.test(f)).sort();
    const { checked, problems } = checkAllReadable(ckDir);
    assert.deepEqual(problems, []);
    assert.deepEqual([...checked].sort(), finished, 'every checkpoint file on disk was opened');
    if (finished.length === 0) {
      // no checkpoint at all: the second signal exited before any write finished, and the run never reached its end
      assert.deepEqual(
        onDisk.filter((f) => !/\.tmp[-.]/.test(f)),
        [],
        `only temporary files of an interrupted write may be left in ${ckDir}`,
      );
      assert.doesNotMatch(e.stdout, /pretraining finished/, 'no final checkpoint step was reported');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
