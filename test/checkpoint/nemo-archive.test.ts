// .nemo archives: NeMo's own save_to output loads with the recorded state dict, our writer round-trips
// bit-exactly in NeMo's layout, and unsafe tar members are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import * as t from '../../src/torch/index.js';
import { readNemoArchive, writeNemoArchive, NemoArchiveError } from '../../src/checkpoint/nemo-archive.js';
import { GOLDEN } from '../helpers/assert.js';

interface ArchiveCase {
  file: string;
  compression: 'gzip' | 'plain';
  members: { name: string; type: string; size: number }[];
  state_dict: { key: string; shape: number[]; dtype: string }[];
}
const INDEX = JSON.parse(readFileSync(join(GOLDEN, 'index.json'), 'utf8')) as { archives: ArchiveCase[] };

function disposeAll(sd: Map<string, t.Tensor>): void {
  for (const x of sd.values()) x.dispose();
}

test('index.json lists every .nemo in the golden folder', () => {
  const files = readdirSync(join(GOLDEN, 'nemo'))
    .filter((f) => f.endsWith('.nemo'))
    .sort();
  assert.deepEqual(INDEX.archives.map((a) => a.file.replace(/^nemo\//, '')).sort(), files);
});

for (const a of INDEX.archives) {
  test(`readNemoArchive(${a.file}, ${a.compression}) gives the recorded members and state dict`, () => {
    const before = t.liveTensorCount();
    const arc = readNemoArchive(join(GOLDEN, a.file));
    assert.deepEqual(
      arc.members,
      a.members.map((m) => ({ name: m.name, size: m.size })),
    );
    const cfgSize = a.members.find((m) => m.name === './model_config.yaml')!.size;
    assert.equal(Buffer.byteLength(arc.configYaml), cfgSize);
    assert.match(arc.configYaml, /encoder:/);
    assert.equal(arc.extra.size, 0);
    assert.deepEqual(
      [...arc.stateDict].map(([key, v]) => ({ key, shape: v.shape, dtype: v.dtype })),
      a.state_dict,
    );
    disposeAll(arc.stateDict);
    assert.equal(t.liveTensorCount(), before);
  });
}

test('writeNemoArchive → readNemoArchive is bit-exact, in NeMo save_to layout, written atomically', () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamnest-nemo-'));
  try {
    const src = readNemoArchive(join(GOLDEN, INDEX.archives[0]!.file));
    const extra = new Map([
      ['tokenizer/vocab.txt', new TextEncoder().encode('a\nb\n')],
      ['a_first.txt', new TextEncoder().encode('sorted before the config')],
      [`z/${'long'.repeat(30)}.txt`, new TextEncoder().encode("a name past ustar's 100 bytes (PAX path)")],
    ]);
    const out = join(dir, 'model.nemo');
    writeNemoArchive(out, { configYaml: src.configYaml, stateDict: src.stateDict, extra });
    assert.deepEqual(readdirSync(dir), ['model.nemo'], 'no temporary files left behind');
    const back = readNemoArchive(out);
    assert.deepEqual(
      back.members.map((m) => m.name),
      ['.', './a_first.txt', './model_config.yaml', './model_weights.ckpt', './tokenizer/vocab.txt', `./z/${'long'.repeat(30)}.txt`],
    );
    assert.equal(back.configYaml, src.configYaml);
    assert.deepEqual([...back.extra.keys()], ['a_first.txt', 'tokenizer/vocab.txt', `z/${'long'.repeat(30)}.txt`]);
    for (const [k, v] of extra) assert.deepEqual(back.extra.get(k), v, k);
    assert.deepEqual([...back.stateDict.keys()], [...src.stateDict.keys()]);
    for (const [k, x] of src.stateDict) {
      const y = back.stateDict.get(k)!;
      assert.equal(y.dtype, x.dtype, k);
      assert.deepEqual(y.shape, x.shape, k);
      assert.deepEqual(new Uint8Array(y.toBuffer()), new Uint8Array(x.toBuffer()), `${k}: bit-exact`);
    }
    // uncompressed tar, like NeMo's save_to
    const raw = readFileSync(out);
    assert.equal(new TextDecoder().decode(raw.subarray(257, 262)), 'ustar');
    disposeAll(src.stateDict);
    disposeAll(back.stateDict);
    assert.throws(
      () => writeNemoArchive(join(dir, 'bad.nemo'), { configYaml: '', stateDict: new Map(), extra: new Map([['../up', new Uint8Array(1)]]) }),
      /bad\.nemo: extra member name '\.\.\/up' is not a safe relative path/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- hostile archives, crafted here byte by byte ----

function tarHeader(name: string, typeflag: string, size: number, o: { linkname?: string; sizeField?: number } = {}): Uint8Array {
  const h = new Uint8Array(512);
  const put = (s: string, at: number): void => h.set(Buffer.from(s, 'latin1'), at);
  put(name, 0);
  put('0000644\0', 100);
  put('0000000\0', 108);
  put('0000000\0', 116);
  put(`${(o.sizeField ?? size).toString(8).padStart(11, '0')}\0`, 124);
  put('00000000000\0', 136);
  h[156] = typeflag.charCodeAt(0);
  if (o.linkname) put(o.linkname, 157);
  put('ustar\0', 257);
  put('00', 263);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

function tarFile(name: string, data: Uint8Array, typeflag = '0'): Uint8Array[] {
  const pad = new Uint8Array((512 - (data.length % 512)) % 512);
  return [tarHeader(name, typeflag, data.length), data, pad];
}

function paxPath(path: string): Uint8Array[] {
  let rec = ` path=${path}\n`;
  rec = `${Buffer.byteLength(rec) + String(Buffer.byteLength(rec) + 2).length}${rec}`;
  return tarFile('././@PaxHeader', Buffer.from(rec), 'x');
}

const concat = (parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));
const END = new Uint8Array(1024);

test('unsafe or broken tar members are refused with the archive and member named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamnest-nemo-bad-'));
  try {
    const cfg = new TextEncoder().encode('a: 1\n');
    const cases: [string, Uint8Array[], RegExp][] = [
      ['absolute.nemo', [...tarFile('/etc/passwd', cfg)], /absolute\.nemo: member '\/etc\/passwd'.*absolute path/],
      ['dotdot.nemo', [...tarFile('./../../evil.sh', cfg)], /dotdot\.nemo: member '\.\/\.\.\/\.\.\/evil\.sh'.*'\.\.'/],
      ['pax-dotdot.nemo', [...paxPath('a/../../x'), ...tarFile('./harmless', cfg)], /pax-dotdot\.nemo: member 'a\/\.\.\/\.\.\/x'.*'\.\.'/],
      [
        'symlink.nemo',
        [tarHeader('./model_weights.ckpt', '2', 0, { linkname: '/etc/shadow' })],
        /symlink\.nemo: member '\.\/model_weights\.ckpt'.*symbolic link/,
      ],
      [
        'hardlink.nemo',
        [tarHeader('./model_weights.ckpt', '1', 0, { linkname: '/etc/shadow' })],
        /hardlink\.nemo: member '\.\/model_weights\.ckpt'.*hard link/,
      ],
      ['device.nemo', [tarHeader('./dev', '3', 0)], /device\.nemo: member '\.\/dev'.*device/],
      ['fifo.nemo', [tarHeader('./fifo', '6', 0)], /fifo\.nemo: member '\.\/fifo'.*FIFO/],
      [
        'oversize.nemo',
        [tarHeader('./model_config.yaml', '0', 5, { sizeField: 1 << 30 }), cfg],
        /oversize\.nemo: member '\.\/model_config\.yaml'.*size 1073741824 runs past the end/,
      ],
      ['noweights.nemo', [...tarFile('./model_config.yaml', cfg)], /noweights\.nemo: no member \.\/model_weights\.ckpt/],
      [
        'badweights.nemo',
        [...tarFile('./model_config.yaml', cfg), ...tarFile('./model_weights.ckpt', cfg)],
        /badweights\.nemo: \.\/model_weights\.ckpt: not a zip archive/,
      ],
    ];
    for (const [name, parts, re] of cases) {
      const path = join(dir, name);
      writeFileSync(path, concat([...parts, END]));
      assert.throws(
        () => readNemoArchive(path),
        (e: Error) => (e instanceof NemoArchiveError || e instanceof t.TorchSaveError ? re.test(e.message) : false),
        `${name}`,
      );
      // the same hostile content behind gzip is refused the same way
      writeFileSync(path, gzipSync(concat([...parts, END])));
      assert.throws(() => readNemoArchive(path), re, `${name} (gzip)`);
    }
    const notTar = join(dir, 'not-a-tar.nemo');
    writeFileSync(notTar, Buffer.from('x'.repeat(2048)));
    assert.throws(() => readNemoArchive(notTar), /not-a-tar\.nemo: .*checksum/);
    const badGzip = join(dir, 'bad-gzip.nemo');
    writeFileSync(badGzip, Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    assert.throws(() => readNemoArchive(badGzip), /bad-gzip\.nemo: gzip data is corrupt/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
