// A NEST .nemo must load in NeMo, whose EncDecDenoiseMaskedTokenPredModel builds RandomBlockMasking(**masking) and
// fails on keys it does not know. streamnest's masking keys (causal, left_context_size, block_sizes,
// block_size_probs) are therefore written under the model-level streamnest_masking (NeMo ignores unknown model keys)
// and read back into masking: the model streamnest reloads masks as the one it trained.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parse } from 'yaml';
import { ConfigError, loadConfig, withMaskingExtensions } from '../../src/config/index.js';
import { buildNestModel } from '../../src/ssl/nest-factory.js';
import { writeNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { loadNemoModel } from '../../src/checkpoint/nemo-model.js';
import { modelConfigYaml } from '../../src/train/nest-pretraining.js';

// nemo.collections.asr.modules.ssl_modules.masking.RandomBlockMasking.__init__ (spec 02 §1.1) plus hydra's _target_
const NEMO_MASKING_ARGS = ['_target_', 'feat_in', 'mask_prob', 'block_size', 'mask_value', 'freeze', 'allow_overlap', 'max_mask_ratio'];

test("a NEST .nemo keeps streamnest's masking keys out of NeMo's masking section and reloads them", () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamnest-masking-keys-'));
  try {
    const { config, raw } = loadConfig('tiny', [
      '+model.masking.block_sizes=[10,20,40]',
      '+model.masking.block_size_probs=[0.5,0.25,0.25]',
      'model.masking.left_context_size=12',
    ]);
    const yaml = modelConfigYaml(raw);
    const stored = parse(yaml) as Record<string, Record<string, unknown>>;
    for (const k of Object.keys(stored.masking!)) assert.ok(NEMO_MASKING_ARGS.includes(k), `masking.${k} would break NeMo's RandomBlockMasking`);
    assert.deepEqual(stored.streamnest_masking, { causal: true, left_context_size: 12, block_sizes: [10, 20, 40], block_size_probs: [0.5, 0.25, 0.25] });
    const m = buildNestModel(config.model, 3);
    const path = join(dir, 'm.nemo');
    writeNemoArchive(path, { configYaml: yaml, stateDict: m.stateDict() });
    m.dispose();
    const back = loadNemoModel(path);
    try {
      assert.equal(back.kind, 'nest');
      if (back.kind !== 'nest') return;
      assert.deepEqual(back.nestConfig.masking, config.model.masking, 'the reloaded masking config is the trained one');
    } finally {
      back.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a config without streamnest masking keys is written unchanged; bad streamnest_masking sections are refused by key', () => {
  const loaded = loadConfig('nest_fast-conformer', ['model.train_ds.manifest_filepath=t.json', 'model.validation_ds.manifest_filepath=v.json']);
  const stored = parse(modelConfigYaml(loaded.raw)) as Record<string, unknown>;
  assert.equal(stored.streamnest_masking, undefined);
  const masking = { feat_in: 80, block_size: 40, causal: true };
  assert.throws(
    () => withMaskingExtensions({ masking, streamnest_masking: { causal: false } }, 'x.nemo'),
    (e: Error) => e instanceof ConfigError && /streamnest_masking\.causal: is also set in masking/.test(e.message),
  );
  assert.throws(
    () => withMaskingExtensions({ masking, streamnest_masking: { mask_prob: 0.1 } }, 'x.nemo'),
    (e: Error) => e instanceof ConfigError && /streamnest_masking\.mask_prob: is not one of streamnest's masking keys/.test(e.message),
  );
  assert.throws(() => withMaskingExtensions({ masking, streamnest_masking: 3 }, 'x.nemo'), /must be a mapping/);
  assert.deepEqual(withMaskingExtensions({ masking: { feat_in: 80 }, streamnest_masking: { causal: true } }, 'x.nemo'), {
    masking: { feat_in: 80, causal: true },
  });
});
