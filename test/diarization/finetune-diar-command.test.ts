// `streamnest finetune-diar` in process on simulated sessions with a golden cache-aware .nemo as --init: the encoder
// starts from --init's weights (kept while frozen) or from scratch, the run leaves a diarizer .nemo that eval-diar
// --model scores offline and streamed with the same numbers; bad flags are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import * as t from '../../src/torch/index.js';
import { readNemoArchive, writeNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { run as finetuneDiar } from '../../src/cli/commands/finetune-diar.js';
import { run as evalDiar } from '../../src/cli/commands/eval-diar.js';
import { makeDiarizationCorpus } from '../../src/diarization/diarization-corpus.js';
import { loadDiarizer } from '../../src/diarization/diarizer-archive.js';
import { DEFAULT_TURN_STATISTICS } from '../../src/diarization/session-plan.js';
import { GOLDEN, REPO_ROOT } from '../helpers/assert.js';
import { captureOutput } from '../helpers/capture-output.js';

const dir = mkdtempSync(join(tmpdir(), 'streamnest-finetune-diar-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** The golden chunked_limited .nemo with streamable feature normalisation (NeMo's per_feature cannot stream). */
function streamableInit(): string {
  const a = readNemoArchive(join(GOLDEN, 'nemo', 'e_chunked_limited.nemo'));
  const cfg = parse(a.configYaml) as Record<string, Record<string, unknown>>;
  cfg.preprocessor!.normalize = 'NA';
  const out = join(dir, 'init.nemo');
  writeNemoArchive(out, { configYaml: stringify(cfg), stateDict: a.stateDict, extra: a.extra });
  for (const v of a.stateDict.values()) v.dispose();
  return out;
}

function encoderTensor(path: string, key: string): number[] {
  const a = readNemoArchive(path, { extra: 'none' });
  try {
    return a.stateDict.get(key)!.toArray();
  } finally {
    for (const v of a.stateDict.values()) v.dispose();
  }
}

test('finetune-diar: pretrained (encoder frozen: kept) and from scratch; eval-diar --model streams the same DER as offline', async () => {
  const init = streamableInit();
  const corpus = join(dir, 'corpus');
  await makeDiarizationCorpus({
    manifests: [join(REPO_ROOT, 'data', 'corpus', 'train_manifest.json')],
    outDir: corpus,
    sessions: 4,
    seed: 8,
    stats: { ...DEFAULT_TURN_STATISTICS, maxSpeakers: 3, sessionSeconds: 5 },
  });
  const manifest = join(corpus, 'diarization_manifest.json');
  const common = ['--init', init, '--manifest', manifest, '--val-manifest', manifest, '--exp-dir', dir, '--max-steps', '4', '--batch-size', '2'];
  const flags = ['--val-check-interval', '2', '--lr', '1e-3', '--warmup-steps', '2', '--quiet'];
  const pre = await captureOutput(() => finetuneDiar([...common, ...flags, '--name', 'pre', '--freeze-encoder-steps', '4']));
  assert.match(pre.stdout, /finetune-diar: 4 steps \(max_steps\), last loss [\d.]+; model .*pre\.nemo/);
  const scratch = await captureOutput(() => finetuneDiar([...common, ...flags, '--name', 'scratch', '--from-scratch']));
  assert.match(scratch.stdout, /4 steps/);
  const preNemo = join(dir, 'pre', 'checkpoints', 'pre.nemo');
  const scratchNemo = join(dir, 'scratch', 'checkpoints', 'scratch.nemo');
  assert.ok(existsSync(preNemo) && existsSync(scratchNemo));
  const key = 'encoder.layers.0.self_attn.linear_q.weight';
  assert.deepEqual(encoderTensor(preNemo, key), encoderTensor(init, key), 'frozen pretrained encoder kept');
  assert.notDeepEqual(encoderTensor(scratchNemo, key), encoderTensor(init, key), 'from scratch');
  const before = t.liveTensorCount();
  const loaded = loadDiarizer(preNemo);
  assert.equal(loaded.model.numSpeakers, 4);
  loaded.model.dispose();
  assert.equal(t.liveTensorCount(), before);
  const args = ['--manifest', manifest, '--model', preNemo, '--threshold', '0.3', '--per-file'];
  const off = await captureOutput(() => evalDiar(args));
  const str = await captureOutput(() => evalDiar([...args, '--streaming']));
  assert.match(off.stdout, /^total\s+DER/m);
  assert.equal(str.stdout, off.stdout);
  console.log(`# ${off.stdout.split('\n').find((l) => l.startsWith('total'))}`);
});

test('finetune-diar: bad flags are refused with the reason', async () => {
  await assert.rejects(finetuneDiar(['--manifest', 'x.json']), /--init MODEL\.nemo and --manifest FILE are required/);
  await assert.rejects(finetuneDiar(['--init', 'a.nemo', '--manifest', 'x.json', '--batch-size', '0']), /--batch-size must be >= 1, got 0/);
  await assert.rejects(finetuneDiar(['--init', 'a.nemo', '--manifest', 'x.json', '--ats-weight', '0', '--pil-weight', '0']), /not both 0/);
  await assert.rejects(finetuneDiar(['--init', 'a.nemo', '--manifest', 'x.json', '--dropout', '1']), /--dropout must be in \[0, 1\)/);
});
