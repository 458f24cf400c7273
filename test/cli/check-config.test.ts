// `streamnest check-config` through the built CLI: exit status, report text, JSON, overrides, declared look-ahead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from '../helpers/assert.js';
import { captureOutput } from '../helpers/capture-output.js';

// This file compiles to <outDir>/test/cli/; the CLI to <outDir>/src/cli/main.js.
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** In-process run of the command (a CLI start costs seconds): exit code as main.ts maps it, stdout, error text. */
async function runIn(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { run } = await import('../../src/cli/commands/check-config.js');
  const { ArgError } = await import('../../src/cli/args.js');
  const r = await captureOutput(async () => {
    try {
      return { code: await run(args), stderr: '' };
    } catch (err) {
      return { code: err instanceof ArgError ? 2 : 1, stderr: (err as Error).message };
    }
  });
  return { ...r.value, stdout: r.stdout };
}

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'check-config', ...args], {
    encoding: 'utf8',
    env: { ...process.env, STREAMNEST_DEBUG: '' },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('a safe preset exits 0 and says so', () => {
  const r = cli(['tiny']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /tiny\.yaml: streaming-safe/);
  assert.match(r.stdout, /look-ahead \[-1,0\] 0 frame\(s\) = 0 ms/);
});

test("NeMo's bidirectional recipe exits 1 with six errors and their fixes (its ??? manifests do not matter)", () => {
  const r = cli(['nest_fast-conformer']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /6 error\(s\), 0 warning\(s\)/);
  for (const key of [
    'preprocessor.normalize',
    'encoder.causal_downsampling',
    'encoder.conv_context_size',
    'encoder.conv_norm_type',
    'encoder.att_context_size',
    'masking.causal',
  ]) {
    assert.match(r.stdout, new RegExp(`ERROR {3}model\\.${key.replace('.', '\\.')}:`), key);
  }
  assert.match(r.stdout, /does not declare streaming: true/);
});

test('warnings alone exit 0 (limited_context: masking window units)', async () => {
  const r = await runIn(['limited_context']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /0 error\(s\), 2 warning\(s\)/);
  assert.match(r.stdout, /left_context_size=2560/);
});

test('overrides apply before the check; --json gives the problems', async () => {
  const r = await runIn(['streaming', 'model.encoder.conv_norm_type=batch_norm', '--json']);
  assert.equal(r.code, 1, r.stderr);
  const j = JSON.parse(r.stdout) as { safe: boolean; errors: number; problems: { key: string; severity: string; fix: string }[]; encoder_frame_ms: number };
  assert.equal(j.safe, false);
  assert.equal(j.errors, 1);
  assert.equal(j.encoder_frame_ms, 80);
  assert.deepEqual(
    j.problems.map((p) => [p.key, p.severity]),
    [['model.encoder.conv_norm_type', 'error']],
  );
  assert.match(j.problems[0]!.fix, /layer_norm/);
});

test('--fully-causal and --max-lookahead declare the intended look-ahead', async () => {
  const LOOKAHEAD = /look-ahead \[-1,4\] 4 frame\(s\) = 320 ms/;
  const plain = await runIn(['lookahead']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /nest_fast-conformer_lookahead\.yaml: streaming-safe/);
  assert.match(plain.stdout, LOOKAHEAD);
  assert.doesNotMatch(plain.stdout, /ERROR/);
  const r = await runIn(['lookahead', '--fully-causal']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /nest_fast-conformer_lookahead\.yaml: 1 error\(s\), 0 warning\(s\)/);
  assert.match(
    r.stdout,
    /ERROR {3}model\.encoder\.att_context_size: \[-1, 4\] looks 4 encoder frame\(s\) \(320 ms\) ahead, but the model is declared fully causal/,
  );
  assert.match(r.stdout, /fix: set the right context to 0: model\.encoder\.att_context_size=\[-1,0\]/);
  // the declared maximum is inclusive: 4 frames pass, 3 do not
  const four = await runIn(['lookahead', '--max-lookahead', '4', '--json']);
  assert.equal(four.code, 0, four.stderr);
  const j4 = JSON.parse(four.stdout) as {
    safe: boolean;
    errors: number;
    problems: unknown[];
    att_context: { att_context_size: number[]; lookahead_frames: number; lookahead_ms: number }[];
  };
  assert.equal(j4.safe, true);
  assert.equal(j4.errors, 0);
  assert.deepEqual(j4.problems, []);
  assert.deepEqual(j4.att_context, [{ att_context_size: [-1, 4], lookahead_frames: 4, lookahead_ms: 320 }]);
  const three = await runIn(['lookahead', '--max-lookahead=3', '--json']);
  assert.equal(three.code, 1, three.stderr);
  const j3 = JSON.parse(three.stdout) as { safe: boolean; errors: number; problems: { key: string; severity: string; problem: string; fix: string }[] };
  assert.equal(j3.safe, false);
  assert.equal(j3.errors, 1);
  assert.deepEqual(
    j3.problems.map((p) => [p.key, p.severity]),
    [['model.encoder.att_context_size', 'error']],
  );
  assert.match(j3.problems[0]!.problem, /declared at most 3 encoder frame\(s\) of look-ahead \(240 ms\)/);
  assert.match(j3.problems[0]!.fix, /right <= 3/);
  const negative = await runIn(['lookahead', '--max-lookahead', '-1']);
  assert.equal(negative.code, 2);
  assert.equal(negative.stdout, '', 'a usage error prints no report');
  assert.match(negative.stderr, /--max-lookahead must be >= 0/);
});

test('a YAML file path works; a missing file, a bad value and a missing argument are reported', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'check-config-'));
  try {
    const yaml = readFileSync(join(REPO_ROOT, 'configs', 'tiny.yaml'), 'utf8')
      .replace('conv_context_size: causal', 'conv_context_size: null')
      .replace(/train_manifest\.json|val_manifest\.json|noise_manifest\.json/g, (m) => join(REPO_ROOT, 'data', 'corpus', m));
    const file = join(dir, 'mine.yaml');
    writeFileSync(file, yaml);
    const r = await runIn([file]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /mine\.yaml: 1 error\(s\)/);
    assert.match(r.stdout, /conv_context_size=causal/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const missing = await runIn(['no/such/file.yaml']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /not found/);
  const bad = await runIn(['tiny', 'model.encoder.att_context_style=chunked_limited', 'model.encoder.att_context_size=[5,1]']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /left % \(right \+ 1\)/);
  const none = cli([]); // through the CLI: usage errors exit 2, with the message and the usage text on stderr
  assert.equal(none.code, 2, none.stderr);
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /check-config: name a preset or YAML file/);
  assert.match(none.stderr, /Usage: streamnest check-config PRESET\|FILE/);
});

