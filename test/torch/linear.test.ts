// t.linear: one row (a streaming step of one frame) goes through addmv/mv instead of gemm. Same values, shapes and
// gradients as the matrix route, with and without bias, for 1-D to 3-D inputs; under CPU autocast it stays linear's
// lower-precision route; no leaked handles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { assertClose } from '../helpers/assert.js';

/** The same product as a batch of two rows (always the gemm route), keeping the first row. */
const viaGemm = (x: t.Tensor, w: t.Tensor, b: t.Tensor | null): t.Tensor => {
  const d = x.shape[x.shape.length - 1]!;
  const two = t.cat([x.reshape([1, d]), x.reshape([1, d])], 0);
  return t
    .linear(two, w, b)
    .narrow(0, 0, 1)
    .reshape([...x.shape.slice(0, -1), w.shape[0]!]);
};

test('one row: the matrix-vector route equals the gemm route in value and shape (1-D to 3-D, with and without bias)', () => {
  const before = t.liveTensorCount();
  t.tidy(() => {
    const g = new t.Generator(7);
    const w = t.randn([704, 176], { generator: g });
    const b = t.randn([704], { generator: g });
    for (const shape of [[176], [1, 176], [1, 1, 176]]) {
      const x = t.randn(shape, { generator: g });
      for (const bias of [b, null]) {
        const y = t.linear(x, w, bias);
        assert.deepEqual(y.shape, [...shape.slice(0, -1), 704], `shape for ${JSON.stringify(shape)}`);
        assertClose(y, viaGemm(x, w, bias), 1e-4, 1e-5);
      }
    }
  });
  assert.equal(t.liveTensorCount(), before);
});

test('one row: gradients of input, weight and bias equal the gemm route', () => {
  t.tidy(() => {
    const grads = (route: (x: t.Tensor, w: t.Tensor, b: t.Tensor) => t.Tensor): t.Tensor[] => {
      const x = t.randn([1, 1, 16], { generator: new t.Generator(1), requiresGrad: true });
      const w = t.randn([24, 16], { generator: new t.Generator(2), requiresGrad: true });
      const b = t.randn([24], { generator: new t.Generator(3), requiresGrad: true });
      route(x, w, b).pow(2).sum().backward();
      return [x.grad!, w.grad!, b.grad!];
    };
    const mv = grads((x, w, b) => t.linear(x, w, b));
    const mm = grads((x, w, b) => viaGemm(x, w, b));
    for (let i = 0; i < 3; i++) assertClose(mv[i]!, mm[i]!, 1e-5, 1e-5);
  });
});

test('one row under CPU autocast: linear lower-precision route (bfloat16), not the float32 matrix-vector one', () => {
  t.tidy(() => {
    const x = t.randn([1, 32]);
    const w = t.randn([8, 32]);
    assert.equal(
      t.autocast({ device: 'cpu', dtype: 'bfloat16' }, () => t.linear(x, w).dtype),
      'bfloat16',
    );
    assert.equal(
      t.autocast({ device: 'cpu', enabled: false }, () => t.linear(x, w).dtype),
      'float32',
    );
    assert.equal(t.linear(x, w).dtype, 'float32');
  });
});
