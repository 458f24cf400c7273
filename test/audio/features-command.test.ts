// `streamnest features`: writes [features, frames] float32 .npy equal to the golden preprocessor output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { readNpy } from '../../src/torch/serialize/npy.js';
import { run } from '../../src/cli/commands/features.js';
import { GOLDEN } from '../helpers/assert.js';

const dir = mkdtempSync(join(tmpdir(), 'streamnest-features-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const HELLO = join(GOLDEN, 'audio', 'speech_hello.wav'); // item 2 of the golden batch, 17383 samples -> 108 frames

/** Golden features of speech_hello: [80, 108] valid frames. */
function golden(kind: 'nest_NA' | 'nest_per_feature'): t.Tensor {
  const all = readNpy(join(GOLDEN, 'preproc', kind, 'processed_signal.npy')); // [3, 80, 240]
  const g = all.select(0, 2).narrow(1, 0, 108).contiguous();
  all.dispose();
  return g;
}

function maxAbs(a: t.Tensor, b: t.Tensor): number {
  return t.tidy(() => a.sub(b).abs().max().item());
}

const quiet = async (argv: string[]): Promise<number> => {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    return await run(argv);
  } finally {
    process.stdout.write = write;
  }
};

test('default (NEST, per_feature) output equals the golden features', async () => {
  const out = join(dir, 'pf.npy');
  assert.equal(await quiet(['--audio', HELLO, '--out', out, 'dither=0']), 0);
  const got = readNpy(out);
  const want = golden('nest_per_feature');
  assert.deepEqual(got.shape, [80, 108]);
  assert.equal(got.dtype, 'float32');
  assert.ok(maxAbs(got, want) < 1e-3);
  got.dispose();
  want.dispose();
});

test('overrides, a YAML config, --keep-padding and --streaming', async () => {
  const want = golden('nest_NA');
  const a = join(dir, 'na.npy');
  assert.equal(await quiet(['--audio', HELLO, '--out', a, 'model.preprocessor.normalize=NA']), 0);
  const b = join(dir, 'stream.npy');
  assert.equal(await quiet(['--audio', HELLO, '--out', b, '--streaming', 'normalize=NA']), 0);
  const yaml = join(dir, 'pre.yaml');
  writeFileSync(
    yaml,
    'model:\n  sample_rate: 16000\n  preprocessor:\n    sample_rate: ${model.sample_rate}\n    normalize: "NA"\n    window_size: 0.025\n    features: 80\n    n_fft: 512\n    pad_to: 16\n',
  );
  const c = join(dir, 'pad.npy');
  assert.equal(await quiet(['--audio', HELLO, '--out', c, '--config', yaml, '--keep-padding']), 0);
  const [ga, gb, gc] = [readNpy(a), readNpy(b), readNpy(c)];
  assert.ok(maxAbs(ga, want) < 1e-3);
  assert.deepEqual(gb.shape, [80, 108]);
  assert.ok(maxAbs(gb, ga) <= 1e-5);
  assert.deepEqual(gc.shape, [80, 112]); // 109 STFT frames padded to a multiple of 16
  assert.ok(maxAbs(gc.narrow(1, 0, 108), ga) === 0);
  assert.equal(gc.narrow(1, 108, 4).abs().max().item(), 0);
  for (const x of [ga, gb, gc, want]) x.dispose();
  await assert.rejects(quiet(['--audio', HELLO]), /required/);
  await assert.rejects(quiet(['--audio', HELLO, '--out', a, 'bogus_key=1']), /unknown preprocessor key 'bogus_key'/);
  await assert.rejects(quiet(['--audio', HELLO, '--out', a, '--streaming']), /cannot stream/);
});
