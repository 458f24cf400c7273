// Model import: golden NEST archives load whole; a FastConformer CTC-BPE archive (built from a golden one) loads its
// encoder and preprocessor strictly, reports the decoder tensors and the tokenizer it ignored, and encodes exactly as
// the NEST model it came from; unsupported options and mismatched weights are refused by key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as t from '../../src/torch/index.js';
import { loadNemoModel } from '../../src/checkpoint/nemo-model.js';
import { modelFamily } from '../../src/checkpoint/model-config.js';
import { GOLDEN, assertClose } from '../helpers/assert.js';
import { CTC_TARGET, VOCAB, sameBits, writeCtcArchive } from './asr-archive.js';

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
