// torch.save files: PyTorch-written fixtures read with the expected numbers, hostile pickles refused,
// our writer's output read back bit-exactly and laid out as torch writes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as t from '../../src/torch/index.js';
import { REPO_ROOT } from '../helpers/assert.js';

const DIR = join(REPO_ROOT, 'test', 'fixtures', 'torch_save');
const fixture = (name: string): Uint8Array => readFileSync(join(DIR, name));

type Key = string | number;
interface TensorRecord {
  path: Key[];
  shape: number[];
  dtype: string;
  sum: number;
  first: number[];
  requires_grad: boolean;
}
type ExpectedRecord =
  | TensorRecord
  | { path: Key[]; dict: Key[]; ordered: boolean }
  | { path: Key[]; list: number }
  | { path: Key[]; value: number | string | boolean | null }
  | { path: Key[]; bigint: string };

const EXPECTED = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Record<string, ExpectedRecord[]> & { _meta: { marker: string } };

function at(root: t.PickleValue, path: Key[]): t.PickleValue {
  let v: t.PickleValue = root;
  for (const k of path) {
    if (Array.isArray(v)) v = v[k as number]!;
    else if (v instanceof Map) {
      assert.ok(v.has(k), `missing key ${JSON.stringify(k)} on the way to ${JSON.stringify(path)}`);
      v = v.get(k)!;
    } else assert.fail(`cannot index ${String(v)} with ${JSON.stringify(k)}`);
  }
  return v;
}

function tensorsIn(v: t.PickleValue, out: t.Tensor[] = []): t.Tensor[] {
  if (v instanceof t.Tensor) out.push(v);
  else if (Array.isArray(v))
    v.forEach((x) => {
      tensorsIn(x, out);
    });
  else if (v instanceof Map) for (const x of v.values()) tensorsIn(x, out);
  return out;
}

function contiguousStrides(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= Math.max(shape[i]!, 1);
  }
  return s;
}

function checkAgainstExpected(name: string): void {
  const before = t.liveTensorCount();
  const value = t.loadTorchSave(fixture(name), name);
  for (const rec of EXPECTED[name]!) {
    const v = at(value, rec.path);
    const where = `${name} ${JSON.stringify(rec.path)}`;
    if ('shape' in rec) {
      assert.ok(v instanceof t.Tensor, `${where}: expected a tensor`);
      assert.deepEqual(v.shape, rec.shape, `${where}: shape`);
      assert.equal(v.dtype, rec.dtype, `${where}: dtype`);
      assert.deepEqual(v.strides, contiguousStrides(rec.shape), `${where}: loaded tensors own compact memory`);
      assert.equal(v.requiresGrad, rec.requires_grad, `${where}: requires_grad`);
      const [sum, first] = t.tidy(() => {
        const d = v.detach().to({ dtype: 'float64' });
        return [d.sum().item(), d.toArray().slice(0, 6)] as const;
      });
      assert.ok(Math.abs(sum - rec.sum) <= 1e-9 * Math.max(1, Math.abs(rec.sum)), `${where}: sum ${sum} != ${rec.sum}`);
      assert.deepEqual(first, rec.first, `${where}: first values`);
    } else if ('dict' in rec) {
      assert.ok(v instanceof Map, `${where}: expected a Map`);
      assert.deepEqual([...v.keys()], rec.dict, `${where}: keys in order`);
    } else if ('list' in rec) {
      assert.ok(Array.isArray(v), `${where}: expected an array`);
      assert.equal(v.length, rec.list, `${where}: length`);
    } else if ('bigint' in rec) {
      assert.equal(v, BigInt(rec.bigint), `${where}: big integer`);
    } else {
      assert.equal(v, rec.value, `${where}: value`);
    }
  }
  for (const x of tensorsIn(value)) x.dispose();
  assert.equal(t.liveTensorCount(), before, `${name}: no tensor handles left behind`);
}

for (const name of ['state_dict.pt', 'tensors.pt', 'lightning.ckpt', 'deflated.pt', 'protocol4.pt']) {
  test(`loadTorchSave reads PyTorch's ${name} with the expected keys, shapes, dtypes and values`, () => {
    checkAgainstExpected(name);
  });
}

