// `streamnest stream --precision bf16` on a tiny causal NEST .nemo: streaming equals offline within a measured
// bfloat16 bound (both passes in bf16), and the bf16 streaming output stays within a measured bound of the float32 one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/index.js';
import { buildNestModel } from '../../src/ssl/nest-factory.js';
import { writeNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { modelConfigYaml } from '../../src/train/nest-pretraining.js';
import { readNpy } from '../../src/torch/serialize/npy.js';
import { GOLDEN } from '../helpers/assert.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
const audio = join(GOLDEN, 'audio', 'speech_fox.wav');
/** max |streaming - offline| of the encoder output, both in bf16; measured 1.4e-2 (encoder output of layer-normed scale ~1; float32: 9.5e-7). */
const MAX_STREAM_OFFLINE_BF16 = 0.1;
/** max |bf16 streaming - fp32 streaming| of the encoder output; measured 1.9e-2. */
const MAX_BF16_VS_FP32 = 0.1;

test('stream --precision bf16: streaming vs offline and bf16 vs float32 within the stated bounds', (tc) => {
  const dir = mkdtempSync(join(tmpdir(), 'streamnest-stream-bf16-'));
  tc.after(() => rmSync(dir, { recursive: true, force: true }));
  const model = join(dir, 'tiny.nemo');
  const loaded = loadConfig('tiny');
  const m = buildNestModel(loaded.config.model, 3);
  writeNemoArchive(model, { configYaml: modelConfigYaml(loaded.raw), stateDict: m.stateDict() });
  m.dispose();
  const run = (precision: string): { r: Record<string, unknown>; out: string } => {
    const out = join(dir, `enc-${precision}.npy`);
    const stdout = execFileSync(
      process.execPath,
      [MAIN, 'stream', '--model', model, '--audio', audio, '--compare-modes', '--json', '--precision', precision, '--out', out],
      {
        encoding: 'utf8',
      },
    );
    return { r: JSON.parse(stdout) as Record<string, unknown>, out };
  };
  const full = run('32');
  const mixed = run('bf16');
  assert.deepEqual([full.r.precision, mixed.r.precision], ['32', 'bf16']);
  assert.ok((full.r.max_abs_diff as number) < 1e-4, `float32 streaming is exact: ${String(full.r.max_abs_diff)}`);
  const streamVsOffline = mixed.r.max_abs_diff as number;
  const a = readNpy(full.out);
  const b = readNpy(mixed.out);
  assert.equal(b.dtype, 'float32');
  assert.deepEqual(b.shape, a.shape);
  const bf16VsFp32 = b.sub(a).abs().max().item();
  tc.diagnostic(
    `bf16: max |streaming - offline| ${streamVsOffline.toExponential(2)}; max |bf16 - fp32| ${bf16VsFp32.toExponential(2)}; fp32 |streaming - offline| ${(full.r.max_abs_diff as number).toExponential(2)}`,
  );
  assert.ok(streamVsOffline <= MAX_STREAM_OFFLINE_BF16, `bf16 streaming vs offline ${streamVsOffline}`);
  assert.ok(bf16VsFp32 <= MAX_BF16_VS_FP32 && bf16VsFp32 > 0, `bf16 vs fp32 ${bf16VsFp32}`);
  a.dispose();
  b.dispose();
});
