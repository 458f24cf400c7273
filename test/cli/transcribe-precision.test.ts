// `streamnest transcribe --precision bf16`: a character CTC archive under CPU bfloat16 autocast gives log-probabilities
// within a measured bound of the float32 ones, and its streaming transcript is its offline one (both in bf16).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as t from '../../src/torch/index.js';
import { readWav } from '../../src/audio/wav.js';
import { GOLDEN } from '../helpers/assert.js';
import { writeCharCtcArchive } from '../checkpoint/asr-archive.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'streamnest-precision-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const audio = join(GOLDEN, 'audio', 'speech_fox.wav');
/** Max |log p_bf16 - log p_fp32| over the clip's frames and classes; measured 2.3e-2 on this clip (libtorch 1.13.1, AVX512-BF16). */
const MAX_LOG_PROB_DIFFERENCE = 0.1;

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, STREAMNEST_DEBUG: '' }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test(`bf16 autocast: CTC log-probabilities within ${MAX_LOG_PROB_DIFFERENCE} of float32, in float32`, (tc) => {
  const model = writeCharCtcArchive(join(tmp, 'probe.nemo'));
  t.noGrad(() =>
    t.tidy(() => {
      const clip = readWav(audio).samples;
      const x = t.tensor(clip, [1, clip.length]);
      const len = t.tensor([clip.length], [1], { dtype: 'int64' });
      const full = model.forward(x, len).logProbs;
      const mixed = t.autocast({ device: 'cpu', dtype: 'bfloat16' }, () => model.forward(x, len).logProbs);
      assert.equal(mixed.dtype, 'float32');
      const diff = mixed.sub(full).abs().max().item();
      tc.diagnostic(`max |log p bf16 - log p fp32| = ${diff.toExponential(2)} over [${full.shape}]`);
      assert.ok(diff <= MAX_LOG_PROB_DIFFERENCE, `max abs difference ${diff}`);
      assert.ok(diff > 0, 'bf16 really ran (the log-probs differ from float32 somewhere)');
    }),
  );
  model.dispose();
});

test('transcribe --precision bf16: streaming equals offline, the JSON names the precision', () => {
  const nemo = join(tmp, 'ctc.nemo');
  writeCharCtcArchive(nemo).dispose();
  const off = cli(['transcribe', '--model', nemo, '--audio', audio, '--json', '--precision', 'bf16']);
  assert.equal(off.code, 0, off.stderr);
  const o = JSON.parse(off.stdout) as { mode: string; text: string; precision: string };
  assert.deepEqual([o.mode, o.precision], ['offline', 'bf16']);
  const str = cli(['transcribe', '--model', nemo, '--audio', audio, '--json', '--streaming', '--precision', 'bf16']);
  assert.equal(str.code, 0, str.stderr);
  const s = JSON.parse(str.stdout) as { text: string; precision: string; streaming: { exact: boolean } };
  assert.equal(s.precision, 'bf16');
  assert.equal(s.text, o.text, 'fully causal: the bf16 streaming transcript is the bf16 offline one');
  const bad = cli(['transcribe', '--model', nemo, '--audio', audio, '--precision', 'fp8']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /precision/);
});
