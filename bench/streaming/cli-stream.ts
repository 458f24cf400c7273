// `streamnest stream --json` as users run it, in a child process: the CLI's streaming route (StreamingEncoder in exact
// mode fed audio one chunk at a time; each push's wall time, features included, is one chunk latency).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** The fields of the CLI's JSON result the benchmarks read. */
export interface CliStreamResult {
  latency_ms: { p50: number; p90: number; p99: number; max: number };
  steady_latency_ms: { p50: number; p90: number; p99: number; max: number; chunks: number };
  rtf: number;
  chunks: number;
  chunk_frames: number;
  max_context: number | null;
  frames_out: number;
}

export interface CliStreamOptions {
  chunkMs: number;
  threads: number;
  /** --max-context (default: the CLI's own, the file's length in encoder frames). */
  maxContext?: number;
  /** --warmup: seconds of silence streamed first, untimed (default: none). */
  warmupSeconds?: number;
}

/** Runs `node dist/src/cli/main.js stream --model M --audio A --chunk-size s --json` and returns its JSON. */
export function runCliStream(model: string, audio: string, o: CliStreamOptions): CliStreamResult {
  const args = [MAIN, 'stream', '--model', model, '--audio', audio, '--chunk-size', String(o.chunkMs / 1000), '--threads', String(o.threads), '--json'];
  if (o.maxContext !== undefined) args.push('--max-context', String(o.maxContext));
  if (o.warmupSeconds !== undefined) args.push('--warmup', String(o.warmupSeconds));
  const env = { ...process.env, OPENBLAS_NUM_THREADS: String(o.threads), OMP_NUM_THREADS: String(o.threads) };
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`streamnest stream failed (${args.slice(1).join(' ')}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as CliStreamResult;
}
