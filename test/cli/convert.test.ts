// `streamnest convert` as a child process: a 2-step `pretrain` run's training checkpoint -> a plain .nemo with the
// same weights and no trainer state, which encodes bit for bit like pretrain's own .nemo; a golden tar.gz -> an
// uncompressed .nemo in save_to layout; zips and other files refused with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as t from '../../src/torch/index.js';
import { readNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { readTar } from '../../src/checkpoint/tar.js';
import { GOLDEN, REPO_ROOT } from '../helpers/assert.js';
import { sameBits } from '../checkpoint/asr-archive.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'streamnest-convert-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, STREAMNEST_DEBUG: '' }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function sameStateDicts(a: string, b: string): void {
  const x = readNemoArchive(a);
  const y = readNemoArchive(b);
  assert.deepEqual([...y.stateDict.keys()], [...x.stateDict.keys()]);
  for (const [k, v] of x.stateDict) assert.ok(sameBits(y.stateDict.get(k)!, v), `${k} bit-identical`);
  assert.equal(y.configYaml, x.configYaml);
  for (const sd of [x.stateDict, y.stateDict]) for (const v of sd.values()) v.dispose();
}

test("a pretrain training checkpoint converts to a plain .nemo that encodes exactly like pretrain's own .nemo", () => {
  const exp = join(tmp, 'exp');
  const r = cli(['pretrain', 'trainer.max_steps=2', `exp_manager.exp_dir=${exp}`]);
  assert.equal(r.code, 0, r.stderr);
  const [run] = readdirSync(exp);
  const dir = join(exp, run!, 'checkpoints');
  const last = join(dir, readdirSync(dir).find((f) => f.endsWith('--last.ckpt'))!);
  const final = join(dir, `${run}.nemo`);
  const out = join(tmp, 'converted.nemo');
  const c = cli(['convert', last, out]);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /from a training checkpoint\n {2}dropped: trainer_state\.ckpt, trainer_state\.json/);
  const names = readTar(new Uint8Array(readFileSync(out))).map((m) => m.rawName);
  assert.deepEqual(names, ['./', './model_config.yaml', './model_weights.ckpt'], "NeMo's save_to layout, nothing else");
  sameStateDicts(last, out);
  // export proof through the CLI: the converted archive and pretrain's .nemo give bit-identical encoder outputs
  const feats = join(tmp, 'f.npy');
  t.tidy(() => t.writeNpy(feats, t.randn([80, 200], { generator: new t.Generator(1) })));
  for (const [m, o] of [
    [final, 'a.npy'],
    [out, 'b.npy'],
  ] as const)
    assert.equal(cli(['encode', '--model', m, '--features', feats, '--out', join(tmp, o)]).code, 0);
  assert.deepEqual(readFileSync(join(tmp, 'b.npy')), readFileSync(join(tmp, 'a.npy')));
  const i = cli(['inspect', out]);
  assert.match(i.stdout, /streaming safety: streaming-safe/);
});

test('a gzip .nemo converts to an uncompressed one with the same config and tensors', () => {
  const src = join(GOLDEN, 'nemo', 'a_bidirectional.nemo');
  const out = join(tmp, 'a.nemo');
  const r = cli(['convert', src, out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { inputFormat: string; source: string; tensors: number };
  assert.deepEqual([j.inputFormat, j.source, j.tensors], ['tar.gz', 'nemo', 99]);
  assert.equal(readFileSync(out).subarray(257, 262).toString('latin1'), 'ustar', 'plain tar');
  sameStateDicts(src, out);
});

test('convert refuses a torch.save zip and a non-archive, naming the file and what it is', () => {
  const zip = join(REPO_ROOT, 'test', 'fixtures', 'torch_save', 'lightning.ckpt');
  let r = cli(['convert', zip, join(tmp, 'x.nemo')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /lightning\.ckpt: a zip file \(torch\.save output, e\.g\. a PyTorch Lightning \.ckpt\), not a \.nemo archive/);
  const txt = join(tmp, 'notes.txt');
  writeFileSync(txt, 'hello');
  r = cli(['convert', txt, join(tmp, 'x.nemo')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /notes\.txt: not a \.nemo archive or a streamnest training checkpoint \(neither tar nor gzip data/);
});
