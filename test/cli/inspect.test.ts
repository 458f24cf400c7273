// `streamnest inspect` as a child process: text and JSON summaries of golden NEST archives and of a CTC-BPE archive
// (ignored parts, streaming safety from the encoder/preprocessor sections), the tensor list, the digest dump, and a
// hostile .nemo whose weights pickle names posix.system: refused, nothing executed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { writeTar } from '../../src/checkpoint/tar.js';
import { GOLDEN, REPO_ROOT } from '../helpers/assert.js';
import { writeCtcArchive } from '../checkpoint/asr-archive.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'streamnest-inspect-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, STREAMNEST_DEBUG: '' }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('inspect summarises a golden NEST archive: class, encoder shape, contexts, parameters, safety verdict', () => {
  const r = cli(['inspect', join(GOLDEN, 'nemo', 'f_multi_lookahead.nemo')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /model: +NEST SSL .*EncDecDenoiseMaskedTokenPredModel, nemo_version 2\.6\.0rc0/);
  assert.match(r.stdout, /encoder: +ConformerEncoder, 2 layers, d_model 64, 4 heads/);
  assert.match(r.stdout, /subsampling: +dw_striding x8 \(causal\)/);
  assert.match(r.stdout, /attention: +chunked_limited, att_context_size \[16, 3\] \[16, 0\] \(default \[16, 3\]\)/);
  assert.match(r.stdout, /parameters: +[\d,]+ \(encoder 257,216\)/);
  assert.match(r.stdout, /tensors: +93 in the state dict/);
  assert.match(r.stdout, /streaming safety: \d+ error\(s\)/);
  assert.match(r.stdout, /model\.preprocessor\.normalize/, 'per_feature normalisation is reported');
});

test('inspect --json and --tensors: the full description and tensor list', () => {
  const file = join(GOLDEN, 'nemo', 'a_bidirectional.nemo');
  const j = JSON.parse(cli(['inspect', file, '--json']).stdout) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(j.kind, 'nest');
  assert.equal(j.encoder.dModel, 96);
  assert.deepEqual(j.encoder.attContextSize, [[-1, -1]]);
  assert.deepEqual(j.encoder.convContextSize, [4, 4]);
  assert.equal(j.streamingSafety.safe, false);
  const keys = (j.streamingSafety.problems as { key: string }[]).map((p) => p.key);
  for (const k of ['model.encoder.causal_downsampling', 'model.encoder.conv_context_size', 'model.encoder.conv_norm_type', 'model.encoder.att_context_size'])
    assert.ok(keys.includes(k), `${k} reported`);
  const index = JSON.parse(readFileSync(join(GOLDEN, 'index.json'), 'utf8')) as { archives: { file: string; state_dict: unknown[] }[] };
  assert.deepEqual(j.tensors, index.archives.find((a) => a.file === 'nemo/a_bidirectional.nemo')!.state_dict);
  const r = cli(['inspect', file, '--tensors']);
  assert.match(r.stdout, /\n +encoder\.layers\.1\.conv\.batch_norm\.running_mean +float32 +\[96\]\n/);
  assert.match(r.stdout, /\n +preprocessor\.featurizer\.fb +float32 +\[1, 80, 257\]\n/);
});

test('inspect of a CTC-BPE archive: ASR class, ignored decoder tensors and tokenizer, safety from the encoder sections', () => {
  const path = join(tmp, 'ctc.nemo');
  writeCtcArchive(path, { edit: (c) => Object.assign(c.preprocessor as object, { normalize: 'NA' }) });
  const r = cli(['inspect', path]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /model: +CTC ASR — nemo\.collections\.asr\.models\.ctc_bpe_models\.EncDecCTCModelBPE/);
  assert.match(r.stdout, /not loaded: +decoder\.\* \(2 tensors\), tokenizer\.model \(file, 30 bytes\)/);
  assert.match(r.stdout, /streaming safety: streaming-safe/);
  assert.match(r.stdout, /block masking applies to NEST pretraining only/);
});

test('inspect --dump-tensors writes shape, dtype and SHA-256 per tensor', () => {
  const dump = join(tmp, 'dump.json');
  const r = cli(['inspect', join(GOLDEN, 'nemo', 'b_fully_causal.nemo'), '--dump-tensors', dump]);
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(readFileSync(dump, 'utf8')) as { tensors: Record<string, { shape: number[]; dtype: string; sha256: string }> };
  assert.equal(Object.keys(d.tensors).length, 93);
  assert.deepEqual(d.tensors['preprocessor.featurizer.window']!.shape, [400]);
  assert.match(d.tensors['encoder.pre_encode.out.weight']!.sha256, /^[0-9a-f]{64}$/);
});

test('inspect of a .nemo whose weights pickle calls posix.system exits non-zero, names the global, and runs nothing', () => {
  const expected = JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'torch_save', 'expected.json'), 'utf8')) as { _meta: { marker: string } };
  const marker = expected._meta.marker;
  if (existsSync(marker)) unlinkSync(marker);
  const weights = readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'torch_save', 'malicious_system.ckpt'));
  const path = join(tmp, 'evil.nemo');
  const config = 'target: nemo.collections.asr.models.ssl_models.EncDecDenoiseMaskedTokenPredModel\n';
  writeFileSync(
    path,
    Buffer.concat(
      writeTar([
        { name: './', type: 'dir' },
        { name: './model_config.yaml', data: new TextEncoder().encode(config) },
        { name: './model_weights.ckpt', data: weights },
      ]),
    ),
  );
  const r = cli(['inspect', path]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /evil\.nemo: \.\/model_weights\.ckpt: the top-level object is a 'posix\.system' \(not loaded, nothing was executed\)/);
  assert.equal(existsSync(marker), false, 'the hostile command never ran');
});
