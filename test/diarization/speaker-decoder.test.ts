// The speaker-embedding decoder: NeMo's state-dict names, the angular softmax loss against NeMo's formula written out
// by hand, training on pooled shipped-corpus clips (the loss falls; the trained embedding layer separates the training
// speakers better than the untrained one), the embedding layer streamed == offline, and the .nemo round trip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { angularSoftmaxLoss } from '../../src/diarization/angular-softmax-loss.js';
import { SpeakerDecoder } from '../../src/diarization/speaker-decoder.js';
import { SpeakerEmbedder } from '../../src/diarization/speaker-embedding.js';
import { SpeakerLabelModel } from '../../src/diarization/speaker-label-model.js';
import { embedUtterances, readSpeakerManifest } from '../../src/diarization/speaker-manifest.js';
import { loadEmbedderModel, loadSpeakerModel, saveSpeakerModel, speakerModelConfigYaml } from '../../src/diarization/speaker-model-archive.js';
import { allPairTrials, equalErrorRate } from '../../src/diarization/verification.js';
import { configureStreaming, StreamingEncoder } from '../../src/streaming/index.js';
import { PREPROCESSOR, buildEncoder, buildPreprocessor, longAudio, maxAbsDiff, smallEncoderConfig } from '../streaming/helpers.js';
import { REPO_ROOT } from '../helpers/assert.js';

