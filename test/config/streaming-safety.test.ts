// The streaming-safety validator: each unsafe setting is flagged (overriding a safe preset), the safe presets pass,
// NeMo's bidirectional recipe gets every expected error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/index.js';
import {
  checkStreamingSafety,
  encoderFrameMs,
  formatSafetyReport,
  lookaheadFrames,
  type SafetyOptions,
  type SafetyProblem,
} from '../../src/config/streaming-safety.js';

const MANIFESTS = ['model.train_ds.manifest_filepath=train.json', 'model.validation_ds.manifest_filepath=val.json'];

function check(preset: string, overrides: string[] = [], opts: SafetyOptions = {}): SafetyProblem[] {
  return checkStreamingSafety(loadConfig(preset, preset === 'tiny' ? overrides : [...MANIFESTS, ...overrides]).config, opts);
}

const errors = (ps: SafetyProblem[]): string[] => ps.filter((p) => p.severity === 'error').map((p) => p.key);
const warnings = (ps: SafetyProblem[]): string[] => ps.filter((p) => p.severity === 'warning').map((p) => p.key);

/** Overrides `streaming` (fully causal preset) with one setting; exactly `key` is reported, with the severity. */
function flagged(overrides: string[], key: string, severity: 'error' | 'warning' = 'error', match?: RegExp): SafetyProblem {
  const ps = check('streaming', overrides);
  assert.deepEqual(
    ps.map((p) => [p.key, p.severity]),
    [[key, severity]],
    `${overrides.join(' ')}: expected exactly one ${severity} at ${key}, got\n${formatSafetyReport('streaming', ps)}`,
  );
  const p = ps[0]!;
  assert.ok(p.problem.length > 20 && p.fix.length > 10, 'a problem and a fix are given');
  if (match) assert.match(p.problem + ' ' + p.fix, match);
  return p;
}

test('the safe presets have no errors; tiny, streaming and lookahead have nothing to report', () => {
  for (const preset of ['tiny', 'streaming', 'lookahead']) assert.deepEqual(check(preset), [], preset);
  const lc = check('limited_context');
  assert.deepEqual(errors(lc), []);
  // its masking window (320) is in feature frames while attention's 320 are encoder frames: two warnings
  assert.deepEqual(warnings(lc), ['model.masking.left_context_size', 'model.masking.left_context_size']);
  assert.match(lc[1]!.problem, /units disagree/);
  assert.match(lc[1]!.fix, /left_context_size=2560/);
  assert.match(lc[0]!.problem, /last 321 feature frames/);
});

test("NeMo's bidirectional recipe gets every expected error and nothing else", () => {
  const ps = check('nest_fast-conformer');
  assert.deepEqual(errors(ps).sort(), [
    'model.encoder.att_context_size',
    'model.encoder.causal_downsampling',
    'model.encoder.conv_context_size',
    'model.encoder.conv_norm_type',
    'model.masking.causal',
    'model.preprocessor.normalize',
  ]);
  assert.deepEqual(warnings(ps), []);
  const report = formatSafetyReport('nest_fast-conformer.yaml', ps);
  assert.match(report, /^nest_fast-conformer\.yaml: 6 error\(s\), 0 warning\(s\)/);
  assert.match(report, /fix: set model\.encoder\.conv_context_size=causal/);
  assert.match(report, /fix: set model\.encoder\.conv_norm_type=layer_norm/);
});

test("the bidirectional recipe with the guide's overrides is streaming-safe", () => {
  const ps = check('nest_fast-conformer', [
    'model.preprocessor.normalize=NA',
    'model.encoder.causal_downsampling=true',
    'model.encoder.conv_context_size=causal',
    'model.encoder.conv_norm_type=layer_norm',
    'model.encoder.att_context_size=[-1,0]',
    '+model.masking.causal=true',
    '+model.target_normalize=per_utterance',
  ]);
  assert.deepEqual(ps, []);
});

test('a quantizer fed raw log-mel (normalize NA, target_normalize none) is a warning; per_utterance, per_frame or fixed statistics are fine', () => {
  flagged(['model.target_normalize=none'], 'model.target_normalize', 'warning', /target_normalize=per_utterance/);
  assert.deepEqual(check('streaming', ['model.target_normalize=per_frame']), []);
  const stats = `{fixed_mean: [${Array(80).fill(-9).join(',')}], fixed_std: [${Array(80).fill(3).join(',')}]}`;
  assert.deepEqual(check('streaming', ['model.target_normalize=none', `model.preprocessor.normalize=${stats}`]), []);
  assert.deepEqual(check('streaming', ['model.target_normalize=none', 'model.preprocessor.normalize={fixed_mean: null, fixed_std: null}']), []);
});

