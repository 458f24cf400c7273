// Autograd: backward, torch.autograd.grad, grad-mode scopes, detach, requires_grad; and the gradcheck helper itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import { assertClose } from '../helpers/assert.js';
import { gradcheck, rnd } from '../helpers/gradcheck.js';

test('backward fills .grad of leaves and accumulates across calls', () => {
  t.tidy(() => {
    const x = t.tensor([1, 2, 3], undefined, { requiresGrad: true });
    assert.ok(x.requiresGrad && x.isLeaf);
    assert.equal(x.grad, null);
    const y = x.mul(x).sum(); // d/dx = 2x
    assert.ok(y.requiresGrad);
    assert.ok(!y.isLeaf);
    y.backward();
    assertClose(x.grad!, [2, 4, 6]);
    x.mul(3).sum().backward(); // accumulates: 2x + 3
    assertClose(x.grad!, [5, 7, 9]);
    x.grad = null;
    assert.equal(x.grad, null);
    x.sum().backward();
    assertClose(x.grad!, [1, 1, 1]);
  });
});

test('backward of a non-scalar needs a gradient argument; a freed graph cannot be walked twice', () => {
  t.tidy(() => {
    const x = t.tensor([1, 2], undefined, { requiresGrad: true });
    const y = x.mul(x);
    assert.throws(() => y.backward(), /grad can be implicitly created only for scalar outputs/);
    y.backward(t.tensor([1, 10]), true);
    assertClose(x.grad!, [2, 40]);
    y.backward(t.tensor([1, 1])); // graph retained by the previous call
    assertClose(x.grad!, [4, 44]);
    assert.throws(() => y.backward(t.tensor([1, 1])), /backward through the graph a second time/);
  });
});

test('grad() returns gradients without touching .grad; unused inputs need allowUnused', () => {
  t.tidy(() => {
    const x = t.tensor([1, 2, 3], undefined, { requiresGrad: true });
    const z = t.tensor([4], undefined, { requiresGrad: true });
    const y = x.pow(3).sum();
    const [g] = t.grad(y, [x], { retainGraph: true });
    assertClose(g!, [3, 12, 27]);
    assert.equal(x.grad, null);
    assert.throws(() => t.grad(y, [x, z], { retainGraph: true }), /not have been used in the graph/);
    const [g2, gz] = t.grad(y, [x, z], { allowUnused: true });
    assertClose(g2!, [3, 12, 27]);
    assert.equal(gz, null);
  });
});

test('grad() with createGraph gives second derivatives; gradOutputs weight the outputs', () => {
  t.tidy(() => {
    const x = t.tensor([1, 2, 3], undefined, { dtype: 'float64', requiresGrad: true });
    const [g] = t.grad(x.pow(3).sum(), [x], { createGraph: true }); // 3x^2
    assert.ok(g!.requiresGrad);
    const [h] = t.grad(g!.sum(), [x]); // 6x
    assertClose(h!, [6, 12, 18]);
    const [w] = t.grad(x.mul(2), [x], { gradOutputs: [t.tensor([1, 0, -1], undefined, { dtype: 'float64' })] });
    assertClose(w!, [2, 0, -2]);
  });
});

test('noGrad turns recording off and restores the previous mode, even on throw; enableGrad nests inside', () => {
  t.tidy(() => {
    const x = t.tensor([1, 2], undefined, { requiresGrad: true });
    assert.equal(t.isGradEnabled(), true);
    const y = t.noGrad(() => {
      assert.equal(t.isGradEnabled(), false);
      const inner = t.enableGrad(() => x.mul(2));
      assert.ok(inner.requiresGrad, 'enableGrad inside noGrad records');
      assert.equal(t.isGradEnabled(), false);
      return x.mul(2);
    });
    assert.equal(y.requiresGrad, false);
    assert.equal(t.isGradEnabled(), true);
    assert.throws(() =>
      t.noGrad(() => {
        throw new Error('boom');
      }),
    );
    assert.equal(t.isGradEnabled(), true, 'grad mode restored after a throw');
  });
});

test('detach cuts the graph but shares storage', () => {
  t.tidy(() => {
    const x = t.tensor([1, 2, 3], undefined, { requiresGrad: true });
    const d = x.detach();
    assert.equal(d.requiresGrad, false);
    assert.ok(d.sameStorage(x));
    const y = x.mul(d).sum(); // gradient only through the first factor: d
    y.backward();
    assertClose(x.grad!, [1, 2, 3]);
    t.noGrad(() => d.mul_(10));
    assertClose(x, [10, 20, 30], 0, 0, 'detached in-place write is visible in the original');
  });
});

test('requiresGrad: int tensors refuse with a clear message; toggling off works', () => {
  t.tidy(() => {
    const i = t.tensor([1, 2], undefined, { dtype: 'int64' });
    assert.throws(() => {
      i.requiresGrad = true;
    }, /requiresGrad: only floating-point tensors can require gradients \(this one is int64\)/);
    assert.throws(() => t.zeros([2], { dtype: 'int32', requiresGrad: true }), /int32/);
    const x = t.ones([2], { requiresGrad: true });
    x.requiresGrad = false;
    assert.equal(x.requiresGrad, false);
    assert.equal(x.mul(2).requiresGrad, false);
  });
});

test('gradcheck passes a correct gradient and catches a wrong one', () => {
  const x = rnd([4], 1);
  try {
    const r = gradcheck((a) => a.mul(a).sum(), [x]);
    assertClose(r.analytic[0]!, r.numeric[0]!, 1e-6);
    assertClose(r.analytic[0]!, x.mul(2).toArray(), 1e-12);
    // x.detach() * x has autograd gradient x but true derivative 2x.
    assert.throws(() => gradcheck((a) => a.detach().mul(a).sum(), [x], { name: 'wrong' }), /wrong: gradient of input 0 .* autograd .* vs finite difference/);
    // a function with zero gradient everywhere proves nothing and is reported.
    assert.throws(() => gradcheck((a) => a.mul(0).sum(), [x]), /every gradient is zero/);
    // float32 outputs are refused: finite differences need float64.
    assert.throws(() => gradcheck((a) => a.float().sum(), [x]), /float32/);
    // several inputs and a non-scalar output.
    const y = rnd([4], 2);
    gradcheck((a, b) => a.mul(b).add(b.exp()), [x, y]);
  } finally {
    x.dispose();
  }
});
