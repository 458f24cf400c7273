import test from 'node:test';
import assert from 'node:assert/strict';
import { REPO_ROOT } from '../helpers/assert.js';
import { createDatasetLoader } from '../../src/data/dataset.js';

const TINY_TRAIN_DS = {
  manifest_filepath: 'data/corpus/train_manifest.json',
  noise_manifest: 'data/corpus/noise_manifest.json',
  sample_rate: 16000,
  batch_size: 4,
  shuffle: true,
  num_workers: 0,
  max_duration: 60.0,
  min_duration: null,
  drop_last: true,
  skip_bad_audio: false,
  pin_memory: true,
  batch_augmentor: {
    _target_: 'nemo.collections.asr.modules.ssl_modules.MultiSpeakerNoiseAugmentation',
    prob: 0.5,
    noise_ratio: 0.5,
    min_r_speech: -5.0,
    max_r_speech: 5.0,
    min_r_noise: -5.0,
    max_r_noise: 20.0,
    min_mix_rate: 0.5,
    max_mix_rate: 0.5,
    min_num_segments: 1,
    max_num_segments: 1,
    min_num_speakers: 1,
    max_num_speakers: 1,
  },
};

test('dataset: the tiny preset train_ds section builds a loader over the shipped corpus', async () => {
  const d = createDatasetLoader(TINY_TRAIN_DS, { seed: 1, baseDir: REPO_ROOT, where: 'model.train_ds' });
  try {
    assert.equal(d.sampler.batchesPerEpoch, 8);
    assert.equal(d.noise!.entries.length, 4);
    const b = await d.loader.next();
    assert.equal(b.batchSize, 4);
    assert.match(d.describe(), /model\.train_ds: 32 utterances/);
  } finally {
    await d.loader.close();
  }
  assert.throws(
    () => createDatasetLoader({ ...TINY_TRAIN_DS, batch_size: 'four' }, { seed: 1, baseDir: REPO_ROOT, where: 'model.train_ds' }),
    /model\.train_ds\.batch_size: expected a number/,
  );
  assert.throws(
    () => createDatasetLoader({ ...TINY_TRAIN_DS, batch_augmentor: { prob: 2 } }, { seed: 1, baseDir: REPO_ROOT, where: 'model.train_ds' }),
    /model\.train_ds\.batch_augmentor: prob must be in \[0, 1\]/,
  );
});
