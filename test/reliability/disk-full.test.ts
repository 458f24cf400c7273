// A checkpoint write that fails stops the run (policy: stop, exit code 1) with a message naming the path, and
// leaves every earlier checkpoint intact and no temporary behind. Simulated as root can be: RLIMIT_FSIZE
// (`ulimit -f` in a child shell: writes past the limit fail with EFBIG, as on a full disk), and a checkpoint
// folder whose path runs through a regular file (ENOTDIR/EEXIST, as with an unwritable output location).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN_JS, REPO_ROOT, RUN_NAME, checkAllReadable, checkpointsDir, digestCheckpoint, lastCheckpoint } from './harness/common.js';

function pretrain(expDir: string, extra: string[], fsizeKiB?: number): { code: number | null; stderr: string; stdout: string } {
  const args = [MAIN_JS, 'pretrain', '--quiet', 'trainer.val_check_interval=2', `exp_manager.exp_dir=${expDir}`, 'exp_manager.resume_if_exists=true', ...extra];
  const quoted = [process.execPath, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const cmd = fsizeKiB ? `ulimit -f ${fsizeKiB} && exec ${quoted}` : `exec ${quoted}`;
  const r = spawnSync('/bin/sh', ['-c', cmd], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, STREAMNEST_THREADS: '1', STREAMNEST_DEBUG: '' },
  });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

test('a checkpoint write failing with EFBIG (file size limit, like a full disk) stops the run and keeps the previous checkpoints', {
  timeout: 180_000,
}, async () => {
  const dir = join(tmpdir(), `streamnest-diskfull-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  try {
    const a = pretrain(dir, ['trainer.max_steps=4']);
    assert.equal(a.code, 0, a.stderr);
    const ck = checkpointsDir(dir);
    const before = new Map(readdirSync(ck).map((f) => [f, sha(join(ck, f))]));
    // a checkpoint is ~3 MiB: a 1 MiB limit lets training run and makes the next checkpoint write fail
    const b = pretrain(dir, ['trainer.max_steps=8'], 1024);
    assert.equal(b.code, 1, `exit code; stderr:\n${b.stderr}`);
    assert.match(b.stderr, /resumed from .* at step 4/);
    const msg = b.stderr.split('\n').find((l) => /cannot write the checkpoint/.test(l));
    assert.ok(msg, `no clear message:\n${b.stderr}`);
    assert.ok(msg.includes(ck), `the message names the path: ${msg}`);
    assert.match(msg, /EFBIG|too large/);
    assert.match(msg, /previous checkpoints .* are kept/);
    // every earlier checkpoint is byte-identical, nothing new and no temporary left behind
    const after = new Map(readdirSync(ck).map((f) => [f, sha(join(ck, f))]));
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
    for (const [f, h] of before) assert.equal(after.get(f), h, `${f} changed`);
    assert.deepEqual(checkAllReadable(ck).problems, []);
    // and the run resumes from step 4 once the limit is gone
    const c = pretrain(dir, ['trainer.max_steps=8']);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(JSON.parse(digestCheckpoint(lastCheckpoint(dir)).progress).globalStep, 8);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an output path through a regular file fails with a message naming the path, at start-up and at the first checkpoint', { timeout: 120_000 }, async () => {
  const dir = join(tmpdir(), `streamnest-notdir-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    // exp_dir's parent is a file: refused before training
    writeFileSync(join(dir, 'file'), 'x');
    const a = pretrain(join(dir, 'file', 'exp'), ['trainer.max_steps=2']);
    assert.equal(a.code, 1, a.stderr);
    assert.match(a.stderr, /ENOTDIR|not a directory/);
    assert.ok(a.stderr.includes(join(dir, 'file')), a.stderr);
    // the checkpoint folder is a file (and resume is off): training runs, the first checkpoint write stops it
    const exp = join(dir, 'exp');
    mkdirSync(join(exp, RUN_NAME), { recursive: true });
    writeFileSync(checkpointsDir(exp), 'not a folder');
    const b = pretrain(exp, ['trainer.max_steps=2', 'exp_manager.resume_if_exists=false']);
    assert.equal(b.code, 1, b.stderr);
    assert.match(b.stderr, /cannot create the checkpoint folder/);
    assert.ok(b.stderr.includes(checkpointsDir(exp)), b.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
