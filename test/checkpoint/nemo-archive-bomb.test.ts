// A gzip bomb (issue 21): a small gzip .nemo hiding 256 MB of zeros in an extra member is inspected in bounded memory
// (the member is decompressed and discarded, never held), or refused with the reason under a tighter limit.
// Its own file (its own process), so that the peak RSS measured here is this test's alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { NemoArchiveError, readNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { readTar, writeTar } from '../../src/checkpoint/tar.js';
import { GOLDEN } from '../helpers/assert.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'streamnest-nemo-bomb-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const ZEROS = 256 << 20;

/** The golden plain archive's members, then ./zeros.bin of ZEROS bytes, gzipped as written (nothing large is held). */
async function writeBomb(path: string): Promise<void> {
  const golden = readTar(readFileSync(join(GOLDEN, 'nemo', 'b_fully_causal.nemo')));
  const parts = writeTar(golden.map((m) => (m.type === 'dir' ? { name: `./`, type: 'dir' as const } : { name: `./${m.name}`, data: m.data })));
  const header = Buffer.from(writeTar([{ name: './zeros.bin', data: new Uint8Array(0) }])[0]!);
  header.write(`${ZEROS.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  const gz = createGzip({ level: 9 });
  const out = createWriteStream(path);
  const done = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
  });
  gz.pipe(out);
  const write = async (b: Uint8Array): Promise<void> => {
    if (!gz.write(b)) await new Promise((r) => gz.once('drain', r));
  };
  for (const p of parts.slice(0, -1)) await write(p);
  await write(header);
  const zeros = new Uint8Array(1 << 20);
  for (let left = ZEROS; left > 0; left -= zeros.length) await write(zeros);
  await write(new Uint8Array(1024));
  gz.end();
  await done;
}

test('a 256 MB gzip bomb in an extra member is inspected in bounded memory, or refused under a tighter limit', async () => {
  const path = join(tmp, 'bomb.nemo');
  await writeBomb(path);
  assert.ok(statSync(path).size < 2 << 20, 'a small file');
  const before = process.resourceUsage().maxRSS * 1024;
  const a = readNemoArchive(path, { tensors: 'meta', extra: 'none' });
  const grew = process.resourceUsage().maxRSS * 1024 - before;
  assert.equal(a.stateDict.size, 93);
  assert.equal(a.extraSizes.get('zeros.bin'), ZEROS);
  for (const x of a.stateDict.values()) x.dispose();
  // holding the member would take 256 MB; streaming it takes the in-memory attempt (32 MiB), the worker and its slots
  assert.ok(grew < 128 << 20, `peak RSS grew by ${(grew / 2 ** 20).toFixed(0)} MiB`);

  assert.throws(
    () => readNemoArchive(path, { tensors: 'meta', extra: 'none', limits: { maxTotalBytes: 64 << 20 } }),
    (e: Error) =>
      e instanceof NemoArchiveError &&
      /bomb\.nemo: member '\.\/zeros\.bin' \(header at byte \d+\): size 268435456 .*\(limit maxTotalBytes\); refused/.test(e.message),
  );

  const r = spawnSync(process.execPath, [MAIN, 'inspect', path], { encoding: 'utf8', env: { ...process.env, STREAMNEST_DEBUG: '' }, timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /tensors: +93 in the state dict/);
  assert.match(r.stdout, /not loaded: +zeros\.bin \(file, 268,435,456 bytes\)/);
});
