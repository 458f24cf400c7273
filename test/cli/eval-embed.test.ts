// `streamnest eval-embed` in process: the EER of a hand-made set of shipped-corpus clips (3 voices, 2 clips each)
// equals the EER computed here from SpeakerEmbedder and the trial scoring (all pairs, and a seeded sample), streamed
// equals offline on a cache-aware model, and bad manifests (no speaker field, one speaker) are refused by file and line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { readNemoArchive, writeNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { run as evalEmbed } from '../../src/cli/commands/eval-embed.js';
import { embedUtterances, readSpeakerManifest } from '../../src/diarization/speaker-manifest.js';
import { loadEmbedderModel } from '../../src/diarization/speaker-model-archive.js';
import { allPairTrials, equalErrorRate } from '../../src/diarization/verification.js';
import { GOLDEN, REPO_ROOT } from '../helpers/assert.js';
import { captureOutput } from '../helpers/capture-output.js';

const dir = mkdtempSync(join(tmpdir(), 'streamnest-eval-embed-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
/** The golden chunked_limited .nemo with streamable feature normalisation. */
const MODEL = (() => {
  const a = readNemoArchive(join(GOLDEN, 'nemo', 'e_chunked_limited.nemo'));
  const cfg = parse(a.configYaml) as Record<string, Record<string, unknown>>;
  cfg.preprocessor!.normalize = 'NA';
  const out = join(dir, 'streamable.nemo');
  writeNemoArchive(out, { configYaml: stringify(cfg), stateDict: a.stateDict, extra: a.extra });
  for (const v of a.stateDict.values()) v.dispose();
  return out;
})();

/** A manifest of shipped-corpus clips with absolute paths; `edit` changes each parsed line. */
function manifest(name: string, n: number, edit: (o: Record<string, unknown>, i: number) => Record<string, unknown> = (o) => o): string {
  const src = join(REPO_ROOT, 'data', 'corpus', 'train_manifest.json');
  const lines = readFileSync(src, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const bySpeaker = new Map<string, Record<string, unknown>[]>();
  for (const o of lines) bySpeaker.set(String(o.speaker), [...(bySpeaker.get(String(o.speaker)) ?? []), o]);
  const picked = [...bySpeaker.values()]
    .filter((v) => v.length >= 2)
    .slice(0, n)
    .flatMap((v) => v.slice(0, 2));
  const out = join(dir, name);
  writeFileSync(
    out,
    `${picked.map((o, i) => JSON.stringify(edit({ ...o, audio_filepath: join(REPO_ROOT, 'data', 'corpus', String(o.audio_filepath)) }, i))).join('\n')}\n`,
  );
  return out;
}

async function json(args: string[]): Promise<Record<string, number | string | boolean>> {
  const r = await captureOutput(() => evalEmbed([...args, '--json']));
  return JSON.parse(r.stdout);
}

test('eval-embed: the EER of a hand-made set, all pairs and a seeded sample; streamed == offline', async () => {
  const m = manifest('six.json', 3);
  const loaded = loadEmbedderModel(MODEL);
  const rows = await embedUtterances(loaded.embedder, readSpeakerManifest(m), { streaming: null });
  loaded.dispose();
  const trials = allPairTrials(rows);
  const want = equalErrorRate(trials.scores, trials.target);
  const r = await json(['--model', MODEL, '--manifest', m]);
  assert.equal(r.utterances, 6);
  assert.equal(r.speakers, 3);
  assert.equal(r.trials, 15);
  assert.equal(r.target_trials, 3);
  assert.equal(r.all_pairs, true);
  assert.ok(Math.abs((r.eer as number) - want.eer) < 1e-12, `${r.eer} vs ${want.eer}`);
  assert.equal(r.threshold, want.threshold);
  assert.match(String(r.embedding), /pooled statistics/);
  const s = await json(['--model', MODEL, '--manifest', m, '--streaming']);
  assert.ok(Math.abs((s.eer as number) - want.eer) < 1e-6, `streamed ${s.eer} vs ${want.eer}`);
  const sample = await json(['--model', MODEL, '--manifest', m, '--max-trials', '8', '--seed', '3']);
  assert.equal(sample.trials, 8);
  assert.equal(sample.all_pairs, false);
});

test('eval-embed: a line without speaker and a one-speaker manifest are refused, naming the file and line', async () => {
  const noSpeaker = manifest('nospk.json', 2, (o, i) => {
    if (i !== 2) return o;
    const { speaker: _drop, ...rest } = o;
    return rest;
  });
  await assert.rejects(evalEmbed(['--model', MODEL, '--manifest', noSpeaker]), /nospk\.json:3: needs a 'speaker' field/);
  const one = manifest('one.json', 2, (o) => ({ ...o, speaker: 'same' }));
  await assert.rejects(evalEmbed(['--model', MODEL, '--manifest', one]), /one\.json: 1 speaker\(s\); speaker embeddings need at least 2/);
  await assert.rejects(evalEmbed(['--manifest', one]), /--model and --manifest are required/);
});
