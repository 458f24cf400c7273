// Autograd: grad-mode scopes and torch.autograd.grad.
import { native, type NativeTensor } from './native.js';
import { Tensor } from './tensor.js';

/** Runs fn with gradient recording off (torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

/** Runs fn with gradient recording on (torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(true);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

export interface GradOptions {
  gradOutputs?: Tensor[];
  retainGraph?: boolean;
  createGraph?: boolean;
  allowUnused?: boolean;
}

/** torch.autograd.grad: gradients of outputs with respect to inputs (null for unused inputs when allowed). */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor[], opts: GradOptions = {}): (Tensor | null)[] {
  const outs = Array.isArray(outputs) ? outputs : [outputs];
  const r = native.autogradGrad(
    outs.map((t) => t.native),
    inputs.map((t) => t.native),
    opts.gradOutputs ? opts.gradOutputs.map((t) => t.native) : null,
    opts.retainGraph ?? opts.createGraph ?? false,
    opts.createGraph ?? false,
    opts.allowUnused ?? false,
  );
  return r.map((g: NativeTensor | null) => (g === null ? null : new Tensor(g)));
}