test('shared storage: views at an offset and with a stride read the right elements', () => {
  const v = t.loadTorchSave(fixture('tensors.pt'), 'tensors.pt') as Map<string, t.PickleValue>;
  try {
    assert.deepEqual((v.get('offset_view') as t.Tensor).toArray(), [1.5, 2, 2.5, 3]);
    assert.deepEqual((v.get('strided_view') as t.Tensor).toArray(), [0.5, 2, 3.5]);
    assert.deepEqual((v.get('transposed') as t.Tensor).toArray(), [-5.5, -1.5, 2.5, -4.5, -0.5, 3.5, -3.5, 0.5, 4.5, -2.5, 1.5, 5.5]);
    assert.deepEqual(Array.from((v.get('i64') as t.Tensor).data() as BigInt64Array), [1n, -2n, 3n, 2n ** 40n, -(2n ** 33n), 0n]);
    assert.deepEqual((v.get('bool') as t.Tensor).toArray(), [1, 0, 1, 1]);
  } finally {
    for (const x of tensorsIn(v)) x.dispose();
  }
});

test('loadStateDict takes the state_dict of a Lightning checkpoint and releases the rest', () => {
  const before = t.liveTensorCount();
  const sd = t.loadStateDict(join(DIR, 'lightning.ckpt'));
  const expectKeys = (EXPECTED['lightning.ckpt']!.find((r) => JSON.stringify(r.path) === '["state_dict"]') as { dict: string[] }).dict;
  assert.deepEqual([...sd.keys()], expectKeys);
  assert.equal(t.liveTensorCount() - before, sd.size, 'optimizer tensors were disposed');
  assert.equal(sd.get('3.num_batches_tracked')!.dtype, 'int64');
  for (const x of sd.values()) x.dispose();
  const bare = t.loadStateDict(fixture('state_dict.pt'));
  assert.equal(bare.size, 11);
  assert.equal(bare.get('3.num_batches_tracked')!.item(), 1);
  for (const x of bare.values()) x.dispose();
  assert.equal(t.liveTensorCount(), before);
});

