import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { encodeWavPcm16 } from '../../src/audio/wav.js';
import { readManifests } from '../../src/data/manifest.js';
import { BatchSampler } from '../../src/data/sampler.js';
import { AudioLoader } from '../../src/data/loader.js';
import { DataError, totalSkips } from '../../src/data/data-error.js';

const SR = 16000;
const tone = (seconds: number) => Float32Array.from({ length: Math.round(seconds * SR) }, (_, i) => 0.2 * Math.sin(i / 10));

/** A folder with good.wav (2 s), corrupt.wav (garbage), truncated.wav (header promises more data), empty.wav (0 samples). */
function fixture(): string {
  const d = mkdtempSync(join(tmpdir(), 'streamnest-bad-'));
  writeFileSync(join(d, 'good.wav'), encodeWavPcm16(tone(2), SR));
  writeFileSync(join(d, 'good2.wav'), encodeWavPcm16(tone(1.5), SR));
  writeFileSync(join(d, 'corrupt.wav'), Buffer.from('this is not a wav file at all, just some text bytes'));
  const full = encodeWavPcm16(tone(2), SR);
  writeFileSync(join(d, 'truncated.wav'), full.subarray(0, 44 + 1001));
  writeFileSync(join(d, 'empty.wav'), encodeWavPcm16(new Float32Array(0), SR));
  return d;
}

function line(file: string, duration: number): string {
  return JSON.stringify({ audio_filepath: file, duration, offset: 0, text: '' });
}

async function loadAll(dir: string, lines: string[], skipBadAudio: boolean, checkFiles = true) {
  const m = join(dir, 'manifest.json');
  writeFileSync(m, lines.join('\n') + '\n');
  const set = readManifests(m, { skipBad: skipBadAudio, checkFiles });
  const sampler = new BatchSampler(
    set.entries.map((e) => ({ duration: e.duration, source: 0 })),
    { batchSize: set.entries.length, seed: 0, shuffle: false },
  );
  const loader = new AudioLoader(set.entries, [], sampler, { seed: 0, workers: 0, build: { skipBadAudio } });
  try {
    const b = await loader.next();
    return { set, batch: b, summary: loader.summary(), text: loader.formatSummary() };
  } finally {
    await loader.close();
  }
}

const CASES: { name: string; file: string; duration: number; reason: string; message: RegExp }[] = [
  { name: 'missing file', file: 'nope.wav', duration: 2, reason: 'missing_file', message: /manifest\.json:2: .*nope\.wav/ },
  { name: 'corrupt WAV', file: 'corrupt.wav', duration: 2, reason: 'bad_audio', message: /manifest\.json:2: .*corrupt\.wav/ },
  { name: 'truncated WAV', file: 'truncated.wav', duration: 2, reason: 'bad_audio', message: /manifest\.json:2: .*truncated\.wav: truncated/ },
  { name: 'zero-length clip', file: 'empty.wav', duration: 0, reason: 'empty_audio', message: /manifest\.json:2: .*empty\.wav: zero-length/ },
  {
    name: 'duration longer than the file',
    file: 'good2.wav',
    duration: 3.5,
    reason: 'duration_mismatch',
    message: /manifest\.json:2: .*good2\.wav: the manifest asks for 3\.5s .* only 1\.500s/,
  },
];

for (const c of CASES) {
  test(`bad input: ${c.name} -> clear error naming the file and manifest line`, async () => {
    const d = fixture();
    try {
      // missing files are caught when reading the manifest; test the loader path too by not checking there
      await assert.rejects(loadAll(d, [line('good.wav', 2), line(c.file, c.duration)], false, false), (e: unknown) => {
        assert.ok(e instanceof DataError, `not a DataError: ${e}`);
        assert.equal(e.reason, c.reason);
        assert.match(e.message, c.message);
        return true;
      });
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test(`bad input: ${c.name} under skip_bad_audio -> counted skip in the summary`, async () => {
    const d = fixture();
    try {
      const r = await loadAll(d, [line('good.wav', 2), line(c.file, c.duration)], true, false);
      assert.equal(r.batch.batchSize, 1);
      assert.deepEqual(r.batch.indices, [0]);
      assert.equal(r.summary.skips.counts[c.reason as keyof typeof r.summary.skips.counts], 1);
      assert.equal(totalSkips(r.summary.skips), 1);
      assert.match(r.text, new RegExp(`skipped: ${c.reason} 1`));
      assert.match(r.summary.skips.examples[0]!, c.message);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
}

test('bad input: a missing file is already caught when reading the manifest (error or counted skip)', () => {
  const d = fixture();
  try {
    const m = join(d, 'manifest.json');
    writeFileSync(m, [line('good.wav', 2), line('nope.wav', 2)].join('\n'));
    assert.throws(() => readManifests(m), /manifest\.json:2: audio file not found: .*nope\.wav/);
    const set = readManifests(m, { skipBad: true });
    assert.equal(set.entries.length, 1);
    assert.deepEqual(set.skips.counts, { missing_file: 1 });
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('bad input: malformed manifest lines -> error with the line numbers, or counted skips', () => {
  const d = fixture();
  try {
    const m = join(d, 'manifest.json');
    writeFileSync(
      m,
      [line('good.wav', 2), '{"audio_filepath": "good.wav", "duration": 2', '', '[1, 2]', '{"audio_filepath": "good2.wav", "duration": "long"}'].join('\n'),
    );
    assert.throws(
      () => readManifests(m),
      (e: unknown) => {
        assert.ok(e instanceof DataError);
        assert.match(e.message, /3 bad manifest lines/);
        assert.match(e.message, /manifest\.json:2: not valid JSON/);
        assert.match(e.message, /manifest\.json:4: expected a JSON object/);
        assert.match(e.message, /manifest\.json:5: 'duration' must be a non-negative number, got "long"/);
        return true;
      },
    );
    writeFileSync(m, [line('good.wav', 2), '{"audio_filepath": "good.wav", "duration": 2'].join('\n'));
    assert.throws(() => readManifests(m), /^DataError: .*manifest\.json:2: not valid JSON/);
    assert.throws(
      () => readManifests(m),
      (e: unknown) => e instanceof DataError && e.where.endsWith('manifest.json:2'),
    );
    const set = readManifests(m, { skipBad: true });
    assert.equal(set.entries.length, 1);
    assert.deepEqual(set.skips.counts, { malformed_line: 1 });
    assert.match(readFileSync(m, 'utf8'), /good/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('bad input: a batch whose every item is bad is skipped; the loader moves on', async () => {
  const d = fixture();
  try {
    const m = join(d, 'manifest.json');
    writeFileSync(m, [line('corrupt.wav', 2), line('empty.wav', 0), line('good.wav', 2), line('good2.wav', 1.5)].join('\n'));
    const set = readManifests(m);
    const sampler = new BatchSampler(
      set.entries.map((e) => ({ duration: e.duration, source: 0 })),
      { batchSize: 2, seed: 0, shuffle: false },
    );
    const loader = new AudioLoader(set.entries, [], sampler, { seed: 0, workers: 1, build: { skipBadAudio: true } });
    try {
      const b = await loader.next();
      assert.deepEqual(b.indices, [2, 3]);
      assert.deepEqual(loader.summary().skips.counts, { bad_audio: 1, empty_audio: 1 });
    } finally {
      await loader.close();
    }
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
