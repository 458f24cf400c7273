// The built CLI as a child process: help, info, per-command help, unknown commands, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { COMMANDS, loadCommand } from '../../src/cli/command.js';

// This file compiles to <outDir>/test/cli/main.test.js; the CLI to <outDir>/src/cli/main.js.
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function cli(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, STREAMNEST_DEBUG: '', ...env },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the CLI entry point is built and starts with a shebang', async () => {
  assert.ok(existsSync(MAIN), `missing ${MAIN}`);
  const { readFileSync } = await import('node:fs');
  assert.match(readFileSync(MAIN, 'utf8'), /^#!\/usr\/bin\/env node\n/);
});

test('--help lists every registered command with its summary', async () => {
  const r = cli(['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Usage: streamnest/);
  assert.match(r.stdout, /--threads N/);
  for (const e of COMMANDS) {
    const c = await loadCommand(e);
    assert.ok(r.stdout.includes(`  ${c.name} `), `command ${c.name} missing from --help`);
    assert.ok(r.stdout.includes(c.summary), `summary of ${c.name} missing from --help`);
  }
});

test('--version prints the package version', () => {
  const r = cli(['--version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^streamnest \d+\.\d+\.\d+/);
});

test('info prints libtorch, BLAS, the dropout-mask loop, threads and CUDA', () => {
  const r = cli(['info']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /libtorch\s+\d+\.\d+/);
  assert.match(r.stdout, /BLAS\s+\w+/);
  assert.match(r.stdout, /dropout masks\s+Philox4x32-10, (avx512|avx2|generic) loop/);
  assert.match(r.stdout, /threads\s+\d+/);
  assert.match(r.stdout, /CUDA\s+(available|not available)/);
});

test('--threads and STREAMNEST_THREADS set the thread count (option wins)', () => {
  const a = cli(['--threads', '1', 'info', '--json']);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(JSON.parse(a.stdout).threads, 1);
  const b = cli(['info', '--json', '--threads=2'], { STREAMNEST_THREADS: '1' });
  assert.equal(b.code, 0, b.stderr);
  assert.equal(JSON.parse(b.stdout).threads, 2);
  const c = cli(['info', '--json'], { STREAMNEST_THREADS: '2' });
  assert.equal(JSON.parse(c.stdout).threads, 2);
  const info = JSON.parse(c.stdout) as { blas: { kind: string; openblasThreads: number | null } };
  if (info.blas.kind === 'openblas' && info.blas.openblasThreads !== null) assert.equal(info.blas.openblasThreads, 2);
});

test('<cmd> --help prints the command usage', () => {
  for (const args of [
    ['info', '--help'],
    ['info', '-h'],
    ['help', 'info'],
  ]) {
    const r = cli(args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: streamnest info/, args.join(' '));
  }
});

test('an unknown command exits 2 and suggests the closest one', () => {
  const r = cli(['inf']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command 'inf'/);
  assert.match(r.stderr, /Did you mean 'info'\?/);
  const far = cli(['zzzzzzzz']);
  assert.equal(far.code, 2);
  assert.doesNotMatch(far.stderr, /Did you mean/);
});

test('usage errors exit 2; bad thread settings are one-line errors', () => {
  const r = cli(['info', '--jsn']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option --jsn \(did you mean --json\?\)/);
  const t = cli(['--threads', 'two', 'info']);
  assert.equal(t.code, 2);
  assert.match(t.stderr, /--threads must be a positive integer/);
  const e = cli(['info'], { STREAMNEST_THREADS: 'x' });
  assert.equal(e.code, 1);
  assert.equal(e.stderr.trim().split('\n').length, 1, e.stderr);
  assert.match(e.stderr, /STREAMNEST_THREADS must be a positive integer/);
  assert.doesNotMatch(e.stderr, /\n\s+at /);
  const d = cli(['info'], { STREAMNEST_THREADS: 'x', STREAMNEST_DEBUG: '1' });
  assert.equal(d.code, 1);
  assert.match(d.stderr, /\n\s+at /);
});
