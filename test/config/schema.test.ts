import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ConfigError, applyOverrides, convContextOf, readYamlConfigFile, validateNestConfig } from '../../src/config/index.js';
import type { ValidatedConfig } from '../../src/config/index.js';
import { RandomBlockMasking } from '../../src/ssl/random-block-masking.js';
import { nestModelArgs } from '../../src/ssl/nest-factory.js';
import { REPO_ROOT } from '../helpers/assert.js';

const NEMO_FILE = join(REPO_ROOT, 'configs', 'nest_fast-conformer.yaml');
const NEMO = readYamlConfigFile(NEMO_FILE);
const MANIFESTS = ['model.train_ds.manifest_filepath=train.json', 'model.validation_ds.manifest_filepath=val.json'];

function validate(overrides: string[]): ValidatedConfig {
  const sources = NEMO.sources.clone();
  const tree = applyOverrides(NEMO.tree, [...MANIFESTS, ...overrides], { file: NEMO_FILE, sources });
  return validateNestConfig(tree, { file: NEMO_FILE, sources, training: true });
}

function validationError(overrides: string[]): ConfigError {
  try {
    validate(overrides);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e;
  }
  assert.fail('expected a ConfigError');
}

test("NeMo's recipe validates unchanged and gives NeMo's values", () => {
  const { config, warnings } = validate([]);
  const m = config.model;
  assert.equal(config.name, 'SSL-NEST-FastConformer');
  assert.equal(config.streaming, null);
  assert.equal(m.train_ds.manifest_filepath, 'train.json');
  assert.equal(m.train_ds.sample_rate, 16000);
  assert.equal(m.train_ds.batch_size, 8);
  assert.equal(m.train_ds.drop_last, true);
  assert.deepEqual(m.train_ds.batch_augmentor, {
    prob: 0.5,
    noise_ratio: 0.5,
    min_r_speech: -5,
    max_r_speech: 5,
    min_r_noise: -5,
    max_r_noise: 20,
    min_mix_rate: 0.5,
    max_mix_rate: 0.5,
    min_num_segments: 1,
    max_num_segments: 1,
    min_num_speakers: 1,
    max_num_speakers: 1,
  });
  assert.equal(m.preprocessor.normalize, 'per_feature');
  assert.equal(m.preprocessor.features, 80);
  assert.equal(m.preprocessor.n_fft, 512);
  assert.equal(m.preprocessor.dither, 1e-5);
  assert.equal(m.preprocessor.preemph, 0.97); // class default, not in the YAML
  assert.deepEqual(
    [m.masking.block_size, m.masking.mask_prob, m.masking.feat_in, m.masking.allow_overlap, m.masking.causal, m.masking.max_mask_ratio],
    [40, 0.01, 80, true, false, 0.8],
  );
  assert.deepEqual([m.quantizer.num_classes, m.quantizer.code_dim, m.quantizer.dist_fn, m.quantizer.combine_time_steps], [8192, 16, 'l2', 8]);
  const e = m.encoder;
  assert.deepEqual([e.n_layers, e.d_model, e.n_heads, e.subsampling, e.subsampling_factor, e.subsampling_conv_channels], [17, 512, 8, 'dw_striding', 8, 256]);
  assert.deepEqual(e.att_context_size, [[-1, -1]]);
  assert.deepEqual(e.att_context_probs, [1]);
  assert.equal(e.conv_norm_type, 'batch_norm');
  assert.deepEqual(convContextOf(e), [4, 4]);
  assert.deepEqual([e.dropout, e.dropout_pre_encoder, e.dropout_emb, e.dropout_att], [0.1, 0.1, 0, 0.1]);
  assert.deepEqual([m.decoder.feat_in, m.decoder.num_classes, m.decoder.use_bias], [512, 8192, true]);
  assert.deepEqual([m.loss.combine_time_steps, m.loss.mask_threshold], [8, 0.8]);
  assert.equal(m.optim.name, 'adamw');
  assert.equal(m.optim.lr, 5);
  assert.deepEqual(m.optim.betas, [0.9, 0.98]);
  assert.equal(m.optim.weight_decay, 1e-3);
  assert.deepEqual(m.optim.sched, {
    name: 'NoamAnnealing',
    d_model: 512,
    warmup_steps: 25000,
    warmup_ratio: null,
    min_lr: 1e-6,
    max_steps: null,
  });
  const t = config.trainer;
  assert.deepEqual([t.devices, t.max_steps, t.val_check_interval, t.gradient_clip_val, t.sync_batchnorm, t.log_every_n_steps], [-1, 500000, 2500, 0, true, 10]);
  const x = config.exp_manager;
  assert.equal(x.name, 'SSL-NEST-FastConformer');
  assert.equal(x.resume_if_exists, true);
  // monitor val_loss, mode min, always_save_nemo and the recipe's filename are what streamnest does: nothing to report
  assert.equal(x.checkpoint_callback_params.save_top_k, 1);
  assert.ok(!warnings.some((w) => w.startsWith('exp_manager.checkpoint_callback_params:')), warnings.join('\n'));
  // NeMo keys with no effect in streamnest are accepted and listed, one line per section.
  assert.ok(warnings.some((w) => w.startsWith('model.train_ds: has no effect in streamnest:') && w.includes('pin_memory')));
  assert.equal(config.model.train_ds.bucketing_strategy, 'synced_randomized'); // honoured (issue #20); one dataset has one order
  assert.ok(warnings.some((w) => w.startsWith('trainer: has no effect in streamnest:') && w.includes('strategy')));
  assert.ok(warnings.some((w) => w.startsWith('model: has no effect in streamnest:') && w.includes('spec_augment')));
});

