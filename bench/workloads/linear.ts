// linear: y = x W^T + b with x[2048,512], W[512,512], b[512]; loss = y.sum(); backward.
import * as t from '../../src/torch/index.js';
import type { Workload } from '../workload.js';

export const linear: Workload = {
  name: 'linear',
  description: 'x[2048,512] @ W[512,512]^T + b[512], sum, backward',
  repeat: 30,
  warmup: 5,
  setup() {
    const g = new t.Generator(0);
    const x = t.keep(t.randn([2048, 512], { generator: g }));
    const w = t.keep(t.randn([512, 512], { generator: g }).mul_(1 / Math.sqrt(512)));
    const b = t.keep(t.zeros([512]));
    w.requiresGrad = true;
    b.requiresGrad = true;
    return {
      step() {
        t.tidy(() => {
          w.grad = null;
          b.grad = null;
          t.linear(x, w, b).sum().backward();
        });
      },
      dispose() {
        for (const v of [x, w, b]) v.dispose();
      },
    };
  },
};
