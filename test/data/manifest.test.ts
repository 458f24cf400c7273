import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { REPO_ROOT } from '../helpers/assert.js';
import { formatManifestSummary, parseManifest, readManifests } from '../../src/data/manifest.js';
import { DataError } from '../../src/data/data-error.js';

function tmpManifestDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'streamnest-manifest-'));
  mkdirSync(join(d, 'wavs'));
  for (const n of ['a', 'b', 'c']) writeFileSync(join(d, 'wavs', `${n}.wav`), 'x');
  return d;
}

test('manifest: relative paths resolve against the manifest folder, other keys kept, offset null -> 0', () => {
  const d = tmpManifestDir();
  try {
    const text = [
      '{"audio_filepath": "wavs/a.wav", "duration": 2.5, "text": "hello", "speaker": 7}',
      '',
      `{"audio_filename": "${join(d, 'wavs', 'b.wav')}", "duration": 3, "offset": null}`,
      '{"audio_filepath": "wavs/c.wav"}',
    ].join('\n');
    const { entries, skips } = parseManifest(text, join(d, 'm.json'));
    assert.equal(entries.length, 3);
    assert.equal(entries[0]!.audioFilepath, join(d, 'wavs', 'a.wav'));
    assert.equal(entries[0]!.text, 'hello');
    assert.deepEqual(entries[0]!.extra, { speaker: 7 });
    assert.equal(entries[0]!.where, `${join(d, 'm.json')}:1`);
    assert.equal(entries[1]!.offset, 0);
    assert.equal(entries[1]!.where, `${join(d, 'm.json')}:3`);
    assert.equal(entries[2]!.duration, null);
    assert.deepEqual(skips.counts, {});
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('manifest: noise manifests do not accept audio_filename', () => {
  const d = tmpManifestDir();
  try {
    assert.throws(
      () => parseManifest('{"audio_filename": "wavs/a.wav"}', join(d, 'n.json'), { kind: 'noise' }),
      (e: unknown) => e instanceof DataError && e.reason === 'bad_field' && /n\.json:1: missing or empty 'audio_filepath'/.test(e.message),
    );
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('manifest: min/max duration filters are counted in the summary', () => {
  const d = tmpManifestDir();
  try {
    const text = [0.5, 2, 30, 70].map((x, i) => `{"audio_filepath": "wavs/${'abc'[i % 3]}.wav", "duration": ${x}}`).join('\n');
    const { entries, skips } = parseManifest(text, join(d, 'm.json'), { minDuration: 1, maxDuration: 60 });
    assert.deepEqual(
      entries.map((e) => e.duration),
      [2, 30],
    );
    assert.deepEqual(skips.counts, { below_min_duration: 1, above_max_duration: 1 });
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('manifest: several manifests (comma string) with weights; summary lists hours and skips', () => {
  const corpus = join(REPO_ROOT, 'data', 'corpus');
  const set = readManifests(`${join(corpus, 'train_manifest.json')}, ${join(corpus, 'val_manifest.json')}`, {
    weights: [1, 2],
    minDuration: 1.0,
    maxDuration: 60,
  });
  assert.equal(set.sources.length, 2);
  assert.equal(set.sources[1]!.weight, 2);
  assert.equal(set.entries.length, set.sources[0]!.utterances + set.sources[1]!.utterances);
  assert.ok(set.entries.every((e, i) => e.source === (i < set.sources[0]!.utterances ? 0 : 1)));
  const s = formatManifestSummary(set);
  assert.match(s, /utterances, 0\.0\d\d h; none skipped/);
  assert.throws(() => readManifests([join(corpus, 'val_manifest.json')], { weights: [1, 2] }), /2 weights for 1 manifests/);
});
