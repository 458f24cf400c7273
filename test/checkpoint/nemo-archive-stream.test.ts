// Streamed .nemo reading (issue 21): a plain tar is read in place (unneeded members are skipped by seeking, a
// shapes-only read does not touch the storages), a weights member cut short or with corrupt storages still gives the
// config and the tensor list to `inspect`, gzip archives too large for memory are streamed (decompress and discard),
// and hostile archives run into limits that name the archive and the member.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as t from '../../src/torch/index.js';
import { NemoArchiveError, readNemoArchive, readNemoMember } from '../../src/checkpoint/nemo-archive.js';
import { loadNemoModel } from '../../src/checkpoint/nemo-model.js';
import { describeModel } from '../../src/checkpoint/describe.js';
import { readTar, writeTar, type TarWriteMember } from '../../src/checkpoint/tar.js';
import { GOLDEN } from '../helpers/assert.js';
import { sameBits, writeCtcArchive } from './asr-archive.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'streamnest-nemo-stream-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const PLAIN = join(GOLDEN, 'nemo', 'b_fully_causal.nemo'); // an uncompressed tar made by NeMo's save_to
const INDEX = JSON.parse(readFileSync(join(GOLDEN, 'index.json'), 'utf8')) as {
  archives: { file: string; state_dict: { key: string; shape: number[]; dtype: string }[] }[];
};
const GOLDEN_TENSORS = INDEX.archives.find((a) => a.file === 'nemo/b_fully_causal.nemo')!.state_dict;
const golden = readTar(readFileSync(PLAIN), PLAIN);
const CONFIG = golden.find((m) => m.name === 'model_config.yaml')!.data;
const WEIGHTS = golden.find((m) => m.name === 'model_weights.ckpt')!.data;

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, STREAMNEST_DEBUG: '' }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const disposeAll = (sd: Map<string, t.Tensor>): void => {
  for (const x of sd.values()) x.dispose();
};

/** The members of a small archive: './', the golden config and weights, then `more`, without the end marker. */
function members(more: TarWriteMember[] = []): Buffer {
  const parts = writeTar([
    { name: './', type: 'dir' },
    { name: './model_config.yaml', data: CONFIG },
    { name: './model_weights.ckpt', data: WEIGHTS },
    ...more,
  ]);
  return Buffer.concat(parts.slice(0, -1)); // the last chunk is the end marker
}

