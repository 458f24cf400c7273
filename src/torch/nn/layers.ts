// The basic layers: Linear, Conv1d, Conv2d, LayerNorm, BatchNorm1d, GroupNorm, Dropout, Embedding, and the ModuleList container.
import { empty, ones, zeros, scalar } from '../ops/creation.js';
import * as F from '../ops/nn.js';
import type { Generator } from '../random.js';
import type { Tensor } from '../tensor.js';
import { defaultLayerInit_, normal_ } from './init.js';
import { Module } from './module.js';
import { noGrad } from '../autograd.js';

export interface LayerInit {
  generator?: Generator;
  dtype?: 'float32' | 'float64';
}

// Provenance: torch.nn.Linear
export class Linear extends Module {
  readonly weight: Tensor; // [out, in]
  readonly bias: Tensor | null; // [out]
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias = true,
    init: LayerInit = {},
  ) {
    super();
    this.weight = this.registerParameter('weight', empty([outFeatures, inFeatures], { dtype: init.dtype }));
    this.bias = bias ? this.registerParameter('bias', empty([outFeatures], { dtype: init.dtype })) : null;
    defaultLayerInit_(this.weight, this.bias, init.generator);
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias); // [..., in] -> [..., out]
  }
}

export interface ConvConfig {
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
  bias?: boolean;
}

// Provenance: torch.nn.Conv1d (padding as explicit numbers; causal padding is the caller's job)
export class Conv1d extends Module {
  readonly weight: Tensor; // [out, in/groups, k]
  readonly bias: Tensor | null;
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;
  readonly groups: number;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    c: ConvConfig = {},
    init: LayerInit = {},
  ) {
    super();
    this.stride = c.stride ?? 1;
    this.padding = c.padding ?? 0;
    this.dilation = c.dilation ?? 1;
    this.groups = c.groups ?? 1;
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0) {
      throw new RangeError(`Conv1d: channels ${inChannels}->${outChannels} are not divisible by groups ${this.groups}`);
    }
    this.weight = this.registerParameter('weight', empty([outChannels, inChannels / this.groups, kernelSize], { dtype: init.dtype }));
    this.bias = (c.bias ?? true) ? this.registerParameter('bias', empty([outChannels], { dtype: init.dtype })) : null;
    defaultLayerInit_(this.weight, this.bias, init.generator);
  }
  forward(x: Tensor): Tensor {
    // [B, in, T] -> [B, out, T']
    return F.conv1d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }
}

export interface Conv2dConfig {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
  bias?: boolean;
}

// Provenance: torch.nn.Conv2d
export class Conv2d extends Module {
  readonly weight: Tensor; // [out, in/groups, kh, kw]
  readonly bias: Tensor | null;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number | [number, number],
    readonly config: Conv2dConfig = {},
    init: LayerInit = {},
  ) {
    super();
    const groups = config.groups ?? 1;
    const [kh, kw] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new RangeError(`Conv2d: channels ${inChannels}->${outChannels} are not divisible by groups ${groups}`);
    }
    this.weight = this.registerParameter('weight', empty([outChannels, inChannels / groups, kh, kw], { dtype: init.dtype }));
    this.bias = (config.bias ?? true) ? this.registerParameter('bias', empty([outChannels], { dtype: init.dtype })) : null;
    defaultLayerInit_(this.weight, this.bias, init.generator);
  }
  forward(x: Tensor): Tensor {
    // [B, in, H, W] -> [B, out, H', W']
    const c = this.config;
    return F.conv2d(x, this.weight, this.bias, { stride: c.stride ?? 1, padding: c.padding ?? 0, dilation: c.dilation ?? 1, groups: c.groups ?? 1 });
  }
}

// Provenance: torch.nn.LayerNorm (over the last dimension)
export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    readonly features: number,
    readonly eps = 1e-5,
    init: LayerInit = {},
  ) {
    super();
    this.weight = this.registerParameter('weight', ones([features], { dtype: init.dtype }));
    this.bias = this.registerParameter('bias', zeros([features], { dtype: init.dtype }));
  }
  forward(x: Tensor): Tensor {
    return F.layerNorm(x, [this.features], this.weight, this.bias, this.eps);
  }
}

// Provenance: torch.nn.BatchNorm1d (running statistics updated in training mode)
export class BatchNorm1d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    readonly features: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
    init: LayerInit = {},
  ) {
    super();
    this.weight = this.registerParameter('weight', ones([features], { dtype: init.dtype }));
    this.bias = this.registerParameter('bias', zeros([features], { dtype: init.dtype }));
    this.registerBuffer('running_mean', zeros([features], { dtype: init.dtype }));
    this.registerBuffer('running_var', ones([features], { dtype: init.dtype }));
    this.registerBuffer('num_batches_tracked', scalar(0, { dtype: 'int64' }));
  }
  get runningMean(): Tensor {
    return this.getBuffer('running_mean');
  }
  get runningVar(): Tensor {
    return this.getBuffer('running_var');
  }
  forward(x: Tensor): Tensor {
    // [B, C] or [B, C, T]
    if (this.training) {
      noGrad(() => {
        const n = this.getBuffer('num_batches_tracked');
        n.add_(1);
      });
    }
    return F.batchNorm(x, this.runningMean, this.runningVar, {
      weight: this.weight,
      bias: this.bias,
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
}

// Provenance: torch.nn.GroupNorm
export class GroupNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    readonly numGroups: number,
    readonly channels: number,
    readonly eps = 1e-5,
    init: LayerInit = {},
  ) {
    super();
    if (channels % numGroups !== 0) throw new RangeError(`GroupNorm: ${channels} channels are not divisible into ${numGroups} groups`);
    this.weight = this.registerParameter('weight', ones([channels], { dtype: init.dtype }));
    this.bias = this.registerParameter('bias', zeros([channels], { dtype: init.dtype }));
  }
  forward(x: Tensor): Tensor {
    return F.groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }
}

// Provenance: torch.nn.Dropout (with an optional generator for reproducible masks)
export class Dropout extends Module {
  constructor(
    readonly p: number,
    readonly generator?: Generator,
  ) {
    super();
    if (p < 0 || p > 1) throw new RangeError(`Dropout probability must be in [0, 1], got ${p}`);
  }
  /**
   * In training, x with each element zeroed with probability p and the rest scaled by 1/(1-p). In eval (or p = 0),
   * x itself, as torch.nn.Dropout returns its input: no operator call (a streaming step has 7 dropouts per layer); the
   * result is the caller's x, so it is disposed with x, not separately.
   */
  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    return F.dropout(x, this.p, this.training, this.generator);
  }
}

// Provenance: torch.nn.Embedding (N(0, 1) initialisation)
export class Embedding extends Module {
  readonly weight: Tensor;
  constructor(
    readonly num: number,
    readonly dim: number,
    init: LayerInit = {},
  ) {
    super();
    this.weight = this.registerParameter('weight', empty([num, dim], { dtype: init.dtype }));
    normal_(this.weight, 0, 1, init.generator);
  }
  forward(indices: Tensor): Tensor {
    return F.embedding(this.weight, indices);
  }
}

// Provenance: torch.nn.ModuleList (children named 0, 1, ..., so state-dict keys are `<list>.0.<param>`, `<list>.1.<param>`)
export class ModuleList<M extends Module> extends Module {
  readonly items: M[] = [];
  constructor(items: readonly M[] = []) {
    super();
    for (const m of items) this.append(m);
  }
  /** Adds a module as the next child (named by its index). */
  append(m: M): M {
    this.items.push(this.registerModule(String(this.items.length), m));
    return m;
  }
}
