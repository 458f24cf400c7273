// The package entry point (package.json main/types -> dist/src/index.js): the public names exist and work together.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as sn from '../src/index.js';

test("package.json's main and types point at the built entry point", () => {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { main: string; types: string };
  assert.equal(pkg.main, 'dist/src/index.js');
  assert.equal(pkg.types, 'dist/src/index.d.ts');
});

test('the public API: a preset loads, features are computed, a streaming geometry is configured for its encoder', () => {
  const { config } = sn.loadConfig('tiny');
  assert.equal(config.model.target_normalize, 'per_utterance');
  const pre = new sn.AudioToMelSpectrogramPreprocessor({ ...config.model.preprocessor, dither: 0 }).eval();
  const live = sn.torch.liveTensorCount();
  const samples = Float32Array.from({ length: 16000 }, (_, i) => Math.sin(i / 9) * 0.1);
  const n = sn.torch.tidy(() => {
    const f = pre.forward(sn.torch.tensor(samples, [1, samples.length]), [samples.length]);
    return f.lengths.toArray()[0];
  });
  assert.equal(n, 100, '100 frames of 10 ms in one second');
  assert.equal(sn.torch.liveTensorCount(), live);
  pre.dispose();
  assert.deepEqual(sn.utteranceWer('a b c', 'a x c').errors, 1);
  for (const name of [
    'loadNemoModel',
    'loadNemoCtcModel',
    'StreamingEncoder',
    'configureStreaming',
    'OnlineRecognizer',
    'transcribeStreaming',
    'pretrainNest',
    'finetuneCtc',
    'estimateFeatureStatistics',
    'FeatureStream',
  ]) {
    assert.equal(typeof (sn as Record<string, unknown>)[name], 'function', name);
  }
});
