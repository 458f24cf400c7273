// `streamnest features`: writes [features, frames] float32 .npy equal to the golden preprocessor output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { readNpy } from '../../src/torch/serialize/npy.js';
import { run } from '../../src/cli/commands/features.js';
import { GOLDEN } from '../helpers/assert.js';
import { captureOutput } from '../helpers/capture-output.js';

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

interface PreprocTolerance {
  atol: number;
  p99_9_abs: number;
}
const INDEX = JSON.parse(readFileSync(join(GOLDEN, 'index.json'), 'utf8')) as { cases: { id: string; tolerance: PreprocTolerance }[] };

/**
 * The rule test/audio/preprocessor.test.ts holds the library to on the same golden data: max abs diff within the
 * case's index.json atol, 99.9th percentile within its p99_9_abs, and max abs diff <= 1e-4 (the port's own bound:
 * the same float32 libtorch kernels as NeMo reach ~2e-6). Returns the max abs diff.
 */
function assertGoldenFeatures(got: t.Tensor, kind: 'nest_NA' | 'nest_per_feature', what: string): number {
  const tol = INDEX.cases.find((c) => c.id === `preproc/${kind}`)!.tolerance;
  const want = golden(kind);
  try {
    assert.deepEqual(got.shape, want.shape, `${what}: shape`);
    const a = got.toArray();
    const e = want.toArray();
    const diffs = a.map((v, i) => Math.abs(v - e[i]!)).sort((x, y) => x - y);
    const max = diffs[diffs.length - 1]!;
    const p999 = diffs[Math.min(diffs.length - 1, Math.floor(0.999 * diffs.length))]!;
    assert.ok(max <= tol.atol, `${what}: max abs diff ${max} > ${tol.atol} (index.json atol)`);
    assert.ok(p999 <= tol.p99_9_abs, `${what}: p99.9 abs diff ${p999} > ${tol.p99_9_abs} (index.json p99_9_abs)`);
    assert.ok(max <= 1e-4, `${what}: max abs diff ${max} > 1e-4 (the library test's bound on the same data)`);
    return max;
  } finally {
    want.dispose();
  }
}

const quiet = async (argv: string[]): Promise<number> => (await captureOutput(() => run(argv))).value;

test('default (NEST, per_feature) output equals the golden features', async (tc) => {
  const out = join(dir, 'pf.npy');
  assert.equal(await quiet(['--audio', HELLO, '--out', out, 'dither=0']), 0);
  const got = readNpy(out);
  assert.deepEqual(got.shape, [80, 108]);
  assert.equal(got.dtype, 'float32');
  tc.diagnostic(`per_feature: max abs diff vs NeMo ${assertGoldenFeatures(got, 'nest_per_feature', 'per_feature').toExponential(2)}`);
  got.dispose();
});

test('overrides, a YAML config, --keep-padding and --streaming', async (tc) => {
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
  tc.diagnostic(`NA: max abs diff vs NeMo ${assertGoldenFeatures(ga, 'nest_NA', 'normalize=NA').toExponential(2)}`);
  assert.deepEqual(gb.shape, [80, 108]);
  assert.ok(maxAbs(gb, ga) <= 1e-5);
  assertGoldenFeatures(gb, 'nest_NA', '--streaming normalize=NA');
  assert.deepEqual(gc.shape, [80, 112]); // 109 STFT frames padded to a multiple of 16
  assert.ok(maxAbs(gc.narrow(1, 0, 108), ga) === 0);
  assert.equal(gc.narrow(1, 108, 4).abs().max().item(), 0);
  for (const x of [ga, gb, gc]) x.dispose();
  await assert.rejects(quiet(['--audio', HELLO]), /required/);
  await assert.rejects(quiet(['--audio', HELLO, '--out', a, 'bogus_key=1']), /unknown preprocessor key 'bogus_key'/);
  await assert.rejects(quiet(['--audio', HELLO, '--out', a, '--streaming']), /cannot stream/);
});
