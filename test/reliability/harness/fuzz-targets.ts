// Fuzz targets: every parser a user can feed, its valid seed inputs, and the error classes it may throw.
// Anything else thrown (TypeError, RangeError, a plain Error, ...) or a crash, a hang or runaway memory is a finding.
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { REPO_ROOT, prng } from './common.js';
import { AudioFileError } from '../../../src/audio/wav.js';
import { decodeAudioBytes, loadAudio } from '../../../src/audio/load-audio.js';
import { decodeFlacBuffer } from '../../../src/audio/flac.js';
import { DataError } from '../../../src/data/data-error.js';
import { parseManifest } from '../../../src/data/manifest.js';
import { ConfigError } from '../../../src/config/config-error.js';
import { loadConfig, parseOverride } from '../../../src/config/index.js';
import { TarError } from '../../../src/checkpoint/tar.js';
import { MemoryStream } from '../../../src/data/byte-stream.js';
import { TarReader, writeTar } from '../../../src/data/tar-stream.js';
import { NemoArchiveError, readNemoArchive } from '../../../src/checkpoint/nemo-archive.js';
import { ZipError, ZipLocalScan, sequentialReader } from '../../../src/torch/serialize/zip.js';
import { MemorySource } from '../../../src/torch/serialize/random-access.js';
import { PickleError } from '../../../src/torch/serialize/pickle.js';
import { TorchSaveError, loadTorchSave } from '../../../src/torch/serialize/torch-save.js';
import { NpyError, parseNpy } from '../../../src/torch/serialize/npy.js';
import { Tensor } from '../../../src/torch/tensor.js';

type ErrorClass = abstract new (...args: never[]) => Error;

export interface FuzzTarget {
  name: string;
  /** Valid inputs the mutations start from. */
  seeds(): Uint8Array[];
  /** Parses one input; `scratch` is a file path the target may write the input to. */
  run(input: Uint8Array, scratch: string): void | Promise<void>;
  /** The error classes streamnest promises for bad input of this kind. */
  allowed: ErrorClass[];
  /** Text formats also get line/token-level mutations. */
  text?: boolean;
}

function files(dir: string, re: RegExp, recursive = false): string[] {
  const abs = join(REPO_ROOT, dir);
  if (!existsSync(abs)) return [];
  const out: string[] = [];
  for (const e of readdirSync(abs, { withFileTypes: true })) {
    if (e.isDirectory() && recursive) out.push(...files(join(dir, e.name), re, true));
    else if (e.isFile() && re.test(e.name)) out.push(join(dir, e.name));
  }
  return out.sort();
}

function read(paths: string[], maxBytes = 1 << 20): Uint8Array[] {
  return paths.map((p) => readFileSync(join(REPO_ROOT, p))).filter((b) => b.length <= maxBytes);
}

/** Frees whatever tensors a parse result holds (so memory stays bounded over thousands of inputs). */
export function disposeDeep(v: unknown, depth = 0): void {
  if (depth > 64 || v === null || typeof v !== 'object') return;
  if (v instanceof Tensor) {
    v.dispose();
    return;
  }
  if (v instanceof Map) for (const x of v.values()) disposeDeep(x, depth + 1);
  else if (Array.isArray(v)) for (const x of v) disposeDeep(x, depth + 1);
  else if (!ArrayBuffer.isView(v)) for (const x of Object.values(v as object)) disposeDeep(x, depth + 1);
}

const decoder = new TextDecoder();

