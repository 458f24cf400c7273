// nn.Module and layers: state-dict order as PyTorch, strict loading errors, train/eval, default inits, BatchNorm running stats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { assertClose } from '../helpers/assert.js';

const scoped = (fn: () => void) => () => {
  const before = t.liveTensorCount();
  t.tidy(fn);
  assert.equal(t.liveTensorCount(), before, 'the test leaked tensors');
};

// Mirrors, in TypeScript, this PyTorch module tree:
//   class Block(nn.Module): norm = BatchNorm1d(4); lin = Linear(4, 3); buffer scale; buffer tmp (persistent=False); gain = Parameter
//   class Net(nn.Module): embed = Embedding(5, 4); blocks = ModuleList([Block(), Block()]); out = Linear(3, 2, bias=False); ln = LayerNorm(2)
class Block extends t.Module {
  norm = this.registerModule('norm', new t.BatchNorm1d(4));
  lin = this.registerModule('lin', new t.Linear(4, 3));
  constructor() {
    super();
    this.registerBuffer('scale', t.ones([1]));
    this.registerBuffer('tmp', t.ones([1]), false);
    this.registerParameter('gain', t.ones([1]));
  }
  forward(x: Tensor): Tensor {
    return this.lin.forward(this.norm.forward(x));
  }
}
class Net extends t.Module {
  embed = this.registerModule('embed', new t.Embedding(5, 4));
  blocks = this.registerModule('blocks', new t.ModuleList([new Block(), new Block()]));
  out = this.registerModule('out', new t.Linear(3, 2, false));
  ln = this.registerModule('ln', new t.LayerNorm(2));
}

// list(Net().state_dict().keys()) in torch 1.13
const TORCH_KEYS = [
  'embed.weight',
  'blocks.0.gain',
  'blocks.0.scale',
  'blocks.0.norm.weight',
  'blocks.0.norm.bias',
  'blocks.0.norm.running_mean',
  'blocks.0.norm.running_var',
  'blocks.0.norm.num_batches_tracked',
  'blocks.0.lin.weight',
  'blocks.0.lin.bias',
  'blocks.1.gain',
  'blocks.1.scale',
  'blocks.1.norm.weight',
  'blocks.1.norm.bias',
  'blocks.1.norm.running_mean',
  'blocks.1.norm.running_var',
  'blocks.1.norm.num_batches_tracked',
  'blocks.1.lin.weight',
  'blocks.1.lin.bias',
  'out.weight',
  'ln.weight',
  'ln.bias',
];

test("state dict order equals PyTorch's: own parameters, own persistent buffers, then children in registration order", () => {
  const net = new Net();
  try {
    assert.deepEqual([...net.stateDict().keys()], TORCH_KEYS);
    assert.deepEqual(
      [...net.namedParameters()].map(([n]) => n),
      TORCH_KEYS.filter((k) => !/running_|num_batches|scale/.test(k)),
    );
    assert.deepEqual(
      [...net.namedBuffers()].map(([n]) => n).filter((n) => n.endsWith('tmp')),
      ['blocks.0.tmp', 'blocks.1.tmp'],
      'non-persistent buffers are buffers',
    );
    assert.ok(![...net.stateDict().keys()].some((k) => k.endsWith('tmp')), 'but not in the state dict');
    assert.deepEqual([...net.stateDict('model').keys()][0], 'model.embed.weight');
    assert.equal(net.numParameters(), 5 * 4 + 2 * (1 + 4 + 4 + 12 + 3) + 6 + 4);
    assert.ok(net.parameters().every((p) => p.requiresGrad));
    assert.equal(net.stateDict().get('blocks.0.norm.num_batches_tracked')!.dtype, 'int64');
    assert.throws(
      () => (net as unknown as { registerModule(n: string, m: t.Module): void }).registerModule('embed', new t.LayerNorm(2)),
      /Net: 'embed' is already registered/,
    );
  } finally {
    net.dispose();
  }
});