test("the guide's overrides turn NeMo's recipe into a streaming-safe config (+key adds a key)", async () => {
  const base = [
    'nest_fast-conformer',
    'model.preprocessor.normalize=NA',
    'model.encoder.causal_downsampling=true',
    'model.encoder.conv_context_size=causal',
    'model.encoder.conv_norm_type=layer_norm',
    '+model.masking.causal=true',
    '+streaming=true',
  ];
  const causal = await runIn([...base, 'model.encoder.att_context_size=[-1,0]', '--fully-causal']);
  assert.equal(causal.code, 0, causal.stdout + causal.stderr);
  assert.match(causal.stdout, /streaming-safe/);
  assert.doesNotMatch(causal.stdout, /does not declare streaming/);
  const lookahead = await runIn([...base, 'model.encoder.att_context_size=[-1,4]', 'model.encoder.att_context_style=chunked_limited']);
  assert.equal(lookahead.code, 0, lookahead.stdout + lookahead.stderr);
  assert.match(lookahead.stdout, /look-ahead \[-1,4\] 4 frame\(s\) = 320 ms/);
});

test('a diarizer config is checked through its own schema and the encoder of its init model; without an init model it says what to add', async () => {
  const nemo = (name: string): string => `init_from_nemo_model=${join(REPO_ROOT, 'test', 'fixtures', 'golden', 'nemo', `${name}.nemo`)}`;
  // the golden causal model's encoder is causal; its per-utterance feature normalisation is the one problem
  const causal = await runIn(['diar_streaming_tiny', nemo('b_fully_causal')]);
  assert.equal(causal.code, 1, causal.stderr);
  assert.match(causal.stdout, /diar_streaming_tiny\.yaml: 1 error\(s\)/);
  assert.match(causal.stdout, /ERROR +model\.preprocessor\.normalize: 'per_feature'/);
  assert.match(causal.stdout, /diarizer \(SortformerEncLabelModel layout\): 4 speakers, .*InverseSquareRootAnnealing/);
  const bidirectional = await runIn(['diar_streaming_tiny', nemo('a_bidirectional'), '--json']);
  assert.equal(bidirectional.code, 1);
  const report = JSON.parse(bidirectional.stdout) as { kind: string; safe: boolean; problems: { key: string }[] };
  assert.equal(report.kind, 'diarizer');
  assert.equal(report.safe, false);
  assert.ok(
    report.problems.some((p) => p.key === 'model.encoder.att_context_size'),
    JSON.stringify(report.problems),
  );
  const none = await runIn(['diar_streaming_tiny']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /diarizer config whose encoder and preprocessor come from init_from_nemo_model.*init_from_nemo_model=MODEL\.nemo/);
  const transformer = await runIn([
    'diar_streaming_tiny',
    nemo('b_fully_causal'),
    'model.transformer_encoder=null',
    '+model.transformer_encoder.num_layers=18',
  ]);
  assert.equal(transformer.code, 1);
  assert.match(transformer.stderr, /model\.transformer_encoder.*not causal/);
});

test('a speech-recognition fine-tuning config is a usage error that says where its encoder comes from and what to check instead', async () => {
  for (const [preset, family] of [
    ['ctc_tiny', 'CTC'],
    ['rnnt_tiny', 'transducer'],
  ]) {
    const r = await runIn([preset!]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${preset} is a speech-recognition fine-tuning config \\(${family}\\)`));
    assert.match(r.stderr, /streamnest finetune --init MODEL\.nemo.*check-config streaming/s);
  }
});