test('??? values still missing are reported with their path and line', () => {
  const e = (() => {
    try {
      validateNestConfig(NEMO.tree, { file: NEMO_FILE, sources: NEMO.sources });
    } catch (err) {
      return err as ConfigError;
    }
    assert.fail('expected an error');
  })();
  assert.ok(e instanceof ConfigError);
  assert.equal(e.issues.length, 2);
  assert.match(e.message, /model\.train_ds\.manifest_filepath \(line \d+\): mandatory value is missing \(\?\?\?\)/);
  assert.match(e.message, /model\.validation_ds\.manifest_filepath \(line \d+\)/);
});

test('wrong types name the key path and the override', () => {
  const e = validationError(['model.encoder.n_layers=abc']);
  assert.match(e.message, /model\.encoder\.n_layers \(override 'model\.encoder\.n_layers=abc'\): expected an integer, got "abc" \(text\)/);
  assert.match(validationError(['model.encoder.xscaling=1']).message, /model\.encoder\.xscaling .*expected true or false, got 1/);
  assert.match(validationError(['model.train_ds.manifest_filepath=3']).message, /manifest_filepath .*expected a path or a list of paths/);
});

test('out-of-range values are refused', () => {
  assert.match(validationError(['model.masking.mask_prob=1.5']).message, /model\.masking\.mask_prob .*must be <= 1, got 1\.5/);
  assert.match(validationError(['model.train_ds.batch_size=0']).message, /batch_size .*must be >= 1, got 0/);
  assert.match(validationError(['model.encoder.dropout=1']).message, /model\.encoder\.dropout .*must be < 1/);
  assert.match(validationError(['model.train_ds.batch_augmentor.min_num_speakers=3']).message, /max_num_speakers .*must be >= min_num_speakers \(3\)/);
});

test('unknown enum values list the allowed ones', () => {
  const e = validationError(['model.encoder.att_context_style=chunked_limted']);
  assert.match(e.message, /must be one of 'regular', 'chunked_limited'; got "chunked_limted" \(text\) \(did you mean 'chunked_limited'\?\)/);
  assert.match(validationError(['model.encoder.self_attention_model=rel']).message, /'rel_pos', 'rel_pos_local_attn', 'abs_pos'/);
  assert.match(validationError(['model.optim.sched.name=Noam']).message, /'NoamAnnealing', 'CosineAnnealing'/);
});

