// Process start-up for streamnest's programs (the CLI calls this before any command runs):
// checks which BLAS libtorch uses (loud warning for the reference BLAS) and applies the thread setting.
import { createRequire } from 'node:module';
import { checkBlas, getNumThreads, setNumThreads, type BlasReport } from './runtime.js';

export interface StartupOptions {
  /** Threads for libtorch's intra-op pool and OpenBLAS's pool (one knob). Overrides STREAMNEST_THREADS. */
  threads?: number;
  /** Where warnings go (default: stderr). */
  log?: (msg: string) => void;
}

export interface StartupReport {
  threads: number;
  /** Where the thread count came from. */
  threadSource: 'option' | 'env' | 'default';
  blas: BlasReport;
}

/** Parses a thread count from the command line or STREAMNEST_THREADS; throws a one-line error when malformed. */
export function parseThreads(raw: string, what: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < 1) throw new RangeError(`${what} must be a positive integer, got '${raw}'`);
  return n;
}

let done: StartupReport | null = null;

/**
 * Runs once per process: BLAS check, then threads = options.threads ?? STREAMNEST_THREADS ?? libtorch's default
 * (the number of cores, as in PyTorch). The same count is applied to libtorch and OpenBLAS so that they do not
 * oversubscribe the cores.
 */
export function startup(o: StartupOptions = {}): StartupReport {
  if (done && o.threads === undefined) return done;
  const blas = checkBlas(o.log);
  const env = process.env.STREAMNEST_THREADS;
  let threads: number;
  let threadSource: StartupReport['threadSource'];
  if (o.threads !== undefined) {
    threads = o.threads;
    threadSource = 'option';
  } else if (env !== undefined && env !== '') {
    threads = parseThreads(env, 'STREAMNEST_THREADS');
    threadSource = 'env';
  } else {
    threads = getNumThreads();
    threadSource = 'default';
  }
  setNumThreads(threads);
  done = { threads, threadSource, blas };
  return done;
}

type GcFn = (options?: { type?: 'major' | 'minor' }) => void;
let gcFn: GcFn | null | undefined;

/**
 * Runs a minor V8 garbage collection (a scavenge, well under a millisecond with streamnest's small JS heap).
 *
 * No longer needed for memory: tensor handles are plain values and dispose() frees everything native at once
 * (native/src/tensor.h), so nothing waits for the collector and RSS stays flat without it (BENCHMARKS.md, "Memory").
 * It was the mitigation for the old handles (a native object per handle that lived until V8 collected its wrapper)
 * and stays for the callers and benchmark options that ask for a collection per step.
 * Returns false where a collection cannot be requested (then it does nothing).
 */
export function collectDisposedHandles(): boolean {
  if (gcFn === undefined) {
    gcFn = null;
    try {
      const g = (globalThis as { gc?: GcFn }).gc;
      if (typeof g === 'function') gcFn = g;
      else {
        // Node exposes gc() only with --expose-gc; the flag can be set at run time and gc() fetched from a new context.
        const require = createRequire(import.meta.url);
        const v8 = require('node:v8') as typeof import('node:v8');
        const vm = require('node:vm') as typeof import('node:vm');
        v8.setFlagsFromString('--expose-gc');
        const fn = vm.runInNewContext('gc') as unknown;
        if (typeof fn === 'function') gcFn = fn as GcFn;
      }
    } catch {
      gcFn = null;
    }
  }
  if (gcFn === null) return false;
  gcFn({ type: 'minor' });
  return true;
}
