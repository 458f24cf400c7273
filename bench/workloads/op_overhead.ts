// op_overhead: 200 tiny elementwise ops ([16] float32 adds) per iteration: the fixed cost of one op call,
// which in streamnest is N-API + JS->IValue conversion + the boxed dispatcher, in PyTorch the Python binding.
import * as t from '../../src/torch/index.js';
import type { Workload } from '../workload.js';

export const OPS_PER_ITER = 200;

export const opOverhead: Workload = {
  name: 'op_overhead',
  description: `${OPS_PER_ITER} adds of [16] tensors (per-op fixed cost; ms/iter / ${OPS_PER_ITER} = ms/op)`,
  repeat: 50,
  warmup: 10,
  setup() {
    const a = t.keep(t.ones([16]));
    const b = t.keep(t.ones([16]));
    return {
      step() {
        t.tidy(() => {
          for (let i = 0; i < OPS_PER_ITER; i++) t.add(a, b);
        });
      },
      dispose() {
        a.dispose();
        b.dispose();
      },
    };
  },
};
