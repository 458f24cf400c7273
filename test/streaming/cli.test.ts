// `streamnest stream` and `streamnest analyze` end to end on a tiny NEST .nemo written in a temp dir, a golden
// multi-lookahead .nemo (either context pair) and CTC archives (streamed; refused by analyze; bad ones refused by both).
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../../src/config/index.js';
import { buildNestModel } from '../../src/ssl/nest-factory.js';
import { readNemoArchive, writeNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { modelConfigYaml } from '../../src/train/nest-pretraining.js';
import { readNpy } from '../../src/torch/serialize/npy.js';
import { GOLDEN } from '../helpers/assert.js';
import { writeCtcArchive } from '../checkpoint/asr-archive.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
const audio = join(GOLDEN, 'audio', 'speech_fox.wav');

/** A temporary folder of the running test only, removed when that test ends. */
function testDir(t: TestContext): string {
  const d = mkdtempSync(join(tmpdir(), 'streamnest-stream-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

// The tiny causal NEST .nemo (as pretrain writes it), shared read-only by the tests that stream or analyze it:
// built by the first test that asks for it, whichever runs first or alone, and removed after the file's tests.
let shared: { dir: string; model: string } | null = null;
function tinyModel(): string {
  if (!shared) {
    const dir = mkdtempSync(join(tmpdir(), 'streamnest-stream-model-'));
    const model = join(dir, 'tiny.nemo');
    const loaded = loadConfig('tiny');
    const m = buildNestModel(loaded.config.model, 3);
    writeNemoArchive(model, { configYaml: modelConfigYaml(loaded.raw), stateDict: m.stateDict() });
    m.dispose();
    assert.ok(existsSync(model));
    shared = { dir, model };
  }
  return shared.model;
}
after(() => {
  if (shared) rmSync(shared.dir, { recursive: true, force: true });
});

test('stream --json --compare-modes --out --plot', (t) => {
  const dir = testDir(t);
  const model = tinyModel();
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
  // steady state: every push but the first 3 (listed apart) and the final flush
  const steady = r.steady_latency_ms as { p50: number; p99: number; chunks: number };
  const first = r.first_chunks_ms as number[];
  const chunks = r.chunks as number;
  assert.ok(chunks > 4, `chunks ${chunks}`);
  assert.equal(steady.chunks, chunks - 4);
  assert.equal(first.length, 3);
  assert.ok(steady.p50 > 0 && steady.p99 >= steady.p50);
  const npy = readNpy(join(dir, 'o.npy'));
  assert.deepEqual(npy.shape, [64, r.frames_out as number]);
  npy.dispose();
  assert.deepEqual([...readFileSync(join(dir, 'l.png')).subarray(1, 4)], [0x50, 0x4e, 0x47]);
});

test('stream --warmup: a throwaway stream of silence first, untimed; the output is unchanged; a bad value is refused', (t) => {
  const dir = testDir(t);
  const model = tinyModel();
  const outputs: number[][] = [];
  for (const warmup of ['0', '1.5']) {
    const npy = join(dir, `o${warmup}.npy`);
    const r = JSON.parse(
      execFileSync(process.execPath, [MAIN, 'stream', '--model', model, '--audio', audio, '--chunk-size', '0.32', '--json', '--warmup', warmup, '--out', npy], {
        encoding: 'utf8',
      }),
    ) as { warmup_s: number; chunks: number; duration_s: number };
    assert.equal(r.warmup_s, Number(warmup));
    assert.equal(r.chunks, Math.ceil(r.duration_s / 0.32) + 1, 'only the file is timed: one push per chunk and the flush');
    const y = readNpy(npy);
    outputs.push(y.toArray());
    y.dispose();
  }
  assert.deepEqual(outputs[1], outputs[0], 'the warm-up stream leaves the timed stream unchanged');
  const bad = spawnSync(process.execPath, [MAIN, 'stream', '--model', model, '--audio', audio, '--warmup', '-1'], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--warmup: expected seconds >= 0, got -1/);
});

test('stream: bad chunk size is a clear error', () => {
  const model = tinyModel();
  assert.throws(
    () => execFileSync(process.execPath, [MAIN, 'stream', '--model', model, '--audio', audio, '--chunk-size', '0.1'], { encoding: 'utf8', stdio: 'pipe' }),
    /whole number of encoder frames/,
  );
});

/** A golden .nemo rewritten with streamable feature normalisation (normalize: NA; NeMo's per_feature cannot stream). */
function streamableCopy(name: string, dir: string): string {
  const a = readNemoArchive(join(GOLDEN, 'nemo', name));
  const cfg = parse(a.configYaml) as Record<string, Record<string, unknown>>;
  cfg.preprocessor!.normalize = 'NA';
  const out = join(dir, name);
  writeNemoArchive(out, { configYaml: stringify(cfg), stateDict: a.stateDict, extra: a.extra });
  for (const v of a.stateDict.values()) v.dispose();
  return out;
}

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, STREAMNEST_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('stream --att-context-size: a multi-lookahead model streams with either pair, equal to offline with that pair', (t) => {
  const nemo = streamableCopy('f_multi_lookahead.nemo', testDir(t));
  for (const [flag, pair] of [
    [[], [16, 3]],
    [
      ['--att-context-size', '16,0'],
      [16, 0],
    ],
  ] as const) {
    const r = cli(['stream', '--model', nemo, '--audio', audio, '--compare-modes', '--json', ...flag]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(j.att_context_size, pair);
    assert.deepEqual(j.exactness_issues, []);
    assert.equal(j.frames_out, j.offline_frames_out);
    assert.ok((j.max_abs_diff as number) <= 1e-5, `[${pair.join(', ')}]: ${String(j.max_abs_diff)}`);
  }
});

test('stream --latency-budget-ms: adaptive look-ahead reports the contexts it used and equals offline under the same per-chunk masks', (t) => {
  const nemo = streamableCopy('f_multi_lookahead.nemo', testDir(t));
  const run = (budget: string, ...more: string[]) => {
    const r = cli(['stream', '--model', nemo, '--audio', audio, '--compare-modes', '--json', '--latency-budget-ms', budget, ...more]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };
  // [16, 0] streams 80 ms of algorithmic latency, [16, 3] 320 ms: a generous budget takes the larger look-ahead
  // throughout, one below 320 ms can only take the smaller; either way the output is the offline pass's.
  for (const [budget, only] of [
    ['5000', '16,3'],
    ['250', '16,0'],
  ] as const) {
    const j = run(budget);
    assert.deepEqual(Object.keys(j.contexts_used as object), [only], `budget ${budget}: ${JSON.stringify(j.contexts_used)}`);
    assert.equal(j.latency_budget_ms, Number(budget));
    assert.deepEqual(
      (j.contexts as { att_context_size: number[]; algorithmic_latency_ms: number; baseline_compute_ms: number }[]).map((c) => [
        c.att_context_size.join(','),
        Math.round(c.algorithmic_latency_ms),
        c.baseline_compute_ms > 0,
      ]),
      [
        ['16,0', 80, true],
        ['16,3', 320, true],
      ],
    );
    assert.equal(j.frames_out, j.offline_frames_out);
    assert.ok((j.max_abs_diff as number) <= 1e-5, `budget ${budget}: ${String(j.max_abs_diff)}`);
  }
  const text = cli(['stream', '--model', nemo, '--audio', audio, '--latency-budget-ms', '250']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /adaptive look-ahead within 250 ms: \[16,0\] x \d+ \(audio pushed in 80 ms pieces\)/);
  for (const [args, msg] of [
    [['--latency-budget-ms', '-5'], /positive number of milliseconds/],
    [['--latency-budget-ms', '300', '--chunk-size', '0.08'], /omit --chunk-size/],
    [['--latency-budget-ms', '300', '--nemo-compatible'], /omit --nemo-compatible/],
  ] as const) {
    const r = cli(['stream', '--model', nemo, '--audio', audio, ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, msg);
  }
});

test('stream loads a FastConformer CTC archive through the validated loader (its encoder + preprocessor stream)', (t) => {
  const nemo = join(testDir(t), 'ctc.nemo');
  writeCtcArchive(nemo, { edit: (c) => Object.assign(c.preprocessor as object, { normalize: 'NA' }) });
  const r = cli(['stream', '--model', nemo, '--audio', audio, '--compare-modes', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(j.frames_out, j.offline_frames_out);
  assert.ok((j.max_abs_diff as number) <= 1e-5, String(j.max_abs_diff));
});

test("stream and analyze: bad archives get the validated loader's errors; analyze refuses a non-NEST model", (t) => {
  const dir = testDir(t);
  const bad = join(dir, 'misspelt.nemo');
  writeCtcArchive(bad, {
    edit: (c) => {
      const e = c.encoder as Record<string, unknown>;
      e.n_layer = e.n_layers;
      delete e.n_layers;
    },
  });
  const man = join(dir, 'one.json');
  writeFileSync(man, JSON.stringify({ audio_filepath: audio, duration: 1.0, text: '' }) + '\n');
  for (const args of [
    ['stream', '--model', bad, '--audio', audio],
    ['analyze', '--model', bad, '--manifest', man],
  ]) {
    const r = cli(args);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /misspelt\.nemo: model_config\.yaml[\s\S]*encoder\.n_layer: unknown key; did you mean 'n_layers'\?/);
  }
  const missing = join(dir, 'missing.nemo');
  writeCtcArchive(missing, { dropKeys: ['encoder.layers.1.norm_out.bias'] });
  const r = cli(['stream', '--model', missing, '--audio', audio]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /missing\.nemo: the 'encoder\.\*' weights do not fit the configured encoder: [\s\S]*layers\.1\.norm_out\.bias/);
  const ctcNemo = join(dir, 'ctc.nemo');
  writeCtcArchive(ctcNemo, { edit: (c) => Object.assign(c.preprocessor as object, { normalize: 'NA' }) });
  const ctc = cli(['analyze', '--model', ctcNemo, '--manifest', man]);
  assert.equal(ctc.code, 2);
  assert.match(ctc.stderr, /ctc\.nemo is not a NEST SSL model/);
});

test('analyze --json: accuracy, distribution, streaming agreement', (t) => {
  const dir = testDir(t);
  const model = tinyModel();
  const man = join(dir, 'm.json');
  writeFileSync(
    man,
    ['speech_fox', 'speech_hello'].map((n) => JSON.stringify({ audio_filepath: join(GOLDEN, 'audio', `${n}.wav`), duration: 1.0, text: '' })).join('\n') + '\n',
  );
  const r = JSON.parse(execFileSync(process.execPath, [MAIN, 'analyze', '--model', model, '--manifest', man, '--json'], { encoding: 'utf8' })) as {
    utterances: number;
    masked_accuracy: number;
    target_perplexity: number;
    target_codebook_usage: number;
    streaming_vs_offline: { token_agreement: number; max_abs_diff: number };
  };
  assert.equal(r.utterances, 2);
  assert.ok(r.masked_accuracy >= 0 && r.masked_accuracy <= 1);
  assert.ok(r.target_perplexity >= 1 && r.target_codebook_usage > 0);
  assert.equal(r.streaming_vs_offline.token_agreement, 1);
  assert.ok(r.streaming_vs_offline.max_abs_diff <= 1e-5);
});
