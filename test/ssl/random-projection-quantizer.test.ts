// RandomProjectionVectorQuantizer: NeMo's seeded init (exact), token and xq parity with every golden quantizer case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { readNpy } from '../../src/torch/serialize/npy.js';
import { RandomProjectionVectorQuantizer } from '../../src/ssl/random-projection-quantizer.js';
import { GOLDEN } from '../helpers/assert.js';

const scoped = (fn: () => void) => () => {
  const before = t.liveTensorCount();
  t.tidy(fn);
  assert.equal(t.liveTensorCount(), before, 'the test leaked tensors');
};

// golden case -> (num_classes, num_books, squeeze_single, the torch.manual_seed that produced its parameters)
const CASES = [
  { name: 'quantizer_l2_8192x1', C: 8192, H: 1, squeeze: false, seed: 11 },
  { name: 'quantizer_l2_64x2', C: 64, H: 2, squeeze: false, seed: 12 },
  { name: 'quantizer_l2_64x1_squeeze', C: 64, H: 1, squeeze: true, seed: 13 },
];

const make = (C: number, H: number, squeeze: boolean, seed: number) =>
  new RandomProjectionVectorQuantizer(
    { featIn: 80, codeDim: 16, numClasses: C, numBooks: H, distFn: 'l2', combineTimeSteps: 8, squeezeSingle: squeeze },
    { generator: new t.Generator(seed) },
  );

/** Values of a (B, T_tok[, ...]) array restricted to valid groups (8 g < length[b]), per the fixture's rule. */
function validGroups(a: t.Tensor, lengths: number[], timeDim: number): number[] {
  return t.tidy(() => {
    const out: number[] = [];
    lengths.forEach((L, b) => {
      const n = Math.ceil(L / 8);
      out.push(
        ...a
          .select(0, b)
          .narrow(timeDim - 1, 0, n)
          .contiguous()
          .toArray(),
      );
    });
    return out;
  });
}

for (const c of CASES) {
  test(
    `golden ssl/${c.name}: parameters from torch.manual_seed(${c.seed}), tokens exact, xq exact on valid groups`,
    scoped(() => {
      const dir = join(GOLDEN, 'ssl', c.name);
      const q = make(c.C, c.H, c.squeeze, c.seed);
      try {
        assert.deepEqual([...q.stateDict().keys()], ['codebooks', 'proj.weight'], "NeMo's state-dict names and order");
        assert.equal(q.codebooks.dtype, 'float64');
        assert.ok(
          q.parameters().every((p) => !p.requiresGrad),
          'frozen',
        );
        assert.deepEqual(q.proj.weight.toArray(), readNpy(join(dir, 'proj_weight.npy')).toArray(), 'proj.weight exact');
        assert.deepEqual(q.codebooks.toArray(), readNpy(join(dir, 'codebooks.npy')).toArray(), 'codebooks exact');

        const feats = readNpy(join(GOLDEN, 'e2e', 'processed_signal.npy')); // (2, 80, 304)
        const lengths = readNpy(join(GOLDEN, 'e2e', 'processed_signal_length.npy')).toArray();
        const { xq, xid } = q.forward(feats);
        const goldId = readNpy(join(dir, 'xid.npy'));
        const goldQ = readNpy(join(dir, 'xq.npy'));
        assert.deepEqual(xid.shape, goldId.shape);
        assert.equal(xid.dtype, 'int64');
        assert.deepEqual(xq.shape, goldQ.shape);
        assert.equal(xq.dtype, 'float64');
        assert.deepEqual(validGroups(xid, lengths, 1), validGroups(goldId, lengths, 1), 'tokens on valid groups');
        assert.deepEqual(validGroups(xq, lengths, 2), validGroups(goldQ, lengths, 2), 'xq on valid groups');
        assert.deepEqual(q.tokens(feats).toArray(), xid.toArray(), 'tokens() == forward().xid');
      } finally {
        q.dispose();
      }
    }),
  );
}

test(
  'parameters loaded from a state dict give the same tokens; (B, T, D) input with timeAhead',
  scoped(() => {
    const dir = join(GOLDEN, 'ssl', 'quantizer_l2_64x2');
    const q = make(64, 2, false, 999);
    const qa = new RandomProjectionVectorQuantizer(
      { featIn: 80, codeDim: 16, numClasses: 64, numBooks: 2, combineTimeSteps: 8, timeAhead: true },
      { generator: new t.Generator(1) },
    );
    try {
      const sd = new Map([
        ['proj.weight', readNpy(join(dir, 'proj_weight.npy'))],
        ['codebooks', readNpy(join(dir, 'codebooks.npy'))],
      ]);
      q.loadStateDict(sd);
      qa.loadStateDict(sd);
      const feats = readNpy(join(GOLDEN, 'e2e', 'processed_signal.npy'));
      const lengths = readNpy(join(GOLDEN, 'e2e', 'processed_signal_length.npy')).toArray();
      const gold = readNpy(join(dir, 'xid.npy'));
      assert.deepEqual(validGroups(q.tokens(feats), lengths, 1), validGroups(gold, lengths, 1));
      assert.deepEqual(validGroups(qa.tokens(feats.transpose(1, 2)), lengths, 1), validGroups(gold, lengths, 1));
    } finally {
      q.dispose();
      qa.dispose();
    }
  }),
);

test(
  'token = argmin of the float64 L2 distance, ties to the lowest index; clear error for T not divisible by combine',
  scoped(() => {
    const q = new RandomProjectionVectorQuantizer(
      { featIn: 3, codeDim: 4, numClasses: 50, numBooks: 3, combineTimeSteps: 2 },
      { generator: new t.Generator(5) },
    );
    try {
      const x = t.randn([2, 3, 10], { generator: new t.Generator(6) }); // (B, D, T)
      const ids = q.tokens(x).toArray(); // (2, 5, 3)
      // brute force in JS doubles from the f32 projection
      const z = q.proj.forward(x.transpose(1, 2).contiguous().reshape([2, 5, 6])).reshape([2, 5, 3, 4]);
      const zn = z.div(t.norm(z, 2, -1, true).clamp(1e-12)).toArray();
      const cb = q.codebooks.toArray();
      for (let r = 0; r < 10; r++) {
        for (let h = 0; h < 3; h++) {
          let best = -1;
          let bestD = Infinity;
          for (let c = 0; c < 50; c++) {
            let d = 0;
            for (let k = 0; k < 4; k++) d += (zn[(r * 3 + h) * 4 + k]! - cb[(h * 50 + c) * 4 + k]!) ** 2;
            if (d < bestD) {
              bestD = d;
              best = c;
            }
          }
          assert.equal(ids[r * 3 + h], best, `row ${r} book ${h}`);
        }
      }
      // all-zero input: normalize(0) = 0, every distance is |codebook| = 1 (+-1 ulp): some valid index
      const zeroIds = q.tokens(t.zeros([1, 3, 4])).toArray();
      assert.ok(zeroIds.every((v) => v >= 0 && v < 50));
      assert.throws(() => q.tokens(t.zeros([1, 3, 5])), /not divisible by combine_time_steps 2/);
      assert.throws(() => q.tokens(t.zeros([1, 4, 4])), /4 features per frame, expected 3/);
    } finally {
      q.dispose();
    }
  }),
);
