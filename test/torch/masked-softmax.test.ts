// t.maskedSoftmax (attention's masked softmax, NeMo's masked_fill / softmax / masked_fill) against those three ops:
// the same values with gradients off and on (the bias route both), rows blocked whole, the bias cached on the mask and
// remade after an in-place write, gradients (rows blocked whole included, float32 and bfloat16), bad masks, no
// leaked handles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { assertClose } from '../helpers/assert.js';

const FILL = -10000;

/** NeMo's three ops: softmax(scores.masked_fill(m, fill), -1).masked_fill(m, 0), m = mask [B, Tq, Tk] -> [B, 1, Tq, Tk]. */
function reference(scores: t.Tensor, mask: t.Tensor): t.Tensor {
  const m = mask.unsqueeze(1);
  return t.softmax(scores.maskedFill(m, FILL), -1).maskedFill(m, 0);
}

/** A causal mask over [cache, chunk] with `open` of the C cache slots filled: [B, Tq, C + Tq]. */
function streamingMask(batch: number, tq: number, c: number, open: number[]): t.Tensor {
  const rows: boolean[] = [];
  for (let b = 0; b < batch; b++) for (let q = 0; q < tq; q++) for (let k = 0; k < c + tq; k++) rows.push(k < c ? k < c - open[b]! : k - c > q);
  return t
    .tensor(
      rows.map((x) => (x ? 1 : 0)),
      [batch, tq, c + tq],
      { dtype: 'uint8' },
    )
    .to({ dtype: 'bool' });
}

test('maskedSoftmax without gradients equals masked_fill / softmax / masked_fill exactly (float32 and float64)', () => {
  const before = t.liveTensorCount();
  t.tidy(() =>
    t.noGrad(() => {
      const g = new t.Generator(4);
      for (const dtype of ['float32', 'float64'] as const) {
        const mask = streamingMask(3, 4, 12, [0, 5, 12]);
        const scores = t.randn([3, 2, 4, 16], { generator: g, dtype }).mul(8);
        const y = t.maskedSoftmax(scores, mask, FILL);
        assert.deepEqual(y.toArray(), reference(scores, mask).toArray());
        // blocked entries are exactly 0 and every row sums to 1
        assert.equal(y.mul(mask.unsqueeze(1).to({ dtype })).abs().sum().item(), 0);
        assertClose(y.sum(-1), t.ones([3, 2, 4], { dtype }), 1e-6, 1e-6);
      }
    }),
  );
  assert.equal(t.liveTensorCount(), before);
});

test('maskedSoftmax: a row blocked whole gives zeros, as NeMo', () => {
  t.tidy(() =>
    t.noGrad(() => {
      const mask = streamingMask(2, 3, 4, [2, 4]);
      const blockedRow = t.ones([7], { dtype: 'bool' });
      mask.select(0, 1).select(0, 2).copy_(blockedRow); // stream 1's last query: every key blocked (a padded frame)
      const scores = t.randn([2, 2, 3, 7], { generator: new t.Generator(1) });
      const y = t.maskedSoftmax(scores, mask, FILL);
      assert.deepEqual(y.toArray(), reference(scores, mask).toArray());
      assert.equal(y.select(0, 1).select(1, 2).abs().sum().item(), 0);
      assertClose(y.select(0, 0).sum(-1), t.ones([2, 3]), 1e-6, 1e-6);
    }),
  );
});

test('maskedSoftmax caches its bias on the mask (once for every layer of a step) and remakes it after an in-place write', () => {
  const derived = t.derivedTensorCount();
  t.tidy(() =>
    t.noGrad(() => {
      const mask = streamingMask(2, 2, 6, [1, 6]);
      const scores = t.randn([2, 4, 2, 8], { generator: new t.Generator(2) });
      t.maskedSoftmax(scores, mask, FILL);
      const bias = mask.derived?.tensor;
      assert.ok(bias, 'the bias is cached on the mask');
      assert.deepEqual(bias.shape, [2, 1, 2, 8]);
      t.maskedSoftmax(scores.mul(2), mask, FILL);
      assert.equal(mask.derived?.tensor, bias, 'a second layer reuses it');
      assert.equal(t.derivedTensorCount(), derived + 2, 'the bias, and on it the open-rows marker');
      mask.select(0, 0).select(0, 0).narrow(0, 0, 3).fill_(1); // stream 0's first query now blocks 3 more slots
      const y = t.maskedSoftmax(scores, mask, FILL);
      assert.notEqual(mask.derived?.tensor, bias, 'remade after the write');
      assert.deepEqual(y.toArray(), reference(scores, mask).toArray());
    }),
  );
  assert.equal(t.derivedTensorCount(), derived, 'the bias went with the mask');
});

test('maskedSoftmax with gradients: values and the gradient to the scores equal the reference, rows blocked whole included', () => {
  const before = t.liveTensorCount();
  t.tidy(() => {
    const plain = streamingMask(2, 3, 5, [0, 5]);
    const padded = streamingMask(2, 3, 5, [2, 5]);
    padded.select(0, 1).select(0, 2).fill_(1); // stream 1's last query blocked whole (a padded frame)
    for (const mask of [plain, padded]) {
      for (const dtype of ['float32', 'bfloat16'] as const) {
        const grad = (f: (s: t.Tensor) => t.Tensor): t.Tensor[] => {
          const s = t
            .randn([2, 2, 3, 8], { generator: new t.Generator(3) })
            .to({ dtype })
            .detach();
          s.requiresGrad = true;
          const y = f(s);
          y.mul(t.arange(8).to({ dtype })).sum().backward();
          return [y.detach().to({ dtype: 'float32' }), s.grad!.to({ dtype: 'float32' })];
        };
        const [y, g] = grad((s) => t.maskedSoftmax(s, mask, FILL));
        const [yr, gr] = grad((s) => reference(s, mask));
        assert.deepEqual(y!.toArray(), yr!.toArray(), dtype);
        const signless = (x: t.Tensor): number[] => x.toArray().map((v) => v + 0); // -0 -> 0: blocked entries get 0 * (g - sum)
        assert.deepEqual(signless(g!), signless(gr!), `${dtype} gradient`);
      }
    }
    assert.throws(() => t.maskedSoftmax(t.zeros([1, 1, 2, 2]), t.zeros([1, 2, 2]), FILL), /bool tensor, got float32/);
  });
  assert.equal(t.liveTensorCount(), before);
});