export const TARGETS: FuzzTarget[] = [
  {
    name: 'wav',
    seeds: () => read([...files('test/fixtures/golden/audio', /\.wav$/), ...files('test/fixtures/audio', /\.wav$/)], 256 << 10),
    run: (b, scratch) => {
      writeFileSync(scratch, b);
      loadAudio(scratch, { targetSampleRate: 16000 });
    },
    allowed: [AudioFileError],
  },
  {
    name: 'flac',
    seeds: () => read(files('test/fixtures/audio', /\.flac$/), 256 << 10),
    run: (b) => {
      decodeFlacBuffer(b, 'fuzz.flac');
    },
    allowed: [AudioFileError],
  },
  ...(
    [
      ['mp3', /\.mp3$/],
      ['ogg-opus', /\.opus$/],
      ['ogg-vorbis', /\.ogg$/],
      ['webm-opus', /\.webm$/],
    ] as const
  ).map(
    ([name, re]): FuzzTarget => ({
      name,
      seeds: () => read(files('test/fixtures/audio/compressed', re), 256 << 10),
      run: async (b) => {
        await decodeAudioBytes(b, `fuzz.${name}`);
      },
      allowed: [AudioFileError],
    }),
  ),
  {
    // a tarred-dataset shard as the tarred sampler and the decode workers read it: headers front to back, members decoded
    name: 'tar-shard',
    seeds: () => {
      const members = ['compressed/speech_hello.mp3', 'compressed/stereo16.opus', 'stereo8.wav', 'stereo8.flac'].map((f) => ({
        name: f.replace('/', '_'),
        data: readFileSync(join(REPO_ROOT, 'test/fixtures/audio', f)),
      }));
      return [Buffer.concat(writeTar(members, 0)), Buffer.concat(writeTar(members.slice(2), 0))];
    },
    run: async (b) => {
      const r = new TarReader(new MemoryStream(b), 'fuzz.tar');
      for (let e = r.next(); e !== null; e = r.next()) if (e.type === 'file') await decodeAudioBytes(r.readData(e), `fuzz.tar:${e.name}`);
    },
    allowed: [TarError, AudioFileError],
  },
  {
    name: 'manifest',
    seeds: () => read(files('data/corpus', /_manifest\.json$/)),
    run: (b) => {
      // audio paths resolve against data/corpus; existence is checked, as in training
      parseManifest(decoder.decode(b), join(REPO_ROOT, 'data/corpus/fuzz_manifest.json'));
    },
    allowed: [DataError],
    text: true,
  },
  {
    name: 'yaml-config',
    seeds: () => read(files('configs', /\.ya?ml$/)),
    run: (b, scratch) => {
      writeFileSync(scratch + '.yaml', b);
      loadConfig(scratch + '.yaml');
    },
    allowed: [ConfigError],
    text: true,
  },
  {
    name: 'overrides',
    seeds: () =>
      [
        'trainer.max_steps=500',
        'model.encoder.att_context_size=[-1,4]',
        '+model.new_key={a: 1, b: [1, 2]}',
        '~model.masking.block_size',
        'model.train_ds.manifest_filepath=/data/a.json,/data/b.json',
        'model.optim.betas=[0.9,0.98]',
        "name='quoted value'",
        '++trainer.precision=16',
        'model.preprocessor.dither=1e-5',
      ].map((s) => new TextEncoder().encode(s)),
    run: (b) => {
      const list = decoder
        .decode(b)
        .split('\n')
        .filter((l) => l !== '');
      for (const o of list) parseOverride(o);
      loadConfig('tiny', list);
    },
    allowed: [ConfigError],
    text: true,
  },
  {
    name: 'nemo',
    seeds: () => read(files('test/fixtures/golden/nemo', /\.nemo$/), 2 << 20),
    run: (b, scratch) => {
      writeFileSync(scratch, b);
      disposeDeep(readNemoArchive(scratch).stateDict);
    },
    allowed: [NemoArchiveError, TarError, TorchSaveError, ZipError, PickleError],
  },
  {
    // what `inspect` reads: the config and the weights' pickle, not the storages (a weights member cut short or with
    // an unreadable zip directory is listed front to back through its local headers)
    name: 'nemo-meta',
    // the golden archives, and the gzip ones also as plain tars (so that most mutations reach the tar and zip readers)
    seeds: () => read(files('test/fixtures/golden/nemo', /\.nemo$/), 2 << 20).flatMap((b) => (b[0] === 0x1f && b[1] === 0x8b ? [b, gunzipSync(b)] : [b])),
    run: (b, scratch) => {
      writeFileSync(scratch, b);
      disposeDeep(readNemoArchive(scratch, { tensors: 'meta', extra: 'none' }).stateDict);
    },
    allowed: [NemoArchiveError, TarError, TorchSaveError, ZipError, PickleError],
  },
  {
    // a torch.save zip listed front to back (local headers, data descriptors), then its pickle read for shapes
    name: 'torch-save-scan',
    seeds: () => read(files('test/fixtures/torch_save', /\.(pt|ckpt)$/), 2 << 20),
    run: (b) => {
      const scan = new ZipLocalScan(sequentialReader(new MemorySource(b)), (n) => /(^|\/)(data\.pkl|byteorder)$/.test(n), 'fuzz.pt');
      disposeDeep(loadTorchSave(scan, 'fuzz.pt', { storages: 'meta', unknownGlobals: 'placeholder' }));
    },
    allowed: [TorchSaveError, ZipError, PickleError],
  },
  {
    name: 'torch-save',
    seeds: () => read(files('test/fixtures/torch_save', /\.(pt|ckpt)$/), 2 << 20),
    run: (b) => {
      disposeDeep(loadTorchSave(b, 'fuzz.pt'));
    },
    allowed: [TorchSaveError, ZipError, PickleError],
  },
  {
    name: 'npy',
    seeds: () => read(files('test/fixtures/golden', /\.npy$/, true), 64 << 10).slice(0, 40),
    run: (b) => {
      parseNpy(b, 'fuzz.npy').dispose();
    },
    allowed: [NpyError],
  },
];

