// Threads, BLAS detection, CUDA and live-tensor counts.
import { realpathSync } from 'node:fs';
import { native, type CpuAllocatorStats } from './native.js';

/** Derived tensors alive (see liveTensorCount). */
let derivedLive = 0;

/** Called by Tensor when a derived tensor is cached with its source (+1) or dropped (-1). */
export function noteDerivedTensor(delta: 1 | -1): void {
  derivedLive += delta;
}

/**
 * Tensor handles alive in this thread (for leak tests), not counting the derived tensors cached with their sources (Tensor.derived,
 * e.g. a weight's transposed copy for small products): those belong to their source and go with it, so a model's
 * first use does not look like a leak. derivedTensorCount() gives them apart.
 */
export function liveTensorCount(): number {
  return native.liveTensors() - derivedLive;
}

/** Derived tensors cached with their sources (Tensor.derived) and alive now. */
export function derivedTensorCount(): number {
  return derivedLive;
}

/**
 * Counters of the caching CPU allocator in the addon: freed blocks of 64 KiB and more are kept by size class
 * (at most the larger of STREAMNEST_CPU_CACHE_MB, default 512, and the peak of large blocks live at once; 0 turns
 * the cache off) and reused, so that repeated steps do not fault in fresh pages (see native/src/cpu-allocator.cc).
 */
export function cpuAllocatorStats(): CpuAllocatorStats {
  return native.cpuAllocatorStats();
}

/** Frees every block the CPU allocator holds in its cache (they are reallocated on demand) and resets its live peak and working set. */
export function cpuAllocatorTrim(): void {
  native.cpuAllocatorTrim();
}

/** Sets libtorch's intra-op threads and OpenBLAS's threads together (one knob, no oversubscription). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`threads must be a positive integer, got ${n}`);
  native.setNumThreads(n);
}

export function getNumThreads(): number {
  return native.getNumThreads();
}

export interface BlasReport {
  library: string | null;
  kind: 'openblas' | 'reference' | 'mkl' | 'other' | 'unknown';
  threads?: number;
  /** OpenBLAS's kernels in use (its choice for this CPU, or OPENBLAS_CORETYPE's), where the BLAS is OpenBLAS. */
  core?: string;
}

export function blasReport(): BlasReport {
  const info = native.blasInfo();
  let lib = info.library;
  if (lib) {
    try {
      lib = realpathSync(lib);
    } catch {
      // keep the path as given
    }
  }
  let kind: BlasReport['kind'] = 'unknown';
  if (info.openblasConfig || (lib && /openblas/i.test(lib))) kind = 'openblas';
  else if (lib && /mkl/i.test(lib)) kind = 'mkl';
  else if (lib && /\/blas\/libblas\.so/.test(lib)) kind = 'reference';
  else if (lib) kind = 'other';
  return { library: lib, kind, threads: info.openblasThreads, core: info.openblasCore };
}

let warned = false;
/** Warns loudly (once) when libtorch's matrix products go through the reference BLAS. */
export function checkBlas(log: (msg: string) => void = (m) => process.stderr.write(m + '\n')): BlasReport {
  const r = blasReport();
  if (r.kind === 'reference' && !warned) {
    warned = true;
    log(
      '\n*** streamnest WARNING: libtorch is using the reference BLAS (' +
        r.library +
        '), about 20x slower than OpenBLAS.\n*** Install it: sudo apt-get install -y libopenblas0-pthread\n',
    );
  }
  return r;
}

export function cudaAvailable(): boolean {
  return native.cudaInfo().available;
}

export function libtorchVersion(): string {
  return native.version();
}

/** Applies STREAMNEST_THREADS (default: all cores, as PyTorch does) to both thread pools. */
export function applyThreadSetting(threads?: number): number {
  const env = process.env.STREAMNEST_THREADS;
  const n = threads ?? (env ? Number(env) : native.getNumThreads());
  setNumThreads(n);
  return n;
}
