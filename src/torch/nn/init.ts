// Initialisers matching torch.nn.init and PyTorch's layer defaults. Each draws from an explicit generator when given.
import { noGrad } from '../autograd.js';
import type { Generator } from '../random.js';
import type { Tensor } from '../tensor.js';

/** fan_in and fan_out as torch.nn.init._calculate_fan_in_and_fan_out computes them. */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new RangeError('fan in and fan out need a tensor with at least 2 dimensions');
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1]! * receptive, fanOut: shape[0]! * receptive };
}

export function uniform_(t: Tensor, low: number, high: number, generator?: Generator): Tensor {
  return noGrad(() => t.uniform_(low, high, generator));
}
export function normal_(t: Tensor, mean: number, std: number, generator?: Generator): Tensor {
  return noGrad(() => t.normal_(mean, std, generator));
}
export function constant_(t: Tensor, value: number): Tensor {
  return noGrad(() => t.fill_(value));
}
export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}
export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

function gain(nonlinearity: 'linear' | 'relu' | 'leaky_relu' | 'tanh' | 'sigmoid', a = 0): number {
  switch (nonlinearity) {
    case 'linear':
    case 'sigmoid':
      return 1;
    case 'relu':
      return Math.SQRT2;
    case 'tanh':
      return 5 / 3;
    case 'leaky_relu':
      return Math.sqrt(2 / (1 + a * a));
  }
}

/** torch.nn.init.kaiming_uniform_ (mode fan_in). */
export function kaimingUniform_(t: Tensor, a = 0, nonlinearity: 'relu' | 'leaky_relu' = 'leaky_relu', generator?: Generator): Tensor {
  const { fanIn } = fans(t.shape);
  const std = gain(nonlinearity, a) / Math.sqrt(fanIn);
  const bound = Math.sqrt(3) * std;
  return uniform_(t, -bound, bound, generator);
}

/** torch.nn.init.xavier_uniform_. */
export function xavierUniform_(t: Tensor, g = 1, generator?: Generator): Tensor {
  const { fanIn, fanOut } = fans(t.shape);
  const a = g * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -a, a, generator);
}

/** PyTorch's default for Linear and Conv weights and biases: kaiming_uniform(a=sqrt(5)) and U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export function defaultLayerInit_(weight: Tensor, bias: Tensor | null, generator?: Generator): void {
  kaimingUniform_(weight, Math.sqrt(5), 'leaky_relu', generator);
  if (bias) {
    const { fanIn } = fans(weight.shape);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform_(bias, -bound, bound, generator);
  }
}
