// Loads the N-API addon (build/Release/streamnest.node) and types its surface.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

declare const tensorHandle: unique symbol;
/**
 * A tensor handle: a BigInt naming one slot of the addon's tensor table, the slot's generation and the table's
 * thread (native/src/tensor.h). Released by tensorDispose at once; a stale handle (disposed) is refused.
 */
export type NativeTensor = bigint & { readonly [tensorHandle]: true };

export interface NativeGenerator {
  seed(seed: number): void;
  getState(): NativeTensor;
  setState(state: NativeTensor): void;
  /** The next 64-bit draw (CPUGeneratorImpl::random64), advancing the state. */
  randomUint64(): bigint;
}

export type NativeValue = NativeTensor | NativeGenerator | number | boolean | string | null | undefined | NativeValue[];
export type NativeResult = NativeTensor | number | boolean | string | null | NativeResult[];

export interface BlasInfo {
  library: string | null;
  openblasConfig: string | null;
  /** OpenBLAS's kernels in use (openblas_get_corename: e.g. Haswell, Cooperlake), where the BLAS is OpenBLAS. */
  openblasCore?: string;
  openblasThreads?: number;
  torchConfig: string;
}

export interface NativeProcessGroup {
  allreduce(tensors: NativeTensor[], op: 'sum' | 'max' | 'min' | 'product'): void;
  broadcast(tensors: NativeTensor[], root: number): void;
  barrier(): void;
  rank(): number;
  size(): number;
}

