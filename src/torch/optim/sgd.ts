// Provenance: torch.optim.SGD (momentum, dampening, nesterov, weight decay).
import { native } from '../native.js';
import { Tensor } from '../tensor.js';
import { keep } from '../scope.js';

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export class SGD {
  lr: number;
  private buffers: (Tensor | null)[];
  constructor(
    readonly params: Tensor[],
    readonly o: SgdOptions,
  ) {
    this.lr = o.lr;
    if (o.nesterov && (!o.momentum || (o.dampening ?? 0) !== 0)) throw new RangeError('SGD: nesterov needs momentum > 0 and dampening 0');
    this.buffers = params.map(() => null);
  }
  step(): void {
    const out = native.sgdStep(
      this.params.map((p) => p.native),
      this.buffers.map((b) => b?.native ?? null),
      this.lr,
      this.o.momentum ?? 0,
      this.o.dampening ?? 0,
      this.o.weightDecay ?? 0,
      this.o.nesterov ?? false,
    );
    this.buffers = out.map((n, i) => {
      const old = this.buffers[i] ?? null;
      if (n === null) return old;
      if (old) {
        // the native call returns the same buffer (updated in place) or a new one: keep one handle
        old.dispose();
      }
      return keep(new Tensor(n));
    });
  }
  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }
  momentumBuffers(): (Tensor | null)[] {
    return this.buffers;
  }
  dispose(): void {
    for (const b of this.buffers) b?.dispose();
  }
}
