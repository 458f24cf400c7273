// Fuzz driver: runs each target's inputs in a child process (fuzz-worker.js) so that a native abort or a hang is
// caught, with a time limit per input and an RSS ceiling, and restarts the child after the offending input.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TARGETS, mutate } from './fuzz-targets.js';

const WORKER = fileURLToPath(new URL('./fuzz-worker.js', import.meta.url));

export interface FuzzFinding {
  index: number;
  kind: 'unexpected-error' | 'crash' | 'hang' | 'memory';
  detail: string;
  /** The offending input, written under findingsDir. */
  file?: string;
}

export interface FuzzReport {
  target: string;
  inputs: number;
  outcomes: Record<string, number>;
  findings: FuzzFinding[];
  maxMs: number;
  /** RSS (MiB) of the worker after the first tenth of the inputs and at the end (of its last life). */
  rssEarlyMiB: number;
  rssEndMiB: number;
  maxRssMiB: number;
  /** Live libtorch tensors when the (last) worker finished: bad input must not leak tensors. */
  liveTensorsAtEnd: number | null;
  wallMs: number;
}

export interface FuzzOptions {
  target: string;
  seed: number;
  count: number;
  /** Time limit of one input (ms). */
  perInputMs?: number;
  /** The worker is killed (and the input reported) above this RSS. */
  rssLimitMiB?: number;
  scratchDir: string;
  findingsDir?: string;
}

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export async function fuzzTarget(o: FuzzOptions): Promise<FuzzReport> {
  const perInputMs = o.perInputMs ?? 10_000;
  const rssLimit = (o.rssLimitMiB ?? 2048) * 1024 * 1024;
  const outcomes: Record<string, number> = {};
  const findings: FuzzFinding[] = [];
  let maxMs = 0;
  let maxRss = 0;
  let rssEarly = 0;
  let rssEnd = 0;
  let live: number | null = null;
  const t0 = Date.now();
  const target = TARGETS.find((t) => t.name === o.target);
  if (!target) throw new Error(`unknown fuzz target ${o.target}`);
  const save = (i: number): string | undefined => {
    if (!o.findingsDir) return undefined;
    mkdirSync(o.findingsDir, { recursive: true });
    const f = join(o.findingsDir, `${o.target}-seed${o.seed}-${i}.bin`);
    writeFileSync(f, mutate(target.seeds(), target.text ?? false, o.seed, i));
    return f;
  };
  let next = 0;
  let restarts = 0;
  while (next < o.count) {
    if (restarts++ > 50) throw new Error(`${o.target}: the worker died more than 50 times`);
    const child = spawn(process.execPath, [WORKER, o.target, String(o.seed), String(next), String(o.count - next), o.scratchDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, STREAMNEST_THREADS: '1' },
    });
    let current = -1;
    let startedAt = 0;
    let buf = '';
    let stderr = '';
    let killedFor: FuzzFinding['kind'] | null = null;
    const kill = (why: FuzzFinding['kind']): void => {
      if (killedFor) return;
      killedFor = why;
      child.kill('SIGKILL');
    };
    const watchdog = setInterval(() => {
      if (current >= 0 && Date.now() - startedAt > perInputMs) kill('hang');
      const rss = rssOf(child.pid!);
      maxRss = Math.max(maxRss, rss);
      if (rss > rssLimit) kill('memory');
    }, 25);
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const [tag, a, b, c, dd] = line.split(' ');
        if (tag === 'S') {
          current = Number(a);
          startedAt = Date.now();
        } else if (tag === 'R') {
          const i = Number(a);
          outcomes[b!] = (outcomes[b!] ?? 0) + 1;
          maxMs = Math.max(maxMs, Number(c));
          const rss = Number(dd);
          maxRss = Math.max(maxRss, rss);
          if (i < Math.ceil(o.count / 10)) rssEarly = rss;
          rssEnd = rss;
          current = -1;
          next = i + 1;
        } else if (tag === 'M') {
          const i = Number(a);
          findings.push({ index: i, kind: 'unexpected-error', detail: JSON.parse(line.slice(line.indexOf(' ', 2) + 1)) as string, file: save(i) });
        } else if (tag === 'E') live = Number(a);
      }
    });
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
    clearInterval(watchdog);
    if (exit.code === 0 && next >= o.count) break;
    const i = current >= 0 ? current : next;
    const kind: FuzzFinding['kind'] = killedFor ?? 'crash';
    const detail =
      killedFor === 'hang'
        ? `no result within ${perInputMs} ms`
        : killedFor === 'memory'
          ? `RSS above ${o.rssLimitMiB ?? 2048} MiB`
          : `worker exited with ${exit.signal ?? `code ${exit.code}`}: ${stderr.slice(-1500)}`;
    findings.push({ index: i, kind, detail, file: save(i) });
    outcomes[kind] = (outcomes[kind] ?? 0) + 1;
    next = i + 1;
  }
  const MiB = (x: number): number => Math.round((x / 1048576) * 10) / 10;
  return {
    target: o.target,
    inputs: o.count,
    outcomes,
    findings,
    maxMs,
    rssEarlyMiB: MiB(rssEarly),
    rssEndMiB: MiB(rssEnd),
    maxRssMiB: MiB(maxRss),
    liveTensorsAtEnd: live,
    wallMs: Date.now() - t0,
  };
}

export const TARGET_NAMES = TARGETS.map((t) => t.name);