test('per-utterance feature normalisation is an error (per_feature, all_features); NA, null and dither are fine', () => {
  flagged(['model.preprocessor.normalize=per_feature'], 'model.preprocessor.normalize', 'error', /normalize=NA/);
  flagged(['model.preprocessor.normalize=all_features'], 'model.preprocessor.normalize');
  assert.deepEqual(check('streaming', ['model.preprocessor.normalize=null']), []);
  assert.deepEqual(check('streaming', ['model.preprocessor.dither=0.01']), []);
});

test('non-causal subsampling is an error; vggnet is non-causal whatever causal_downsampling says', () => {
  flagged(['model.encoder.causal_downsampling=false'], 'model.encoder.causal_downsampling', 'error', /8j\+7 instead of 8j/);
  flagged(['model.encoder.subsampling=vggnet'], 'model.encoder.subsampling', 'error', /dw_striding/);
  flagged(['model.encoder.subsampling=stacking'], 'model.encoder.subsampling', 'warning');
});

test('a depthwise convolution with right context is an error (null = symmetric, or a pair with right > 0)', () => {
  flagged(['model.encoder.conv_context_size=null'], 'model.encoder.conv_context_size', 'error', /4 frame\(s\) ahead.*68 encoder frames/);
  flagged(['model.encoder.conv_context_size=[6,2]'], 'model.encoder.conv_context_size', 'error', /2 frame\(s\) ahead/);
  assert.deepEqual(check('streaming', ['model.encoder.conv_context_size=[8,0]']), []);
});

test('batch, instance and group norm in the convolution module are errors; fused_batch_norm a warning', () => {
  flagged(['model.encoder.conv_norm_type=batch_norm'], 'model.encoder.conv_norm_type', 'error', /layer_norm/);
  flagged(['model.encoder.conv_norm_type=instance_norm'], 'model.encoder.conv_norm_type');
  flagged(['model.encoder.conv_norm_type=group_norm8'], 'model.encoder.conv_norm_type', 'error', /all time steps/);
  flagged(['model.encoder.conv_norm_type=fused_batch_norm'], 'model.encoder.conv_norm_type', 'warning');
});

test('unlimited right context is always an error, also inside a multi-lookahead list', () => {
  flagged(['model.encoder.att_context_size=[-1,-1]'], 'model.encoder.att_context_size', 'error', /unlimited look-ahead/);
  flagged(['model.encoder.att_context_size=[70,-1]'], 'model.encoder.att_context_size');
  flagged(['model.encoder.att_context_size=[[-1,0],[-1,-1]]'], 'model.encoder.att_context_size[1]', 'error', /pair 1 of the multi-lookahead list/);
});

test('regular style with right context warns that the look-ahead adds up over the layers', () => {
  const p = flagged(['model.encoder.att_context_size=[-1,4]'], 'model.encoder.att_context_size', 'warning', /68 encoder frames \(5\.44 s\)/);
  assert.match(p.fix, /chunked_limited/);
  // a left context that chunked_limited would refuse: the fix names a multiple of right + 1
  flagged(['model.encoder.att_context_size=[70,2]'], 'model.encoder.att_context_size', 'warning', /multiple of 3, e\.g\. 72/);
  // chunked_limited bounds it: nothing to report
  assert.deepEqual(check('streaming', ['model.encoder.att_context_size=[-1,4]', 'model.encoder.att_context_style=chunked_limited']), []);
});

