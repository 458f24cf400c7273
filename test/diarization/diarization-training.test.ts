// Diarization training end to end on real components: sessions simulated from the shipped espeak-ng corpus
// (make-diarization-corpus's code), their arrival-ordered targets, a tiny causal diarizer trained on the shared
// Trainer with the Sortformer loss (the loss falls), its activities turned into RTTM turns and scored (DER), saved as a
// .nemo, loaded back, and scored by eval-diar --model offline and streamed (the same DER).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { activityTurns } from '../../src/diarization/activity-turns.js';
import { makeDiarizationCorpus } from '../../src/diarization/diarization-corpus.js';
import { scoreDiarization } from '../../src/diarization/der.js';
import { Diarizer } from '../../src/diarization/diarizer.js';
import { DEFAULT_TURN_STATISTICS } from '../../src/diarization/session-plan.js';
import { ConstantLr } from '../../src/train/lr-scheduler.js';
import { Trainer } from '../../src/train/trainer.js';
import { DiarizationTrainStream, batchTargets, diarizationBatch, diarizationTask, loadDiarizationExamples } from '../../src/train/diarization-training.js';
import { REPO_ROOT } from '../helpers/assert.js';
import { captureOutput } from '../helpers/capture-output.js';
import { PREPROCESSOR, buildEncoder, buildPreprocessor, maxAbsDiff, smallEncoderConfig } from '../streaming/helpers.js';
import { run as evalDiar } from '../../src/cli/commands/eval-diar.js';
import type { ConfigMap } from '../../src/config/index.js';
import { diarizerConfigYaml, loadDiarizer, saveDiarizer } from '../../src/diarization/diarizer-archive.js';
import { diarizeAudio } from '../../src/diarization/diarize-audio.js';

