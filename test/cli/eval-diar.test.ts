// `streamnest eval-diar` and `streamnest make-diarization-corpus` in-process: scoring RTTM files, folders and a
// diarization manifest (the md-eval fixture numbers come out), argument errors, and a made corpus scored against itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/assert.js';
import { captureOutput } from '../helpers/capture-output.js';
import { ArgError } from '../../src/cli/args.js';
import { run as evalDiar } from '../../src/cli/commands/eval-diar.js';
import { run as makeDiarizationCorpus } from '../../src/cli/commands/make-diarization-corpus.js';

const dir = mkdtempSync(join(tmpdir(), 'streamnest-eval-diar-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const FIX = join(REPO_ROOT, 'test', 'fixtures', 'diarization');

async function capture(run: (a: string[]) => Promise<number>, args: string[]): Promise<{ code: number; stdout: string }> {
  const r = await captureOutput(() => run(args));
  return { code: r.value, stdout: r.stdout };
}

test('eval-diar scores RTTM files with a UEM and prints the md-eval DER (11.18% at collar 0.25, 21.21% without)', async () => {
  const base = [
    '--ref',
    join(FIX, 'two-recordings-uem.ref.rttm'),
    '--hyp',
    join(FIX, 'two-recordings-uem.hyp.rttm'),
    '--uem',
    join(FIX, 'two-recordings-uem.uem'),
  ];
  const a = await capture(evalDiar, base);
  assert.equal(a.code, 0);
  assert.match(a.stdout, /total\s+DER\s+11\.18%/);
  assert.match(a.stdout, /2 recordings, collar 0\.25 s/);
  const b = await capture(evalDiar, [...base, '--collar', '0', '--per-file']);
  assert.match(b.stdout, /total\s+DER\s+21\.21%/);
  assert.match(b.stdout, /^recA\s+DER .*spk0->s\d/m);
  const j = await capture(evalDiar, [...base, '--json', '--skip-overlap']);
  const report = JSON.parse(j.stdout) as { total: { der: number }; recordings: { file: string }[] };
  assert.ok(Math.abs(100 * report.total.der - 11.53) < 0.005);
  assert.deepEqual(
    report.recordings.map((r) => r.file),
    ['recA', 'recB'],
  );
});

test('eval-diar reads folders of RTTM and a diarization manifest; errors are argument errors', async () => {
  const refDir = join(dir, 'ref');
  const hypDir = join(dir, 'hyp');
  mkdirSync(refDir);
  mkdirSync(hypDir);
  for (const c of ['overlaps', 'missed-speakers']) {
    copyFileSync(join(FIX, `${c}.ref.rttm`), join(refDir, `${c}.rttm`));
    copyFileSync(join(FIX, `${c}.hyp.rttm`), join(hypDir, `${c}.rttm`));
  }
  const r = await capture(evalDiar, ['--ref', refDir, '--hyp', hypDir, '--collar', '0', '--per-file']);
  assert.match(r.stdout, /^missed\s+DER\s+46\.23%/m); // md-eval's numbers for each case
  assert.match(r.stdout, /^overlaps\s+DER\s+15\.02%/m);
  const manifest = join(dir, 'm.json');
  writeFileSync(
    manifest,
    `${['overlaps', 'missed-speakers'].map((c) => JSON.stringify({ audio_filepath: join(FIX, 'md-eval.json'), offset: 0, duration: null, label: 'infer', text: '-', num_speakers: null, rttm_filepath: join(refDir, `${c}.rttm`), uem_filepath: null })).join('\n')}\n`,
  );
  const m = await capture(evalDiar, ['--manifest', manifest, '--hyp', hypDir, '--collar', '0']);
  assert.match(m.stdout, /2 recordings/);
  await assert.rejects(evalDiar(['--hyp', hypDir]), ArgError);
  await assert.rejects(evalDiar(['--ref', refDir]), /--hyp is required/);
  await assert.rejects(
    evalDiar(['--ref', refDir, '--hyp', hypDir, '--model', 'm.nemo']),
    /--model runs on a manifest's audio; give --manifest instead of --ref/,
  );
  await assert.rejects(evalDiar(['--ref', join(dir, 'nope'), '--hyp', hypDir]), /nope: no such RTTM file or folder/);
  writeFileSync(join(dir, 'bad.rttm'), 'SPEAKER f 1 0 1 <NA> <NA> a <NA> <NA>\nSPEAKER f 1 2 -1 <NA> <NA> a <NA> <NA>\n');
  await assert.rejects(evalDiar(['--ref', join(dir, 'bad.rttm'), '--hyp', hypDir]), /bad\.rttm:2: negative duration/);
});

test('make-diarization-corpus writes sessions that score 0% DER against their own RTTM', async () => {
  const out = join(dir, 'corpus');
  const r = await capture(makeDiarizationCorpus, ['--out', out, '--sessions', '2', '--seed', '3', '--session-seconds', '10', '--overlap-prob', '0.5']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /wrote .*: 2 sessions/);
  assert.match(r.stdout, /overlap \d+\.\d% of speech/);
  const s = await capture(evalDiar, ['--manifest', join(out, 'diarization_manifest.json'), '--hyp', join(out, 'rttm')]);
  assert.match(s.stdout, /total\s+DER\s+0\.00%/);
  await assert.rejects(makeDiarizationCorpus([]), /--out DIR is required/);
  await assert.rejects(makeDiarizationCorpus(['--out', out, '--speakers', ',']), /empty speaker list/);
});
