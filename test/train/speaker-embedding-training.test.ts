// `streamnest finetune-embed` in process on shipped-corpus clips with a golden cache-aware .nemo as --init: the
// encoder stays frozen (its weights are --init's in the written .nemo), the loss falls, validation logs the EER,
// the run leaves a speaker .nemo that embed reads with its trained layer (and --no-projection); bad flags are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { readNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { run as finetuneEmbed } from '../../src/cli/commands/finetune-embed.js';
import { run as embed } from '../../src/cli/commands/embed.js';
import { GOLDEN, REPO_ROOT } from '../helpers/assert.js';
import { captureOutput } from '../helpers/capture-output.js';

const dir = mkdtempSync(join(tmpdir(), 'streamnest-finetune-embed-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const INIT = join(GOLDEN, 'nemo', 'e_chunked_limited.nemo');
const TRAIN = join(REPO_ROOT, 'data', 'corpus', 'train_manifest.json');
const VAL = join(REPO_ROOT, 'data', 'corpus', 'val_manifest.json');
const AUDIO = join(REPO_ROOT, 'data', 'corpus', 'val', 'val-00000.wav');

function tensorOf(path: string, key: string): number[] {
  const a = readNemoArchive(path, { extra: 'none' });
  try {
    return a.stateDict.get(key)!.toArray();
  } finally {
    for (const v of a.stateDict.values()) v.dispose();
  }
}

test('finetune-embed: frozen encoder, falling loss, validation EER, a speaker .nemo that embed uses', async () => {
  const args = ['--init', INIT, '--manifest', TRAIN, '--val-manifest', VAL, '--exp-dir', dir, '--name', 'spk', '--quiet'];
  const r = await captureOutput(() => finetuneEmbed([...args, '--max-steps', '40', '--val-check-interval', '20', '--batch-size', '16', '--emb-dim', '16']));
  assert.match(r.stdout, /finetune-embed: 40 steps \(max_steps\).*best validation EER [\d.]+%; model .*spk\.nemo/);
  const nemo = join(dir, 'spk', 'checkpoints', 'spk.nemo');
  const rows = readFileSync(join(dir, 'spk', 'metrics.csv'), 'utf8')
    .trim()
    .split('\n');
  const head = rows[0]!.split(',');
  const cells = rows.slice(1).map((l) => l.split(','));
  const column = (name: string): number[] =>
    cells
      .map((c) => c[head.indexOf(name)] ?? '')
      .filter((v) => v !== '')
      .map(Number);
  const loss = column('train_loss');
  const eer = column('val_eer');
  assert.ok(loss.at(-1)! < loss[0]!, `loss ${loss[0]} -> ${loss.at(-1)}`);
  assert.equal(eer.length, 2, 'validated at steps 20 and 40');
  assert.ok(eer.every((v) => v >= 0 && v <= 1));
  // the encoder is --init's, unchanged
  const key = 'encoder.layers.0.feed_forward1.linear1.weight';
  assert.deepEqual(tensorOf(nemo, key), tensorOf(INIT, key));
  const cfg = readNemoArchive(nemo, { tensors: 'meta', extra: 'none' });
  for (const v of cfg.stateDict.values()) v.dispose();
  assert.match(cfg.configYaml, /target: nemo.collections.asr.models.label_models.EncDecSpeakerLabelModel/);
  assert.match(cfg.configYaml, /_target_: nemo.collections.asr.modules.SpeakerDecoder/);
  assert.match(cfg.configYaml, /emb_sizes: 16/);

  const out = join(dir, 'e.npy');
  let e = await captureOutput(() => embed(['--model', nemo, '--audio', AUDIO, '--out', out]));
  assert.match(e.stdout, /float32 \[16\] \(trained embedding layer \d+ -> 16 over/);
  assert.deepEqual(
    t.tidy(() => t.readNpy(out).shape),
    [16],
  );
  e = await captureOutput(() => embed(['--model', nemo, '--audio', AUDIO, '--out', out, '--no-projection']));
  assert.match(e.stdout, /pooled statistics \[\d+\] \(--no-projection\)/);

  await assert.rejects(finetuneEmbed([...args, '--batch-size', '1']), /--batch-size must be >= 2/);
  await assert.rejects(finetuneEmbed([...args, '--margin', '2']), /--margin must be in/);
  await assert.rejects(finetuneEmbed(['--manifest', TRAIN]), /--init MODEL.nemo and --manifest FILE are required/);
});
