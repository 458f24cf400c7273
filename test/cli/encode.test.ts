// `streamnest encode` as a child process: every golden .nemo reproduces NeMo's offline encoder outputs
// (golden encoder/*/offline, item by item, multi-lookahead through --att-context-size); --audio runs the
// checkpoint's preprocessor first; bad inputs are refused with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as t from '../../src/torch/index.js';
import { loadNemoModel } from '../../src/checkpoint/nemo-model.js';
import { loadAudioAsync } from '../../src/audio/load-audio.js';
import { GOLDEN, REPO_ROOT, assertClose } from '../helpers/assert.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'streamnest-encode-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

interface Case {
  id: string;
  kind: string;
  config: { weights: string; att_context_size_in_use: [number, number]; encoder: { att_context_size: unknown } };
  outputs: { outputs: { file: string } };
  tolerance: { atol: number; rtol: number };
}
const INDEX = JSON.parse(readFileSync(join(GOLDEN, 'index.json'), 'utf8')) as { cases: Case[] };
const CASES = INDEX.cases.filter((c) => c.kind === 'encoder_offline');

function cliAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, STREAMNEST_DEBUG: '' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, STREAMNEST_DEBUG: '' }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Golden input item i, its valid frames only, as [80, length] .npy. */
function writeItem(i: number): string {
  const path = join(tmp, `features_${i}.npy`);
  t.tidy(() => {
    const x = t.readNpy(join(GOLDEN, 'encoder', 'input_features.npy'));
    const len = t.readNpy(join(GOLDEN, 'encoder', 'input_lengths.npy')).toArray()[i]!;
    t.writeNpy(path, x.select(0, i).narrow(1, 0, len).contiguous());
  });
  return path;
}

test('encode reproduces every golden offline encoder case from its .nemo, item by item', async () => {
  assert.ok(CASES.length >= 7, 'the golden index lists the offline encoder cases');
  const items = [writeItem(0), writeItem(1)];
  const jobs: { c: Case; i: number; out: string; args: string[] }[] = [];
  for (const c of CASES) {
    const nemo = join(GOLDEN, c.config.weights.split(' ')[0]!.replace(/^golden\//, ''));
    const multi = Array.isArray((c.config.encoder.att_context_size as unknown[])[0]);
    for (let i = 0; i < 2; i++) {
      const out = join(tmp, `${c.id.replace(/\W+/g, '_')}_${i}.npy`);
      const args = ['encode', '--model', nemo, '--features', items[i]!, '--out', out];
      if (multi) args.push('--att-context-size', c.config.att_context_size_in_use.join(','));
      jobs.push({ c, i, out, args });
    }
  }
  // two at a time (the machine has 2 cores)
  for (let j = 0; j < jobs.length; j += 2) {
    const rs = await Promise.all(jobs.slice(j, j + 2).map((x) => cliAsync(x.args)));
    rs.forEach((r, k) => {
      assert.equal(r.code, 0, `${jobs[j + k]!.args.join(' ')}\n${r.stderr}`);
    });
  }
  const live = t.liveTensorCount();
  for (const { c, i, out } of jobs) {
    t.tidy(() => {
      const got = t.readNpy(out); // [d, T']
      const lensFile = c.outputs.outputs.file.replace('offline_outputs.npy', 'offline_encoded_lengths.npy');
      const len = t.readNpy(join(GOLDEN, lensFile)).toArray()[i]!;
      const ref = t.readNpy(join(GOLDEN, c.outputs.outputs.file)).select(0, i).narrow(1, 0, len);
      assert.deepEqual(got.shape, ref.shape, `${c.id} item ${i}: [d_model, valid frames]`);
      assert.equal(got.dtype, 'float32');
      assertClose(got, ref, c.tolerance.atol, c.tolerance.rtol, `${c.id} item ${i}`);
    });
  }
  assert.equal(t.liveTensorCount(), live);
});

test('encode --audio runs the checkpoint preprocessor and then the encoder (WAV, and MP3 decoded from its content)', async () => {
  const nemo = join(GOLDEN, 'nemo', 'e_chunked_limited.nemo');
  for (const audio of [join(GOLDEN, 'audio', 'speech_hello.wav'), join(REPO_ROOT, 'test', 'fixtures', 'audio', 'compressed', 'speech_hello.mp3')]) {
    const out = join(tmp, 'hello.npy');
    const r = cli(['encode', '--model', nemo, '--audio', audio, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote .*hello\.npy: float32 \[64, \d+\] \(NEST encoder, att_context_size \[16, 3\]\)/);
    const live = t.liveTensorCount();
    const m = loadNemoModel(nemo);
    const a = await loadAudioAsync(audio, { targetSampleRate: 16000 });
    t.tidy(() =>
      t.noGrad(() => {
        const f = m.preprocessor.forward(t.tensor(a.samples, [1, a.samples.length]), [a.samples.length]);
        const e = m.encoder.forward(f.features, f.lengths);
        const len = e.lengths.toArray()[0]!;
        // Another process may run with another thread count, so BLAS and reductions may sum in another order: the
        // same computation agrees to float32 rounding (seen: 9.5e-7), not bit for bit. 1e-5 is 10x that and far below
        // any real difference (a wrong preprocessor or context changes values by 1e-2 and more).
        assertClose(t.readNpy(out), e.encoded.select(0, 0).narrow(1, 0, len), 1e-5, 1e-5, `${audio}: same as in-process`);
      }),
    );
    m.dispose();
    assert.equal(t.liveTensorCount(), live);
  }
});

test('encode refuses a wrong feature count, an untrained context and a missing input, with the reason', () => {
  const nemo = join(GOLDEN, 'nemo', 'f_multi_lookahead.nemo');
  const bad = join(tmp, 'bad.npy');
  t.tidy(() => t.writeNpy(bad, t.zeros([64, 100])));
  let r = cli(['encode', '--model', nemo, '--features', bad, '--out', join(tmp, 'x.npy')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /the input has 64 features per frame; .*f_multi_lookahead\.nemo expects 80/);
  r = cli(['encode', '--model', nemo, '--features', writeItem(0), '--out', join(tmp, 'x.npy'), '--att-context-size', '8,1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--att-context-size 8,1 is not one of .*trained contexts \(16,3 16,0\)/);
  r = cli(['encode', '--model', nemo, '--out', join(tmp, 'x.npy')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /give exactly one of --features IN\.npy and --audio FILE/);
});
