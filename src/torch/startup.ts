// Process start-up for streamnest's programs (the CLI calls this before any command runs):
// checks which BLAS libtorch uses (loud warning for the reference BLAS) and applies the thread setting.
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