test('declared look-ahead: right context beyond it is an error for the default pair, a warning for other pairs', () => {
  assert.deepEqual(check('streaming', [], { maxLookahead: 0 }), []);
  const la = check('lookahead', [], { maxLookahead: 0 });
  assert.deepEqual(errors(la), ['model.encoder.att_context_size']);
  assert.match(la[0]!.problem, /4 encoder frame\(s\) \(320 ms\) ahead, but the model is declared fully causal/);
  assert.match(la[0]!.fix, /att_context_size=\[-1,0\]/);
  assert.deepEqual(check('lookahead', [], { maxLookahead: 4 }), []);
  assert.deepEqual(errors(check('lookahead', [], { maxLookahead: 3 })), ['model.encoder.att_context_size']);
  // regular [-1,1] over 17 layers looks 17 frames ahead
  assert.deepEqual(errors(check('streaming', ['model.encoder.att_context_size=[-1,1]'], { maxLookahead: 16 })), ['model.encoder.att_context_size']);
  // multi-lookahead: the default pair is causal, the other one is only trainable, not deployable, within the budget
  const multi = check('lookahead', ['model.encoder.att_context_size=[[-1,0],[-1,4]]'], { maxLookahead: 0 });
  assert.deepEqual(errors(multi), []);
  assert.deepEqual(warnings(multi), ['model.encoder.att_context_size[1]']);
  const multiBad = check('lookahead', ['model.encoder.att_context_size=[[-1,4],[-1,0]]'], { maxLookahead: 0 });
  assert.deepEqual(errors(multiBad), ['model.encoder.att_context_size[0]']);
});

test('declared look-ahead with dynamic chunk training names att_chunk_sizes and the chunk size, not a pair list the file does not have', () => {
  const ps = check('tiny_multilatency', [], { maxLookahead: 1 });
  assert.deepEqual(errors(ps), []);
  assert.deepEqual(warnings(ps), ['model.encoder.att_chunk_sizes']);
  assert.match(ps[0]!.problem, /\[20, 4\] \(chunk size 5\) looks 4 encoder frame\(s\) \(320 ms\) ahead/);
  assert.match(ps[0]!.fix, /drop the chunk sizes above 2 from model.encoder.att_chunk_sizes/);
  const causal = check('tiny_multilatency', [], { maxLookahead: 0 });
  assert.deepEqual(
    causal.map((p) => p.severity),
    ['warning', 'warning'],
    'the default pair (chunk size 1) is causal; the others are trained but not deployable',
  );
  assert.match(causal[0]!.fix, /keep only chunk size 1/);
});

test('absolute positions are an error; rel_pos_local_attn a warning', () => {
  flagged(['model.encoder.self_attention_model=abs_pos'], 'model.encoder.self_attention_model', 'error', /rel_pos/);
  flagged(['model.encoder.self_attention_model=rel_pos_local_attn'], 'model.encoder.self_attention_model', 'warning');
});

test('non-causal masking is an error', () => {
  flagged(['model.masking.causal=false'], 'model.masking.causal', 'error', /causal=true/);
});

test('a masking left context: pretraining masks only the end of each utterance; units are checked against attention', () => {
  const w = check('streaming', ['model.masking.left_context_size=100']);
  assert.deepEqual(
    w.map((p) => [p.key, p.severity]),
    [['model.masking.left_context_size', 'warning']],
    'attention left is unlimited: only the window warning',
  );
  assert.match(w[0]!.problem, /last 101 feature frames \(10 ms each\) = 1\.01 s/);
  // limited attention context with the masking window in matching units (320 encoder frames = 2560 feature frames)
  const ok = check('limited_context', ['model.masking.left_context_size=2560']);
  assert.equal(ok.length, 1);
  assert.doesNotMatch(ok[0]!.problem, /units/);
  // another mismatch, not the same number: reported without the "units disagree" wording
  const other = check('limited_context', ['model.masking.left_context_size=1000']);
  assert.equal(other.length, 2);
  assert.match(other[1]!.problem, /reaches back 1000 feature frames .* = 10 s, attention reaches back 320 encoder frames .* = 25\.6 s/);
  assert.doesNotMatch(other[1]!.problem, /units disagree/);
});

test('look-ahead and frame duration follow NeMo (setup_streaming_params)', () => {
  const s = loadConfig('streaming', MANIFESTS).config;
  assert.equal(encoderFrameMs(s), 80);
  assert.equal(lookaheadFrames(s, [-1, 0]), 0);
  assert.equal(lookaheadFrames(s, [70, 2]), 34); // regular [70,2], n = 17: cache_drop 34 (spec 05 §2)
  assert.equal(lookaheadFrames(s, [-1, -1]), Infinity);
  const la = loadConfig('lookahead', MANIFESTS).config;
  assert.equal(lookaheadFrames(la, [-1, 4]), 4);
  const sym = loadConfig('streaming', [...MANIFESTS, 'model.encoder.conv_context_size=null']).config;
  assert.equal(lookaheadFrames(sym, [-1, 0]), 68); // (0 + 4) x 17
  const hop = loadConfig('streaming', [...MANIFESTS, 'model.preprocessor.window_stride=0.02']).config;
  assert.equal(encoderFrameMs(hop), 160);
});
