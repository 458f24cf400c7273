// The README's TypeScript example runs as pasted: its code block is compiled (TypeScript's transpiler, as tsc would),
// run by Node with `import ... from 'streamnest'` resolving to this package, and its final text equals
// `streamnest transcribe --streaming` on the same file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { writeWav } from '../../src/audio/wav.js';
import { loadAudio, resample } from '../../src/audio/index.js';
import { repoRoot } from '../../src/data/corpus.js';
import { writeServingModel } from './model.js';

const ROOT = repoRoot();
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** The first ```ts block under the README heading `heading`. */
function readmeBlock(heading: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(`\n${heading}\n`);
  assert.ok(at >= 0, `README has no heading '${heading}'`);
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, `no ts block under '${heading}'`);
  return m[1]!;
}

test("the README's recognizer example runs as pasted and agrees with transcribe --streaming", () => {
  const tmp = mkdtempSync(join(tmpdir(), 'streamnest-readme-'));
  // the compiled example sits inside the package (dist/) so that 'streamnest' resolves by package self-reference
  const script = join(ROOT, 'dist', `readme-example-${process.pid}.mjs`);
  try {
    const nemo = join(tmp, 'model.nemo');
    writeServingModel(nemo).dispose();
    // a 44.1 kHz copy of a corpus clip: the example must resample it
    const clip = loadAudio(join(ROOT, 'data', 'corpus', 'val', 'val-00003.wav'));
    const wav = join(tmp, 'clip44.wav');
    writeWav(wav, resample(clip.samples, clip.sampleRate, 44100), 44100);
    const js = ts.transpileModule(readmeBlock('### From TypeScript'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      reportDiagnostics: true,
    });
    assert.deepEqual(js.diagnostics ?? [], []);
    writeFileSync(script, js.outputText);
    const run = spawnSync(process.execPath, [script, nemo, wav], { encoding: 'utf8', cwd: ROOT, timeout: 120_000 });
    assert.equal(run.status, 0, run.stderr);
    const final = /^final: (.*)$/m.exec(run.stdout);
    assert.ok(final, run.stdout);
    const cli = spawnSync(process.execPath, [MAIN, 'transcribe', '--model', nemo, '--audio', wav, '--streaming', '--json'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(cli.status, 0, cli.stderr);
    const expected = (JSON.parse(cli.stdout) as { text: string }).text;
    assert.ok(expected.length > 5, `transcribe gave '${expected}'`);
    // the example prints segments at endpoints, then the last segment: together they are the whole transcript
    // (compared without spaces: an endpoint between two labels of one word splits it in two)
    const segments = [...run.stdout.matchAll(/^segment: (.*)$/gm)].map((m) => m[1]!);
    const squash = (x: string): string => x.replace(/ /g, '');
    assert.equal(squash([...segments, final[1]!].join('')), squash(expected));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(script, { force: true });
  }
});