test('hostile pickles are refused at the GLOBAL, naming the global and the file, and nothing runs', () => {
  const marker = EXPECTED._meta.marker;
  if (existsSync(marker)) unlinkSync(marker);
  const cases: [string, RegExp][] = [
    ['malicious_system.ckpt', /malicious_system\.ckpt.*refused global 'posix\.system'/],
    ['malicious_eval.ckpt', /malicious_eval\.ckpt.*refused global 'builtins\.eval'/],
    ['malicious_nested.ckpt', /malicious_nested\.ckpt.*refused global 'subprocess\.Popen'/],
  ];
  const before = t.liveTensorCount();
  for (const [name, re] of cases) {
    assert.throws(
      () => t.loadTorchSave(fixture(name), name),
      (e: Error) => e instanceof t.TorchSaveError && re.test(e.message),
      name,
    );
  }
  // loadStateDict keeps unknown classes as inert placeholders, so it refuses later, still naming the class
  assert.throws(
    () => t.loadStateDict(join(DIR, 'malicious_system.ckpt')),
    /malicious_system\.ckpt: the top-level object is a 'posix\.system' \(not loaded, nothing was executed\)/,
  );
  assert.throws(() => t.loadStateDict(join(DIR, 'malicious_eval.ckpt')), /the top-level object is a 'builtins\.eval'/);
  assert.throws(() => t.loadStateDict(join(DIR, 'malicious_nested.ckpt')), /state dict entry 'a' is a 'subprocess\.Popen' \(not loaded/);
  const placeholder = t.loadTorchSave(fixture('malicious_system.ckpt'), 'm', { unknownGlobals: 'placeholder' }) as Map<string, t.PickleValue>;
  assert.equal(placeholder.get('__class__'), 'posix.system');
  assert.deepEqual(placeholder.get('__args__'), [`touch ${marker}`]);
  assert.equal(existsSync(marker), false, 'the hostile command never ran');
  assert.equal(t.liveTensorCount(), before);
});

test('legacy, foreign, truncated and corrupt files get clear errors', () => {
  assert.throws(() => t.loadTorchSave(fixture('legacy.pt'), 'legacy.pt'), /legacy.pt: .*legacy .*torch>=1\.6/);
  assert.throws(() => t.loadTorchSave(new TextEncoder().encode('hello, this is not a checkpoint at all'), 'x.ckpt'), /x\.ckpt: not a zip archive/);
  const good = fixture('state_dict.pt');
  assert.throws(() => t.loadTorchSave(good.subarray(0, good.length >> 1), 'half.pt'), /half\.pt: not a zip archive/);

  // an entry whose central directory claims more bytes than the file holds
  const bytes = t.saveTorchSave(new Map([['w', t.tidy(() => t.ones([4]))]]));
  for (const x of tensorsIn(t.loadTorchSave(bytes))) x.dispose();
  const zip = new t.ZipArchive(bytes);
  const huge = Uint8Array.from(bytes);
  const view = new DataView(huge.buffer);
  const cd = huge.length - 22 - [...zip.entries.values()].reduce((a, e) => a + 46 + new TextEncoder().encode(e.name).length, 0);
  let p = cd;
  for (const e of zip.entries.values()) {
    if (e.name === 'archive/data/0') {
      view.setUint32(p + 20, 1e9, true);
      view.setUint32(p + 24, 1e9, true);
    }
    p += 46 + view.getUint16(p + 28, true) + view.getUint16(p + 30, true);
  }
  assert.throws(() => t.loadTorchSave(huge, 'huge.pt'), /huge\.pt: data of 'archive\/data\/0' .*runs past the end of the file/);

  // a flipped data byte fails the CRC
  const crc = Uint8Array.from(bytes);
  const dataAt = zip.read('archive/data/0').byteOffset - bytes.byteOffset;
  crc[dataAt] = crc[dataAt]! ^ 0xff;
  assert.throws(() => t.loadTorchSave(crc, 'crc.pt'), /crc\.pt: entry 'archive\/data\/0' fails its CRC-32 check/);
});

test('saveTorchSave round-trips nested values and every dtype bit-exactly, 64-byte aligned, as OrderedDict state dicts', () => {
  const before = t.liveTensorCount();
  t.tidy(() => {
    const g = new t.Generator(7);
    const f32 = t.randn([3, 5], { generator: g });
    const param = t.randn([4], { generator: g });
    param.requiresGrad = true;
    const tensors: Record<string, t.Tensor> = {
      f32,
      transposed: f32.transpose(0, 1),
      f64: t.randn([2, 2], { generator: g, dtype: 'float64' }),
      f16: t.randn([5], { generator: g }).to({ dtype: 'float16' }),
      bf16: t.randn([5], { generator: g }).to({ dtype: 'bfloat16' }),
      i64: t.tensor(BigInt64Array.from([1n, -(2n ** 50n), 3n])),
      i32: t.tensor(Int32Array.from([-1, 2])),
      i16: t.tensor(Int16Array.from([-300, 2])),
      i8: t.tensor(Int8Array.from([-3, 2])),
      u8: t.tensor(Uint8Array.from([0, 255])),
      bool: t.tensor([true, false, true]),
      scalar: t.scalar(1.25),
      empty: t.zeros([0, 2]),
      param,
    };
    const sd = new Map(Object.entries(tensors));
    const obj: t.PickleValue = new Map<string | number, t.PickleValue>([
      ['state_dict', sd],
      ['epoch', 3],
      ['lr', 0.5],
      ['nan', NaN],
      ['neg', -123456789],
      ['big', 2n ** 70n],
      ['list', [1, 'two', null, true, false, [f32]]],
      [5, 'int key'],
      ['text', 'über ✓'],
      ['empty_map', new Map()],
    ]);
    const bytes = t.saveTorchSave(obj);

    // torch's layout: archive/data.pkl, archive/data/<n>, archive/version = 3, stored and 64-byte aligned
    const zip = new t.ZipArchive(bytes);
    const names = [...zip.entries.keys()];
    assert.equal(names[0], 'archive/data.pkl');
    assert.equal(names[names.length - 1], 'archive/version');
    assert.equal(new TextDecoder().decode(zip.read('archive/version')).trim(), '3');
    for (const e of zip.entries.values()) {
      assert.equal(e.method, 0, `${e.name} is stored`);
      assert.equal((zip.read(e.name).byteOffset - bytes.byteOffset) % 64, 0, `${e.name} is 64-byte aligned`);
    }
    assert.equal(names.filter((n) => n.startsWith('archive/data/')).length, Object.keys(tensors).length, 'f32 written once although referenced twice');
    const pkl = new TextDecoder('latin1').decode(zip.read('archive/data.pkl'));
    assert.ok(pkl.startsWith('\x80\x02'), 'pickle protocol 2');
    assert.ok(pkl.includes('ccollections\nOrderedDict\n'), 'the state dict is an OrderedDict');

    const back = t.loadTorchSave(bytes, 'roundtrip') as Map<string | number, t.PickleValue>;
    const sdBack = back.get('state_dict') as Map<string, t.PickleValue>;
    assert.deepEqual([...sdBack.keys()], [...sd.keys()]);
    for (const [k, x] of sd) {
      const y = sdBack.get(k) as t.Tensor;
      assert.equal(y.dtype, x.dtype, k);
      assert.deepEqual(y.shape, x.shape, k);
      assert.equal(y.requiresGrad, x.requiresGrad, k);
      assert.deepEqual(new Uint8Array(y.toBuffer()), new Uint8Array(x.toBuffer()), `${k}: bit-exact`);
    }
    assert.equal(back.get('epoch'), 3);
    assert.equal(back.get('lr'), 0.5);
    assert.ok(Number.isNaN(back.get('nan')));
    assert.equal(back.get('neg'), -123456789);
    assert.equal(back.get('big'), 2n ** 70n);
    assert.equal(back.get(5), 'int key');
    assert.equal(back.get('text'), 'über ✓');
    assert.ok(back.get('empty_map') instanceof Map);
    const list = back.get('list') as t.PickleValue[];
    assert.deepEqual(list.slice(0, 5), [1, 'two', null, true, false]);
    assert.deepEqual(((list[5] as t.PickleValue[])[0] as t.Tensor).toArray(), f32.toArray());
  });
  assert.equal(t.liveTensorCount(), before);
});

test('saveStateDict writes atomically and loadStateDict reads it back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamnest-serialize-'));
  try {
    const path = join(dir, 'weights.pt');
    t.tidy(() => {
      const sd = new Map([
        ['a.weight', t.arange(6).reshape([2, 3]).float()],
        ['a.count', t.tensor(BigInt64Array.from([9n]), [])],
      ]);
      t.saveStateDict(path, sd);
      t.saveStateDict(path, sd); // replacing an existing file
      assert.deepEqual(readdirSync(dir), ['weights.pt'], 'no temporary files left behind');
      const back = t.loadStateDict(path);
      assert.deepEqual(back.get('a.weight')!.toArray(), [0, 1, 2, 3, 4, 5]);
      assert.equal(back.get('a.count')!.item(), 9);
      assert.deepEqual(back.get('a.count')!.shape, []);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unknown classes in a checkpoint: refused by default, inert placeholders on request, skipped by loadStateDict', () => {
  const before = t.liveTensorCount();
  assert.throws(() => t.loadTorchSave(fixture('lightning_opaque.ckpt'), 'opaque.ckpt'), /opaque\.ckpt: .*refused global '__main__\.Config'/);
  assert.equal(t.liveTensorCount(), before, 'tensors made before the refusal are released');

  const v = t.loadTorchSave(fixture('lightning_opaque.ckpt'), 'opaque.ckpt', { unknownGlobals: 'placeholder' }) as Map<string, t.PickleValue>;
  const hp = v.get('hyper_parameters') as Map<string, t.PickleValue>;
  const cfg = hp.get('cfg') as Map<string, t.PickleValue>;
  assert.equal(cfg.get('__class__'), '__main__.Config');
  const cfgState = cfg.get('__state__') as Map<string, t.PickleValue>;
  const content = cfgState.get('content') as Map<string, t.PickleValue>;
  assert.equal(content.get('lr'), 0.001);
  const child = content.get('child') as Map<string, t.PickleValue>;
  assert.equal((child.get('__state__') as Map<string, t.PickleValue>).get('parent'), cfg, 'the reference cycle is kept');
  const ns = hp.get('ns') as Map<string, t.PickleValue>;
  assert.equal(ns.get('__class__'), 'argparse.Namespace');
  assert.deepEqual(
    [...(ns.get('__state__') as Map<string, t.PickleValue>)],
    [
      ['a', 1],
      ['b', 'x'],
    ],
  );
  assert.equal((hp.get('mode') as Map<string, t.PickleValue>).get('__class__'), '__builtin__.getattr');
  assert.equal(v.get('epoch'), 1);
  for (const x of tensorsIn(v.get('state_dict')!)) x.dispose();
  assert.equal(t.liveTensorCount(), before);

  const sd = t.loadStateDict(join(DIR, 'lightning_opaque.ckpt'));
  assert.equal(sd.size, 11);
  assert.equal(t.liveTensorCount() - before, 11);
  for (const x of sd.values()) x.dispose();
});

test('zip64 records (as written past 4 GiB) are read, and big-endian storages are refused', () => {
  const data = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
  const entries = [
    { name: 'z64/data.pkl', data: t.saveTorchSave(null).subarray(0, 0) },
    { name: 'z64/data/0', data },
  ];
  const bytes = t.writeZip(entries, { forceZip64: true });
  const zip = new t.ZipArchive(bytes, 'z64.zip');
  assert.deepEqual([...zip.entries.keys()], ['z64/data.pkl', 'z64/data/0']);
  assert.deepEqual(zip.read('z64/data/0'), data);
  assert.equal((zip.read('z64/data/0').byteOffset - bytes.byteOffset) % 64, 0);

  // a whole torch.save file in zip64 form loads like the plain one
  const plain = t.tidy(() => t.saveTorchSave(new Map([['w', t.arange(5).float()]])));
  const src = new t.ZipArchive(plain);
  const z64 = t.writeZip(
    [...src.entries.keys()].map((name) => ({ name, data: src.read(name) })),
    { forceZip64: true },
  );
  const back = t.loadTorchSave(z64, 'z64.pt') as Map<string, t.Tensor>;
  assert.deepEqual(back.get('w')!.toArray(), [0, 1, 2, 3, 4]);
  back.get('w')!.dispose();

  const big = t.writeZip(
    [...src.entries.keys()].map((name) => ({ name, data: name.endsWith('byteorder') ? new TextEncoder().encode('big') : src.read(name) })),
  );
  assert.throws(() => t.loadTorchSave(big, 'big.pt'), /big\.pt: storages are in 'big' byte order/);
});

test('torchSaveStream: the same bytes as saveTorchSave, its size known up front, each storage made only when reached', () => {
  t.tidy(() => {
    const sd = new Map([
      ['a', t.randn([64, 33], { generator: new t.Generator(3) })],
      ['b', t.arange(0, 10, 1, { dtype: 'int64' })],
      ['c', t.randn([5, 7], { generator: new t.Generator(4) }).transpose(0, 1)], // not contiguous
    ]);
    const whole = t.saveTorchSave(sd);
    const z = t.torchSaveStream(sd);
    assert.equal(z.size, whole.length, 'planned size');
    const streamed = Buffer.concat([...z.chunks()]);
    assert.ok(streamed.equals(Buffer.from(whole)), 'same bytes');
    // the zip writer asks for an entry's bytes only when it reaches it
    const made: string[] = [];
    const lazy = t.zipStream(
      ['x', 'y', 'z'].map((name) => ({
        name,
        size: 4,
        data: () => {
          made.push(name);
          return new Uint8Array([1, 2, 3, 4]);
        },
      })),
    );
    assert.deepEqual(made, [], 'planning the size makes no data');
    const it = lazy.chunks()[Symbol.iterator]();
    it.next(); // x's header
    it.next(); // x's data
    assert.deepEqual(made, ['x']);
    for (let r = it.next(); !r.done; r = it.next());
    assert.deepEqual(made, ['x', 'y', 'z']);
    const bad = t.zipStream([{ name: 'w', size: 3, data: () => new Uint8Array(4) }]);
    assert.throws(() => [...bad.chunks()], /4 bytes where 3 were declared/);
  });
});

test('bytesView: the bytes without a copy, valid after the handle is disposed; non-contiguous tensors come out contiguous', () => {
  const x = t.randn([3, 4], { generator: new t.Generator(5) });
  const view = x.bytesView();
  assert.ok(Buffer.from(view).equals(Buffer.from(x.toBuffer())));
  const y = x.transpose(0, 1);
  const yc = y.contiguous();
  assert.ok(Buffer.from(y.bytesView()).equals(Buffer.from(yc.toBuffer())), 'transposed: contiguous bytes');
  yc.dispose();
  const expect = Buffer.from(x.toBuffer());
  x.dispose();
  y.dispose();
  assert.ok(Buffer.from(view).equals(expect), 'the view keeps the storage alive');
});
