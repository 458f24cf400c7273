// torch.save files read in place (issue 21): from a file range, storages are copied into their tensors piece by piece
// (bit-exact, CRC-checked across pieces, nothing leaked on failure); a shapes-only ('meta') read reads the zip's
// directory and pickle but no storage; a zip cut short is listed front to back through its local headers and data
// descriptors (as torch.save writes them); whole tensors take their storage's memory instead of a copy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as t from '../../src/torch/index.js';
import { REPO_ROOT } from '../helpers/assert.js';

const tmp = mkdtempSync(join(tmpdir(), 'streamnest-serialize-stream-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const sameBytes = (a: t.Tensor, b: t.Tensor): boolean => Buffer.from(a.toBuffer()).equals(Buffer.from(b.toBuffer()));

/** A state dict with a 1 MiB float32 tensor, an int64 one and a bool one, saved to a file. */
function saved(): { path: string; sd: Map<string, t.Tensor> } {
  const g = new t.Generator(7);
  const sd = new Map<string, t.Tensor>([
    ['big', t.randn([512, 512], { generator: g })],
    ['ids', t.arange(0, 1000)],
    ['mask', t.randn([33], { generator: g }).gt(0)],
  ]);
  const path = join(tmp, 'sd.pt');
  t.saveStateDict(path, sd);
  return { path, sd };
}

function withFile<T>(path: string, f: (src: t.FileRangeSource) => T): T {
  const fd = openSync(path, 'r');
  try {
    return f(new t.FileRangeSource(fd, 0, statSync(path).size));
  } finally {
    closeSync(fd);
  }
}

test('storages are read from a file in pieces into their tensors, bit for bit; a corrupt piece fails its CRC and leaks nothing', () => {
  const { path, sd } = saved();
  const live = t.liveTensorCount();
  for (const chunk of [64 << 10, 1 << 20, 16 << 20]) {
    const back = withFile(path, (src) => t.loadStateDict(src, 'sd.pt', { storageChunkBytes: chunk }));
    assert.deepEqual([...back.keys()], [...sd.keys()]);
    for (const [k, v] of sd) {
      assert.equal(back.get(k)!.dtype, v.dtype);
      assert.ok(sameBytes(back.get(k)!, v), `${k} at ${chunk}-byte pieces`);
    }
    for (const x of back.values()) x.dispose();
  }
  // a flipped byte in the middle of the 1 MiB storage: noticed after its last piece
  const bytes = readFileSync(path);
  const zip = new t.ZipArchive(bytes);
  const entry = [...zip.entries.values()].find((e) => e.size === 512 * 512 * 4)!;
  const at = zip.read(entry.name).byteOffset - bytes.byteOffset + (entry.size >> 1);
  bytes[at] = bytes[at]! ^ 0x10;
  const bad = join(tmp, 'bad.pt');
  writeFileSync(bad, bytes);
  assert.throws(() => t.loadStateDict(bad, 'bad.pt', { storageChunkBytes: 64 << 10 }), /bad\.pt: entry 'archive\/data\/0' fails its CRC-32 check/);
  assert.equal(t.liveTensorCount(), live, 'no tensor left behind');
  assert.throws(() => t.loadStateDict(path, 'sd.pt', { storageChunkBytes: 1001 }), /storageChunkBytes 1001 is not a positive multiple of 8/);
  for (const x of sd.values()) x.dispose();
});

test("a shapes-only read reads the zip's directory and pickle, not the storages", () => {
  const { path, sd } = saved();
  const size = statSync(path).size;
  const { meta, read } = withFile(path, (src) => ({ meta: t.loadStateDict(src, 'sd.pt', { storages: 'meta' }), read: src.bytesRead }));
  assert.deepEqual(
    [...meta].map(([k, v]) => [k, v.shape, v.dtype, v.device]),
    [...sd].map(([k, v]) => [k, v.shape, v.dtype, 'meta']),
  );
  // the end of the file (where the directory is) and the pickle; the 1 MiB storage at the start is not read
  assert.ok(read < 80 << 10, `read ${read} of ${size} bytes`);
  const { loaded, readAll } = withFile(path, (src) => ({ loaded: t.loadStateDict(src, 'sd.pt'), readAll: src.bytesRead }));
  assert.ok(readAll > size - 4096, 'a full read reads the storages');
  for (const x of [...meta.values(), ...loaded.values(), ...sd.values()]) x.dispose();
});

test('a torch.save zip cut short is listed front to back: names, sizes, and the pickle, through data descriptors', () => {
  // written by PyTorch: local headers without sizes, each entry followed by a data descriptor
  const bytes = readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'torch_save', 'state_dict.pt'));
  const full = new t.ZipArchive(bytes);
  const whole = new t.ZipLocalScan(t.sequentialReader(new t.MemorySource(bytes)), (n) => n.endsWith('data.pkl'), 'sd.pt');
  assert.equal(whole.complete, true);
  assert.deepEqual(
    whole.names().map((n) => [n, whole.size(n)]),
    [...full.entries.values()].map((e) => [e.name, e.size]),
  );
  const pkl = full.names().find((n) => n.endsWith('data.pkl'))!;
  assert.deepEqual(whole.read(pkl), full.read(pkl));
  const ref = t.loadStateDict(bytes, 'sd.pt', { storages: 'meta' });

  const cut = bytes.subarray(0, bytes.length >> 1);
  assert.throws(() => new t.ZipArchive(cut, 'cut.pt'), /cut\.pt: not a zip archive \(no end-of-central-directory record\)/);
  const scan = new t.ZipLocalScan(t.sequentialReader(new t.MemorySource(cut)), (n) => n.endsWith('data.pkl'), 'cut.pt');
  assert.equal(scan.partial, true);
  assert.match(scan.stoppedBecause!, /the data end inside/);
  const listed = t.loadStateDict(scan, 'cut.pt', { storages: 'meta' });
  assert.deepEqual(
    [...listed].map(([k, v]) => [k, v.shape, v.dtype]),
    [...ref].map(([k, v]) => [k, v.shape, v.dtype]),
  );
  assert.throws(() => t.loadStateDict(scan, 'cut.pt'), /cut\.pt: .*was not read \(the zip was only listed front to back\)/);
  for (const x of [...ref.values(), ...listed.values()]) x.dispose();
});

test('a tensor that is its whole storage takes its memory; views and shared storages still get their own copies', () => {
  const a = t.arange(0, 12).float().reshape([3, 4]);
  const bytes = t.saveTorchSave(new Map([['a', a]]));
  const back = t.loadTorchSave(bytes, 'a.pt') as Map<string, t.Tensor>;
  const x = back.get('a')!;
  assert.deepEqual(x.strides, [4, 1]);
  assert.deepEqual(x.toArray(), a.toArray());
  x.add_(1); // a tensor of its own: writable, and nothing else sees the change
  assert.deepEqual(x.toArray(), a.add(1).toArray());
  // views over one storage (PyTorch's fixture): the first whole-storage tensor may take it, the others are copies
  const v = t.loadTorchSave(readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'torch_save', 'tensors.pt')), 'tensors.pt') as Map<string, t.PickleValue>;
  const views = ['offset_view', 'strided_view', 'transposed'].map((k) => v.get(k) as t.Tensor);
  for (const w of views) for (const u of views) if (w !== u) assert.equal(w.sameStorage(u), false);
  for (const val of v.values()) if (val instanceof t.Tensor) val.dispose();
  a.dispose();
  x.dispose();
});
