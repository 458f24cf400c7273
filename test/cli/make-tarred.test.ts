// `streamnest make-tarred` in-process: NeMo's layout from the shipped corpus manifest, the remainder rule, filters,
// the config line it prints, and argument errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/assert.js';
import { captureOutput } from '../helpers/capture-output.js';
import { ArgError } from '../../src/cli/args.js';
import { run } from '../../src/cli/commands/make-tarred.js';
import { readTar } from '../../src/data/tar-stream.js';

const dir = mkdtempSync(join(tmpdir(), 'streamnest-make-tarred-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const MANIFEST = join(REPO_ROOT, 'data', 'corpus', 'train_manifest.json');

async function capture(args: string[]): Promise<{ code: number; stdout: string }> {
  const r = await captureOutput(() => run(args));
  return { code: r.value, stdout: r.stdout };
}

test('make-tarred shards the corpus into audio_{i}.tar with the manifests NeMo writes', async () => {
  const out = join(dir, 'a');
  const r = await capture(['--manifest', MANIFEST, '--out', out, '--shards', '5', '--sort-in-shards']);
  assert.equal(r.code, 0);
  // 32 entries over 5 shards: 6 each, 2 left over (NeMo discards them too)
  assert.match(r.stdout, /wrote 5 shards of 6 entries \(30 entries/);
  assert.match(r.stdout, /2 left over/);
  assert.match(r.stdout, /tarred_audio_filepaths=.*audio__OP_0\.\.4_CL_\.tar/);
  for (let i = 0; i < 5; i++) {
    const members = readTar(readFileSync(join(out, `audio_${i}.tar`)));
    assert.equal(members.length, 6);
    const lines = readFileSync(join(out, 'sharded_manifests', `manifest_${i}.json`), 'utf8')
      .trim()
      .split('\n');
    const entries = lines.map((l) => JSON.parse(l) as { audio_filepath: string; duration: number; shard_id: number });
    assert.deepEqual(
      entries.map((e) => e.audio_filepath),
      members.map((m) => m.name),
    );
    const durations = entries.map((e) => e.duration);
    assert.deepEqual(
      durations,
      [...durations].sort((a, b) => a - b),
    ); // --sort-in-shards
    // members hold the original bytes
    const src = join(REPO_ROOT, 'data', 'corpus', 'train', members[0]!.name.replace(/^.*_(train-\d+)\.wav$/, '$1.wav'));
    assert.deepEqual(Buffer.from(members[0]!.data), readFileSync(src));
  }
  assert.equal(readFileSync(join(out, 'tarred_audio_manifest.json'), 'utf8').trim().split('\n').length, 30);
});

test('make-tarred applies the duration filters and can leave the shard manifests out', async () => {
  const out = join(dir, 'b');
  const r = await capture(['--manifest', MANIFEST, '--out', out, '--shards', '2', '--min-duration', '3', '--max-duration', '4', '--no-shard-manifests']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /filtered by duration/);
  assert.ok(!existsSync(join(out, 'sharded_manifests')));
  const durations = readFileSync(join(out, 'tarred_audio_manifest.json'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { duration: number }).duration);
  assert.ok(durations.every((d) => d >= 3 && d < 4));
});

test('make-tarred: missing options are argument errors; more shards than entries is refused', async () => {
  await assert.rejects(capture(['--manifest', MANIFEST, '--out', join(dir, 'c')]), (e: unknown) => e instanceof ArgError);
  await assert.rejects(capture(['--manifest', MANIFEST, '--out', join(dir, 'd'), '--shards', '100']), /32 entries cannot fill 100 shards/);
});