test('encoder checks: conv norm names, conv context, heads, attention context', () => {
  assert.equal(validate(['model.encoder.conv_norm_type=group_norm8']).config.model.encoder.conv_norm_type, 'group_norm8');
  assert.match(validationError(['model.encoder.conv_norm_type=groupnorm8']).message, /NeMo spells it 'group_norm8'/);
  const causal = validate(['model.encoder.conv_context_size=causal']).config.model.encoder;
  assert.deepEqual(convContextOf(causal), [8, 0]);
  assert.deepEqual(validate(['model.encoder.conv_context_size=[6,2]']).config.model.encoder.conv_context_size, [6, 2]);
  assert.match(validationError(['model.encoder.conv_context_size=[6,3]']).message, /left \+ right \+ 1 == conv_kernel_size \(9\)/);
  assert.match(validationError(['model.encoder.n_heads=7']).message, /d_model \(512\) must be divisible by n_heads \(7\)/);
  const multi = validate(['model.encoder.att_context_size=[[-1,0],[-1,4]]', '+model.encoder.att_context_probs=[0.25,0.75]']);
  assert.deepEqual(multi.config.model.encoder.att_context_size, [
    [-1, 0],
    [-1, 4],
  ]);
  assert.deepEqual(multi.config.model.encoder.att_context_probs, [0.25, 0.75]);
  assert.match(
    validationError(['model.encoder.att_context_size=[[-1,0],[-1,4]]', '+model.encoder.att_context_probs=[0.5]']).message,
    /one probability per att_context_size pair \(2\)/,
  );
  assert.match(
    validationError(['model.encoder.att_context_style=chunked_limited', 'model.encoder.att_context_size=[10,3]']).message,
    /left % \(right \+ 1\) == 0/,
  );
  assert.match(validationError(['model.encoder.att_context_size=[-1]']).message, /att_context_size .*expected \[left, right\]/);
});

test('a near-miss unknown key is an error; other unknown keys are warnings', () => {
  const e = validationError(['+model.masking.casual=true']);
  assert.match(e.message, /model\.masking\.casual .*unknown key; did you mean 'causal'\?/);
  const { warnings } = validate(['+model.encoder.my_custom_flag=1']);
  assert.ok(warnings.some((w) => w.includes('model.encoder.my_custom_flag') && w.includes('unknown key, ignored')));
});

test('the causal masking extension and other added keys are read', () => {
  const { config } = validate(['+model.masking.causal=true', '+model.masking.left_context_size=320', '+streaming=true']);
  assert.equal(config.model.masking.causal, true);
  assert.equal(config.model.masking.left_context_size, 320);
  assert.equal(config.streaming, true);
});

test('sections must agree with each other', () => {
  assert.match(validationError(['model.decoder.feat_in=256']).message, /model\.decoder\.feat_in .*must equal the encoder output width \(512\)/);
  assert.match(validationError(['model.loss.combine_time_steps=4']).message, /must equal encoder\.subsampling_factor \(8\)/);
  // Overriding the shared value moves everything that interpolates it.
  const { config } = validate(['model.encoder.d_model=256', 'model.encoder.n_heads=4']);
  assert.equal(config.model.decoder.feat_in, 256);
  assert.equal(config.model.optim.sched?.d_model, 256);
});

test('optimizer checks: warmup steps or ratio, not both; lr >= min_lr', () => {
  assert.match(validationError(['model.optim.sched.warmup_ratio=0.1']).message, /either warmup_steps \(25000\) or warmup_ratio/);
  assert.equal(validate(['model.optim.sched.warmup_steps=null', 'model.optim.sched.warmup_ratio=0.05']).config.model.optim.sched?.warmup_ratio, 0.05);
  assert.match(validationError(['model.optim.lr=1e-7']).message, /model\.optim\.lr .*must be >= sched\.min_lr/);
  assert.equal(validate(['model.optim.sched=null']).config.model.optim.sched, null);
});

