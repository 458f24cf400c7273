// `streamnest serve` as a user runs it: a process that prints where it listens, serves a real client, and on
// SIGTERM finishes the open stream's results before it exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAudio } from '../../src/audio/index.js';
import { repoRoot } from '../../src/data/corpus.js';
import { CLOSE } from '../../src/serving/index.js';
import { bytes, collect, connect } from '../serving/client.js';
import { writeServingModel } from '../serving/model.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

test('serve: listens, streams, and on SIGTERM sends the open stream its last results and Done!, then exits 0', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'streamnest-serve-cli-'));
  const nemo = join(tmp, 'm.nemo');
  const m = writeServingModel(nemo);
  const child = spawn(process.execPath, [MAIN, 'serve', '--model', nemo, '--port', '0', '--no-endpoint'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const hit = /listening on (http:\/\/\S+)/.exec(out);
        if (hit) resolve(hit[1]!);
      });
      child.on('exit', () => reject(new Error(`serve exited early: ${stderr}`)));
    });
    const audio = loadAudio(join(repoRoot(), 'data', 'corpus', 'val', 'val-00004.wav'), { targetSampleRate: 16000 }).samples;
    const part = audio.subarray(0, Math.floor(audio.length * 0.6));
    const ws = await connect(url);
    const got = collect(ws);
    ws.send(bytes(part));
    await new Promise<void>((resolve) => ws.once('message', () => resolve()));
    child.kill('SIGTERM');
    const run = await got;
    assert.equal(run.closeCode, CLOSE.goingAway, run.closeReason);
    assert.deepEqual(run.texts, ['Done!']);
    assert.equal(run.results.at(-1)!.text, m.transcribe([part])[0]!.text);
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /SIGTERM: finishing 1 open stream/);
  } finally {
    child.kill('SIGKILL');
    m.dispose();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('serve: a missing --model or a port in use is a clear error, not a hang', async () => {
  const r = spawnSync(process.execPath, [MAIN, 'serve'], { encoding: 'utf8', timeout: 60_000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--model MODEL.nemo is required/);
  const tmp = mkdtempSync(join(tmpdir(), 'streamnest-serve-cli-'));
  try {
    const nemo = join(tmp, 'm.nemo');
    writeServingModel(nemo).dispose();
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const port = (blocker.address() as { port: number }).port;
    const busy = spawnSync(process.execPath, [MAIN, 'serve', '--model', nemo, '--port', String(port)], { encoding: 'utf8', timeout: 60_000 });
    blocker.close();
    assert.notEqual(busy.status, 0);
    assert.match(busy.stderr, /EADDRINUSE|address already in use/i);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