test('loadStateDict copies values in; strict errors list every missing, unexpected and mismatched key at once', () => {
  const a = new Net();
  const b = new Net();
  try {
    b.loadStateDict(a.stateDict());
    for (const [k, v] of b.stateDict()) assert.deepEqual(v.toArray(), a.stateDict().get(k)!.toArray(), k);
    assert.ok(!b.out.weight.sameStorage(a.out.weight), 'values are copied, not shared');
    t.tidy(() => {
      const sd = new Map(a.stateDict());
      sd.delete('ln.bias');
      sd.delete('blocks.1.gain');
      sd.set('extra.weight', t.zeros([1]));
      sd.set('blocks.0.lin.weight', t.zeros([2, 4]));
      sd.set('out.weight', t.zeros([2, 3, 1]));
      let err: t.StateDictError | undefined;
      try {
        b.loadStateDict(sd);
      } catch (e) {
        err = e as t.StateDictError;
      }
      assert.ok(err instanceof t.StateDictError, 'throws StateDictError');
      assert.deepEqual(err.missing, ['blocks.1.gain', 'ln.bias']);
      assert.deepEqual(err.unexpected, ['extra.weight']);
      assert.deepEqual(
        err.mismatched.map((m) => m.name),
        ['blocks.0.lin.weight', 'out.weight'],
      );
      assert.match(err.message, /loading state dict into Net failed/);
      assert.match(err.message, /missing keys \(2\): blocks\.1\.gain, ln\.bias/);
      assert.match(err.message, /unexpected keys \(1\): extra\.weight/);
      assert.match(err.message, /blocks\.0\.lin\.weight expects \[3, 4\] got \[2, 4\]; out\.weight expects \[2, 3\] got \[2, 3, 1\]/);
      // nothing was copied by the failed load
      assert.deepEqual(b.out.weight.toArray(), a.out.weight.toArray());
      // non-strict: missing/unexpected are reported, shape mismatches still throw
      const ok = new Map(a.stateDict());
      ok.delete('ln.bias');
      ok.set('extra.weight', t.zeros([1]));
      assert.deepEqual(b.loadStateDict(ok, false), { missing: ['ln.bias'], unexpected: ['extra.weight'] });
      ok.set('out.weight', t.zeros([1]));
      assert.throws(() => b.loadStateDict(ok, false), /shape mismatches \(1\): out\.weight/);
      // dtype converts on copy; loading does not record gradients
      const d = new Map(a.stateDict());
      d.set('ln.weight', t.tensor([2, 3], undefined, { dtype: 'float64' }));
      b.loadStateDict(d);
      assert.deepEqual(b.ln.weight.toArray(), [2, 3]);
      assert.equal(b.ln.weight.dtype, 'float32');
      assert.ok(b.ln.weight.isLeaf);
    });
  } finally {
    a.dispose();
    b.dispose();
  }
});

test('loadStateDict with assign: a model built on the meta device takes the given tensors without a copy', () => {
  const a = new Net();
  const b = t.withDefaultDevice('meta', () => new Net());
  const before = t.liveTensorCount();
  try {
    assert.equal(b.out.weight.device, 'meta');
    const sd = new Map([...a.stateDict()].map(([k, v]) => [k, t.keep(k === 'ln.weight' ? t.tensor([2, 3], undefined, { dtype: 'float64' }) : v.clone())]));
    b.loadStateDict(sd, true, { assign: true });
    for (const v of sd.values()) v.dispose(); // the model keeps the storage; the handles may go
    assert.equal(t.liveTensorCount(), before, 'no handle left behind');
    for (const [k, v] of b.stateDict()) {
      assert.equal(v.device, 'cpu', `${k} on the CPU`);
      if (k !== 'ln.weight') assert.deepEqual(v.toArray(), a.stateDict().get(k)!.toArray(), k);
    }
    assert.deepEqual(b.ln.weight.toArray(), [2, 3]);
    assert.equal(b.ln.weight.dtype, 'float32', 'dtype converted where it differs');
    assert.ok(b.out.weight.requiresGrad && b.out.weight.isLeaf, 'parameters stay trainable leaves');
    assert.ok(!b.stateDict().get('blocks.0.norm.num_batches_tracked')!.requiresGrad, 'buffers stay without grad');
    // the same state dict, not disposed, is shared rather than copied
    const shared = new Map([...a.stateDict()].map(([k, v]) => [k, t.keep(v.clone())]));
    const c = t.withDefaultDevice('meta', () => new Net());
    c.loadStateDict(shared, true, { assign: true });
    assert.ok(c.out.weight.sameStorage(shared.get('out.weight')!), 'assigned, not copied');
    for (const v of shared.values()) v.dispose();
    c.dispose();
  } finally {
    a.dispose();
    b.dispose();
  }
});

