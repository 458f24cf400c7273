// Model import: golden NEST archives load whole; a FastConformer CTC-BPE archive (built from a golden one) loads its
// encoder and preprocessor strictly, reports the decoder tensors and the tokenizer it ignored, and encodes exactly as
// the NEST model it came from; unsupported options and mismatched weights are refused by key. loadNemoCtcModel (the
// same validated loader, for transcribe / eval) loads a CTC archive whole and refuses other families by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as t from '../../src/torch/index.js';
import { loadNemoCtcModel, loadNemoModel } from '../../src/checkpoint/nemo-model.js';
import { readNemoArchive, writeNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import type { CtcModel } from '../../src/asr/index.js';
import { modelFamily } from '../../src/checkpoint/model-config.js';
import { GOLDEN, assertClose } from '../helpers/assert.js';
import { CHAR_CTC_TARGET, CTC_TARGET, VOCAB, sameBits, writeCharCtcArchive, writeCtcArchive } from './asr-archive.js';

const tmp = mkdtempSync(join(tmpdir(), 'streamnest-nemo-model-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function encodeGolden(enc: ReturnType<typeof loadNemoModel>['encoder']): t.Tensor {
  return t.noGrad(() => {
    const x = t.readNpy(join(GOLDEN, 'encoder', 'input_features.npy'));
    const len = t.readNpy(join(GOLDEN, 'encoder', 'input_lengths.npy'));
    const r = enc.forward(x, len);
    const out = t.keep(r.encoded.clone());
    for (const y of [x, len, r.encoded, r.lengths]) y.dispose();
    return out;
  });
}

for (const file of readdirSync(join(GOLDEN, 'nemo')).filter((f) => f.endsWith('.nemo'))) {
  test(`golden ${file} loads whole as a NEST model (strict), nothing ignored`, () => {
    const live = t.liveTensorCount();
    const m = loadNemoModel(join(GOLDEN, 'nemo', file));
    assert.equal(m.kind, 'nest');
    assert.equal(m.target, 'nemo.collections.asr.models.ssl_models.EncDecDenoiseMaskedTokenPredModel');
    assert.deepEqual(m.ignored, []);
    assert.ok(m.tensors.some((x) => x.key === 'mask_processor.mask_embedding') && m.tensors.some((x) => x.key === 'quantizer.codebooks'));
    assert.equal(m.encoder.training, false, 'eval mode');
    m.dispose();
    assert.equal(t.liveTensorCount(), live, 'no tensors leaked');
  });
}

test('a CTC-BPE archive loads its encoder + preprocessor, lists decoder.* and tokenizer.model as ignored, and encodes like NeMo', () => {
  const path = join(tmp, 'ctc.nemo');
  writeCtcArchive(path);
  const live = t.liveTensorCount();
  const asr = loadNemoModel(path);
  assert.equal(asr.kind, 'asr');
  assert.ok(asr.kind === 'asr' && asr.family === 'ctc');
  assert.equal(asr.target, CTC_TARGET);
  assert.deepEqual(asr.ignored, [
    { what: 'decoder.*', kind: 'tensors', count: 2, size: (VOCAB + 1) * 64 + VOCAB + 1 },
    { what: 'tokenizer.model', kind: 'file', count: 1, size: 30 },
  ]);
  const nest = loadNemoModel(join(GOLDEN, 'nemo', 'b_fully_causal.nemo'));
  const a = encodeGolden(asr.encoder);
  const b = encodeGolden(nest.encoder);
  assert.ok(sameBits(a, b), 'the ASR-loaded encoder computes exactly what the NEST-loaded one does');
  const ref = t.readNpy(join(GOLDEN, 'encoder', 'b_fully_causal', 'offline_outputs.npy'));
  const lens = t.tidy(() => t.readNpy(join(GOLDEN, 'encoder', 'b_fully_causal', 'offline_encoded_lengths.npy')).toArray());
  for (let i = 0; i < 2; i++)
    t.tidy(() => assertClose(a.select(0, i).narrow(1, 0, lens[i]!), ref.select(0, i).narrow(1, 0, lens[i]!), 1e-4, 1e-4, `item ${i}`));
  const fb = [asr.preprocessor, nest.preprocessor].map((p) => p.featurizer.stateDict().get('fb')!);
  assert.ok(sameBits(fb[0]!, fb[1]!), 'preprocessor buffers loaded from the archive');
  for (const x of [a, b, ref]) x.dispose();
  asr.dispose();
  nest.dispose();
  assert.equal(t.liveTensorCount(), live, 'no tensors leaked');
});

test('the model family comes from target; RNNT and hybrid classes are ASR; other classes are refused by name', () => {
  const fam = (target: string): unknown => modelFamily({ target }, 'x.nemo').family;
  assert.deepEqual(fam('nemo.collections.asr.models.rnnt_bpe_models.EncDecRNNTBPEModel'), { kind: 'asr', family: 'rnnt' });
  assert.deepEqual(fam('nemo.collections.asr.models.hybrid_rnnt_ctc_bpe_models.EncDecHybridRNNTCTCBPEModel'), { kind: 'asr', family: 'hybrid' });
  assert.deepEqual(fam('nemo.collections.asr.models.ctc_models.EncDecCTCModel'), { kind: 'asr', family: 'ctc' });
  assert.throws(
    () => fam('nemo.collections.asr.models.classification_models.EncDecClassificationModel'),
    /x\.nemo: model_config\.yaml: target: 'nemo\.collections\.asr\.models\.classification_models\.EncDecClassificationModel' is not a model streamnest loads/,
  );
  assert.deepEqual(modelFamily({ joint: {}, aux_ctc: {} }, 'x').family, { kind: 'asr', family: 'hybrid' });
});

const refusals: [string, (c: Record<string, unknown>) => void, RegExp][] = [
  [
    'time reduction',
    (c) => Object.assign(c.encoder as object, { reduction: 'pooling', reduction_position: 1, reduction_factor: 2 }),
    /encoder\.reduction: time reduction inside the encoder is not implemented \(got "pooling"/,
  ],
  ['vggnet subsampling', (c) => Object.assign(c.encoder as object, { subsampling: 'vggnet' }), /encoder\.subsampling: 'vggnet' is not implemented/],
  [
    'local attention',
    (c) => Object.assign(c.encoder as object, { self_attention_model: 'rel_pos_local_attn' }),
    /encoder\.self_attention_model: 'rel_pos_local_attn'/,
  ],
  [
    'another encoder class',
    (c) => Object.assign(c.encoder as object, { _target_: 'nemo.collections.asr.modules.SqueezeformerEncoder' }),
    /encoder\._target_: streamnest implements ConformerEncoder here; got "nemo\.collections\.asr\.modules\.SqueezeformerEncoder"/,
  ],
  [
    'a misspelt key',
    (c) => {
      const e = c.encoder as Record<string, unknown>;
      e.n_layer = e.n_layers;
      delete e.n_layers;
    },
    /encoder\.n_layer: unknown key; did you mean 'n_layers'\?/,
  ],
];
for (const [what, edit, re] of refusals) {
  test(`an ASR config with ${what} is refused, naming the key`, () => {
    const path = join(tmp, `bad-${what.replace(/\W+/g, '-')}.nemo`);
    writeCtcArchive(path, { edit });
    const live = t.liveTensorCount();
    assert.throws(
      () => loadNemoModel(path),
      (e: Error) => e.message.includes(path) && re.test(e.message),
    );
    assert.equal(t.liveTensorCount(), live, 'no tensors leaked');
  });
}

test('an ASR archive missing an encoder tensor is refused strictly, naming the key', () => {
  const path = join(tmp, 'missing.nemo');
  writeCtcArchive(path, { dropKeys: ['encoder.layers.1.norm_out.bias'] });
  const live = t.liveTensorCount();
  assert.throws(() => loadNemoModel(path), /missing\.nemo: the 'encoder\.\*' weights do not fit the configured encoder: [\s\S]*layers\.1\.norm_out\.bias/);
  assert.equal(t.liveTensorCount(), live, 'no tensors leaked');
});

// ---- loadNemoCtcModel: the same validated loader, building the whole CTC model (transcribe / eval) ----

function logProbs(m: CtcModel, clip: Float32Array): t.Tensor {
  return t.noGrad(() => t.tidy(() => m.forward(t.tensor(clip, [1, clip.length]), t.tensor([clip.length], [1], { dtype: 'int64' })).logProbs.contiguous()));
}

test('loadNemoCtcModel loads a character CTC archive whole (strict): the same weights and outputs as the model that wrote it', async () => {
  const path = join(tmp, 'char-ctc.nemo');
  const live = t.liveTensorCount();
  const ref = writeCharCtcArchive(path);
  const m = await loadNemoCtcModel(path);
  assert.equal(m.kind, 'ctc');
  assert.equal(m.target, CHAR_CTC_TARGET);
  assert.deepEqual(m.ignored, []);
  assert.equal(m.model.training, false, 'eval mode');
  assert.equal(m.encoder, m.model.encoder);
  assert.deepEqual([...m.model.vocab.labels], [...ref.vocab.labels]);
  const sd = m.model.stateDict();
  for (const [k, v] of ref.stateDict()) assert.ok(sameBits(v, sd.get(k)!), k);
  const clip = new Float32Array(16000).map((_, i) => 0.1 * Math.sin(i / 10) + 0.05 * Math.sin(i / 3.7));
  const a = logProbs(m.model, clip);
  const b = logProbs(ref, clip);
  assert.ok(sameBits(a, b), 'the same log-probabilities');
  assert.deepEqual(m.model.transcribe([clip]), ref.transcribe([clip]));
  a.dispose();
  b.dispose();
  m.dispose();
  ref.dispose(); // (with the positional table its forward grew)
  assert.equal(t.liveTensorCount(), live, 'no tensors leaked');
});

const ctcRefusals: [string, string, (path: string) => void, RegExp][] = [
  [
    'a NEST archive',
    'nest.nemo',
    () => {},
    /not a CTC model; CTC decoding needs EncDecCTCModel or EncDecCTCModelBPE \(fine-tune it first with streamnest finetune --init/,
  ],
  [
    'an RNNT archive',
    'rnnt.nemo',
    (p) => writeCtcArchive(p, { edit: (c) => Object.assign(c, { target: 'nemo.collections.asr.models.rnnt_bpe_models.EncDecRNNTBPEModel' }) }),
    /a FastConformer RNNT model \(nemo\.collections\.asr\.models\.rnnt_bpe_models\.EncDecRNNTBPEModel\), not a CTC model/,
  ],
  [
    'a misspelt encoder key',
    'misspelt.nemo',
    (p) =>
      writeCharCtcArchive(p, (c) => {
        const e = c.encoder as Record<string, unknown>;
        e.n_layer = e.n_layers;
        delete e.n_layers;
      }).dispose(),
    /encoder\.n_layer: unknown key; did you mean 'n_layers'\?/,
  ],
  [
    'an encoder-only archive without a target',
    'encoder-only.nemo',
    (p) =>
      writeCharCtcArchive(p, (c) => {
        for (const k of ['target', 'labels', 'decoder']) delete c[k];
      }).dispose(),
    /not a CTC model \(no labels or tokenizer, or no decoder, in model_config\.yaml\); fine-tune it first with streamnest finetune --init/,
  ],
  ['no labels', 'nolabels.nemo', (p) => writeCharCtcArchive(p, (c) => delete c.labels).dispose(), /not a CTC model \(no labels or tokenizer, or no decoder/],
  [
    'a decoder size that does not fit the labels',
    'numclasses.nemo',
    (p) => writeCharCtcArchive(p, (c) => Object.assign(c.decoder as object, { num_classes: 5 })).dispose(),
    /model_config\.yaml: model\.decoder\.num_classes is 5 but model\.labels has \d+ labels/,
  ],
  ['an unreadable tokenizer', 'badtok.nemo', (p) => writeCtcArchive(p), /badtok\.nemo/],
];
for (const [what, file, write, re] of ctcRefusals) {
  test(`loadNemoCtcModel refuses ${what} with a clear error naming the file`, async () => {
    const path = file === 'nest.nemo' ? join(GOLDEN, 'nemo', 'b_fully_causal.nemo') : join(tmp, file);
    write(path);
    const live = t.liveTensorCount();
    await assert.rejects(loadNemoCtcModel(path), (e: Error) => e.message.includes(path) && re.test(e.message));
    assert.equal(t.liveTensorCount(), live, 'no tensors leaked');
  });
}

test('loadNemoCtcModel refuses weights that do not fit, strictly, naming the key', async () => {
  const path = join(tmp, 'short-ctc.nemo');
  const m = writeCharCtcArchive(path);
  m.dispose();
  const a = readNemoArchive(path);
  a.stateDict.get('decoder.decoder_layers.0.bias')!.dispose();
  a.stateDict.delete('decoder.decoder_layers.0.bias');
  writeNemoArchive(path, { configYaml: a.configYaml, stateDict: a.stateDict });
  for (const v of a.stateDict.values()) v.dispose();
  const live = t.liveTensorCount();
  await assert.rejects(
    loadNemoCtcModel(path),
    /short-ctc\.nemo: the weights do not fit the CTC model its config describes: [\s\S]*decoder\.decoder_layers\.0\.bias/,
  );
  assert.equal(t.liveTensorCount(), live, 'no tensors leaked');
});