const dir = mkdtempSync(join(tmpdir(), 'streamnest-speaker-decoder-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const CORPUS_TRAIN = join(REPO_ROOT, 'data', 'corpus', 'train_manifest.json');

test("decoder state dict: NeMo SpeakerDecoder's names (xvector, linear affine, angular)", () => {
  const d = new SpeakerDecoder({ feat_in: 8, num_classes: 3, emb_size: 4 });
  assert.deepEqual(
    [...d.stateDict()].map(([k, v]) => `${k}[${v.shape}]`),
    [
      'emb_layers.0.0.weight[4,8]',
      'emb_layers.0.0.bias[4]',
      'emb_layers.0.1.running_mean[4]',
      'emb_layers.0.1.running_var[4]',
      'emb_layers.0.1.num_batches_tracked[]',
      'final.weight[3,4]',
    ],
  );
  assert.throws(() => new SpeakerDecoder({ feat_in: 8, num_classes: 0, emb_size: 4 }), /decoder.num_classes must be a positive integer/);
  d.dispose();
});

test("angular softmax loss = NeMo's formula by hand (acos, margin, scale), with gradients", () => {
  const before = t.liveTensorCount();
  const cos = [
    [0.9, -0.2, 0.1],
    [0.3, 0.5, -0.99999999],
    [-0.4, 0.2, 0.7],
  ];
  const labels = [0, 2, 1];
  const [s, m, eps] = [30, 0.2, 1e-7];
  let want = 0;
  for (const [i, row] of cos.entries()) {
    const y = labels[i]!;
    const num = s * Math.cos(Math.acos(Math.min(Math.max(row[y]!, -1 + eps), 1 - eps)) + m);
    const den = Math.exp(num) + row.filter((_, j) => j !== y).reduce((a, c) => a + Math.exp(s * c), 0);
    want += -(num - Math.log(den)) / cos.length;
  }
  const x = t.tensor(cos.flat(), [3, 3], { dtype: 'float64' });
  x.requiresGrad = true;
  const lab = t.tensor(BigInt64Array.from(labels, BigInt), [3]);
  const loss = angularSoftmaxLoss(x, lab, { scale: s, margin: m });
  assert.ok(Math.abs(loss.item() - want) < 1e-9, `${loss.item()} vs ${want}`);
  const [g] = t.grad([loss], [x]);
  assert.ok(g!.toArray().every(Number.isFinite), 'finite gradients');
  assert.ok(g!.toArray()[0]! < 0, 'raising the target cosine lowers the loss');
  for (const v of [x, lab, loss, g!]) v.dispose();
  assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
});

/** All-pairs EER of embeddings [N, E]. */
function eerOf(emb: t.Tensor, speakers: readonly string[]): number {
  const e = emb.size(1);
  const v = Float32Array.from(emb.toArray());
  const tr = allPairTrials(speakers.map((speaker, i) => ({ speaker, embedding: v.subarray(i * e, (i + 1) * e) })));
  return equalErrorRate(tr.scores, tr.target).eer;
}

test('training on pooled shipped-corpus clips: the loss falls and the trained layer separates the speakers better', async () => {
  const pre = buildPreprocessor();
  const enc = buildEncoder({});
  const utts = readSpeakerManifest(CORPUS_TRAIN);
  const rows = await embedUtterances(new SpeakerEmbedder(pre, enc), utts, { streaming: null });
  const labels = [...new Set(rows.map((r) => r.speaker))].sort();
  const speakers = rows.map((r) => r.speaker);
  const D = rows[0]!.embedding.length;
  const pooled = t.keep(t.tensor(Float32Array.from(rows.flatMap((r) => [...r.embedding])), [rows.length, D]));
  const y = t.keep(
    t.tensor(
      BigInt64Array.from(speakers, (s) => BigInt(labels.indexOf(s))),
      [rows.length],
    ),
  );
  const dec = new SpeakerDecoder({ feat_in: D, num_classes: labels.length, emb_size: 16 }, 3);
  const untrained = t.tidy(() => eerOf(dec.eval().embed(pooled), speakers));
  dec.train();
  const opt = new t.AdamW(dec.parameters(), { lr: 3e-3 });
  const losses: number[] = [];
  for (let step = 0; step < 150; step++) {
    t.tidy(() => {
      opt.zeroGrad();
      const loss = angularSoftmaxLoss(dec.cosines(pooled), y);
      loss.backward();
      opt.step();
      losses.push(loss.item());
    });
  }
  const trained = t.tidy(() => eerOf(dec.eval().embed(pooled), speakers));
  console.log(
    `# loss ${losses[0]!.toFixed(3)} -> ${losses.at(-1)!.toFixed(3)}; training-speaker EER untrained ${untrained.toFixed(3)}, trained ${trained.toFixed(3)}`,
  );
  assert.ok(losses.at(-1)! < 0.5 * losses[0]!, `loss ${losses[0]} -> ${losses.at(-1)}`);
  assert.ok(trained < untrained, `EER untrained ${untrained}, trained ${trained}`);
  opt.dispose();
  for (const x of [pooled, y]) x.dispose();
  dec.dispose();
  enc.dispose();
  pre.dispose();
});

test('the trained embedding layer streamed == offline; the speaker .nemo round trip gives the same embeddings', () => {
  const before = t.liveTensorCount();
  const model = new SpeakerLabelModel({
    preprocessor: buildPreprocessor(),
    encoder: buildEncoder({}),
    decoder: { feat_in: 64, num_classes: 3, emb_size: 8 },
    seed: 5,
  });
  // running statistics as after training (not the initial 0 / 1), so that the round trip checks them
  t.tidy(() => {
    const sd = model.decoder.stateDict();
    sd.get('emb_layers.0.1.running_mean')!.copy_(t.rand([8], { generator: new t.Generator(9) }));
    sd.get('emb_layers.0.1.running_var')!.copy_(t.rand([8], { generator: new t.Generator(10) }).add(0.5));
  });
  const embedder = model.embedder();
  assert.equal(embedder.dim, 8);
  const audio = longAudio(4, 2);
  const off = embedder.embedUtterance(audio);
  const se = new StreamingEncoder(model.encoder, { geometry: configureStreaming(model.encoder, { hopSeconds: 0.01 }), preprocessor: model.preprocessor });
  const pieces = function* (): Generator<Float32Array> {
    for (let a = 0; a < audio.length; a += 3000) yield audio.subarray(a, a + 3000);
  };
  const str = embedder.embedStreaming(se, pieces());
  assert.deepEqual(off.embedding.shape, [8]);
  const d = maxAbsDiff(off.embedding, str.embedding);
  assert.ok(d <= 1e-4, `streamed vs offline ${d}`);
  se.dispose();

  const path = join(dir, 'speaker.nemo');
  const cfg = speakerModelConfigYaml({
    encoder: { _target_: 'nemo.collections.asr.modules.ConformerEncoder', ...smallEncoderConfig() } as never,
    preprocessor: { _target_: 'nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor', ...PREPROCESSOR } as never,
    decoder: model.decoder.cfg,
    labels: ['a', 'b', 'c'],
    loss: { scale: 30, margin: 0.2 },
  });
  saveSpeakerModel(path, model, cfg);
  const back = loadSpeakerModel(path);
  assert.deepEqual(back.labels, ['a', 'b', 'c']);
  const again = back.model.embedder().embedUtterance(audio);
  const r = maxAbsDiff(off.embedding, again.embedding);
  assert.ok(r <= 1e-6, `round trip ${r}`);
  const viaLoader = loadEmbedderModel(path);
  assert.equal(viaLoader.kind, 'projection');
  assert.match(viaLoader.describe, /trained embedding layer 64 -> 8/);
  const pooledOnly = loadEmbedderModel(path, { pooledOnly: true });
  assert.equal(pooledOnly.kind, 'pooled');
  assert.equal(pooledOnly.embedder.dim, 64);
  for (const x of [off.frames, off.embedding, str.frames, str.embedding, again.frames, again.embedding]) x.dispose();
  for (const m of [viaLoader, pooledOnly]) m.dispose();
  back.model.dispose();
  model.dispose();
  assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
});
