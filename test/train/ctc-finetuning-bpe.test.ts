// Sub-word CTC fine-tuning with a SentencePiece tokenizer (test/fixtures/tokenizers/bpe_tiny): the .nemo is laid
// out as NeMo's EncDecCTCModelBPE writes it (target, tokenizer section with nemo: paths, the tokenizer files inside),
// loads back (also with NeMo's own random artifact names), and transcribes the same offline and streaming.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import * as t from '../../src/torch/index.js';
import { loadAudio } from '../../src/audio/index.js';
import { CTC_BPE_TARGET, CharVocabulary, CtcModel, type CtcModelArgs } from '../../src/asr/index.js';
import { streamingTranscriber, transcribeStreaming } from '../../src/serving/index.js';
import { readNemoArchive, writeNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { finetuneCtc, loadCtcModel, loadFinetuneConfig } from '../../src/train/ctc-finetuning.js';
import { repoRoot } from '../../src/data/corpus.js';
import { SMALL_CTC_ENCODER, SMALL_CTC_PREPROCESSOR } from '../checkpoint/asr-archive.js';

const root = repoRoot();
const tokDir = 'test/fixtures/tokenizers/bpe_tiny';
const pieces = readFileSync(join(root, tokDir, 'tokenizer.vocab'), 'utf8')
  .split('\n')
  .filter((l) => l)
  .map((l) => l.split('\t')[0]!);
const encoder = SMALL_CTC_ENCODER;
const preprocessor = SMALL_CTC_PREPROCESSOR;
const wav = join(root, 'data/corpus/val/val-00000.wav');

/** Rewrites a .nemo: the config edited, members renamed or dropped. */
function rewrite(
  src: string,
  dst: string,
  edit: (cfg: Record<string, unknown>) => void,
  members: (m: Map<string, Uint8Array>) => Map<string, Uint8Array>,
): void {
  const a = readNemoArchive(src);
  const cfg = parse(a.configYaml) as Record<string, unknown>;
  edit(cfg);
  writeNemoArchive(dst, { configYaml: stringify(cfg), stateDict: a.stateDict, extra: members(a.extra) });
  for (const x of a.stateDict.values()) x.dispose();
}

test('finetune with model.tokenizer: EncDecCTCModelBPE .nemo holding the tokenizer; loads back; offline = streaming; eval/transcribe', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamnest-ctc-bpe-'));
  const before = t.liveTensorCount();
  try {
    const pre = new CtcModel({
      preprocessor,
      encoder: encoder as CtcModelArgs['encoder'],
      labels: CharVocabulary.english().labels,
      specAugment: null,
      seed: 99,
    });
    const initPath = join(dir, 'pretrained.nemo');
    writeNemoArchive(initPath, { configYaml: stringify({ sample_rate: 16000, preprocessor, encoder }), stateDict: pre.stateDict() });
    pre.dispose();
    const init = readNemoArchive(initPath);
    const overrides = [
      'trainer.max_steps=2',
      'trainer.val_check_interval=2',
      'trainer.log_every_n_steps=1',
      `exp_manager.exp_dir=${dir}/exp`,
      'model.validation_ds.batch_size=5',
      `model.tokenizer.dir=${tokDir}`,
      'model.tokenizer.type=bpe',
    ];
    // the config checks: labels must stay null, wpe is refused by key
    assert.throws(
      () => loadFinetuneConfig('ctc_tiny', init.configYaml, [...overrides, 'model.labels=[a, b]']),
      /model\.labels must be null when model\.tokenizer is set/,
    );
    assert.throws(() => loadFinetuneConfig('ctc_tiny', init.configYaml, [...overrides, 'model.tokenizer.type=wpe']), /model\.tokenizer\.type: 'wpe'/);

    const r = await finetuneCtc({
      loaded: loadFinetuneConfig('ctc_tiny', init.configYaml, overrides),
      initWeights: init.stateDict,
      baseDir: root,
      seed: 5,
      progress: false,
      log: () => {},
    });
    for (const x of init.stateDict.values()) x.dispose();
    assert.equal(r.globalStep, 2);
    assert.equal(r.valLoss.length, 1);
    assert.deepEqual(r.labels, pieces);
    assert.ok(r.nemoPath);

    // the archive: NeMo's EncDecCTCModelBPE config and the three tokenizer files under their nemo: names
    const a = readNemoArchive(r.nemoPath);
    const cfg = parse(a.configYaml) as Record<string, any>;
    assert.equal(cfg.target, CTC_BPE_TARGET);
    assert.equal('labels' in cfg, false);
    assert.deepEqual(Object.keys(cfg.tokenizer), ['dir', 'type', 'model_path', 'vocab_path', 'spe_tokenizer_vocab']);
    assert.equal(cfg.tokenizer.dir, null);
    assert.equal(cfg.tokenizer.type, 'bpe');
    assert.match(cfg.tokenizer.model_path, /^nemo:[0-9a-f]{32}_tokenizer\.model$/);
    assert.equal(cfg.decoder.num_classes, 96);
    assert.deepEqual(cfg.decoder.vocabulary, pieces);
    const names = ['model_path', 'vocab_path', 'spe_tokenizer_vocab'].map((k) => (cfg.tokenizer[k] as string).slice('nemo:'.length));
    assert.deepEqual([...a.extra.keys()].sort(), [...names].sort(), 'the tokenizer files and nothing else (no trainer state)');
    assert.deepEqual(a.extra.get(names[0]!), new Uint8Array(readFileSync(join(root, tokDir, 'tokenizer.model'))));
    assert.deepEqual(a.extra.get(names[1]!), new Uint8Array(readFileSync(join(root, tokDir, 'vocab.txt'))));
    assert.deepEqual(a.stateDict.get('decoder.decoder_layers.0.weight')!.shape, [97, 32, 1], '96 pieces + blank');
    for (const x of a.stateDict.values()) x.dispose();

    // loads back with its tokenizer; a sharpened decoder emits many pieces, so that the comparison means something
    const m = await loadCtcModel(r.nemoPath);
    assert.equal(m.vocab.kind, 'sentencepiece');
    assert.deepEqual(m.vocab.labels, pieces);
    assert.equal(m.vocab.blank, 96);
    t.noGrad(() => m.decoder.decoder_layers.items[0]!.weight.mul_(20));
    const audio = loadAudio(wav, { targetSampleRate: 16000 }).samples;
    const off = m.transcribe([audio])[0]!;
    assert.ok(off.tokens.length > 5, `offline decoded ${off.tokens.length} pieces`);
    assert.deepEqual(off.words.map((w) => w.word).join(' '), off.text, 'word timestamps cover the transcript');
    for (const [chunk, push] of [
      [0.16, 0.05],
      [0.32, 0.32],
    ] as const) {
      const rec = streamingTranscriber(m, { chunkSeconds: chunk });
      assert.deepEqual(rec.geometry.exactnessIssues, []);
      const s = transcribeStreaming(rec, audio, { pushSeconds: push });
      rec.dispose();
      assert.equal(s.text, off.text, `chunk ${chunk} s, push ${push} s`);
      assert.deepEqual(s.tokens, off.tokens);
      assert.deepEqual(s.words, off.words);
    }
    m.dispose();

    // as NeMo itself writes it: random hex names, dir left at the training folder (never read)
    const nemoLike = join(dir, 'nemo-like.nemo');
    const hex = 'b7e9fb8a3c4d4e5f9a0b1c2d3e4f5a6b';
    rewrite(
      r.nemoPath,
      nemoLike,
      (c) => {
        c.tokenizer = { dir: '/gone/tokenizer_spe_bpe_v96', type: 'bpe', model_path: `nemo:${hex}_tokenizer.model`, vocab_path: `nemo:${hex}_vocab.txt` };
      },
      (x) =>
        new Map([
          [`${hex}_tokenizer.model`, x.get(names[0]!)!],
          [`${hex}_vocab.txt`, x.get(names[1]!)!],
        ]),
    );
    const n = await loadCtcModel(nemoLike);
    t.noGrad(() => n.decoder.decoder_layers.items[0]!.weight.mul_(20));
    assert.equal(n.transcribe([audio])[0]!.text, off.text);
    n.dispose();

    // a missing tokenizer member, a decoder vocabulary that is not the tokenizer's: clear errors, nothing leaked
    const noTok = join(dir, 'no-tokenizer.nemo');
    rewrite(
      r.nemoPath,
      noTok,
      () => {},
      (x) => new Map([...x].filter(([k]) => k !== names[0])),
    );
    await assert.rejects(loadCtcModel(noTok), new RegExp(`${noTok}: tokenizer\\.model_path is "nemo:${names[0]}" but the archive has no member ${names[0]}`));
    const swapped = join(dir, 'swapped.nemo');
    rewrite(
      r.nemoPath,
      swapped,
      (c) => ((c.decoder as { vocabulary: string[] }).vocabulary = [pieces[1]!, pieces[0]!, ...pieces.slice(2)]),
      (x) => x,
    );
    await assert.rejects(loadCtcModel(swapped), /model\.decoder\.vocabulary does not match the tokenizer .*piece 0 is "he" vs "<unk>"/);

    // the commands need no new flags
    const tr = await import('../../src/cli/commands/transcribe.js');
    assert.equal(await tr.run(['--model', r.nemoPath, '--audio', wav, '--json']), 0);
    const evalCmd = await import('../../src/cli/commands/eval.js');
    const report = join(dir, 'report.json');
    assert.equal(
      await evalCmd.run(['--model', r.nemoPath, '--manifest', join(root, 'data/corpus/val_manifest.json'), '--streaming', '--out', report, '--limit', '1']),
      0,
    );
    const rep = JSON.parse(readFileSync(report, 'utf8'));
    assert.equal(rep.utterances.length, 1);
    assert.ok(rep.totals.words > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(t.liveTensorCount(), before, 'leaked tensors');
});
