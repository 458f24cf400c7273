// Transducer fine-tuning end to end on the built-in corpus: `streamnest finetune --config rnnt_tiny --init` as a child
// process (encoder initialised from the pretrained .nemo, RNN-T loss, validation WER, the .nemo written as NeMo's
// EncDecRNNTModel with the sizes NeMo fills in), the archive reloaded and transcribed by `transcribe` and `eval`;
// --from-scratch; and exact resume of a transducer run on the shared Trainer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import * as t from '../../src/torch/index.js';
import { readNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { loadNemoRnntModel } from '../../src/checkpoint/nemo-model.js';
import { loadFinetuneConfig } from '../../src/train/asr-finetuning.js';
import { finetuneRnnt } from '../../src/train/rnnt-finetuning.js';
import { repoRoot } from '../../src/data/corpus.js';
import { compareDigests, digestCheckpoint } from '../reliability/harness/common.js';
import { writeEncoderInitArchive } from '../checkpoint/asr-archive.js';

const root = repoRoot();
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'streamnest-rnnt-ft-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** A "pretrained" model: a .nemo whose config has preprocessor + encoder sections and whose weights have encoder.*. */
const initPath = join(dir, 'pretrained.nemo');
writeEncoderInitArchive(initPath);

const cli = (args: string[]) =>
  spawnSync(process.execPath, [MAIN, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, STREAMNEST_DEBUG: '' }, timeout: 300_000 });

const overrides = (steps: number, expDir: string, resume = false): string[] => [
  `trainer.max_steps=${steps}`,
  'trainer.val_check_interval=2',
  'trainer.log_every_n_steps=1',
  `exp_manager.exp_dir=${expDir}`,
  `exp_manager.resume_if_exists=${resume}`,
  'model.validation_ds.batch_size=5',
];

test('streamnest finetune --config rnnt_tiny: init from a .nemo, RNN-T loss, WER validation, an EncDecRNNTModel .nemo that transcribe and eval load', () => {
  const r = cli(['finetune', '--init', initPath, '--config', 'rnnt_tiny', '--quiet', ...overrides(2, join(dir, 'cli'))]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /initialised \d+ encoder\/preprocessor tensors from the pretrained model/);
  assert.match(r.stderr, /transducer, \d+ labels .* \+ blank/);
  assert.match(r.stdout, /fine-tuning finished at step 2 \(max_steps\)\n {2}rnnt_loss \d+\.\d+ \(step 1\) -> \d+\.\d+ \(step 2\)\n {2}val WER \d+\.\d+%@2/);
  const nemo = /model: (.*\.nemo)/.exec(r.stdout)![1]!;
  // the stored config: NeMo's class, and the sizes EncDecRNNTModel.__init__ fills in from the labels and model_defaults
  const a = readNemoArchive(nemo);
  const cfg = parse(a.configYaml) as Record<string, Record<string, unknown> & { jointnet?: Record<string, unknown> }>;
  const labels = cfg.labels as unknown as string[];
  assert.equal((cfg.target as unknown as string).endsWith('EncDecRNNTModel'), true);
  assert.equal(cfg.decoder!.vocab_size, labels.length);
  assert.equal(cfg.joint!.num_classes, labels.length);
  assert.deepEqual(cfg.joint!.vocabulary, labels);
  assert.deepEqual(cfg.joint!.jointnet!, { joint_hidden: 64, activation: 'relu', dropout: 0.1, encoder_hidden: 32, pred_hidden: 64 });
  assert.deepEqual(cfg.model_defaults, { enc_hidden: 32, pred_hidden: 64, joint_hidden: 64 });
  // encoder weights: the pretrained ones moved by two steps of training (not a fresh initialisation)
  const init = readNemoArchive(initPath);
  const k = 'encoder.layers.0.self_attn.linear_q.weight';
  const moved = t.tidy(() => a.stateDict.get(k)!.sub(init.stateDict.get(k)!).abs().max().item());
  assert.ok(moved > 0 && moved < 0.1, `encoder moved by ${moved}`);
  assert.ok([...a.stateDict.keys()].some((x) => x.startsWith('decoder.prediction.dec_rnn.lstm.')));
  for (const x of [...a.stateDict.values(), ...init.stateDict.values()]) x.dispose();

  const clip = join(root, 'data/corpus/val/val-00000.wav');
  const tr = cli(['transcribe', '--model', nemo, '--audio', clip, '--json']);
  assert.equal(tr.status, 0, tr.stderr);
  assert.equal((JSON.parse(tr.stdout) as { mode: string }).mode, 'offline');
  const ev = cli(['eval', '--model', nemo, '--manifest', 'data/corpus/val_manifest.json', '--json', '--limit', '2']);
  assert.equal(ev.status, 0, ev.stderr);
  assert.equal((JSON.parse(ev.stdout) as { utterances: unknown[] }).utterances.length, 2);

  const scratch = cli(['finetune', '--init', initPath, '--config', 'rnnt_tiny', '--from-scratch', '--quiet', ...overrides(1, join(dir, 'scratch'))]);
  assert.equal(scratch.status, 0, scratch.stderr);
  assert.match(scratch.stderr, /training from scratch \(no pretrained weights\)/);
  // a CTC head setting the port does not implement is refused by key, before any training
  const hybrid = cli([
    'finetune',
    '--init',
    initPath,
    '--config',
    'rnnt_tiny',
    '--quiet',
    '++model.aux_ctc={ctc_loss_weight: 0.3, ctc_reduction: sum}',
    ...overrides(1, join(dir, 'h')),
  ]);
  assert.equal(hybrid.status, 1);
  assert.match(hybrid.stderr, /model\.aux_ctc\.ctc_reduction: the CTC loss is reduced as NeMo's default/);
  assert.equal(existsSync(join(dir, 'h')), false);
});

test('a transducer run resumes exactly: 2 steps + 1 equals 3 uninterrupted (losses, weights, optimizer, RNG, sampler)', async () => {
  const before = t.liveTensorCount();
  const init = readNemoArchive(initPath);
  try {
    const run = async (steps: number, expDir: string, resume: boolean, seed: number) =>
      finetuneRnnt({
        loaded: loadFinetuneConfig('rnnt_tiny', init.configYaml, overrides(steps, expDir, resume)),
        initWeights: init.stateDict,
        baseDir: root,
        seed,
        progress: false,
        log: () => {},
      });
    const first = await run(2, join(dir, 'res'), false, 5);
    const second = await run(3, join(dir, 'res'), true, 6); // another seed: the checkpoint must restore everything
    const ref = await run(3, join(dir, 'ref'), false, 5);
    assert.deepEqual(
      [...first.trainLoss, ...second.trainLoss].map((x) => x.loss),
      ref.trainLoss.map((x) => x.loss),
    );
    assert.deepEqual([...first.valLoss, ...second.valLoss], ref.valLoss);
    const lastCkpt = (expDir: string): string => {
      const d = join(expDir, 'RNNT-FastConformer-Tiny', 'checkpoints');
      return join(d, readdirSync(d).find((f) => f.endsWith('--last.ckpt'))!);
    };
    assert.deepEqual(compareDigests(digestCheckpoint(lastCkpt(join(dir, 'ref'))), digestCheckpoint(lastCkpt(join(dir, 'res')))), []);
    // the exported .nemo reloads as the trained RnntModel
    const m = await loadNemoRnntModel(second.nemoPath!);
    assert.deepEqual([...m.model.vocab.labels], second.labels);
    m.dispose();
  } finally {
    for (const x of init.stateDict.values()) x.dispose();
  }
  assert.equal(t.liveTensorCount(), before, 'leaked tensors');
});
