// Export proof: a NEST model written the way `pretrain` writes its final .nemo (writeNemoArchive + modelConfigYaml)
// reads back through the NeMo-archive import path with every tensor and every output bit-identical.
// (tools/verify_nemo_export.py checks the same file from the PyTorch side; see README "NeMo interop".)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as t from '../../src/torch/index.js';
import { loadConfig } from '../../src/config/index.js';
import { buildNestModel } from '../../src/ssl/nest-factory.js';
import { writeNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { loadNemoModel } from '../../src/checkpoint/nemo-model.js';
import { modelConfigYaml } from '../../src/train/nest-pretraining.js';
import { sameBits } from './asr-archive.js';

const tmp = mkdtempSync(join(tmpdir(), 'streamnest-export-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

test('a NEST model exported as .nemo reloads through loadNemoModel bit for bit (weights, buffers, features, encoder, decoder)', () => {
  const live = t.liveTensorCount();
  const { config, raw } = loadConfig('tiny');
  const model = buildNestModel(config.model, 5).eval();
  // perturb a LayerNorm / bias so that freshly initialised constants (ones, zeros) cannot pass by coincidence
  const g = new t.Generator(11);
  t.tidy(() =>
    t.noGrad(() => {
      for (const p of model.parameters()) p.add_(t.randn(p.shape, { generator: g }).mul(0.01));
    }),
  );
  const path = join(tmp, 'tiny.nemo');
  writeNemoArchive(path, { configYaml: modelConfigYaml(raw), stateDict: model.stateDict() });

  const back = loadNemoModel(path);
  assert.equal(back.kind, 'nest');
  if (back.kind !== 'nest') return;
  assert.equal(back.target, 'nemo.collections.asr.models.ssl_models.EncDecDenoiseMaskedTokenPredModel');
  const a = model.stateDict();
  const b = back.model.stateDict();
  assert.deepEqual([...b.keys()], [...a.keys()], 'same keys in the same order');
  for (const [k, v] of a) assert.ok(sameBits(b.get(k)!, v), `${k} bit-identical`);

  t.tidy(() =>
    t.noGrad(() => {
      const g = new t.Generator(3);
      const audio = t.randn([2, 16000], { generator: g }).mul(0.1);
      const lens = t.tensor([16000, 12345], [2], { dtype: 'int64' });
      const fa = model.preprocessor.forward(audio, lens);
      const fb = back.preprocessor.forward(audio, lens);
      assert.ok(sameBits(fa.features, fb.features), 'features bit-identical');
      for (const ctx of config.model.encoder.att_context_size) {
        const ea = model.encoder.forward(fa.features, fa.lengths, { attContextSize: [ctx[0], ctx[1]] });
        const eb = back.encoder.forward(fb.features, fb.lengths, { attContextSize: [ctx[0], ctx[1]] });
        assert.ok(sameBits(ea.encoded, eb.encoded), `encoder output bit-identical at [${ctx.join(',')}]`);
        assert.ok(sameBits(model.decoder.forward(ea.encoded), back.model.decoder.forward(eb.encoded)), 'decoder log-probs bit-identical');
      }
      assert.ok(sameBits(model.quantizer.forward(fa.features).xid, back.model.quantizer.forward(fb.features).xid), 'quantizer tokens identical');
    }),
  );
  back.dispose();
  model.dispose();
  assert.equal(t.liveTensorCount(), live, 'no tensors leaked');
});
