// NeMo's diarization manifest written and read back: key order, relative path resolution, errors naming the line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diarizationManifestLine, readDiarizationManifest, writeDiarizationManifest } from '../../src/diarization/diarization-manifest.js';

const dir = mkdtempSync(join(tmpdir(), 'streamnest-diar-manifest-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

test('written in NeMo key order and read back with manifest-relative paths resolved', () => {
  mkdirSync(join(dir, 'audio'));
  mkdirSync(join(dir, 'rttm'));
  writeFileSync(join(dir, 'audio', 'a.wav'), '');
  writeFileSync(join(dir, 'rttm', 'a.rttm'), '');
  const p = join(dir, 'manifest.json');
  writeDiarizationManifest(p, [diarizationManifestLine({ audioFilepath: 'audio/a.wav', duration: 12.5, numSpeakers: 3, rttmFilepath: 'rttm/a.rttm' })]);
  assert.equal(
    readFileSync(p, 'utf8'),
    '{"audio_filepath":"audio/a.wav","offset":0,"duration":12.5,"label":"infer","text":"-","num_speakers":3,"rttm_filepath":"rttm/a.rttm","uem_filepath":null}\n',
  );
  const [e] = readDiarizationManifest(p);
  assert.equal(e!.audioFilepath, join(dir, 'audio', 'a.wav'));
  assert.equal(e!.rttmFilepath, join(dir, 'rttm', 'a.rttm'));
  assert.equal(e!.uemFilepath, null);
  assert.equal(e!.numSpeakers, 3);
  assert.equal(e!.duration, 12.5);
  assert.equal(e!.where, `${p}:1`);
});

test('inference entries (no RTTM, null duration and speakers) are accepted; bad fields and missing files name the line', () => {
  const p = join(dir, 'infer.json');
  writeFileSync(join(dir, 'b.wav'), '');
  writeFileSync(p, '{"audio_filepath": "b.wav", "offset": 0, "duration": null, "label": "infer", "text": "-", "num_speakers": null, "rttm_filepath": null}\n');
  const [e] = readDiarizationManifest(p);
  assert.equal(e!.rttmFilepath, null);
  assert.equal(e!.numSpeakers, null);
  assert.equal(e!.duration, null);
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{"audio_filepath": "b.wav"}\n{"audio_filepath": "b.wav", "num_speakers": 0}\n');
  assert.throws(() => readDiarizationManifest(bad), /bad\.json:2: 'num_speakers' must be a positive integer/);
  writeFileSync(bad, '{"audio_filepath": "b.wav", "rttm_filepath": "nope.rttm"}\n');
  assert.throws(() => readDiarizationManifest(bad), /bad\.json:1: rttm_filepath not found: .*nope\.rttm/);
  writeFileSync(bad, '{"audio_filepath": "b.wav", "rttm_filepath": 3}\n');
  assert.throws(() => readDiarizationManifest(bad), /bad\.json:1: 'rttm_filepath' must be a path or null/);
  writeFileSync(bad, 'not json\n');
  assert.throws(() => readDiarizationManifest(bad), /bad\.json:1: not valid JSON/);
});
