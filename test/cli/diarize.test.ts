// `streamnest diarize` in-process on a small (untrained) causal diarizer saved as a .nemo and a session simulated from
// the shipped corpus: RTTM out, streamed = offline activities, the DER line against the reference, the activity plot
// (reference shaded in the lane of the model speaker it maps to), and argument errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { ArgError } from '../../src/cli/args.js';
import { activityLanes, run as diarize } from '../../src/cli/commands/diarize.js';
import type { ConfigMap } from '../../src/config/index.js';
import { makeDiarizationCorpus } from '../../src/diarization/diarization-corpus.js';
import { diarizerConfigYaml, saveDiarizer } from '../../src/diarization/diarizer-archive.js';
import { Diarizer } from '../../src/diarization/diarizer.js';
import { readRttm, type SpeakerTurn } from '../../src/diarization/rttm.js';
import { DEFAULT_TURN_STATISTICS } from '../../src/diarization/session-plan.js';
import { REPO_ROOT } from '../helpers/assert.js';
import { captureOutput } from '../helpers/capture-output.js';
import { decodeRgbPng } from '../helpers/png.js';
import { PREPROCESSOR, buildEncoder, buildPreprocessor, smallEncoderConfig } from '../streaming/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'streamnest-diarize-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const ENCODER = smallEncoderConfig({ att_context_style: 'regular', att_context_size: [16, 0] });

async function quiet(args: string[]): Promise<{ code: number; stdout: string }> {
  const r = await captureOutput(() => diarize(args));
  return { code: r.value, stdout: r.stdout };
}

test('diarize writes RTTM, streams the same activities as offline, scores against --ref and draws the activity plot', async () => {
  const corpus = join(dir, 'corpus');
  await makeDiarizationCorpus({
    manifests: [join(REPO_ROOT, 'data', 'corpus', 'train_manifest.json')],
    outDir: corpus,
    sessions: 1,
    seed: 2,
    stats: { ...DEFAULT_TURN_STATISTICS, minSpeakers: 2, maxSpeakers: 2, sessionSeconds: 5 },
  });
  const model = new Diarizer({
    preprocessor: buildPreprocessor(),
    encoder: buildEncoder(ENCODER),
    head: { num_spks: 4, fc_d_model: 32, tf_d_model: 24, dropout_rate: 0 },
    seed: 4,
  });
  const nemo = join(dir, 'diar.nemo');
  const config = diarizerConfigYaml({
    encoder: ENCODER as unknown as ConfigMap,
    preprocessor: PREPROCESSOR as unknown as ConfigMap,
    head: model.sortformer_modules.cfg,
    atsWeight: 0.5,
    pilWeight: 0.5,
  });
  saveDiarizer(nemo, model, config);
  model.dispose();
  const before = t.liveTensorCount();
  const wav = join(corpus, 'audio', 'session_00000.wav');
  const ref = join(corpus, 'rttm', 'session_00000.rttm');
  const base = ['--model', nemo, '--audio', wav, '--threshold', '0.45'];
  const off = await quiet([...base, '--rttm', join(dir, 'off.rttm'), '--activities', join(dir, 'off.npy')]);
  assert.equal(off.code, 0);
  const on = await quiet([...base, '--streaming', '--activities', join(dir, 'on.npy'), '--ref', ref, '--plot', join(dir, 'plot.png')]);
  assert.equal(on.code, 0);
  assert.equal(t.liveTensorCount(), before, 'no tensors left behind');
  // streamed activities equal the offline ones
  const a = t.readNpy(join(dir, 'off.npy'));
  const b = t.readNpy(join(dir, 'on.npy'));
  assert.deepEqual(a.shape, b.shape);
  assert.equal(a.size(1), 4);
  assert.ok(t.tidy(() => a.sub(b).abs().max().item()) < 1e-5, 'streamed = offline');
  // printed turns (no --rttm) are the written ones, under the audio file's name; the DER line is there
  const written = readRttm(join(dir, 'off.rttm'));
  assert.ok(written.every((x) => x.file === 'session_00000'));
  const printed = on.stdout.split('\n').filter((l) => l.startsWith('SPEAKER'));
  assert.equal(printed.length, written.length);
  assert.match(on.stdout, /^# DER \d+\.\d\d% \(missed .*collar 0\.25 s\)$/m);
  // the plot: one lane per model speaker, 960 px wide, with the reference shaded somewhere
  const png = decodeRgbPng(readFileSync(join(dir, 'plot.png')));
  assert.equal(png.width, 960);
  let shaded = 0;
  for (let i = 0; i < png.rgb.length; i += 3) if (png.rgb[i]! > 150 && png.rgb[i]! < 250 && png.rgb[i + 2]! > 200 && png.rgb[i]! !== png.rgb[i + 2]) shaded++;
  assert.ok(shaded > 1000, `reference speech is shaded (${shaded} px)`);
  a.dispose();
  b.dispose();
  // argument errors
  await assert.rejects(() => quiet(['--model', nemo]), ArgError);
  await assert.rejects(() => quiet([...base, '--chunk-size', '0.32']), /--chunk-size applies to --streaming only/);
  await assert.rejects(() => quiet(['--model', nemo, '--audio', wav, '--threshold', '1.5']), /--threshold must be between 0 and 1/);
  await assert.rejects(() => quiet([...base, '--ref', join(dir, 'missing.rttm')]), /missing\.rttm/);
});

test('activityLanes: every turn of a mapped reference speaker lands in its model lane; unmapped speakers get their own', () => {
  const act = Float32Array.from([0.9, 0.1, 0.2, 0.8, 0.7, 0.3]); // 3 frames x 2 model speakers
  const turn = (speaker: string, start: number): SpeakerTurn => ({ file: 'f', channel: '1', start, duration: 1, speaker, where: '' });
  const ref = [turn('alice', 0), turn('bob', 1), turn('alice', 2), turn('carol', 3), turn('bob', 4)];
  const lanes = activityLanes(
    act,
    2,
    ref,
    new Map([
      ['alice', 'spk1'],
      ['bob', 'spk0'],
      ['carol', null],
    ]),
  );
  assert.deepEqual(
    lanes.map((l) => [l.label, l.reference.map((r) => r[0]), Array.from(l.activity).map((v) => +v.toFixed(1))]),
    [
      ['bob>spk0', [1, 4], [0.9, 0.2, 0.7]],
      ['alice>spk1', [0, 2], [0.1, 0.8, 0.3]],
      ['carol', [3], []],
    ],
  );
  assert.deepEqual(
    activityLanes(act, 2, null, new Map()).map((l) => l.label),
    ['spk0', 'spk1'],
  );
});