test('train/eval propagate to every submodule and switch BatchNorm and Dropout behaviour', () => {
  const net = new Net();
  const drop = new t.Dropout(0.5, new t.Generator(1));
  try {
    assert.ok([...net.namedModules()].every(([, m]) => m.training));
    net.eval();
    assert.ok([...net.namedModules()].every(([, m]) => !m.training));
    net.train();
    assert.ok(net.blocks.training && net.ln.training);
    t.tidy(() => {
      const bn = [...net.namedModules()].find(([n]) => n === 'blocks.0.norm')![1] as t.BatchNorm1d;
      const x = t.tensor([1, 2, 3, 4, 5, 6, 7, 9], [2, 4]);
      const yTrain = bn.forward(x);
      assertClose(yTrain.mean(0), [0, 0, 0, 0], 1e-6, 0, 'training: batch statistics');
      const rm = bn.runningMean.toArray();
      net.eval();
      const yEval = bn.forward(x);
      assertClose(bn.runningMean, rm, 0, 0, 'eval: running stats frozen');
      assertClose(yEval, x.sub(bn.runningMean).div(bn.runningVar.add(1e-5).sqrt()), 1e-6);
      assert.equal(bn.stateDict().get('num_batches_tracked')!.item(), 1, 'eval does not count batches');
      const ones = t.ones([100]);
      drop.train();
      const dropped = drop.forward(ones).eq(0).sum().item();
      assert.ok(dropped > 25 && dropped < 75, `training drops about half: ${dropped}`);
      drop.eval();
      assert.equal(drop.forward(ones), ones, 'eval: the input itself, as torch.nn.Dropout');
    });
  } finally {
    net.dispose();
    drop.dispose();
  }
  assert.throws(() => new t.Dropout(2), /Dropout probability must be in \[0, 1\], got 2/);
});

test(
  "default inits: PyTorch's bounds, and with a generator PyTorch's exact numbers",
  scoped(() => {
    // torch.manual_seed(0); l = nn.Linear(3, 2): weight then bias from U(-1/sqrt(3), 1/sqrt(3))
    const l = new t.Linear(3, 2, true, { generator: new t.Generator(0) });
    assertClose(l.weight, [-0.004322517663240433, 0.3097158372402191, -0.4751853346824646, -0.4248946011066437, -0.2223689705133438, 0.15482072532176971], 0);
    assertClose(l.bias!, [-0.011439144611358643, 0.45777493715286255], 0);
    // torch.manual_seed(1); c = nn.Conv1d(4, 2, 3, groups=2)
    const c = new t.Conv1d(4, 2, 3, { groups: 2 }, { generator: new t.Generator(1) });
    assertClose(c.weight.flatten().narrow(0, 0, 4), [0.21035532653331757, -0.18019191920757294, -0.07914362102746964, 0.19161906838417053], 0);
    assertClose(c.bias!, [0.1491037905216217, -0.15909478068351746], 0);
    const check = (w: Tensor, bound: number, what: string) => {
      const v = w.toArray();
      const m = Math.max(...v.map(Math.abs));
      assert.ok(m <= bound, `${what}: max |w| ${m} exceeds ${bound}`);
      assert.ok(m > 0.9 * bound, `${what}: max |w| ${m} far below ${bound} (wrong distribution?)`);
      assert.ok(Math.abs(v.reduce((a, b) => a + b) / v.length) < 0.1 * bound, `${what}: not centred`);
    };
    const big = new t.Linear(64, 32, true, { generator: new t.Generator(3) });
    check(big.weight, 1 / 8, 'Linear weight'); // kaiming_uniform(a=sqrt 5): bound = 1/sqrt(fan_in)
    check(big.bias!, 1 / 8, 'Linear bias');
    const conv = new t.Conv1d(16, 32, 5, { groups: 4 }, { generator: new t.Generator(4) });
    assert.deepEqual(conv.weight.shape, [32, 4, 5]);
    check(conv.weight, 1 / Math.sqrt(20), 'Conv1d weight (fan_in = in/groups * k)');
    check(conv.bias!, 1 / Math.sqrt(20), 'Conv1d bias');
    const conv2 = new t.Conv2d(3, 16, [3, 2], {}, { generator: new t.Generator(5) });
    check(conv2.weight, 1 / Math.sqrt(18), 'Conv2d weight');
    const ln = new t.LayerNorm(3);
    assert.deepEqual([...ln.weight.toArray(), ...ln.bias.toArray()], [1, 1, 1, 0, 0, 0]);
    const bn = new t.BatchNorm1d(2);
    assert.deepEqual([...bn.runningMean.toArray(), ...bn.runningVar.toArray()], [0, 0, 1, 1]);
    const emb = new t.Embedding(200, 50, { generator: new t.Generator(6) });
    const e = emb.weight.toArray();
    const mean = e.reduce((a, b) => a + b) / e.length;
    const sd = Math.sqrt(e.reduce((a, b) => a + (b - mean) ** 2, 0) / e.length);
    assert.ok(Math.abs(mean) < 0.03 && Math.abs(sd - 1) < 0.03, `Embedding ~ N(0, 1): mean ${mean}, sd ${sd}`);
    const l64 = new t.Linear(2, 2, true, { dtype: 'float64' });
    assert.equal(l64.weight.dtype, 'float64');
    assert.throws(() => new t.Conv1d(3, 4, 3, { groups: 2 }), /Conv1d: channels 3->4 are not divisible by groups 2/);
    assert.throws(() => new t.GroupNorm(3, 4), /GroupNorm: 4 channels are not divisible into 3 groups/);
    for (const m of [l, c, big, conv, conv2, ln, bn, emb, l64]) m.dispose();
  }),
);

