// The automatic fixed feature statistics at pretraining start (fillFixedStatistics): a config that asks for them
// without a usable training manifest is refused with a message that says how to compute them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigMap } from '../../src/config/index.js';
import { fillFixedStatistics } from '../../src/train/feature-statistics.js';

const asking = (trainDs: Record<string, unknown>): ConfigMap =>
  ({ model: { preprocessor: { normalize: { fixed_mean: null, fixed_std: null } }, train_ds: trainDs } }) as unknown as ConfigMap;
const opts = { baseDir: '/', cachePath: '/nonexistent/stats.json', log: () => {} };

test('a config that does not ask for an estimate is returned as null', async () => {
  const cfg = { model: { preprocessor: { normalize: 'per_feature' }, train_ds: {} } } as unknown as ConfigMap;
  assert.equal(await fillFixedStatistics(cfg, opts), null);
});

test('no training manifest: the error says how to compute the statistics', async () => {
  await assert.rejects(fillFixedStatistics(asking({ manifest_filepath: null }), opts), /manifest_filepath is not set: .*streamnest stats --manifest FILE/);
});

test('a tarred (also bucketed) training set: refused, the estimate reads plain manifests only', async () => {
  const bucketed = { is_tarred: true, manifest_filepath: [['/d/bucket1/tarred_audio_manifest.json'], ['/d/bucket2/tarred_audio_manifest.json']] };
  await assert.rejects(fillFixedStatistics(asking(bucketed), opts), /model\.train_ds is tarred \(is_tarred: true\).*streamnest stats --manifest FILE/);
});
