// Provenance: torch.nn.LSTM (unidirectional, batch-first here, no projection): parameters weight_ih_l{k} [4H, in],
// weight_hh_l{k} [4H, H], bias_ih_l{k} [4H], bias_hh_l{k} [4H] (gates i, f, g, o), all U(-1/sqrt(H), 1/sqrt(H)).
// Each layer is one call of ATen's fused `lstm`; dropout between layers (training only) is drawn from the module's
// generator, so it is reproducible (torch.nn.LSTM draws it from the global generator inside ATen).
import { callMany, op } from '../dispatch.js';
import { empty, zeros } from '../ops/creation.js';
import { dropout } from '../ops/nn.js';
import { cat, narrow } from '../ops/shape.js';
import type { Generator } from '../random.js';
import { tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { uniform_ } from './init.js';
import type { LayerInit } from './layers.js';
import { Module } from './module.js';

const LSTM = op('lstm', 'input');

/** Hidden and cell states of every layer: h, c [L, B, H]. */
export interface LstmState {
  h: Tensor;
  c: Tensor;
}

export class Lstm extends Module {
  private readonly dropoutGenerator: Generator | undefined;

  constructor(
    readonly inputSize: number,
    readonly hiddenSize: number,
    readonly numLayers = 1,
    /** Dropout on the outputs of every layer but the last (training only), as torch.nn.LSTM's `dropout`. */
    readonly dropoutP = 0,
    init: LayerInit & { dropoutGenerator?: Generator } = {},
  ) {
    super();
    if (!(inputSize > 0 && hiddenSize > 0 && numLayers >= 1)) throw new RangeError(`Lstm: bad sizes in=${inputSize} hidden=${hiddenSize} layers=${numLayers}`);
    this.dropoutGenerator = init.dropoutGenerator;
    const bound = 1 / Math.sqrt(hiddenSize);
    for (let k = 0; k < numLayers; k++) {
      const shapes: [string, number[]][] = [
        [`weight_ih_l${k}`, [4 * hiddenSize, k === 0 ? inputSize : hiddenSize]],
        [`weight_hh_l${k}`, [4 * hiddenSize, hiddenSize]],
        [`bias_ih_l${k}`, [4 * hiddenSize]],
        [`bias_hh_l${k}`, [4 * hiddenSize]],
      ];
      for (const [name, shape] of shapes) uniform_(this.registerParameter(name, empty(shape, { dtype: init.dtype })), -bound, bound, init.generator);
    }
  }
  /** The four parameters of layer k in ATen's order (w_ih, w_hh, b_ih, b_hh). */
  layerParameters(k: number): Tensor[] {
    const all = new Map(this.namedParameters());
    return ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'].map((n) => all.get(`${n}_l${k}`)!);
  }

  /** A zero state for `batch` sequences. */
  initState(batch: number, dtype: 'float32' | 'float64' = 'float32', device?: string): LstmState {
    const shape = [this.numLayers, batch, this.hiddenSize];
    return { h: zeros(shape, { dtype, device }), c: zeros(shape, { dtype, device }) };
  }

  /** x [B, T, in], state (zeros when null) -> y [B, T, H] (last layer's outputs) and the state after the last step. */
  forward(x: Tensor, state: LstmState | null = null): { y: Tensor; state: LstmState } {
    return tidy(() => {
      const s = state ?? this.initState(x.size(0), x.dtype as 'float32' | 'float64', x.device);
      let y = x;
      const hs: Tensor[] = [];
      const cs: Tensor[] = [];
      for (let k = 0; k < this.numLayers; k++) {
        if (k > 0) y = dropout(y, this.dropoutP, this.training, this.dropoutGenerator);
        const hx = [narrow(s.h, 0, k, 1), narrow(s.c, 0, k, 1)]; // [1, B, H] each
        const [out, h, c] = callMany(LSTM, y, hx, this.layerParameters(k), true, 1, 0, this.training, false, true) as [Tensor, Tensor, Tensor];
        y = out; // [B, T, H]
        hs.push(h);
        cs.push(c);
      }
      return { y, state: { h: cat(hs, 0), c: cat(cs, 0) } };
    });
  }
}
