// Seeded random-number generators, passed explicitly to random ops (no hidden global state needed).
import { native, type NativeGenerator } from './native.js';
import { Tensor } from './tensor.js';

/** A CPU generator; `new Generator(seed)` draws the same numbers as `torch.Generator().manual_seed(seed)`. */
export class Generator {
  readonly native: NativeGenerator;
  constructor(seed = 0) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
    this.native = new native.NativeGenerator(seed);
  }
  manualSeed(seed: number): this {
    this.native.seed(seed);
    return this;
  }
  /** The full state as a uint8 tensor (the bytes torch.Generator.get_state() returns). */
  getState(): Tensor {
    return new Tensor(this.native.getState());
  }
  setState(state: Tensor): void {
    this.native.setState(state.native);
  }
  /** The next 64-bit draw, advancing the state (a seed for counter-based draws such as dropout masks). */
  randomUint64(): bigint {
    return this.native.randomUint64();
  }
}

/** Seeds libtorch's default CPU generator (torch.manual_seed). */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}

export function defaultGeneratorState(): Tensor {
  return new Tensor(native.defaultGeneratorState());
}

export function setDefaultGeneratorState(state: Tensor): void {
  native.setDefaultGeneratorState(state.native);
}
