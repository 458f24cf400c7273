// The streaming diarizer on small random-weight causal encoders: streamed activities (random audio pieces, two streams
// at once) equal the offline pass, future audio does not change past activities, NeMo's state-dict names, no leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { configureStreaming, StreamingEncoder } from '../../src/streaming/index.js';
import type { ConformerEncoderConfig } from '../../src/model/index.js';
import { Diarizer, StreamingDiarizer } from '../../src/diarization/diarizer.js';
import { buildEncoder, buildPreprocessor, longAudio, maxAbsDiff, randomInts } from '../streaming/helpers.js';

function buildDiarizer(cfg: Partial<ConformerEncoderConfig>, tf = 24): Diarizer {
  const encoder = buildEncoder(cfg);
  return new Diarizer({ preprocessor: buildPreprocessor(), encoder, head: { num_spks: 4, fc_d_model: 32, tf_d_model: tf, dropout_rate: 0.5 }, seed: 3 }).eval();
}

/** Streams the clips (one stream each) in random pieces; per clip the concatenated [T', S] activities. */
function streamClips(sd: StreamingDiarizer, clips: Float32Array[], seed: number, maxPiece: number): Tensor[] {
  const rnd = randomInts(seed);
  let state = sd.initState(clips.length);
  const parts: Tensor[][] = clips.map(() => []);
  const pos = clips.map(() => 0);
  while (pos.some((p, i) => p < clips[i]!.length)) {
    const pieces = clips.map((c, i) => {
      const n = Math.min(c.length - pos[i]!, rnd(0, maxPiece));
      const piece = c.subarray(pos[i]!, pos[i]! + n);
      pos[i]! += n;
      return piece;
    });
    const r = sd.pushAudio(pieces, state);
    for (const [i, a] of r.activities.entries()) parts[i]!.push(a);
    state = r.state;
  }
  for (const [i, a] of sd.finish(state).activities.entries()) parts[i]!.push(a);
  return parts.map((p) => {
    const out = t.cat(p, 0);
    for (const x of p) x.dispose();
    return out;
  });
}

const variants: { name: string; cfg: Partial<ConformerEncoderConfig> }[] = [
  { name: 'chunked_limited [8,1]', cfg: {} },
  { name: 'fully causal regular [16,0]', cfg: { att_context_style: 'regular', att_context_size: [16, 0] } },
];

for (const v of variants) {
  test(`streamed activities == offline activities (${v.name}): two streams of 12 s and 7 s, random audio pieces`, () => {
    const before = t.liveTensorCount();
    const model = buildDiarizer(v.cfg);
    const geo = configureStreaming(model.encoder, { hopSeconds: 0.01 });
    assert.deepEqual(geo.exactnessIssues, []);
    const se = new StreamingEncoder(model.encoder, { geometry: geo, preprocessor: model.preprocessor });
    const sd = new StreamingDiarizer(model, se);
    const clips = [longAudio(12, 2), longAudio(7, 5)];
    const streamed = streamClips(sd, clips, 9, 6000);
    for (const [i, c] of clips.entries()) {
      const off = model.diarizeClip(c); // [T', 4]
      assert.deepEqual(streamed[i]!.shape, off.shape, `clip ${i} frames`);
      assert.ok(off.size(0) >= Math.floor((c.length / 16000) * 12.4), `${off.size(0)} frames`);
      const d = maxAbsDiff(streamed[i]!, off);
      assert.ok(d <= 1e-5, `clip ${i}: max |stream - offline| = ${d}`);
      console.log(`# ${v.name}, clip ${i}: ${off.size(0)} frames x 4 speakers, max |stream - offline| = ${d.toExponential(2)}`);
      off.dispose();
    }
    for (const x of streamed) x.dispose();
    se.dispose();
    model.dispose();
    assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
  });
}

test('causality: changing the audio after 4 s leaves every activity whose input ends before it unchanged', () => {
  const before = t.liveTensorCount();
  const model = buildDiarizer({ att_context_style: 'regular', att_context_size: [16, 0] });
  const a = longAudio(8, 3);
  const b = a.slice();
  const cut = 4 * 16000;
  const noise = randomInts(4);
  for (let i = cut; i < b.length; i++) b[i] = (noise(0, 2000) - 1000) / 4000;
  const pa = model.diarizeClip(a);
  const pb = model.diarizeClip(b);
  // 1280 samples per frame; one frame of margin for the STFT window and the subsampling's receptive field
  const past = Math.floor(cut / 1280) - 1;
  const early = t.tidy(() => maxAbsDiff(pa.narrow(0, 0, past), pb.narrow(0, 0, past)));
  const late = t.tidy(() => maxAbsDiff(pa.narrow(0, past + 2, pa.size(0) - past - 2), pb.narrow(0, past + 2, pb.size(0) - past - 2)));
  assert.ok(early <= 1e-6, `frames before ${past}: max diff ${early}`);
  assert.ok(late > 1e-3, `frames after the change should differ, max diff ${late}`);
  // the chunked_limited model is causal up to its look-ahead chunk: frames two chunks back are unchanged
  const chunked = buildDiarizer({});
  const ca = chunked.diarizeClip(a);
  const cb = chunked.diarizeClip(b);
  const back = past - 2 * 2; // chunk = 1 + right context 1 = 2 frames
  assert.ok(t.tidy(() => maxAbsDiff(ca.narrow(0, 0, back), cb.narrow(0, 0, back))) <= 1e-6, 'chunked_limited past');
  for (const x of [pa, pb, ca, cb]) x.dispose();
  model.dispose();
  chunked.dispose();
  assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
});

test("state-dict names are NeMo's Sortformer names; encoder_proj only when the widths differ; bad widths are refused", () => {
  const before = t.liveTensorCount();
  const model = buildDiarizer({});
  const keys = [...model.stateDict().keys()].filter((k) => k.startsWith('sortformer_modules.'));
  assert.deepEqual(keys.sort(), [
    'sortformer_modules.encoder_proj.bias',
    'sortformer_modules.encoder_proj.weight',
    'sortformer_modules.first_hidden_to_hidden.bias',
    'sortformer_modules.first_hidden_to_hidden.weight',
    'sortformer_modules.single_hidden_to_spks.bias',
    'sortformer_modules.single_hidden_to_spks.weight',
  ]);
  assert.ok([...model.stateDict().keys()].some((k) => k.startsWith('encoder.layers.0.')));
  const same = buildDiarizer({}, 32);
  assert.ok(![...same.stateDict().keys()].some((k) => k.includes('encoder_proj')));
  const [pre, enc] = [buildPreprocessor(), buildEncoder({})];
  assert.throws(
    () => new Diarizer({ preprocessor: pre, encoder: enc, head: { num_spks: 4, fc_d_model: 64, tf_d_model: 8, dropout_rate: 0 }, seed: 1 }),
    /fc_d_model is 64 but the encoder outputs 32 channels/,
  );
  pre.dispose();
  enc.dispose();
  // eval mode: no dropout, deterministic
  const x = longAudio(2, 1);
  const e1 = model.diarizeClip(x);
  const e2 = model.diarizeClip(x);
  assert.equal(maxAbsDiff(e1, e2), 0);
  for (const y of [e1, e2]) y.dispose();
  model.dispose();
  same.dispose();
  assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
});
