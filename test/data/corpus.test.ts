import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { REPO_ROOT } from '../helpers/assert.js';
import { readWavInfo } from '../../src/audio/wav.js';
import { missingTools } from '../../src/data/tts.js';
import { readSentences } from '../../src/data/corpus.js';

const CORPUS = join(REPO_ROOT, 'data', 'corpus');

function readJsonLines(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch (e) {
        throw new Error(`${path}:${i + 1}: ${(e as Error).message}`);
      }
    });
}

/** Every line has the NeMo keys, its file exists, is 16 kHz mono and its duration matches the manifest. */
function checkManifest(path: string, minLines: number): Record<string, unknown>[] {
  const lines = readJsonLines(path);
  assert.ok(lines.length >= minLines, `${path}: ${lines.length} lines, expected >= ${minLines}`);
  for (const [i, l] of lines.entries()) {
    const where = `${path}:${i + 1}`;
    assert.equal(typeof l.audio_filepath, 'string', `${where}: audio_filepath`);
    assert.equal(typeof l.duration, 'number', `${where}: duration`);
    assert.equal(l.offset, 0, `${where}: offset`);
    assert.equal(typeof l.text, 'string', `${where}: text`);
    assert.ok(!(l.audio_filepath as string).startsWith('/'), `${where}: path should be relative`);
    const wav = join(dirname(path), l.audio_filepath as string);
    assert.ok(existsSync(wav), `${where}: ${wav} missing`);
    const info = readWavInfo(wav);
    assert.equal(info.sampleRate, 16000, `${where}: sample rate`);
    assert.equal(info.numChannels, 1, `${where}: channels`);
    assert.equal(info.bitsPerSample, 16, `${where}: bits`);
    assert.ok(Math.abs(info.duration - (l.duration as number)) < 1e-6, `${where}: file ${info.duration}s vs manifest ${l.duration}s`);
  }
  return lines;
}

test('shipped corpus: manifests parse, files exist, durations match, val sentences are not in train', () => {
  const train = checkManifest(join(CORPUS, 'train_manifest.json'), 10);
  const val = checkManifest(join(CORPUS, 'val_manifest.json'), 2);
  const noise = checkManifest(join(CORPUS, 'noise_manifest.json'), 4);
  const trainText = new Set(train.map((l) => l.text));
  for (const l of val) assert.ok(!trainText.has(l.text), `val sentence also in train: ${l.text}`);
  const kinds = new Set(noise.map((l) => l.noise_type));
  for (const k of ['white', 'pink', 'brown', 'babble']) assert.ok(kinds.has(k), `noise kind ${k} missing`);
  const minutes = train.concat(val).reduce((a, l) => a + (l.duration as number), 0) / 60;
  assert.ok(minutes > 1.5 && minutes < 3, `speech minutes ${minutes}`);
});

test('sentence list: a few hundred distinct sentences', () => {
  const s = readSentences(join(REPO_ROOT, 'data', 'sentences.txt'));
  assert.ok(s.length >= 200, `${s.length} sentences`);
  assert.equal(new Set(s).size, s.length, 'duplicate sentences');
});

const missing = missingTools();
test('make-corpus --minutes 0.1 writes a valid corpus', { skip: missing ? `skipped: ${missing}` : false }, async () => {
  const { run } = await import('../../src/cli/commands/make-corpus.js');
  const out = mkdtempSync(join(tmpdir(), 'streamnest-corpus-test-'));
  try {
    const rc = await run(['--out', out, '--minutes', '0.1', '--seed', '3', '--noise-seconds', '0.5']);
    assert.equal(rc, 0);
    const train = checkManifest(join(out, 'train_manifest.json'), 1);
    const val = checkManifest(join(out, 'val_manifest.json'), 1);
    checkManifest(join(out, 'noise_manifest.json'), 4);
    const trainText = new Set(train.map((l) => l.text));
    for (const l of val) assert.ok(!trainText.has(l.text));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