const INTERESTING32 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe];
const TOKENS = [
  '{',
  '}',
  '[',
  ']',
  '"',
  ':',
  ',',
  '\n',
  '${',
  '${model.',
  '}}',
  'null',
  '-1',
  '1e309',
  'NaN',
  '~',
  '&a',
  '*a',
  '<<: *a',
  '\t',
  '\\u0000',
  '"duration": -3',
  '"duration": 1e999',
  ': [',
  '- ',
  '!!binary',
  '\u0000',
  '\uffff',
  '%',
  '=',
];

/** The i-th mutated input for a target, derived only from (seed, i) so that any finding can be regenerated. */
export function mutate(seeds: Uint8Array[], text: boolean, seed: number, i: number): Uint8Array {
  const r = prng((seed * 0x9e3779b1 + i * 0x85ebca6b) >>> 0);
  const pick = (n: number): number => Math.floor(r() * n);
  let b: Uint8Array = Uint8Array.from(seeds[pick(seeds.length)]!);
  const pos = (): number => (b.length === 0 ? 0 : r() < 0.5 ? pick(Math.min(b.length, 128)) : pick(b.length));
  const rounds = 1 + pick(r() < 0.7 ? 2 : 8);
  for (let k = 0; k < rounds; k++) {
    const kind = pick(text ? 10 : 8);
    switch (kind) {
      case 0: {
        // bit flips
        const n = 1 + pick(8);
        for (let j = 0; j < n && b.length; j++) b[pos()]! ^= 1 << pick(8);
        break;
      }
      case 1: // truncation
        b = b.subarray(0, pick(b.length + 1));
        break;
      case 2: {
        // insertion of random bytes
        const p = pos();
        const ins = Uint8Array.from({ length: 1 + pick(32) }, () => pick(256));
        b = concat(b.subarray(0, p), ins, b.subarray(p));
        break;
      }
      case 3: {
        // deletion of a range
        const p = pos();
        b = concat(b.subarray(0, p), b.subarray(Math.min(b.length, p + 1 + pick(64))));
        break;
      }
      case 4: {
        // splice: a prefix of this input and a suffix of another seed
        const o = seeds[pick(seeds.length)]!;
        b = concat(b.subarray(0, pick(b.length + 1)), o.subarray(pick(o.length + 1)));
        break;
      }
      case 5: {
        // an interesting 8/16/32-bit value over a field (little or big endian)
        if (b.length < 4) break;
        const p = Math.min(pos(), b.length - 4);
        const v = INTERESTING32[pick(INTERESTING32.length)]!;
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        const w = pick(3);
        if (w === 0) dv.setUint8(p, v & 0xff);
        else if (w === 1) dv.setUint16(p, v & 0xffff, r() < 0.5);
        else dv.setUint32(p, v >>> 0, r() < 0.5);
        break;
      }
      case 6: {
        // duplicate a chunk in place
        const p = pos();
        const q = Math.min(b.length, p + 1 + pick(256));
        b = concat(b.subarray(0, q), b.subarray(p, q), b.subarray(q));
        break;
      }
      case 7: {
        // random byte overwrite
        for (let j = 0; j < 1 + pick(4) && b.length; j++) b[pos()] = pick(256);
        break;
      }
      default: {
        // text: insert a token, or drop / duplicate / swap a line
        const s = new TextDecoder().decode(b);
        const lines = s.split('\n');
        const li = pick(lines.length);
        if (kind === 8) {
          const line = lines[li]!;
          const c = pick(line.length + 1);
          lines[li] = line.slice(0, c) + TOKENS[pick(TOKENS.length)]! + line.slice(c);
        } else if (r() < 0.5) lines.splice(li, 1);
        else lines.splice(pick(lines.length), 0, lines[li]!);
        b = new TextEncoder().encode(lines.join('\n'));
      }
    }
  }
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