test(
  'BatchNorm1d running statistics and num_batches_tracked follow PyTorch over two batches, then eval',
  scoped(() => {
    // bn = nn.BatchNorm1d(3, momentum=0.2); bn(x1); bn(x2), with
    // x1 = tensor([sin(i) for i in range(12)]).reshape(4, 3), x2 = tensor([2 cos(0.5 i) for i in range(24)]).reshape(4, 3, 2)
    const bn = new t.BatchNorm1d(3, 1e-5, 0.2);
    const x1 = t.tensor(
      Array.from({ length: 12 }, (_, i) => Math.sin(i)),
      [4, 3],
    );
    const x2 = t.tensor(
      Array.from({ length: 24 }, (_, i) => 2 * Math.cos(0.5 * i)),
      [4, 3, 2],
    );
    bn.forward(x1);
    assert.equal(bn.stateDict().get('num_batches_tracked')!.item(), 1);
    bn.forward(x2);
    assertClose(bn.runningMean, [0.009932365268468857, -0.01546818483620882, -0.026647351682186127], 1e-6);
    assertClose(bn.runningVar, [1.4906898736953735, 1.0163089036941528, 1.0655423402786255], 1e-6);
    assert.equal(bn.stateDict().get('num_batches_tracked')!.item(), 2);
    bn.eval();
    const y = bn.forward(x1);
    assertClose(
      y,
      [
        -0.008134999312460423, 0.8500313758850098, 0.9066982865333557, 0.10744786262512207, -0.7353584170341492, -0.9031450748443604, -0.23698732256889343,
        0.6670341491699219, 0.9842573404312134, 0.32940635085105896, -0.5242922902107239, -0.9429277777671814,
      ],
      1e-6,
    );
    assert.equal(bn.stateDict().get('num_batches_tracked')!.item(), 2);
    // gradients reach weight and bias
    bn.train();
    bn.forward(x1)
      .mul(t.tensor([1, 2, 3], [1, 3]))
      .pow(2)
      .sum()
      .backward();
    assert.ok(bn.weight.grad !== null && bn.bias.grad !== null);
    bn.dispose();
  }),
);

test('zeroGrad clears every parameter gradient; dispose frees parameters and buffers', () => {
  const before = t.liveTensorCount();
  const net = new Net();
  t.tidy(() => {
    const y = net.out.forward(net.blocks.stateDict().get('0.lin.bias')!.unsqueeze(0));
    y.sum().backward();
    assert.ok(net.out.weight.grad !== null);
    net.zeroGrad();
    assert.ok(net.parameters().every((p) => p.grad === null));
  });
  net.dispose();
  assert.equal(t.liveTensorCount(), before, 'dispose released everything the module held');
});
