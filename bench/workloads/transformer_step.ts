// transformer_step: one training step of a pre-norm transformer layer, batch 8, 200 frames, d=256, 4 heads:
//   h = x + Wo(attn(LN1(x)))   with q, k, v from separate Linears, softmax(q k^T / sqrt(dk)) v
//   y = h + W2(silu(W1(LN2(h))))   FFN 4x
//   loss = mse(y, target); backward; AdamW step; grads set to none.
// bench/pytorch/transformer_step.py performs the identical op sequence (no fused attention on either side).
import * as t from '../../src/torch/index.js';
import type { Workload } from '../workload.js';

const B = 8;
const T = 200;
const D = 256;
const H = 4;
const DK = D / H;

export class Block extends t.Module {
  readonly ln1: t.LayerNorm;
  readonly q: t.Linear;
  readonly k: t.Linear;
  readonly v: t.Linear;
  readonly o: t.Linear;
  readonly ln2: t.LayerNorm;
  readonly ff1: t.Linear;
  readonly ff2: t.Linear;
  constructor(g: t.Generator) {
    super();
    this.ln1 = this.registerModule('ln1', new t.LayerNorm(D));
    this.q = this.registerModule('q', new t.Linear(D, D, true, { generator: g }));
    this.k = this.registerModule('k', new t.Linear(D, D, true, { generator: g }));
    this.v = this.registerModule('v', new t.Linear(D, D, true, { generator: g }));
    this.o = this.registerModule('o', new t.Linear(D, D, true, { generator: g }));
    this.ln2 = this.registerModule('ln2', new t.LayerNorm(D));
    this.ff1 = this.registerModule('ff1', new t.Linear(D, 4 * D, true, { generator: g }));
    this.ff2 = this.registerModule('ff2', new t.Linear(4 * D, D, true, { generator: g }));
  }
  forward(x: t.Tensor): t.Tensor {
    const a = this.ln1.forward(x); // [B, T, D]
    const heads = (y: t.Tensor): t.Tensor => y.view([B, T, H, DK]).transpose(1, 2); // [B, H, T, DK]
    const q = heads(this.q.forward(a));
    const k = heads(this.k.forward(a));
    const v = heads(this.v.forward(a));
    const scores = q.matmul(k.transpose(-2, -1)).mul(1 / Math.sqrt(DK)); // [B, H, T, T]
    const attn = t.softmax(scores, -1);
    const ctx = attn.matmul(v).transpose(1, 2).reshape([B, T, D]);
    const h = x.add(this.o.forward(ctx));
    const f = this.ff2.forward(t.silu(this.ff1.forward(this.ln2.forward(h))));
    return h.add(f);
  }
}

export const transformerStep: Workload = {
  name: 'transformer_step',
  description: 'pre-norm layer (4-head attention + 4x SiLU FFN), B=8 T=200 d=256: fwd, MSE, bwd, AdamW',
  repeat: 20,
  warmup: 3,
  setup() {
    const g = new t.Generator(0);
    const block = new Block(g);
    const x = t.keep(t.randn([B, T, D], { generator: g }));
    const target = t.keep(t.randn([B, T, D], { generator: g }));
    const opt = new t.AdamW(block.parameters(), { lr: 1e-4, weightDecay: 1e-3 });
    return {
      step() {
        t.tidy(() => {
          const loss = t.mseLoss(block.forward(x), target);
          loss.backward();
          opt.step();
          block.zeroGrad();
        });
      },
      dispose() {
        opt.dispose();
        block.dispose();
        x.dispose();
        target.dispose();
      },
    };
  },
};
