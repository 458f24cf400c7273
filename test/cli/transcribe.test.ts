// `streamnest transcribe` and `streamnest eval` as child processes load through the validated .nemo loader
// (loadNemoCtcModel): a character CTC archive transcribes offline and streaming alike and is scored on a manifest;
// a NEST archive and an archive with a bad config are refused with the loader's errors; a transducer archive with
// modified beam search streams to its offline transcript.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { GOLDEN } from '../helpers/assert.js';
import { writeCharCtcArchive } from '../checkpoint/asr-archive.js';
import { writeServingModel } from '../serving/model.js';
import { writeServingRnntModel } from '../serving/rnnt-model.js';
import { repoRoot } from '../../src/data/corpus.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'streamnest-transcribe-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const audio = join(GOLDEN, 'audio', 'speech_fox.wav');

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, STREAMNEST_DEBUG: '' }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('transcribe (offline and streaming) and eval load a character CTC archive', () => {
  const nemo = join(tmp, 'ctc.nemo');
  writeCharCtcArchive(nemo).dispose();
  const off = cli(['transcribe', '--model', nemo, '--audio', audio, '--json']);
  assert.equal(off.code, 0, off.stderr);
  const o = JSON.parse(off.stdout) as { mode: string; text: string };
  assert.equal(o.mode, 'offline');
  const str = cli(['transcribe', '--model', nemo, '--audio', audio, '--json', '--streaming']);
  assert.equal(str.code, 0, str.stderr);
  const s = JSON.parse(str.stdout) as { mode: string; text: string; streaming: { exact: boolean } };
  assert.equal(s.mode, 'streaming');
  assert.equal(s.streaming.exact, true);
  assert.equal(s.text, o.text, 'fully causal: the streaming transcript is the offline one');
  const man = join(tmp, 'm.json');
  writeFileSync(man, JSON.stringify({ audio_filepath: audio, duration: 1.0, text: 'the quick brown fox' }) + '\n');
  const ev = cli(['eval', '--model', nemo, '--manifest', man, '--json']);
  assert.equal(ev.code, 0, ev.stderr);
  const e = JSON.parse(ev.stdout) as { totals: { utterances: number; words: number }; utterances: { hypothesis?: string }[] };
  assert.equal(e.totals.utterances, 1);
  assert.equal(e.totals.words, 4);
});

test("transcribe and eval refuse a NEST archive and a bad config with the loader's errors", () => {
  const nest = join(GOLDEN, 'nemo', 'b_fully_causal.nemo');
  let r = cli(['transcribe', '--model', nest, '--audio', audio]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /b_fully_causal\.nemo: a NEST SSL model \(nemo\.collections\.asr\.models\.ssl_models\.EncDecDenoiseMaskedTokenPredModel\), not a CTC model/,
  );
  const bad = join(tmp, 'bad.nemo');
  writeCharCtcArchive(bad, (c) => Object.assign(c.encoder as object, { subsampling: 'vggnet' })).dispose();
  const man = join(tmp, 'm2.json');
  writeFileSync(man, JSON.stringify({ audio_filepath: audio, duration: 1.0, text: 'x' }) + '\n');
  r = cli(['eval', '--model', bad, '--manifest', man]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.nemo: model_config\.yaml[\s\S]*encoder\.subsampling: 'vggnet' is not implemented/);
});

test('transcribe and eval --att-context-size: each trained pair of a multi-look-ahead model, streaming equal to offline; others refused', () => {
  const nemo = join(tmp, 'multi.nemo');
  writeServingModel(nemo, 'chunked_limited', [
    [16, 3],
    [16, 0],
  ]).dispose();
  const clip = join(repoRoot(), 'data', 'corpus', 'val', 'val-00000.wav');
  for (const pair of ['16,3', '16,0']) {
    const runs = [[], ['--streaming']].map((more) => {
      const r = cli(['transcribe', '--model', nemo, '--audio', clip, '--json', '--att-context-size', pair, ...more]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { text: string; attContextSize: number[]; streaming?: { chunk: string; exact: boolean } };
    });
    const [off, str] = runs as [(typeof runs)[0], (typeof runs)[0]];
    assert.deepEqual(off.attContextSize.join(','), pair);
    assert.deepEqual(str.attContextSize.join(','), pair);
    assert.match(str.streaming!.chunk, new RegExp(`context \\[${pair.replace(',', ', ')}\\]`));
    assert.equal(str.streaming!.exact, true);
    assert.ok(off.text.length > 0);
    assert.equal(str.text, off.text, `[${pair}]: streaming transcript is the offline one`);
  }
  const man = join(tmp, 'multi.json');
  writeFileSync(man, JSON.stringify({ audio_filepath: clip, duration: 1.0, text: 'x' }) + '\n');
  const ev = cli(['eval', '--model', nemo, '--manifest', man, '--json', '--streaming', '--att-context-size', '16,0']);
  assert.equal(ev.code, 0, ev.stderr);
  assert.deepEqual((JSON.parse(ev.stdout) as { attContextSize: number[] }).attContextSize, [16, 0]);
  const bad = cli(['transcribe', '--model', nemo, '--audio', clip, '--att-context-size', '16,1']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /transcribe: --att-context-size 16,1 is not one of .*multi\.nemo's trained contexts \(16,3 16,0\)/);
  const syntax = cli(['eval', '--model', nemo, '--manifest', man, '--att-context-size', 'x']);
  assert.equal(syntax.code, 2, syntax.stderr);
  assert.match(syntax.stderr, /--att-context-size: expected L,R/);
});

test('transcribe and eval decode a transducer archive with modified beam search (decoding.strategy beam), streaming equal to offline', () => {
  const nemo = join(tmp, 'rnnt-beam.nemo');
  writeServingRnntModel(nemo, 'chunked_limited', { strategy: 'beam', beam: { beam_size: 4 } }).dispose();
  const clip = join(repoRoot(), 'data', 'corpus', 'val', 'val-00003.wav');
  const runs = [[], ['--streaming']].map((more) => {
    const r = cli(['transcribe', '--model', nemo, '--audio', clip, '--json', ...more]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { mode: string; text: string; words: unknown[] };
  });
  assert.equal(runs[1]!.mode, 'streaming');
  assert.ok(runs[0]!.text.length > 3, runs[0]!.text);
  assert.deepEqual(runs[1]!.words, runs[0]!.words, 'streaming beam search: the offline words and times');
  const man = join(tmp, 'beam.json');
  writeFileSync(man, JSON.stringify({ audio_filepath: clip, duration: 1.0, text: 'x' }) + '\n');
  const ev = cli(['eval', '--model', nemo, '--manifest', man, '--json', '--streaming']);
  assert.equal(ev.code, 0, ev.stderr);
  assert.equal((JSON.parse(ev.stdout) as { mode: string }).mode, 'streaming');
});