const dir = mkdtempSync(join(tmpdir(), 'streamnest-diar-train-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const CORPUS = join(REPO_ROOT, 'data', 'corpus', 'train_manifest.json');
const ENCODER = smallEncoderConfig({ att_context_style: 'regular', att_context_size: [16, 0] });

test('activity turns by hand: onset/offset runs per speaker, gaps filled, short turns dropped', () => {
  // 8 frames of 0.1 s, 2 speakers: speaker 0 talks in frames 0, 1, 4; speaker 1 in frames 3, 5, 6, 7
  const a = [0.9, 0.1, 0.9, 0.1, 0.2, 0.1, 0.1, 0.6, 0.9, 0.1, 0.1, 0.7, 0.1, 0.8, 0.4, 0.9];
  const plain = activityTurns(a, 2, { frameSeconds: 0.1, file: 'x' });
  assert.deepEqual(
    plain.map((x) => [x.speaker, +x.start.toFixed(3), +x.duration.toFixed(3)]),
    [
      ['spk0', 0, 0.2],
      ['spk1', 0.3, 0.1],
      ['spk0', 0.4, 0.1],
      ['spk1', 0.5, 0.3],
    ],
  );
  const filled = activityTurns(a, 2, { frameSeconds: 0.1, file: 'x', minGap: 0.25, minDuration: 0.15, speakers: ['A', 'B'] });
  assert.deepEqual(
    filled.map((x) => [x.speaker, +x.start.toFixed(3), +x.duration.toFixed(3)]),
    [
      ['A', 0, 0.5],
      ['B', 0.3, 0.5],
    ],
  );
  assert.throws(() => activityTurns([0.1, 0.2, 0.3], 2, { frameSeconds: 0.1, file: 'x' }), /not a whole number of 2-speaker frames/);
});

test('a tiny causal diarizer trained on simulated sessions: arrival-ordered targets, the Sortformer loss falls, DER is scored', async () => {
  const before = t.liveTensorCount();
  const out = join(dir, 'corpus');
  await makeDiarizationCorpus({
    manifests: [CORPUS],
    outDir: out,
    sessions: 6,
    seed: 5,
    stats: { ...DEFAULT_TURN_STATISTICS, minSpeakers: 2, maxSpeakers: 3, sessionSeconds: 6, overlapProb: 0.2 },
  });
  const examples = await loadDiarizationExamples(join(out, 'diarization_manifest.json'), 16000);
  assert.equal(examples.length, 6);
  const model = new Diarizer({
    preprocessor: buildPreprocessor(),
    encoder: buildEncoder(ENCODER),
    head: { num_spks: 4, fc_d_model: 32, tf_d_model: 32, dropout_rate: 0 },
    seed: 11,
  });
  // targets: column 0 is the first speaker of the session's RTTM
  t.tidy(() => {
    const b = diarizationBatch(examples.slice(0, 2));
    const f = t.noGrad(() => model.eval().forward(b.audio, b.audioLen));
    const lens = f.lengths.toArray();
    const y = batchTargets(model, b.turns, lens, f.probs.size(1)).toArray();
    const first = [...b.turns[0]!].sort((p, q) => p.start - q.start)[0]!;
    const firstFrame = Math.round(first.start / model.frameSeconds);
    const speechFrames = y.filter((_v, k) => k % 4 === 0 && k < lens[0]! * 4).filter((v) => v > 0).length;
    assert.ok(speechFrames > 5, `column 0 has ${speechFrames} speech frames`);
    for (let s = 1; s < 4; s++) for (let f = 0; f < firstFrame - 1; f++) assert.equal(y[f * 4 + s], 0, `speaker ${s} before the first arrival`);
    b.audio.dispose();
    b.audioLen.dispose();
  });
  model.train();
  const task = diarizationTask(model, 'model: {}\n');
  const stream = new DiarizationTrainStream(examples, 2, 1);
  const trainer = new Trainer(task, stream, null, {
    maxSteps: 24,
    logEveryNSteps: 1,
    valCheckInterval: 1000,
    gradientClipVal: 1,
    accumulateGradBatches: 1,
    maxConsecutiveNonFinite: 3,
    expDir: join(dir, 'exp'),
    name: 'diar',
    resumeIfExists: false,
    saveTopK: 1,
    optimizer: { lr: 3e-3, betas: [0.9, 0.98], weightDecay: 1e-3 },
    scheduler: new ConstantLr(3e-3),
    progress: false,
    handleSignals: false,
    tensorboard: false,
  });
  const r = await trainer.fit();
  assert.equal(r.globalStep, 24);
  const losses = r.trainLoss.map((x) => x.loss);
  const head = losses.slice(0, 3).reduce((a, b) => a + b, 0) / 3;
  const tail = losses.slice(-3).reduce((a, b) => a + b, 0) / 3;
  console.log(`# Sortformer loss: first 3 steps ${head.toFixed(4)}, last 3 steps ${tail.toFixed(4)}`);
  assert.ok(tail < 0.8 * head, `the loss should fall: ${head} -> ${tail}`);
  // activities -> RTTM turns -> DER against the session's reference (a number; the model is tiny and barely trained)
  model.eval();
  const e = examples[0]!;
  const probs = model.diarizeClip(e.samples);
  const hyp = activityTurns(probs.toArray(), 4, { frameSeconds: model.frameSeconds, file: e.turns[0]!.file });
  probs.dispose();
  const der = scoreDiarization(e.turns, hyp, null, { collar: 0.25 }).total;
  assert.ok(Number.isFinite(der.der) && der.scored > 0, `DER ${der.der}`);
  console.log(`# session ${e.id}: DER ${(100 * der.der).toFixed(1)}% (collar 0.25 s) after 24 steps`);
  // saved as a .nemo and loaded back: the same activities
  const nemo = join(dir, 'diarizer.nemo');
  const config = diarizerConfigYaml({
    encoder: ENCODER as unknown as ConfigMap,
    preprocessor: PREPROCESSOR as unknown as ConfigMap,
    head: model.sortformer_modules.cfg,
    atsWeight: 0.5,
    pilWeight: 0.5,
  });
  saveDiarizer(nemo, model, config);
  const loaded = loadDiarizer(nemo);
  assert.deepEqual(loaded.warnings, []);
  const a = model.diarizeClip(e.samples);
  const b = loaded.model.diarizeClip(e.samples);
  assert.equal(maxAbsDiff(a, b), 0, 'reloaded diarizer');
  for (const x of [a, b]) x.dispose();
  // streamed in 0.5 s pieces through the cache-aware encoder: the offline activities
  const offAct = diarizeAudio(loaded.model, e.samples, { streamSeconds: null });
  const strAct = diarizeAudio(loaded.model, e.samples, { streamSeconds: 0.5 });
  assert.equal(strAct.length, offAct.length);
  const diff = strAct.reduce((m, v, k) => Math.max(m, Math.abs(v - offAct[k]!)), 0);
  assert.ok(diff <= 1e-5, `max |stream - offline| activity ${diff}`);
  // a threshold inside the activities' range, so that the hypotheses have turns to compare
  const sorted = Float32Array.from(offAct).sort();
  const threshold = sorted[Math.floor(sorted.length * 0.75)]!.toFixed(4);
  loaded.model.dispose();
  model.dispose();
  trainer.dispose();
  assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
  // eval-diar --model, offline and streamed: the same DER (exact streaming), hypotheses written as RTTM
  const manifest = join(out, 'diarization_manifest.json');
  const args = ['--manifest', manifest, '--model', nemo, '--per-file', '--threshold', threshold];
  const offline = await capture(evalDiar, args);
  const streamed = await capture(evalDiar, [...args, '--streaming', '--out-rttm', join(dir, 'hyp')]);
  assert.doesNotMatch(offline.stdout, /^total\s+DER 100\.00%/m);
  assert.match(offline.stdout, /^total\s+DER\s+[\d.]+%/m);
  assert.equal(streamed.stdout, offline.stdout);
  assert.equal(readdirSync(join(dir, 'hyp')).filter((f) => f.endsWith('.rttm')).length, 6);
  console.log(`# eval-diar --model: ${offline.stdout.split('\n').find((l) => l.startsWith('total'))}`);
  await assert.rejects(evalDiar(['--manifest', manifest, '--model', nemo, '--hyp', 'x']), /give --hyp or --model, not both/);
  await assert.rejects(evalDiar(['--manifest', manifest, '--hyp', 'x', '--streaming']), /--streaming applies to --model only/);
  await assert.rejects(evalDiar(['--manifest', manifest, '--model', CORPUS]), /not a \.nemo|tar|archive/i);
});

async function capture(run: (a: string[]) => Promise<number>, args: string[]): Promise<{ code: number; stdout: string }> {
  const r = await captureOutput(() => run(args));
  return { code: r.value, stdout: r.stdout };
}
