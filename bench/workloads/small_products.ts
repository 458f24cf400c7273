// small_products_1 / small_products_8: the products of one streaming step of the NEST-Small encoder (16 layers, d 176,
// d_ff 704) for one stream, with 1 or 8 new frames, under no_grad: per layer the two feed-forward modules (176 -> 704
// -> 176), q, k, v and out (176 -> 176), the conv module's pointwise convs (176 -> 352, 176 -> 176) and its depthwise
// conv (kernel 9 over the frames and the 8 cached ones). Every layer has its own weights (12 M parameters, 48 MB,
// read once per step, as a step does). streamnest through t.linear / t.pointwiseConv1dRows / t.depthwiseConv1dWindows
// (the step's routes), PyTorch through F.linear and F.conv1d as NeMo's modules call them.
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import type { Workload } from '../workload.js';

const D = 176;
const FF = 704;
const LAYERS = 16;
const KERNEL = 9;

interface LayerWeights {
  ff: [Tensor, Tensor, Tensor, Tensor][]; // two modules: w1 [FF, D], b1, w2 [D, FF], b2
  att: [Tensor, Tensor][]; // q, k, v, out: [D, D], [D]
  pw1: [Tensor, Tensor]; // [2D, D, 1], [2D]
  dw: [Tensor, Tensor]; // [D, 1, K], [D]
  pw2: [Tensor, Tensor]; // [D, D, 1], [D]
}

function smallProducts(frames: 1 | 8): Workload {
  return {
    name: `small_products_${frames}`,
    description: `one NEST-Small streaming step's products for ${frames} new frame(s): 16 layers x (2 FF, q/k/v/out, 2 pointwise + 1 depthwise conv), no_grad`,
    repeat: 200,
    warmup: 20,
    setup() {
      const g = new t.Generator(0);
      const p = (shape: number[]): Tensor => t.keep(t.randn(shape, { generator: g }).mul_(0.05));
      const layers: LayerWeights[] = Array.from({ length: LAYERS }, () => ({
        ff: [0, 1].map(() => [p([FF, D]), p([FF]), p([D, FF]), p([D])] as [Tensor, Tensor, Tensor, Tensor]),
        att: [0, 1, 2, 3].map(() => [p([D, D]), p([D])] as [Tensor, Tensor]),
        pw1: [p([2 * D, D, 1]), p([2 * D])],
        dw: [p([D, 1, KERNEL]), p([D])],
        pw2: [p([D, D, 1]), p([D])],
      }));
      const x = p([1, frames, D]);
      const window = p([1, D, frames + KERNEL - 1]);
      return {
        step() {
          t.tidy(() =>
            t.noGrad(() => {
              for (const l of layers) {
                for (const [w1, b1, w2, b2] of l.ff) t.linear(t.linear(x, w1, b1), w2, b2); // [1, T, D] -> [1, T, FF] -> [1, T, D]
                for (const [w, b] of l.att) t.linear(x, w, b); // [1, T, D]
                t.pointwiseConv1dRows(x, l.pw1[0], l.pw1[1]); // [1, T, 2D]
                t.depthwiseConv1dWindows(window, l.dw[0], l.dw[1]); // [1, D, T]
                t.pointwiseConv1dRows(x, l.pw2[0], l.pw2[1]); // [1, T, D]
              }
            }),
          );
        },
        dispose() {
          for (const l of layers) for (const w of [...l.ff.flat(), ...l.att.flat(), ...l.pw1, ...l.dw, ...l.pw2]) w.dispose();
          x.dispose();
          window.dispose();
        },
      };
    },
  };
}

export const smallProducts1 = smallProducts(1);
export const smallProducts8 = smallProducts(8);
