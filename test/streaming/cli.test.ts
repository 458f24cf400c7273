// `streamnest stream` and `streamnest analyze` end to end on a tiny NEST .nemo written in a temp dir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/index.js';
import { buildNestModel } from '../../src/ssl/nest-factory.js';
import { writeNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { readNpy } from '../../src/torch/serialize/npy.js';
import { GOLDEN } from '../helpers/assert.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'streamnest-stream-'));
const model = join(dir, 'tiny.nemo');
const audio = join(GOLDEN, 'audio', 'speech_fox.wav');

test('setup: a tiny causal NEST .nemo', () => {
  const cfg = loadConfig('tiny').config.model;
  const m = buildNestModel(cfg, 3);
  writeNemoArchive(model, { configYaml: stringify(cfg), stateDict: m.stateDict() });
  m.dispose();
  assert.ok(existsSync(model));
});

test('stream --json --compare-modes --out --plot', () => {
  const out = execFileSync(
    process.execPath,
    [
      MAIN,
      'stream',
      '--model',
      model,
      '--audio',
      audio,
      '--chunk-size',
      '0.32',
      '--compare-modes',
      '--json',
      '--out',
      join(dir, 'o.npy'),
      '--plot',
      join(dir, 'l.png'),
    ],
    { encoding: 'utf8' },
  );
  const r = JSON.parse(out) as Record<string, unknown>;
  for (const k of ['chunk_size_s', 'algorithmic_latency_ms', 'latency_ms', 'rtf', 'frames_out', 'max_abs_diff', 'offline_frames_out']) assert.ok(k in r, k);
  assert.equal(r.chunk_size_s, 0.32);
  assert.equal(r.algorithmic_latency_ms, 320);
  assert.equal(r.frames_out, r.offline_frames_out);
  assert.ok((r.max_abs_diff as number) <= 1e-5, String(r.max_abs_diff));
  const npy = readNpy(join(dir, 'o.npy'));
  assert.deepEqual(npy.shape, [64, r.frames_out as number]);
  npy.dispose();
  assert.deepEqual([...readFileSync(join(dir, 'l.png')).subarray(1, 4)], [0x50, 0x4e, 0x47]);
});

test('stream: bad chunk size is a clear error', () => {
  assert.throws(
    () => execFileSync(process.execPath, [MAIN, 'stream', '--model', model, '--audio', audio, '--chunk-size', '0.1'], { encoding: 'utf8', stdio: 'pipe' }),
    /whole number of encoder frames/,
  );
});

test('analyze --json: accuracy, distribution, streaming agreement', () => {
  const man = join(dir, 'm.json');
  writeFileSync(
    man,
    ['speech_fox', 'speech_hello'].map((n) => JSON.stringify({ audio_filepath: join(GOLDEN, 'audio', `${n}.wav`), duration: 1.0, text: '' })).join('\n') + '\n',
  );
  const r = JSON.parse(execFileSync(process.execPath, [MAIN, 'analyze', '--model', model, '--manifest', man, '--json'], { encoding: 'utf8' })) as Record<
    string,
    any
  >;
  assert.equal(r.utterances, 2);
  assert.ok(r.masked_accuracy >= 0 && r.masked_accuracy <= 1);
  assert.ok(r.target_perplexity >= 1 && r.target_codebook_usage > 0);
  assert.equal(r.streaming_vs_offline.token_agreement, 1);
  assert.ok(r.streaming_vs_offline.max_abs_diff <= 1e-5);
  rmSync(dir, { recursive: true, force: true });
});
