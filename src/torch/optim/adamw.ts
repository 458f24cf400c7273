// Provenance: torch.optim.AdamW (single-tensor path, amsgrad=False), fused into one native call per step.
import { native } from '../native.js';
import { zerosLike } from '../ops/creation.js';
import { keep } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { noGrad } from '../autograd.js';

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** The optimizer state in torch.optim's state_dict layout (state keyed by parameter index). */
export interface AdamWState {
  /** Per parameter index: the step count and the moment estimates (the optimizer's own tensors: do not dispose). */
  state: Map<number, { step: number; exp_avg: Tensor; exp_avg_sq: Tensor }>;
  param_groups: { lr: number; betas: [number, number]; eps: number; weight_decay: number; amsgrad: boolean; maximize: boolean; params: number[] }[];
}

export class AdamW {
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  private readonly expAvg: Tensor[];
  private readonly expAvgSq: Tensor[];
  private readonly steps: number[];

  constructor(
    readonly params: Tensor[],
    o: AdamWOptions = {},
  ) {
    this.lr = o.lr ?? 1e-3;
    this.betas = o.betas ?? [0.9, 0.999];
    this.eps = o.eps ?? 1e-8;
    this.weightDecay = o.weightDecay ?? 1e-2;
    if (this.lr < 0) throw new RangeError(`AdamW: invalid learning rate ${this.lr}`);
    if (this.betas.some((b) => b < 0 || b >= 1)) throw new RangeError(`AdamW: betas must be in [0, 1), got ${this.betas}`);
    this.expAvg = params.map((p) => keep(zerosLike(p)));
    this.expAvgSq = params.map((p) => keep(zerosLike(p)));
    this.steps = params.map(() => 0);
  }

  /** One update from the parameters' current gradients (parameters without a gradient are left alone). */
  step(): void {
    native.adamwStep(
      this.params.map((p) => p.native),
      this.expAvg.map((t) => t.native),
      this.expAvgSq.map((t) => t.native),
      this.steps,
      this.lr,
      this.betas[0],
      this.betas[1],
      this.eps,
      this.weightDecay,
    );
  }

  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  stateDict(): AdamWState {
    const state: AdamWState['state'] = new Map();
    this.params.forEach((_, i) => {
      if (this.steps[i]! > 0) {
        state.set(i, { step: this.steps[i]!, exp_avg: this.expAvg[i]!, exp_avg_sq: this.expAvgSq[i]! });
      }
    });
    return {
      state,
      param_groups: [
        {
          lr: this.lr,
          betas: this.betas,
          eps: this.eps,
          weight_decay: this.weightDecay,
          amsgrad: false,
          maximize: false,
          params: this.params.map((_, i) => i),
        },
      ],
    };
  }

  loadStateDict(sd: AdamWState): void {
    const group = sd.param_groups[0];
    if (!group || group.params.length !== this.params.length) {
      throw new Error(`AdamW.loadStateDict: the saved state has ${group?.params.length ?? 0} parameters, this optimizer ${this.params.length}`);
    }
    this.lr = group.lr;
    noGrad(() => {
      this.params.forEach((p, i) => {
        const s = sd.state.get(i);
        if (!s) {
          this.steps[i] = 0;
          this.expAvg[i]!.zero_();
          this.expAvgSq[i]!.zero_();
          return;
        }
        const shape = p.shape.join(',');
        if (s.exp_avg.shape.join(',') !== shape || s.exp_avg_sq.shape.join(',') !== shape) {
          throw new Error(`AdamW.loadStateDict: state of parameter ${i} has shape [${s.exp_avg.shape}], parameter [${p.shape}]`);
        }
        this.steps[i] = s.step;
        this.expAvg[i]!.copy_(s.exp_avg);
        this.expAvgSq[i]!.copy_(s.exp_avg_sq);
      });
    });
  }

  dispose(): void {
    for (const t of [...this.expAvg, ...this.expAvgSq]) t.dispose();
  }
}
