// Runs one benchmark script in a child process (node, BLAS and OpenMP pinned to 1 thread) and
// collects the JSON lines it prints on stdout (its results); every other line is passed on as progress.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The path of a compiled script under dist/bench, from its path relative to dist/bench/summary (e.g. '../cpu.js'). */
export const benchScript = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url));

/** Runs `node script ...args`; returns the objects of the lines that start with '{', in order. Throws on a non-zero exit. */
export async function runJsonChild(script: string, args: readonly string[], progress: (line: string) => void): Promise<Record<string, unknown>[]> {
  const name = script.split('/').slice(-2).join('/');
  const childEnv = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' };
  const child = spawn(process.execPath, [script, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'inherit'] });
  const out: Record<string, unknown>[] = [];
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (l) => {
    if (l.startsWith('{')) out.push(JSON.parse(l) as Record<string, unknown>);
    else if (l.trim() !== '') progress(`  ${name}: ${l}`);
  });
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`${name} ${args.join(' ')} failed (exit ${code})`);
  return out;
}
