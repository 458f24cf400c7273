// Autocast scopes: torch.autocast (torch.amp.autocast_mode.autocast.__enter__/__exit__) over libtorch's thread-local state.
import { native } from './native.js';

export type AutocastDevice = 'cpu' | 'cuda';
export type AutocastDtype = 'bfloat16' | 'float16';

export interface AutocastOptions {
  device: AutocastDevice;
  /** The lower precision matmul/linear/conv run in (default bfloat16). */
  dtype?: AutocastDtype;
  /** false: run fn with autocast off (torch.autocast(enabled=False)), e.g. for a region that must stay float32. */
  enabled?: boolean;
}

/**
 * Runs fn with autocast set for the calling thread: operators on the autocast lists run in `dtype` (matmul, linear,
 * conv), the fp32-listed ones (losses, stft, ...) in float32, the rest in their inputs' type. The previous state is
 * restored when fn returns or throws, and the cache of lower-precision weight copies is cleared when the outermost
 * scope exits. Only the forward pass belongs inside: gradients flow back to the float32 parameters through the casts.
 * fn must be synchronous (the state is per thread, and awaiting would leak it into other work).
 */
export function autocast<T>(o: AutocastOptions, fn: () => T): T {
  const dtype = o.dtype ?? 'bfloat16';
  const prev = native.autocastState(o.device);
  const prevCpuOn = cpuAutocastOn;
  native.setAutocastState(o.device, o.enabled ?? true, dtype);
  if (o.device === 'cpu') cpuAutocastOn = o.enabled ?? true;
  native.autocastEnter();
  try {
    const result = fn();
    if (result instanceof Promise) throw new Error('autocast(fn): fn must be synchronous');
    return result;
  } finally {
    native.autocastExit();
    native.setAutocastState(o.device, prev.enabled, prev.dtype);
    cpuAutocastOn = prevCpuOn;
  }
}

/** Whether CPU autocast is on in this thread, as autocast() set it (a JS flag: no native call, for hot paths). */
let cpuAutocastOn = false;
export const isCpuAutocastOn = (): boolean => cpuAutocastOn;

/** Whether autocast is on for `device` in this thread, and its lower-precision dtype. */
export function autocastState(device: AutocastDevice): { enabled: boolean; dtype: AutocastDtype } {
  return native.autocastState(device);
}

/**
 * Runs fn with CPU and CUDA autocast off (a float32 region inside an autocast scope, as NeMo's FilterbankFeatures
 * wraps its STFT and mel matmul in torch.amp.autocast(enabled=False)). The enclosing state comes back afterwards.
 */
export function autocastOff<T>(fn: () => T): T {
  return autocast({ device: 'cpu', enabled: false }, () => autocast({ device: 'cuda', enabled: false }, fn));
}