test('all problems are reported at once', () => {
  const e = validationError(['model.encoder.n_layers=0', 'trainer.precision=17', 'exp_manager.checkpoint_callback_params.mode=minimum']);
  assert.equal(e.issues.length, 3);
  assert.match(e.message, /3 problems/);
});

test('multi-scale masking: block_sizes / block_size_probs are read, reach the model, and block_size is reported as ignored', () => {
  const recipe = validate([]);
  assert.deepEqual([recipe.config.model.masking.block_sizes, recipe.config.model.masking.block_size_probs], [null, null]);
  assert.ok(!recipe.warnings.some((w) => w.includes('block_size')), recipe.warnings.join('\n'));
  const { config, warnings } = validate(['+model.masking.block_sizes=[20,40,80]', '+model.masking.block_size_probs=[0.5,0.3,0.2]']);
  assert.deepEqual(config.model.masking.block_sizes, [20, 40, 80]);
  assert.deepEqual(config.model.masking.block_size_probs, [0.5, 0.3, 0.2]);
  assert.ok(warnings.includes('model.masking.block_size (40) is ignored: model.masking.block_sizes [20, 40, 80] sets the block lengths'), warnings.join('\n'));
  const args = nestModelArgs(config.model, 0).masking;
  assert.deepEqual(
    [args.blockSizes, args.blockSizeProbs],
    [
      [20, 40, 80],
      [0.5, 0.3, 0.2],
    ],
  );
  const m = new RandomBlockMasking(args);
  assert.equal(m.blockSize, 80, 'NeMo runs with the largest size');
  m.dispose();
  // probabilities default to uniform (null); without block_size in the file there is nothing to report
  const uniform = validate(['~model.masking.block_size', '+model.masking.block_sizes=[16,32]']);
  assert.equal(uniform.config.model.masking.block_size_probs, null);
  assert.ok(!uniform.warnings.some((w) => w.includes('block_size')), uniform.warnings.join('\n'));
});

test('multi-scale masking: bad lists and probabilities are refused naming the key', () => {
  const sizes = '+model.masking.block_sizes=[20,40]';
  assert.match(
    validationError([sizes, '+model.masking.block_size_probs=[0.5,0.6]']).message,
    /model\.masking\.block_size_probs .*must sum to 1; got \[0\.5,0\.6\]/,
  );
  assert.match(
    validationError([sizes, '+model.masking.block_size_probs=[1]']).message,
    /model\.masking\.block_size_probs .*needs one probability per block_sizes entry \(2\); got 1/,
  );
  assert.match(validationError([sizes, '+model.masking.block_size_probs=[1.5,-0.5]']).message, /block_size_probs .*expected a list of probabilities/);
  assert.match(validationError(['+model.masking.block_size_probs=[1]']).message, /model\.masking\.block_size_probs .*needs model\.masking\.block_sizes/);
  assert.match(validationError(['+model.masking.block_sizes=[20,0]']).message, /model\.masking\.block_sizes\[1\] .*must be >= 1, got 0/);
  assert.match(validationError(['+model.masking.block_sizes=[20,2.5]']).message, /model\.masking\.block_sizes\[1\] .*expected an integer, got 2\.5/);
  assert.match(validationError(['+model.masking.block_sizes=40']).message, /model\.masking\.block_sizes .*expected a non-empty list of block lengths/);
  assert.match(validationError(['+model.masking.block_sizes=[]']).message, /model\.masking\.block_sizes .*expected a non-empty list/);
  assert.match(validationError([sizes, '+model.masking.block_size_prob=[0.5,0.5]']).message, /block_size_prob .*did you mean 'block_size_probs'\?/);
});
