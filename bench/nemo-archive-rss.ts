// Memory of reading large .nemo archives (issue 21): makes test archives that are too big for the test suite, and
// measures peak RSS and wall time of CLI commands on them with /usr/bin/time -v.
//
//   node dist/bench/nemo-archive-rss.js make OUT.nemo [--mb 200] [--gzip]   a NEST .nemo with about MB of float32 weights
//   node dist/bench/nemo-archive-rss.js bomb OUT.nemo [--zeros-mb 300]       a gzip .nemo (tiny model) hiding MB of zeros
//   node dist/bench/nemo-archive-rss.js measure FILE.nemo [--command inspect|inspect-dump|encode|convert|python] [--repeat 1]
//
// `make` writes through the same writer `pretrain` uses (writeNemoArchive + modelConfigYaml); the generator itself
// needs a few times the weights in memory. `measure` prints one line per run: command, peak RSS (MB), wall seconds.
import { spawnSync } from 'node:child_process';
import { closeSync, createWriteStream, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { writeNemoArchive } from '../src/checkpoint/nemo-archive.js';
import { writeTar } from '../src/checkpoint/tar.js';
import { parseArgs, type OptionsSpec } from '../src/cli/args.js';
import { loadConfig } from '../src/config/index.js';
import { buildNestModel } from '../src/ssl/nest-factory.js';
import * as t from '../src/torch/index.js';
import { modelConfigYaml } from '../src/train/nest-pretraining.js';

const spec = {
  mb: { type: 'integer', default: 200, help: 'make: approximate MB of float32 weights' },
  gzip: { type: 'boolean', help: 'make: gzip the archive (as NeMo < 1.x wrote them)' },
  zerosMb: { type: 'integer', default: 300, help: 'bomb: MB of zeros in the extra member' },
  command: { type: 'string', default: 'inspect', help: 'measure: inspect, inspect-dump, encode, convert, or python (tarfile + torch.load)' },
  repeat: { type: 'integer', default: 1, help: 'measure: runs' },
} satisfies OptionsSpec;

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLIP = join(ROOT, 'data', 'corpus', 'train', 'train-00000.wav');
const PY_LOAD = join(ROOT, 'bench', 'pytorch', 'nemo_load.py');

/** A NEST model of d_model 512 with as many layers as make about `mb` MB of float32 weights. */
function makeModel(out: string, mb: number, gzip: boolean): void {
  const perLayer = 6.3e6 * 4; // bytes of one d_model 512 conformer layer (ff x4, 8 heads, kernel 9)
  const layers = Math.max(1, Math.round((mb * 1e6) / perLayer));
  const { config, raw } = loadConfig('tiny', [`model.encoder.d_model=512`, `model.encoder.n_heads=8`, `model.encoder.n_layers=${layers}`]);
  const model = buildNestModel(config.model, 1).eval();
  const sd = model.stateDict();
  const bytes = [...sd.values()].reduce((a, x) => a + x.numel * 4, 0);
  const plain = gzip ? `${out}.tar` : out;
  writeNemoArchive(plain, { configYaml: modelConfigYaml(raw), stateDict: sd });
  model.dispose();
  if (gzip) {
    const fd = openSync(out, 'w');
    try {
      const r = spawnSync('gzip', ['-c', plain], { stdio: ['ignore', fd, 'inherit'] });
      if (r.status !== 0) throw new Error('gzip failed');
    } finally {
      closeSync(fd);
    }
    rmSync(plain);
  }
  console.log(`${out}: ${layers} layers, ${(bytes / 1e6).toFixed(1)} MB of weights, file ${(statSync(out).size / 1e6).toFixed(1)} MB`);
}

/** The tiny golden-size model as a gzip .nemo with an extra member of `zerosMb` MB of zeros, gzipped as it is written. */
async function makeBomb(out: string, zerosMb: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nemo-bomb-'));
  try {
    const { config, raw } = loadConfig('tiny');
    const model = buildNestModel(config.model, 1).eval();
    const small = join(dir, 'small.nemo');
    writeNemoArchive(small, { configYaml: modelConfigYaml(raw), stateDict: model.stateDict() });
    model.dispose();
    // the small archive's members (without its end marker), then the zeros member, then the end marker
    const tar = readFileSync(small);
    let end = tar.length;
    while (end >= 512 && tar.subarray(end - 512, end).every((b) => b === 0)) end -= 512;
    const size = zerosMb * 1e6;
    const header = writeTar([{ name: './zeros.bin', data: new Uint8Array(0) }])[0]!;
    // patch the header's size field (and checksum) for `size` bytes, without materialising them
    const h = Uint8Array.from(header);
    h.set(Buffer.from(`${size.toString(8).padStart(11, '0')}\0`, 'latin1'), 124);
    h.fill(0x20, 148, 156);
    const sum = h.reduce((a, b) => a + b, 0);
    h.set(Buffer.from(`${sum.toString(8).padStart(6, '0')}\0 `, 'latin1'), 148);
    const gz = createGzip({ level: 9 });
    const done = new Promise<void>((resolve, reject) => {
      const w = createWriteStream(out);
      w.on('finish', () => resolve());
      w.on('error', reject);
      gz.pipe(w);
    });
    const write = async (b: Uint8Array): Promise<void> => {
      if (!gz.write(b)) await new Promise((r) => gz.once('drain', r));
    };
    await write(tar.subarray(0, end));
    await write(h);
    const zeros = new Uint8Array(1 << 20);
    for (let left = size; left > 0; left -= zeros.length) await write(zeros.subarray(0, Math.min(zeros.length, left)));
    await write(new Uint8Array((512 - (size % 512)) % 512));
    await write(new Uint8Array(1024));
    gz.end();
    await done;
    console.log(`${out}: ${(statSync(out).size / 1e6).toFixed(2)} MB gzip hiding ${zerosMb} MB of zeros in ./zeros.bin`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function measure(file: string, command: string, repeat: number): void {
  if (!existsSync('/usr/bin/time')) throw new Error('/usr/bin/time is needed (apt-get install time)');
  const dir = mkdtempSync(join(tmpdir(), 'nemo-rss-'));
  try {
    const args =
      command === 'inspect'
        ? ['inspect', file]
        : command === 'inspect-dump'
          ? ['inspect', file, '--dump-tensors', join(dir, 'dump.json')]
          : command === 'convert'
            ? ['convert', file, join(dir, 'out.nemo')]
            : command === 'encode'
              ? ['encode', '--model', file, '--audio', CLIP, '--out', join(dir, 'enc.npy')]
              : [command, file];
    // 'python': tarfile + torch.load of the same weights (bench/pytorch/nemo_load.py), NeMo's restore without NeMo
    const argv = command === 'python' ? ['/usr/bin/python3', PY_LOAD, file] : [process.execPath, MAIN, ...args];
    for (let i = 0; i < repeat; i++) {
      const r = spawnSync('/usr/bin/time', ['-v', ...argv], { encoding: 'utf8', env: { ...process.env, STREAMNEST_DEBUG: '', OMP_NUM_THREADS: '1' } });
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1];
      const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr);
      const secs = wall ? Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]) : Number.NaN;
      const status = r.status === 0 ? 'ok' : `exit ${r.status}: ${r.stderr.split('\n').find((l) => l.trim() !== '') ?? ''}`;
      console.log(`${command} ${file}: peak RSS ${(Number(rss) / 1024).toFixed(0)} MB, ${secs.toFixed(2)} s (${status})`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { options, positionals } = parseArgs(process.argv.slice(2), spec, { maxPositionals: 2 });
  const [what, file] = positionals;
  if (!file) throw new Error('usage: nemo-archive-rss.js (make|bomb|measure) FILE [options]');
  t.setNumThreads(1);
  if (what === 'make') makeModel(file, options.mb, options.gzip === true);
  else if (what === 'bomb') await makeBomb(file, options.zerosMb);
  else if (what === 'measure') measure(file, options.command, options.repeat);
  else throw new Error(`unknown action '${what}'`);
}

await main();