export interface NativeAddon {
  NativeProcessGroup: new (host: string, port: number, rank: number, worldSize: number, timeoutMs: number) => NativeProcessGroup;
  NativeGenerator: new (seed: number) => NativeGenerator;
  /** Releases the handle's slot (the storage goes with its last reference); false when it was already released. */
  tensorDispose(h: NativeTensor): boolean;
  tensorIsDisposed(h: NativeTensor): boolean;
  tensorShape(h: NativeTensor): number[];
  tensorStrides(h: NativeTensor): number[];
  tensorDtype(h: NativeTensor): string;
  tensorDevice(h: NativeTensor): string;
  tensorNumel(h: NativeTensor): number;
  tensorNbytes(h: NativeTensor): number;
  tensorRequiresGrad(h: NativeTensor): boolean;
  tensorSetRequiresGrad(h: NativeTensor, on: boolean): void;
  tensorIsLeaf(h: NativeTensor): boolean;
  /** A new handle to the accumulated gradient, or null. */
  tensorGrad(h: NativeTensor): NativeTensor | null;
  tensorSetGrad(h: NativeTensor, g: NativeTensor | null): void;
  tensorBackward(h: NativeTensor, gradient: NativeTensor | null, retainGraph: boolean): void;
  tensorItem(h: NativeTensor): number | boolean;
  tensorToBuffer(h: NativeTensor): ArrayBuffer;
  /** The bytes without a copy (an external buffer that keeps the tensor alive until collected; a copy where not allowed). */
  tensorBytesView(h: NativeTensor): ArrayBuffer;
  tensorSameStorage(a: NativeTensor, b: NativeTensor): boolean;
  /** ATen's version counter (_version): bumped by every in-place write to the tensor or a view of it. */
  tensorVersion(h: NativeTensor): number;
  /** `h` now refers to `other`'s tensor (same storage, no copy; its own requires_grad kept). */
  tensorAssign(h: NativeTensor, other: NativeTensor): void;
  findOp(name: string, overload: string): number;
  opSchema(handle: number): string;
  /** Calls operator `handle` with the schema's arguments in order (trailing ones may be left out: their defaults). */
  callOp(handle: number, ...args: NativeValue[]): NativeResult;
  fromBuffer(bytes: ArrayBufferView | ArrayBuffer, dtype: string, shape: readonly number[]): NativeTensor;
  setGradEnabled(on: boolean): boolean;
  isGradEnabled(): boolean;
  manualSeed(seed: number): void;
  defaultGeneratorState(): NativeTensor;
  setDefaultGeneratorState(state: NativeTensor): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  blasInfo(): BlasInfo;
  liveTensors(): number;
  cpuAllocatorStats(): CpuAllocatorStats;
  cpuAllocatorTrim(): void;
  cudaInfo(): { available: boolean; deviceCount: number };
  version(): string;
  autogradGrad(
    outputs: NativeTensor[],
    inputs: NativeTensor[],
    gradOutputs: NativeTensor[] | null,
    retainGraph: boolean,
    createGraph: boolean,
    allowUnused: boolean,
  ): (NativeTensor | null)[];
  adamwStep(
    params: NativeTensor[],
    expAvg: NativeTensor[],
    expAvgSq: NativeTensor[],
    steps: number[],
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
  ): void;
  sgdStep(
    params: NativeTensor[],
    momentumBuffers: (NativeTensor | null)[],
    lr: number,
    momentum: number,
    dampening: number,
    weightDecay: number,
    nesterov: boolean,
  ): (NativeTensor | null)[];
  clipGradNorm(params: NativeTensor[], maxNorm: number, normType: number): number;
  /** x [..., in] W^T + bias -> [..., out] (W [out, in] or [out, in, 1]), one matrix-vector product per row (no autograd). */
  rowProducts(weight: NativeTensor, x: NativeTensor, bias: NativeTensor | null): NativeTensor;
  /** The small-product kernel this CPU runs (native/src/small-products.cc), or null (no kernel: use ATen). */
  smallProductKernel(): 'avx512' | 'avx2' | null;
  /** A linear weight [out, in] (or a conv weight [out, ...], flattened to [out, in]) packed for packedProducts. */
  packWeight(weight: NativeTensor): NativeTensor;
  /**
   * x [..., in] W^T + bias (then max(0, .) when relu) through the small-product kernel, W given packed (packWeight) with
   * its `out` rows; any number of rows.
   */
  packedProducts(x: NativeTensor, packed: NativeTensor, out: number, bias: NativeTensor | null, relu?: boolean): NativeTensor;
  /**
   * a [..., m, k] @ b [..., k, n] (3-D or 4-D, the same batch shape; no autograd): float32 matrices of up to 16 rows
   * through the small-product kernel unless `smallProductKernel` is false, the others as one BLAS gemm per matrix.
   */
  batchedProducts(a: NativeTensor, b: NativeTensor, smallProductKernel?: boolean): NativeTensor;
  /**
   * Depthwise conv1d over windows: x [B, C, L] (float32 CPU, unit stride along L), weight [C, 1, K], bias [C] or null
   * -> [B, C, L - K + 1] (no autograd); null where it does not apply (the caller takes ATen's route).
   */
  depthwiseWindows(x: NativeTensor, weight: NativeTensor, bias: NativeTensor | null): NativeTensor | null;
  /**
   * A new dropout mask of `shape` (CPU; scalar type float32 or bfloat16, else null): 1/keep where kept, 0 where dropped,
   * each element kept with probability `keep` by a Philox4x32-10 draw keyed by `seed` (native/src/dropout-mask.cc).
   */
  dropoutMask(shape: readonly number[], scalarType: number, seed: bigint, keep: number): NativeTensor | null;
  /** The loop dropoutMask runs on this CPU (STREAMNEST_DROPOUT_KERNEL=avx2 or =generic picks a narrower one). */
  dropoutMaskKernel(): 'avx512' | 'avx2' | 'generic';
  autocastState(device: 'cpu' | 'cuda'): { enabled: boolean; dtype: 'bfloat16' | 'float16' };
  setAutocastState(device: 'cpu' | 'cuda', enabled: boolean, dtype: 'bfloat16' | 'float16'): void;
  /** Increments the autocast nesting count; returns the new level. */
  autocastEnter(): number;
  /** Decrements it; at 0 the cache of cast weights is cleared. Returns the remaining level. */
  autocastExit(): number;
}

function findAddon(): string {
  // dist/src/torch/native.js or src/torch/native.ts: the package root is three or two levels up.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'build', 'Release', 'streamnest.node');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(
    'streamnest: the native addon build/Release/streamnest.node is missing. Build it with `npm ci` ' +
      '(needs libtorch: `sudo apt-get install -y libtorch-dev libopenblas0-pthread`, or LIBTORCH=/path).',
  );
}

const require = createRequire(import.meta.url);
/** The caching CPU allocator's counters (enabled: false when STREAMNEST_CPU_CACHE_MB=0). */
export interface CpuAllocatorStats {
  enabled: boolean;
  cachedBytes?: number;
  /** The floor of the bound (STREAMNEST_CPU_CACHE_MB). */
  limitBytes?: number;
  /** The cache's bound now: max(limitBytes, min(workingSetBytes, 2 x peakLiveBytes)). */
  boundBytes?: number;
  /** Bytes of large blocks in use now, and the most there have been at once (since the last trim). */
  liveBytes?: number;
  peakLiveBytes?: number;
  /** Summed over size classes, the most blocks of the class in use at once, in bytes (since the last trim). */
  workingSetBytes?: number;
  hits?: number;
  misses?: number;
}

export const native: NativeAddon = require(findAddon()) as NativeAddon;
