// Hybrid RNN-T/CTC archives (NeMo's EncDecHybridRNNTCTCBPEModel / EncDecHybridRNNTCTCModel, as the released cache-aware
// streaming models are): loadNemoCtcModel builds the CtcModel of the auxiliary CTC head (aux_ctc.decoder, weights
// ctc_decoder.*), lists the RNN-T decoder.* / joint.* as ignored and says so in its warnings; the model computes and
// transcribes exactly as the same weights saved as a plain CTC archive. Bad hybrids are refused naming the file and
// key; `streamnest transcribe` and `inspect` take a hybrid archive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as t from '../../src/torch/index.js';
import { loadAudio } from '../../src/audio/index.js';
import { CharVocabulary, type CtcModel } from '../../src/asr/index.js';
import { loadNemoCtcModel, loadNemoModel } from '../../src/checkpoint/nemo-model.js';
import { readNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { GOLDEN } from '../helpers/assert.js';
import { HYBRID_BPE_TARGET, HYBRID_CHAR_TARGET, SMALL_CTC_ENCODER, sameBits, writeHybridArchive } from './asr-archive.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'streamnest-hybrid-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const wav = join(GOLDEN, 'audio', 'speech_fox.wav');
const clip = loadAudio(wav, { targetSampleRate: 16000 }).samples;

const D = SMALL_CTC_ENCODER.d_model;
const PRED = 16; // the helper's RNN-T sizes
const JOINT = 24;
/** The helper's RNN-T parts for V labels, as loadNemoCtcModel lists them. */
const rnntIgnored = (V: number): unknown[] => [
  { what: 'decoder.*', kind: 'tensors', count: 5, size: (V + 1) * PRED + 2 * 4 * PRED * PRED + 2 * 4 * PRED },
  { what: 'joint.*', kind: 'tensors', count: 6, size: JOINT * PRED + JOINT + JOINT * D + JOINT + (V + 1) * JOINT + V + 1 },
];

function logProbs(m: CtcModel): t.Tensor {
  return t.noGrad(() => t.tidy(() => m.forward(t.tensor(clip, [1, clip.length]), t.tensor([clip.length], [1], { dtype: 'int64' })).logProbs.contiguous()));
}

/** The archive's ctc_decoder tensors equal the loaded model's decoder, key for key (remapped). */
function assertCtcHeadLoaded(path: string, m: CtcModel): void {
  const a = readNemoArchive(path);
  const dec = m.decoder.stateDict();
  assert.deepEqual([...dec.keys()], ['decoder_layers.0.weight', 'decoder_layers.0.bias']);
  for (const [k, v] of dec) assert.ok(sameBits(v, a.stateDict.get(`ctc_decoder.${k}`)!), `decoder ${k} = the archive's ctc_decoder.${k}`);
  // and not the RNN-T decoder's (a different network, also in the archive)
  assert.ok(a.stateDict.has('decoder.prediction.embed.weight'));
  for (const x of a.stateDict.values()) x.dispose();
}

/** Loads the hybrid and the plain CTC archive and checks they compute and transcribe alike (and as `ref` does). */
async function assertSameAsCtc(hybridPath: string, ctcPath: string, ref: CtcModel): Promise<string> {
  const h = await loadNemoCtcModel(hybridPath);
  const c = await loadNemoCtcModel(ctcPath);
  assert.equal(c.source, 'ctc');
  const [a, b, r] = [logProbs(h.model), logProbs(c.model), logProbs(ref)];
  assert.ok(sameBits(a, b), 'the hybrid computes the same log-probabilities as the plain CTC archive');
  assert.ok(sameBits(a, r), 'and as the model whose weights it holds');
  const text = h.model.transcribe([clip]);
  assert.deepEqual(text, c.model.transcribe([clip]));
  for (const x of [a, b, r]) x.dispose();
  h.dispose();
  c.dispose();
  return text[0]!.text;
}

test('a sub-word hybrid (EncDecHybridRNNTCTCBPEModel) loads as its CTC head: the ctc_decoder weights, the same transcript as a plain CTC-BPE archive', async () => {
  const path = join(tmp, 'hybrid-bpe.nemo');
  const ctcPath = join(tmp, 'ctc-bpe.nemo');
  const live = t.liveTensorCount();
  const ref = await writeHybridArchive(path, { bpe: true, ctcPath });
  const m = await loadNemoCtcModel(path);
  assert.equal(m.kind, 'ctc');
  assert.equal(m.family, 'ctc');
  assert.equal(m.source, 'hybrid');
  assert.equal(m.target, HYBRID_BPE_TARGET);
  assert.equal(m.model.training, false, 'eval mode');
  assert.equal(m.model.vocab.size, 96);
  assert.deepEqual([...m.model.vocab.labels], [...ref.vocab.labels], "the tokenizer's pieces (model_config.yaml labels are ignored)");
  assertCtcHeadLoaded(path, m.model);
  const own = m.model.stateDict();
  for (const [k, v] of ref.stateDict()) assert.ok(sameBits(v, own.get(k)!), k);
  const tensors = m.ignored.filter((g) => g.kind === 'tensors');
  assert.deepEqual(tensors, rnntIgnored(96));
  const files = m.ignored.filter((g) => g.kind === 'file').map((g) => g.what);
  assert.equal(files.length, 2, "vocab.txt and tokenizer.vocab (the tokenizer.model is the model's)");
  assert.ok(files.some((f) => f.endsWith('_vocab.txt')) && files.some((f) => f.endsWith('_tokenizer.vocab')), files.join());
  assert.ok(m.warnings.some((w) => /hybrid RNN-T\/CTC model: decoding uses its auxiliary CTC head .*\(decoder\.\*, joint\.\*\) are not loaded/.test(w)));
  m.dispose();
  const text = await assertSameAsCtc(path, ctcPath, ref);
  assert.ok(text.length > 0, 'a non-empty transcript (the comparison is not of two empty strings)');
  ref.dispose();
  assert.equal(t.liveTensorCount(), live, 'no tensors leaked');
});

test('a character hybrid (EncDecHybridRNNTCTCModel) loads as its CTC head with aux_ctc.decoder.vocabulary as its labels', async () => {
  const path = join(tmp, 'hybrid-char.nemo');
  const ctcPath = join(tmp, 'ctc-char.nemo');
  const live = t.liveTensorCount();
  const ref = await writeHybridArchive(path, { bpe: false, ctcPath });
  const m = await loadNemoCtcModel(path);
  assert.equal(m.source, 'hybrid');
  assert.equal(m.target, HYBRID_CHAR_TARGET);
  assert.deepEqual([...m.model.vocab.labels], [...CharVocabulary.english().labels]);
  assertCtcHeadLoaded(path, m.model);
  assert.deepEqual(m.ignored, rnntIgnored(CharVocabulary.english().size));
  assert.ok(!m.warnings.some((w) => w.includes('labels differ')));
  m.dispose();
  await assertSameAsCtc(path, ctcPath, ref);

  // labels that differ from the CTC head's vocabulary: the vocabulary decodes (NeMo's CTCDecoding uses it), with a warning
  const english = [...CharVocabulary.english().labels];
  const other = join(tmp, 'hybrid-char-labels.nemo');
  (await writeHybridArchive(other, { bpe: false, edit: (c) => Object.assign(c, { labels: [...english].reverse() }) })).dispose();
  const o = await loadNemoCtcModel(other);
  assert.deepEqual([...o.model.vocab.labels], english);
  assert.ok(o.warnings.some((w) => w.includes('labels differ from aux_ctc.decoder.vocabulary')));
  o.dispose();
  // no vocabulary in aux_ctc.decoder, no target: labels are the CTC labels; the family comes from the joint + aux_ctc sections
  const bare = join(tmp, 'hybrid-char-bare.nemo');
  const bareEdit = (c: Record<string, unknown>): void => {
    delete c.target;
    c.labels = [...english].reverse();
    Object.assign((c.aux_ctc as { decoder: object }).decoder, { vocabulary: [] });
  };
  (await writeHybridArchive(bare, { bpe: false, edit: bareEdit })).dispose();
  const b = await loadNemoCtcModel(bare);
  assert.equal(b.source, 'hybrid');
  assert.equal(b.target, null);
  assert.deepEqual([...b.model.vocab.labels], [...english].reverse());
  assert.ok(b.warnings.some((w) => w.includes("no 'target'; read as a hybrid ASR model")));
  b.dispose();
  ref.dispose();
  assert.equal(t.liveTensorCount(), live, 'no tensors leaked');
});

const refusals: [string, boolean, Parameters<typeof writeHybridArchive>[1]['edit'], Parameters<typeof writeHybridArchive>[1]['editWeights'], RegExp][] = [
  [
    'no aux_ctc section',
    true,
    (c) => delete c.aux_ctc,
    undefined,
    /model_config\.yaml: aux_ctc\.decoder: missing; a hybrid RNN-T\/CTC model \(nemo\.collections\.asr\.models\.hybrid_rnnt_ctc_bpe_models\.EncDecHybridRNNTCTCBPEModel\) is decoded with its auxiliary CTC head/,
  ],
  [
    'an aux_ctc section without a decoder',
    false,
    (c) => delete (c.aux_ctc as Record<string, unknown>).decoder,
    undefined,
    /model_config\.yaml: aux_ctc\.decoder: missing/,
  ],
  [
    'a CTC head of another class',
    false,
    (c) => Object.assign((c.aux_ctc as { decoder: object }).decoder, { _target_: 'nemo.collections.asr.modules.ConvASRDecoderReconstruction' }),
    undefined,
    /aux_ctc\.decoder\._target_: streamnest implements ConvASRDecoder here; got "nemo\.collections\.asr\.modules\.ConvASRDecoderReconstruction"/,
  ],
  [
    'a CTC head size that does not fit the tokenizer',
    true,
    (c) => Object.assign((c.aux_ctc as { decoder: object }).decoder, { num_classes: 5 }),
    undefined,
    /model_config\.yaml: model\.aux_ctc\.decoder\.num_classes is 5 but the tokenizer .* has 96 labels/,
  ],
  [
    'a CTC head size that does not fit its vocabulary',
    false,
    (c) => Object.assign((c.aux_ctc as { decoder: object }).decoder, { num_classes: 5 }),
    undefined,
    /model_config\.yaml: model\.aux_ctc\.decoder\.num_classes is 5 but model\.aux_ctc\.decoder\.vocabulary has 28 labels/,
  ],
  [
    'a sub-word hybrid without its tokenizer section',
    true,
    (c) => delete c.tokenizer,
    undefined,
    /model_config\.yaml: tokenizer: missing; nemo\.collections\.asr\.models\.hybrid_rnnt_ctc_bpe_models\.EncDecHybridRNNTCTCBPEModel is a sub-word model/,
  ],
  [
    'a missing CTC head tensor',
    false,
    undefined,
    (sd) => {
      sd.get('ctc_decoder.decoder_layers.0.bias')!.dispose();
      sd.delete('ctc_decoder.decoder_layers.0.bias');
    },
    /the 'ctc_decoder\.\*' weights do not fit the configured ctc_decoder: [\s\S]*decoder_layers\.0\.bias/,
  ],
  [
    'a tensor outside the hybrid layout',
    false,
    undefined,
    (sd) => sd.set('mystery.weight', t.zeros([3])),
    /unexpected tensors for a hybrid RNN-T\/CTC model \(expected preprocessor\.\*, encoder\.\*, ctc_decoder\.\*, decoder\.\*, joint\.\*\): mystery\.weight/,
  ],
];
for (const [what, bpe, edit, editWeights, re] of refusals) {
  test(`loadNemoCtcModel refuses a hybrid archive with ${what}, naming the file and key`, async () => {
    const path = join(tmp, `bad-${what.replace(/\W+/g, '-')}.nemo`);
    (await writeHybridArchive(path, { bpe, ...(edit ? { edit } : {}), ...(editWeights ? { editWeights } : {}) })).dispose();
    const live = t.liveTensorCount();
    await assert.rejects(loadNemoCtcModel(path), (e: Error) => e.message.startsWith(path) && re.test(e.message));
    assert.equal(t.liveTensorCount(), live, 'no tensors leaked');
  });
}

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, STREAMNEST_DEBUG: '' }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('streamnest transcribe takes a hybrid archive (its CTC head, said on stderr); inspect reports the hybrid and what transcribe decodes with', async () => {
  const hybrid = join(tmp, 'cli-hybrid.nemo');
  const ctc = join(tmp, 'cli-ctc.nemo');
  (await writeHybridArchive(hybrid, { bpe: true, ctcPath: ctc })).dispose();
  const h = cli(['transcribe', '--model', hybrid, '--audio', wav, '--json']);
  assert.equal(h.code, 0, h.stderr);
  const c = cli(['transcribe', '--model', ctc, '--audio', wav, '--json']);
  assert.equal(c.code, 0, c.stderr);
  const [ht, ct] = [h, c].map((r) => JSON.parse(r.stdout) as { text: string; words: unknown[] });
  assert.equal(ht!.text, ct!.text);
  assert.deepEqual(ht!.words, ct!.words);
  const plain = cli(['transcribe', '--model', hybrid, '--audio', wav]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stdout.split('\n')[0], ht!.text);
  assert.match(plain.stderr, /streamnest: warning: hybrid RNN-T\/CTC model: decoding uses its auxiliary CTC head/);

  const i = cli(['inspect', hybrid]);
  assert.equal(i.code, 0, i.stderr);
  assert.match(i.stdout, /model: +hybrid RNN-T\/CTC ASR — nemo\.collections\.asr\.models\.hybrid_rnnt_ctc_bpe_models\.EncDecHybridRNNTCTCBPEModel/);
  assert.match(i.stdout, /decoding: +transcribe \/ eval decode with the auxiliary CTC head \(aux_ctc\.decoder, ctc_decoder\.\*\)/);
  assert.match(i.stdout, /not loaded: +decoder\.\* \(5 tensors\), joint\.\* \(6 tensors\), ctc_decoder\.\* \(2 tensors\)/);
});

test("loadNemoModel (inspect's loader) reads a hybrid's encoder and lists its decoder.*, joint.* and ctc_decoder.* as not loaded", async () => {
  const path = join(tmp, 'inspect-hybrid.nemo');
  (await writeHybridArchive(path, { bpe: false })).dispose();
  const live = t.liveTensorCount();
  const m = loadNemoModel(path);
  assert.ok(m.kind === 'asr' && m.family === 'hybrid');
  assert.deepEqual(
    m.ignored.map((g) => [g.what, g.count]),
    [
      ['decoder.*', 5],
      ['joint.*', 6],
      ['ctc_decoder.*', 2],
    ],
  );
  m.dispose();
  assert.equal(t.liveTensorCount(), live, 'no tensors leaked');
});
