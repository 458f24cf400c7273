// The streaming step's convolution helpers against ATen's conv1d: t.pointwiseConv1dRows (a kernel-1 conv1d over frames
// laid out as rows) and t.depthwiseConv1dWindows (a depthwise conv1d as a product of windows). Values, shapes,
// gradients, bad shapes, no leaked handles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { assertClose } from '../helpers/assert.js';

test('pointwiseConv1dRows equals conv1d on the transposed frames (small and large row counts, with and without bias)', () => {
  const before = t.liveTensorCount();
  const derived = t.derivedTensorCount();
  t.tidy(() => {
    const g = new t.Generator(3);
    const w = t.randn([12, 5, 1], { generator: g });
    const b = t.randn([12], { generator: g });
    t.noGrad(() => {
      for (const frames of [1, 4, 100]) {
        const x = t.randn([2, frames, 5], { generator: g }); // [B, T, C]
        for (const bias of [b, null]) {
          const ref = t.conv1d(x.transpose(1, 2), w, bias).transpose(1, 2); // [B, T, 12]
          const y = t.pointwiseConv1dRows(x, w, bias);
          assert.deepEqual(y.shape, [2, frames, 12]);
          assertClose(y, ref, 1e-5, 1e-6);
        }
      }
    });
    assert.throws(() => t.pointwiseConv1dRows(t.zeros([1, 2, 5]), t.zeros([12, 5, 3])), /\[out, in, 1\] weight/);
    assert.throws(() => t.pointwiseConv1dRows(t.zeros([1, 2, 4]), w), /5 input channels, got rows of 4/);
  });
  assert.equal(t.liveTensorCount(), before);
  assert.equal(t.derivedTensorCount(), derived, 'the weight copy went with the weight');
});

test('pointwiseConv1dRows: gradients to input, weight and bias equal conv1d', () => {
  t.tidy(() => {
    const grads = (f: (x: t.Tensor, w: t.Tensor, b: t.Tensor) => t.Tensor): t.Tensor[] => {
      const x = t.randn([1, 3, 6], { generator: new t.Generator(1), requiresGrad: true });
      const w = t.randn([4, 6, 1], { generator: new t.Generator(2), requiresGrad: true });
      const b = t.randn([4], { generator: new t.Generator(3), requiresGrad: true });
      f(x, w, b).pow(2).sum().backward();
      return [x.grad!, w.grad!, b.grad!];
    };
    const ours = grads((x, w, b) => t.pointwiseConv1dRows(x, w, b));
    const ref = grads((x, w, b) => t.conv1d(x.transpose(1, 2), w, b).transpose(1, 2));
    for (let i = 0; i < 3; i++) assertClose(ours[i]!, ref[i]!, 1e-5, 1e-5);
  });
});

test('depthwiseConv1dWindows equals conv1d with groups = channels (one to many output frames, batch 1 and 3)', () => {
  const before = t.liveTensorCount();
  t.tidy(() => {
    const g = new t.Generator(5);
    const c = 7;
    const w = t.randn([c, 1, 9], { generator: g });
    const b = t.randn([c], { generator: g });
    for (const batch of [1, 3]) {
      for (const frames of [1, 2, 8, 40]) {
        const x = t.randn([batch, c, frames + 8], { generator: g });
        for (const bias of [b, null]) {
          const y = t.depthwiseConv1dWindows(x, w, bias);
          assert.deepEqual(y.shape, [batch, c, frames]);
          assertClose(y, t.conv1d(x, w, bias, { groups: c }), 1e-5, 1e-6);
        }
      }
    }
    // known values: kernel [1, 2, 3] over [1, 0, 0, 1] -> [1*1 + 0 + 0, 0 + 0 + 3*1] = [1, 3]; + bias 10
    const k = t.tensor([1, 2, 3], [1, 1, 3]);
    assert.deepEqual(t.depthwiseConv1dWindows(t.tensor([1, 0, 0, 1], [1, 1, 4]), k, t.tensor([10], [1])).toArray(), [11, 13]);
    assert.throws(() => t.depthwiseConv1dWindows(t.zeros([1, c, 4]), w), /x \[B, 7, >= 9\]/);
    assert.throws(() => t.depthwiseConv1dWindows(t.zeros([1, c, 9]), t.zeros([c, 2, 9])), /weight \[C, 1, K\]/);
  });
  assert.equal(t.liveTensorCount(), before);
});

test('depthwiseConv1dWindows without gradients (the native loop) equals conv1d: kernel sizes, batches, strided and fallback inputs', () => {
  const before = t.liveTensorCount();
  t.tidy(() =>
    t.noGrad(() => {
      const g = new t.Generator(8);
      for (const k of [3, 5, 7, 9, 31]) {
        // 7 takes the loop for any kernel size; the others their unrolled ones
        const c = 11;
        const w = t.randn([c, 1, k], { generator: g });
        const b = t.randn([c], { generator: g });
        for (const batch of [1, 16]) {
          for (const frames of [1, 4, 13]) {
            const x = t.randn([batch, c, frames + k - 1], { generator: g });
            for (const bias of [b, null]) {
              const y = t.depthwiseConv1dWindows(x, w, bias);
              assert.deepEqual(y.shape, [batch, c, frames]);
              assertClose(y, t.conv1d(x, w, bias, { groups: c }), 1e-5, 1e-6);
            }
          }
        }
      }
      const c = 6;
      const w = t.randn([c, 1, 3], { generator: g });
      const b = t.randn([c], { generator: g });
      const wide = t.randn([3, 2 * c, 10], { generator: g });
      const channels = wide.narrow(1, 3, c); // strided over channels and batch, unit stride in time
      assertClose(t.depthwiseConv1dWindows(channels, w, b), t.conv1d(channels.contiguous(), w, b, { groups: c }), 1e-5, 1e-6);
      const timeStrided = t.randn([2, 10, c], { generator: g }).transpose(1, 2); // [2, c, 10], stride 6 in time: ATen's route
      assertClose(t.depthwiseConv1dWindows(timeStrided, w, b), t.conv1d(timeStrided.contiguous(), w, b, { groups: c }), 1e-5, 1e-6);
      const x64 = t.randn([2, c, 5], { generator: g, dtype: 'float64' }); // float64: ATen's route
      const w64 = w.to({ dtype: 'float64' });
      assertClose(t.depthwiseConv1dWindows(x64, w64, null), t.conv1d(x64, w64, null, { groups: c }), 1e-12, 1e-12);
      // known values: kernel [1, 2, 3] over [1, 0, 0, 1] -> [1, 3]; + bias 10
      assert.deepEqual(t.depthwiseConv1dWindows(t.tensor([1, 0, 0, 1], [1, 1, 4]), t.tensor([1, 2, 3], [1, 1, 3]), t.tensor([10], [1])).toArray(), [11, 13]);
      assert.throws(() => t.depthwiseConv1dWindows(t.zeros([1, c, 2]), w), /x \[B, 6, >= 3\]/);
    }),
  );
  assert.equal(t.liveTensorCount(), before);
});
