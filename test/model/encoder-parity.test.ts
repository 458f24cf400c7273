// NeMo parity of the offline encoder forward: every encoder/*/offline golden case, weights from its .nemo archive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { assertClose } from '../helpers/assert.js';
import { buildGoldenEncoder, encoderWeights, golden, goldenCases, weightsPath, type GoldenFile } from './encoder-fixtures.js';

const cases = goldenCases('encoder/', 'encoder_offline');

test('there are offline encoder cases', () => {
  assert.ok(cases.length >= 7, `found ${cases.length}`);
});

for (const c of cases) {
  test(`${c.id}: loadStateDict is strict and complete, output matches NeMo on valid frames`, () => {
    const enc = buildGoldenEncoder(c);
    const sd = enc.stateDict();
    assert.equal(sd.size, encoderWeights(weightsPath(c)).size, 'every encoder.* key of the archive is a parameter or buffer');
    const tol = c.tolerance as { atol: number; rtol: number };
    t.tidy(() => {
      const x = golden(c.inputs.audio_signal!.file);
      const len = golden(c.inputs.length!.file);
      const { encoded, lengths } = t.noGrad(() => enc.forward(x, len));
      const ref = golden((c.outputs.outputs as GoldenFile).file);
      const refLen = golden((c.outputs.encoded_lengths as GoldenFile).file);
      assert.equal(lengths.dtype, 'int64');
      assert.deepEqual(lengths.toArray(), refLen.toArray(), 'encoded lengths are exact');
      assert.deepEqual(encoded.shape, ref.shape);
      const lens = refLen.toArray();
      for (let b = 0; b < lens.length; b++) {
        const mine = encoded.select(0, b).narrow(1, 0, lens[b]!).contiguous();
        const theirs = ref.select(0, b).narrow(1, 0, lens[b]!).contiguous();
        assertClose(mine, theirs, tol.atol, tol.rtol, `${c.id} batch ${b}`);
      }
    });
    enc.dispose();
  });
}
