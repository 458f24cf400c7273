// Hybrid RNN-T/CTC fine-tuning end to end: `streamnest finetune --config hybrid_tiny --init` as a child process for a
// few steps (the weighted RNN-T + CTC loss with both parts logged, the transducer head's validation WER, the CTC
// head's as val_wer_ctc), the .nemo written in NeMo's EncDecHybridRNNTCTCModel layout (aux_ctc sizes filled in,
// ctc_decoder.* after decoder.* and joint.*), read back by the existing hybrid loaders: loadNemoRnntModel takes its
// transducer head and loadNemoCtcModel its CTC head, each transcribing; `transcribe` decodes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadAudio } from '../../src/audio/index.js';
import { readNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { loadNemoCtcModel, loadNemoRnntModel } from '../../src/checkpoint/nemo-model.js';
import { repoRoot } from '../../src/data/corpus.js';
import { sameBits, writeEncoderInitArchive } from '../checkpoint/asr-archive.js';

const root = repoRoot();
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'streamnest-hybrid-ft-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const initPath = join(dir, 'pretrained.nemo');
writeEncoderInitArchive(initPath);

const cli = (args: string[]) =>
  spawnSync(process.execPath, [MAIN, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, STREAMNEST_DEBUG: '' }, timeout: 300_000 });

test('finetune --config hybrid_tiny: weighted RNN-T + CTC loss, an EncDecHybridRNNTCTCModel .nemo whose two heads load back', async () => {
  const r = cli([
    'finetune',
    '--init',
    initPath,
    '--config',
    'hybrid_tiny',
    '--quiet',
    'trainer.max_steps=2',
    'trainer.val_check_interval=2',
    'trainer.log_every_n_steps=1',
    `exp_manager.exp_dir=${join(dir, 'exp')}`,
    'model.validation_ds.batch_size=5',
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /hybrid RNN-T\/CTC \(ctc_loss_weight 0\.3\), \d+ labels .* \+ blank/);
  assert.match(r.stdout, /fine-tuning finished at step 2 \(max_steps\)\n {2}hybrid_loss \d+\.\d+ \(step 1\) -> \d+\.\d+ \(step 2\)\n {2}val WER \d+\.\d+%@2/);
  const nemo = /model: (.*\.nemo)/.exec(r.stdout)![1]!;
  // both parts of the loss logged, and the training loss is their weighted sum, step by step
  const logDir = /logs: (.*)/.exec(r.stdout)![1]!;
  const csv = readFileSync(join(logDir, 'metrics.csv'), 'utf8').trim().split('\n');
  const head = csv[0]!.split(',');
  const col = (name: string): number => head.indexOf(name);
  assert.ok(col('rnnt_loss') >= 0 && col('ctc_loss') >= 0 && col('val_wer_ctc') >= 0, head.join(','));
  const rows = csv.slice(1).map((l) => l.split(','));
  const trainRows = rows.filter((x) => x[col('rnnt_loss')] !== '');
  assert.equal(trainRows.length, 2);
  for (const x of trainRows) {
    const [loss, rnnt, ctc] = ['train_loss', 'rnnt_loss', 'ctc_loss'].map((k) => Number(x[col(k)]));
    assert.ok(Math.abs(loss! - (0.7 * rnnt! + 0.3 * ctc!)) < 1e-4 * loss!, `${loss} vs 0.7 * ${rnnt} + 0.3 * ${ctc}`);
  }
  // the stored config: NeMo's hybrid class with the aux_ctc sizes EncDecHybridRNNTCTCModel.__init__ fills in
  const a = readNemoArchive(nemo);
  const cfg = parse(a.configYaml) as Record<string, unknown> & { labels: string[]; aux_ctc: Record<string, unknown> & { decoder: Record<string, unknown> } };
  assert.equal(cfg.target, 'nemo.collections.asr.models.hybrid_rnnt_ctc_models.EncDecHybridRNNTCTCModel');
  assert.equal(cfg.aux_ctc.ctc_loss_weight, 0.3);
  assert.deepEqual(cfg.aux_ctc.decoder, {
    _target_: 'nemo.collections.asr.modules.ConvASRDecoder',
    feat_in: 32,
    num_classes: cfg.labels.length,
    vocabulary: cfg.labels,
  });
  const keys = [...a.stateDict.keys()];
  assert.deepEqual(keys.slice(-2), ['ctc_decoder.decoder_layers.0.weight', 'ctc_decoder.decoder_layers.0.bias']);
  assert.ok(keys.includes('decoder.prediction.embed.weight') && keys.includes('joint.enc.weight'));
  // the existing hybrid loaders read it back: the transducer head, and the CTC head with the archive's ctc_decoder weights
  const clip = loadAudio(join(root, 'data/corpus/val/val-00000.wav'), { targetSampleRate: 16000 }).samples;
  const rn = await loadNemoRnntModel(nemo);
  assert.equal(rn.source, 'hybrid');
  assert.deepEqual(
    rn.ignored.filter((x) => x.kind === 'tensors').map((x) => x.what),
    ['ctc_decoder.*'],
  );
  assert.equal(rn.model.transcribe([clip]).length, 1);
  rn.dispose();
  const c = await loadNemoCtcModel(nemo);
  assert.equal(c.source, 'hybrid');
  assert.deepEqual([...c.model.vocab.labels], cfg.labels);
  for (const [k, v] of c.model.decoder.stateDict()) assert.ok(sameBits(v, a.stateDict.get(`ctc_decoder.${k}`)!), k);
  assert.equal(typeof c.model.transcribe([clip])[0]!.text, 'string');
  c.dispose();
  for (const x of a.stateDict.values()) x.dispose();
  const tr = cli(['transcribe', '--model', nemo, '--audio', join(root, 'data/corpus/val/val-00000.wav'), '--json']);
  assert.equal(tr.status, 0, tr.stderr);
  assert.equal((JSON.parse(tr.stdout) as { mode: string }).mode, 'offline');
});
