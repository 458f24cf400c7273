// CTC fine-tuning end to end on the built-in corpus: init from a pretrained .nemo (encoder + preprocessor weights
// copied, decoder new), a few steps with validation WER, the final .nemo loads back and transcribes, exact resume,
// and the eval / transcribe commands (JSON report).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import * as t from '../../src/torch/index.js';
import { CharVocabulary, CtcModel, type CtcModelArgs } from '../../src/asr/index.js';
import { writeNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { finetuneCtc, loadCtcModel, loadFinetuneConfig } from '../../src/train/ctc-finetuning.js';
import { repoRoot } from '../../src/data/corpus.js';
import { compareDigests, digestCheckpoint } from '../reliability/harness/common.js';
import { SMALL_CTC_ENCODER, SMALL_CTC_PREPROCESSOR } from '../checkpoint/asr-archive.js';

const root = repoRoot();
const encoder = SMALL_CTC_ENCODER;
const preprocessor = SMALL_CTC_PREPROCESSOR;

test('finetune: init from a pretrained .nemo, WER validation, .nemo out, exact resume, eval/transcribe commands', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamnest-ctc-'));
  const before = t.liveTensorCount();
  try {
    // a "pretrained" model: any .nemo whose config has preprocessor + encoder sections and whose weights have encoder.*
    const pre = new CtcModel({
      preprocessor,
      encoder: encoder as CtcModelArgs['encoder'],
      labels: CharVocabulary.english().labels,
      specAugment: null,
      seed: 99,
    });
    const initPath = join(dir, 'pretrained.nemo');
    writeNemoArchive(initPath, { configYaml: stringify({ sample_rate: 16000, preprocessor, encoder }), stateDict: pre.stateDict() });
    const preEnc = t.keep(t.tidy(() => pre.stateDict().get('encoder.layers.0.self_attn.linear_q.weight')!.clone()));
    pre.dispose();

    const overrides = (steps: number, resume: boolean, expDir = `${dir}/exp`): string[] => [
      `trainer.max_steps=${steps}`,
      'trainer.val_check_interval=2',
      'trainer.log_every_n_steps=1',
      `exp_manager.exp_dir=${expDir}`,
      `exp_manager.resume_if_exists=${resume}`,
      'model.validation_ds.batch_size=5',
      'model.freeze_encoder_steps=1',
    ];
    const { readNemoArchive } = await import('../../src/checkpoint/nemo-archive.js');
    const init = readNemoArchive(initPath);
    const loaded = loadFinetuneConfig('ctc_tiny', init.configYaml, overrides(4, false));
    assert.equal((loaded.tree.model as Record<string, Record<string, unknown>>).encoder!.d_model, 32, 'encoder section taken from the init model');
    const r = await finetuneCtc({ loaded, initWeights: init.stateDict, baseDir: root, seed: 5, progress: false, log: () => {} });
    assert.equal(r.globalStep, 4);
    assert.equal(r.valLoss.length, 2);
    for (const v of r.valLoss) assert.ok(v.loss >= 0 && Number.isFinite(v.loss), `val WER ${v.loss}`);
    assert.ok(r.nemoPath);
    assert.equal(r.labels[0], ' ');

    const m = await loadCtcModel(r.nemoPath);
    assert.deepEqual([...m.vocab.labels], r.labels);
    // step 0 ran with the encoder frozen, steps 1-3 trained it: weights moved away from the pretrained ones
    t.tidy(() => assert.ok(m.stateDict().get('encoder.layers.0.self_attn.linear_q.weight')!.sub(preEnc).abs().max().item() > 0));
    const clip = new Float32Array(16000).map((_, i) => 0.1 * Math.sin(i / 10));
    const out = m.transcribe([clip])[0]!;
    assert.equal(typeof out.text, 'string');
    m.dispose();

    // exact resume: continue the same run to 6 steps ... (with another seed, as test/train/trainer.test.ts does: a
    // fresh process could start from a differently initialised model and generators; the checkpoint must overwrite
    // the weights, the optimizer, every RNG state and the sampler position)
    const r2 = await finetuneCtc({
      loaded: loadFinetuneConfig('ctc_tiny', init.configYaml, overrides(6, true)),
      initWeights: init.stateDict,
      baseDir: root,
      seed: 6,
      progress: false,
      log: () => {},
    });
    assert.equal(r2.globalStep, 6);
    assert.equal(r2.trainLoss[0]!.step, 5, 'resumed at step 4');
    // ... and compare it with an uninterrupted 6-step run (same seed, same init weights, another folder): the same
    // per-step losses (before and after the resume point) and, bit for bit, the same final weights, optimizer
    // state, RNG states and sampler position (the pretraining resume tests assert the same: test/train/trainer.test.ts,
    // test/reliability/kill-resume.test.ts)
    const ref = await finetuneCtc({
      loaded: loadFinetuneConfig('ctc_tiny', init.configYaml, overrides(6, false, `${dir}/ref`)),
      initWeights: init.stateDict,
      baseDir: root,
      seed: 5,
      progress: false,
      log: () => {},
    });
    assert.equal(ref.globalStep, 6);
    assert.deepEqual(
      ref.trainLoss.map((x) => x.step),
      [1, 2, 3, 4, 5, 6],
    );
    assert.deepEqual(
      [...r.trainLoss, ...r2.trainLoss].map((x) => x.step),
      [1, 2, 3, 4, 5, 6],
    );
    assert.deepEqual(
      r2.trainLoss.map((x) => x.loss),
      ref.trainLoss.slice(4).map((x) => x.loss),
      'per-step losses after the resume point',
    );
    assert.deepEqual(
      r.trainLoss.map((x) => x.loss),
      ref.trainLoss.slice(0, 4).map((x) => x.loss),
      'per-step losses before it',
    );
    assert.deepEqual([...r.valLoss, ...r2.valLoss], ref.valLoss, 'validation WER at steps 2, 4, 6');
    const lastCkpt = (expDir: string): string => {
      const runDir = join(expDir, 'CTC-FastConformer-Tiny', 'checkpoints');
      const last = readdirSync(runDir).filter((f) => f.endsWith('--last.ckpt'));
      assert.equal(last.length, 1, `one last checkpoint in ${runDir}`);
      return join(runDir, last[0]!);
    };
    const resumed = digestCheckpoint(lastCkpt(`${dir}/exp`));
    const uninterrupted = digestCheckpoint(lastCkpt(`${dir}/ref`));
    assert.equal(JSON.parse(uninterrupted.progress).globalStep, 6);
    assert.ok(
      [...uninterrupted.tensors.keys()].some((k) => k.startsWith('model.encoder.')) && [...uninterrupted.tensors.keys()].some((k) => k.startsWith('optim.')),
    );
    assert.deepEqual(compareDigests(uninterrupted, resumed), [], "the resumed run ends at the uninterrupted run's exact state");
    for (const x of init.stateDict.values()) x.dispose();
    preEnc.dispose();

    // the commands
    const evalCmd = await import('../../src/cli/commands/eval.js');
    const report = join(dir, 'report.json');
    const code = await evalCmd.run([
      '--model',
      r2.nemoPath!,
      '--manifest',
      join(root, 'data/corpus/val_manifest.json'),
      '--streaming',
      '--out',
      report,
      '--limit',
      '2',
    ]);
    assert.equal(code, 0);
    const rep = JSON.parse(readFileSync(report, 'utf8'));
    assert.equal(rep.mode, 'streaming');
    assert.equal(rep.utterances.length, 2);
    assert.equal(rep.totals.words, rep.utterances[0].words + rep.utterances[1].words);
    assert.ok(rep.streaming.stepMsMean > 0);
    const tr = await import('../../src/cli/commands/transcribe.js');
    assert.equal(await tr.run(['--model', r2.nemoPath!, '--audio', join(root, 'data/corpus/val/val-00000.wav'), '--streaming', '--json']), 0);
    await assert.rejects(tr.run(['--model', initPath, '--audio', join(root, 'data/corpus/val/val-00000.wav')]), /not a CTC model/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(t.liveTensorCount(), before, 'leaked tensors');
});