/** A ustar header of type `typeflag` declaring `size` bytes (its data are not written). */
function fileHeader(name: string, size: number, typeflag = '0'): Buffer {
  const h = Buffer.from(writeTar([{ name, data: new Uint8Array(0) }])[0]!);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write(typeflag, 156, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

const tensorList = (sd: Map<string, t.Tensor>): { key: string; shape: number[]; dtype: string }[] =>
  [...sd].map(([key, v]) => ({ key, shape: v.shape, dtype: v.dtype }));

test('a plain tar is read in place: a huge unneeded member is skipped by seeking, a shapes-only read leaves the storages unread', (ctx) => {
  // a 6 GiB member that is a hole in a sparse file: reading it, rather than seeking past it, would take long and fail
  const HUGE = 6 * 2 ** 30;
  const path = join(tmp, 'sparse.nemo');
  const head = Buffer.concat([members(), fileHeader('./huge.bin', HUGE)]);
  const fd = openSync(path, 'w');
  writeSync(fd, head);
  ftruncateSync(fd, head.length + HUGE + 1024); // the hole reads as zeros: the data, then the end-of-archive marker
  closeSync(fd);
  if (statSync(path).blocks * 512 > 64 << 20) {
    ctx.skip('the temporary folder does not keep files sparse');
    return;
  }
  const live = t.liveTensorCount();
  const stats = { bytesRead: 0 };
  const a = readNemoArchive(path, { extra: 'none', stats });
  assert.deepEqual(tensorList(a.stateDict), GOLDEN_TENSORS);
  assert.equal(a.extraSizes.get('huge.bin'), HUGE);
  assert.deepEqual(a.members.at(-1), { name: './huge.bin', size: HUGE });
  // the members before the huge one (the zip's last 64 KiB are read twice: once to find its directory)
  assert.ok(stats.bytesRead < head.length + (128 << 10), `read ${stats.bytesRead} bytes of a ${head.length + HUGE}-byte file`);

  const metaStats = { bytesRead: 0 };
  const m = readNemoArchive(path, { tensors: 'meta', extra: 'none', stats: metaStats });
  assert.deepEqual(tensorList(m.stateDict), GOLDEN_TENSORS);
  assert.ok([...m.stateDict.values()].every((x) => x.device === 'meta'));
  assert.deepEqual(m.warnings, []);
  // the config, the pickle and the zip's directory: a small part of the 1.2 MB weights member
  assert.ok(metaStats.bytesRead < (CONFIG.length + 64) << 10, `a shapes-only read read ${metaStats.bytesRead} bytes`);
  assert.ok(metaStats.bytesRead < WEIGHTS.length / 4);
  disposeAll(a.stateDict);
  disposeAll(m.stateDict);
  assert.equal(t.liveTensorCount(), live);

  // asked for every extra file: the huge one is refused by name, before anything is allocated
  assert.throws(
    () => readNemoArchive(path),
    (e: Error) => e instanceof NemoArchiveError && /sparse\.nemo: member '\.\/huge\.bin'.*too many to hold in memory/.test(e.message),
  );
  assert.equal(t.liveTensorCount(), live);
  assert.deepEqual(readNemoMember(path, 'model_config.yaml'), Uint8Array.from(CONFIG));
  assert.equal(readNemoMember(path, 'absent.txt'), null);
  assert.throws(() => readNemoMember(path, 'huge.bin'), /sparse\.nemo: member \.\/huge\.bin has 6442450944 bytes/);

  const r = cli(['inspect', path]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /tensors: +93 in the state dict/);
  assert.match(r.stdout, /not loaded: +huge\.bin \(file, 6,442,450,944 bytes\)/);
});

test('inspect shows the config and every tensor of a weights member cut short, or with corrupt storages; loading refuses both', () => {
  const whole = readFileSync(PLAIN);
  const dataAt = whole.indexOf(Buffer.from(WEIGHTS.subarray(0, 64)));
  assert.ok(dataAt > 0);
  // cut inside the storages: the zip's pickle (first) is whole, its directory (last) is gone
  const cut = join(tmp, 'cut.nemo');
  writeFileSync(cut, whole.subarray(0, dataAt + (WEIGHTS.length >> 1)));
  assert.throws(() => readNemoArchive(cut), /cut\.nemo: member '\.\/model_weights\.ckpt'.*size 1212744 runs past the end of the archive/);
  const m = readNemoArchive(cut, { tensors: 'meta' });
  assert.deepEqual(tensorList(m.stateDict), GOLDEN_TENSORS);
  assert.equal(m.warnings.length, 1);
  assert.match(m.warnings[0]!, /cut\.nemo: \.\/model_weights\.ckpt is cut short \(606372 of 1212744 bytes\): tensors listed from its pickle/);
  disposeAll(m.stateDict);
  let r = cli(['inspect', cut]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /encoder: +ConformerEncoder, 2 layers/);
  assert.match(r.stdout, /tensors: +93 in the state dict/);
  assert.match(r.stdout, /warning: +.*cut short \(606372 of 1212744 bytes\)/);
  r = cli(['inspect', cut, '--tensors']);
  assert.match(r.stdout, /\n +preprocessor\.featurizer\.fb +float32 +\[1, 80, 257\]\n/);

  // a flipped byte in the last storage: only a read of the data notices
  const bad = Uint8Array.from(whole);
  bad[dataAt + WEIGHTS.length - 4096] = bad[dataAt + WEIGHTS.length - 4096]! ^ 0xff;
  const corrupt = join(tmp, 'corrupt.nemo');
  writeFileSync(corrupt, bad);
  assert.throws(() => readNemoArchive(corrupt), /corrupt\.nemo: \.\/model_weights\.ckpt: entry 'model_weights\/data\/\d+' fails its CRC-32 check/);
  r = cli(['inspect', corrupt]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /tensors: +93 in the state dict/);
  assert.doesNotMatch(r.stdout, /warning:/);
  r = cli(['inspect', corrupt, '--dump-tensors', join(tmp, 'dump.json')]);
  assert.notEqual(r.code, 0, '--dump-tensors reads the data');
  assert.match(r.stderr, /fails its CRC-32 check/);
});

test('a shapes-only load builds the model without memory and describes it exactly as a full load does', () => {
  const ctc = join(tmp, 'ctc.nemo');
  writeCtcArchive(ctc);
  for (const path of [...INDEX.archives.map((a) => join(GOLDEN, a.file)), ctc]) {
    const live = t.liveTensorCount();
    const full = loadNemoModel(path);
    const meta = loadNemoModel(path, { weights: 'meta' });
    const modules = meta.kind === 'nest' ? [meta.model] : [meta.encoder, meta.preprocessor];
    for (const mod of modules) for (const [k, v] of mod.stateDict()) assert.equal(v.device, 'meta', `${path}: ${k}`);
    assert.deepEqual(describeModel(meta), describeModel(full), path);
    full.dispose();
    meta.dispose();
    assert.equal(t.liveTensorCount(), live);
  }
});

test('reading the weights in place gives the same tensors, bit for bit, as reading the archive from memory', () => {
  const viaFile = readNemoArchive(PLAIN);
  const viaBytes = t.loadStateDict(WEIGHTS, 'bytes');
  assert.deepEqual([...viaFile.stateDict.keys()], [...viaBytes.keys()]);
  for (const [k, v] of viaBytes) assert.ok(sameBits(viaFile.stateDict.get(k)!, v), k);
  disposeAll(viaFile.stateDict);
  disposeAll(viaBytes);
});

test('limits on member count, name length, extended headers and total size: each refusal names the archive and the member', () => {
  const end = new Uint8Array(1024);
  const write = (name: string, body: Uint8Array, gzip = false): string => {
    const p = join(tmp, name);
    writeFileSync(p, gzip ? gzipSync(body) : body);
    return p;
  };
  const many = write('many.nemo', Buffer.concat([members(Array.from({ length: 20 }, (_, i) => ({ name: `./f${i}.txt`, data: new Uint8Array(1) }))), end]));
  assert.throws(
    () => readNemoArchive(many, { limits: { maxMembers: 10 } }),
    /many\.nemo: member '\.\/f7\.txt' \(header at byte \d+\): the archive has more than 10 members \(limit maxMembers\); refused/,
  );
  assert.equal(readNemoArchive(many, { tensors: 'meta' }).extra.size, 20, 'within the default limits');

  const longName = `./${'d/'.repeat(2100)}x.txt`; // a PAX path of over 4096 bytes
  const long = write('long.nemo', Buffer.concat([members([{ name: longName, data: new Uint8Array(1) }]), end]));
  for (const gzip of [false, true]) {
    const p = gzip ? write('long-gz.nemo', readFileSync(long), true) : long;
    assert.throws(
      () => readNemoArchive(p, { tensors: 'meta' }),
      (e: Error) =>
        e instanceof NemoArchiveError &&
        /long(-gz)?\.nemo: member '\.\/d\/d\/.*… \(\d+ characters\)'.*name of \d+ bytes is longer than 4096 \(limit maxNameBytes\)/.test(e.message),
    );
  }

  const bigPax = write('pax.nemo', Buffer.concat([members(), fileHeader('././@PaxHeader', 2 << 20, 'x'), end]));
  assert.throws(
    () => readNemoArchive(bigPax),
    /pax\.nemo: member '\.\/\.\/@PaxHeader' .*extended header of 2097152 bytes is larger than 1048576 \(limit maxHeaderBytes\)/,
  );

  const total = write('total.nemo', Buffer.concat([members([{ name: './blob.bin', data: new Uint8Array(3 << 20) }]), end]), true);
  assert.throws(
    () => readNemoArchive(total, { limits: { maxTotalBytes: 2 << 20 } }),
    /total\.nemo: member '\.\/blob\.bin' \(header at byte \d+\): size 3145728 takes the archive's members past 2097152 bytes in all \(limit maxTotalBytes\); refused/,
  );
  disposeAll(readNemoArchive(total, { limits: { maxTotalBytes: 8 << 20 } }).stateDict);
});

test('a gzip archive too large for memory is streamed: unneeded members are decompressed and discarded; a cut one fails clearly', () => {
  // 48 MB of zeros after the model: more than the 32 MiB decompressed in memory, so the worker thread streams it
  const ZEROS = 48 << 20;
  const body = Buffer.concat([members([{ name: './zeros.bin', data: new Uint8Array(ZEROS) }]), new Uint8Array(1024)]);
  const gz = gzipSync(body, { level: 9 });
  assert.ok(gz.length < 1 << 20, 'the test file stays small');
  const path = join(tmp, 'zeros.nemo');
  writeFileSync(path, gz);
  const live = t.liveTensorCount();
  const m = readNemoArchive(path, { tensors: 'meta', extra: 'none' });
  assert.deepEqual(tensorList(m.stateDict), GOLDEN_TENSORS);
  assert.equal(m.extraSizes.get('zeros.bin'), ZEROS);
  disposeAll(m.stateDict);
  const a = readNemoArchive(path, { extra: ['zeros.bin'] });
  const ref = t.loadStateDict(WEIGHTS, 'bytes');
  for (const [k, v] of ref) assert.ok(sameBits(a.stateDict.get(k)!, v), k);
  assert.equal(a.extra.get('zeros.bin')!.length, ZEROS);
  assert.ok(a.extra.get('zeros.bin')!.every((b) => b === 0));
  disposeAll(a.stateDict);
  disposeAll(ref);
  assert.equal(t.liveTensorCount(), live);
  assert.throws(() => readNemoArchive(path, { limits: { maxTotalBytes: 32 << 20 } }), /zeros\.nemo: member '\.\/zeros\.bin'.*\(limit maxTotalBytes\); refused/);
  // the same stream cut short: the decompressor's error, named
  const cut = join(tmp, 'zeros-cut.nemo');
  writeFileSync(cut, gz.subarray(0, gz.length - 100));
  assert.throws(
    () => readNemoArchive(cut, { tensors: 'meta', extra: 'none' }),
    (e: Error) => e instanceof NemoArchiveError && /zeros-cut\.nemo: gzip data is corrupt \(unexpected end of file\)/.test(e.message),
  );
  assert.equal(t.liveTensorCount(), live);
});

test('inspect of a training checkpoint reads its step from trainer_state.json alone', () => {
  const path = join(tmp, 'last.ckpt');
  const json = new TextEncoder().encode(JSON.stringify({ format: 'streamnest-training-checkpoint', version: 1, global_step: 7 }));
  writeFileSync(
    path,
    Buffer.concat([
      members([
        { name: './trainer_state.ckpt', data: new Uint8Array(3 << 20) },
        { name: './trainer_state.json', data: json },
      ]),
      new Uint8Array(1024),
    ]),
  );
  assert.deepEqual(readNemoMember(path, 'trainer_state.json'), json);
  const r = cli(['inspect', path, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout) as { trainingStep: number; ignored: { what: string; size: number }[] };
  assert.equal(d.trainingStep, 7);
  assert.deepEqual(
    d.ignored.map((g) => [g.what, g.size]),
    [
      ['trainer_state.ckpt', 3 << 20],
      ['trainer_state.json', json.length],
    ],
  );
});

test('a shapes-only read of a gzip archive whose weights exceed 32 MiB keeps only their two ends', () => {
  const sd = new Map([
    ['big', t.zeros([10 << 20])], // 40 MiB of float32 zeros: compresses to almost nothing
    ['small', t.arange(0, 10).float()],
  ]);
  const body = Buffer.concat(
    writeTar([
      { name: './model_config.yaml', data: new TextEncoder().encode('a: 1\n') },
      { name: './model_weights.ckpt', data: t.saveTorchSave(sd, { keepRequiresGrad: false }) },
    ]),
  );
  const path = join(tmp, 'big-weights.nemo');
  writeFileSync(path, gzipSync(body, { level: 9 }));
  const m = readNemoArchive(path, { tensors: 'meta' });
  assert.deepEqual(tensorList(m.stateDict), [
    { key: 'big', shape: [10 << 20], dtype: 'float32' },
    { key: 'small', shape: [10], dtype: 'float32' },
  ]);
  assert.deepEqual(m.warnings, []);
  disposeAll(m.stateDict);
  const a = readNemoArchive(path);
  assert.deepEqual(a.stateDict.get('small')!.toArray(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(
    t.tidy(() => a.stateDict.get('big')!.abs().sum().item()),
    0,
  );
  disposeAll(a.stateDict);
  disposeAll(sd);
});
