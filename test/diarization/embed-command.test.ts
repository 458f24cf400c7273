// `streamnest embed` as a child process on a golden cache-aware .nemo: the streamed utterance and frame embeddings equal
// the offline ones, the pooled vector is [mean, std] of the frames written by --frames, bad arguments are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import * as t from '../../src/torch/index.js';
import { readNemoArchive, writeNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { statisticsPooling } from '../../src/diarization/statistics-pooling.js';
import { GOLDEN } from '../helpers/assert.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'streamnest-embed-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const GOLDEN_MODEL = join(GOLDEN, 'nemo', 'e_chunked_limited.nemo');
/** The golden chunked_limited .nemo with streamable feature normalisation (NeMo's per_feature cannot stream). */
const MODEL = (() => {
  const a = readNemoArchive(GOLDEN_MODEL);
  const cfg = parse(a.configYaml) as Record<string, Record<string, unknown>>;
  cfg.preprocessor!.normalize = 'NA';
  const out = join(tmp, 'streamable.nemo');
  writeNemoArchive(out, { configYaml: stringify(cfg), stateDict: a.stateDict, extra: a.extra });
  for (const v of a.stateDict.values()) v.dispose();
  return out;
})();
const AUDIO = join(GOLDEN, 'audio', 'speech_fox.wav');

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, STREAMNEST_DEBUG: '' }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('embed: streamed == offline (utterance and frames); the utterance embedding pools the frames', () => {
  const out = (n: string): string => join(tmp, n);
  for (const [file, extra] of [
    ['off.npy', []],
    ['str.npy', ['--streaming']],
    ['off.frames.npy', ['--frames']],
    ['str.frames.npy', ['--streaming', '--frames']],
  ] as const) {
    const r = cli(['embed', '--model', MODEL, '--audio', AUDIO, '--out', out(file), ...extra]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote .*float32 \[/);
  }
  t.tidy(() => {
    const [off, str, offF, strF] = ['off.npy', 'str.npy', 'off.frames.npy', 'str.frames.npy'].map((f) => t.readNpy(out(f)));
    const D = offF!.size(0);
    assert.deepEqual(off!.shape, [2 * D]);
    assert.ok(offF!.size(1) > 10, `${offF!.size(1)} frames`);
    assert.deepEqual(strF!.shape, offF!.shape);
    assert.ok(strF!.sub(offF!).abs().max().item() <= 1e-5, 'frames');
    assert.ok(str!.sub(off!).abs().max().item() <= 1e-5, 'utterance');
    const pooled = statisticsPooling(offF!.unsqueeze(0), [offF!.size(1)]).select(0, 0);
    assert.ok(pooled.sub(off!).abs().max().item() <= 1e-6, 'pooled frames');
  });
});

test('embed: bad arguments are refused with the reason', () => {
  let r = cli(['embed', '--model', MODEL, '--audio', AUDIO]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--model, --audio and --out are required/);
  r = cli(['embed', '--model', MODEL, '--audio', AUDIO, '--out', join(tmp, 'x.npy'), '--chunk-size', '0.08']);
  assert.match(r.stderr, /--chunk-size applies to --streaming only/);
  r = cli(['embed', '--model', MODEL, '--audio', AUDIO, '--out', join(tmp, 'x.npy'), '--att-context-size', '3,3']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /not one of .*trained contexts/);
  r = cli(['embed', '--model', GOLDEN_MODEL, '--audio', AUDIO, '--out', join(tmp, 'x.npy'), '--streaming']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /normalize 'per_feature' uses statistics over the whole utterance and cannot stream/);
});
