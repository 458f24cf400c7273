// Kill-and-resume harness: runs `streamnest pretrain` (tiny preset, resume_if_exists=true), SIGKILLs it at random
// moments and while a checkpoint is being written, restarts it each time, checks after every kill that every
// checkpoint present opens, and finally compares the last checkpoint (weights, optimizer, RNG states, sampler)
// with that of an uninterrupted run. Used by test/reliability/kill-resume.test.ts (3 kills) and
// tools/reliability/kill-resume.sh (20 kills).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, watch } from 'node:fs';
import { join } from 'node:path';
import { MAIN_JS, REPO_ROOT, checkAllReadable, checkpointsDir, compareDigests, digestCheckpoint, lastCheckpoint, prng } from './common.js';

export interface KillResumeOptions {
  kills: number;
  maxSteps: number;
  valCheckInterval: number;
  /** Seed of the kill schedule (the training seed is fixed). */
  seed: number;
  workDir: string;
  /** Extra overrides for both runs (e.g. a smaller model). */
  overrides?: string[];
  log?: (line: string) => void;
}

export interface KillRecord {
  attempt: number;
  mode: 'timer' | 'checkpoint-write';
  afterMs: number;
  /** Whether a temporary checkpoint file was left behind, i.e. the kill landed during a write. */
  duringWrite: boolean;
  stepBefore: number | null;
  checked: string[];
  problems: string[];
}

export interface KillResumeReport {
  kills: KillRecord[];
  /** Runs started in the interrupted sequence (kills + the final completing one). */
  runs: number;
  referenceMs: number;
  differences: string[];
  leftoverTemporaries: string[];
  finalStep: number;
}

function args(expDir: string, o: KillResumeOptions): string[] {
  return [
    MAIN_JS,
    'pretrain',
    '--quiet',
    `trainer.max_steps=${o.maxSteps}`,
    `trainer.val_check_interval=${o.valCheckInterval}`,
    'trainer.log_every_n_steps=1',
    `exp_manager.exp_dir=${expDir}`,
    'exp_manager.resume_if_exists=true',
    ...(o.overrides ?? []),
  ];
}

function start(expDir: string, o: KillResumeOptions): { child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> } {
  const child = spawn(process.execPath, args(expDir, o), { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, STREAMNEST_THREADS: '1' } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((res) => child.on('exit', (code, signal) => res({ code, signal, stderr })));
  return { child, exited };
}

function stepOf(path: string): number | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(digestCheckpoint(path).progress).globalStep as number;
  } catch {
    return null;
  }
}

export async function runKillResume(o: KillResumeOptions): Promise<KillResumeReport> {
  const log = o.log ?? (() => {});
  const rnd = prng(o.seed);
  rmSync(o.workDir, { recursive: true, force: true });
  const refDir = join(o.workDir, 'reference');
  const killDir = join(o.workDir, 'killed');

  // 1. the uninterrupted run
  const t0 = Date.now();
  const ref = start(refDir, o);
  const r = await ref.exited;
  const referenceMs = Date.now() - t0;
  if (r.code !== 0) throw new Error(`reference run failed (${r.code ?? r.signal}):\n${r.stderr.slice(-3000)}`);
  log(`reference run: ${referenceMs} ms`);

  // 2. the interrupted runs
  const ckDir = checkpointsDir(killDir);
  mkdirSync(ckDir, { recursive: true });
  const kills: KillRecord[] = [];
  let runs = 0;
  for (;;) {
    runs++;
    if (runs > o.kills * 4 + 10) throw new Error(`no completion after ${runs - 1} runs`);
    const stepBefore = stepOf(lastCheckpoint(killDir));
    const wantKill = kills.length < o.kills;
    // alternate: a kill timed at a random moment, and a kill as soon as a checkpoint temporary appears
    const mode: KillRecord['mode'] = kills.length % 2 === 0 ? 'checkpoint-write' : 'timer';
    const tempsBefore = readdirSync(ckDir).filter((f) => /\.tmp-/.test(f));
    const began = Date.now();
    const p = start(killDir, o);
    let killedAt = 0;
    const kill = (): void => {
      if (killedAt || p.child.exitCode !== null) return;
      killedAt = Date.now();
      p.child.kill('SIGKILL');
    };
    let watcher: ReturnType<typeof watch> | null = null;
    let timer: NodeJS.Timeout | null = null;
    if (wantKill) {
      if (mode === 'checkpoint-write') {
        // skip a random number of checkpoint writes (each writes a top-k file and --last), then kill on the next
        // (inotify reports a temporary several times: created, written, renamed away; count distinct names)
        const skip = Math.floor(rnd() * 4);
        const seen = new Set<string>(tempsBefore);
        watcher = watch(ckDir, (_ev, f) => {
          if (!f || !/\.tmp-/.test(String(f)) || seen.has(String(f))) return;
          seen.add(String(f));
          if (seen.size - tempsBefore.length > skip) kill();
        });
        // if the run never writes again (it finishes first), it simply completes
      } else {
        // any moment of a run as long as the reference (mostly after start-up, which is about a third of it)
        timer = setTimeout(kill, Math.floor((0.2 + 0.8 * rnd()) * referenceMs));
      }
    }
    const e = await p.exited;
    watcher?.close();
    if (timer) clearTimeout(timer);
    if (killedAt && e.signal === 'SIGKILL') {
      const temps = readdirSync(ckDir).filter((f) => /\.tmp-/.test(f) && !tempsBefore.includes(f));
      const { checked, problems } = checkAllReadable(ckDir);
      const rec: KillRecord = { attempt: runs, mode, afterMs: killedAt - began, duringWrite: temps.length > 0, stepBefore, checked, problems };
      kills.push(rec);
      log(`kill ${kills.length}/${o.kills} (${mode}) after ${rec.afterMs} ms, resumed from step ${stepBefore ?? 0}, now at step ${stepOf(lastCheckpoint(killDir)) ?? 0}; ${temps.length ? 'during a checkpoint write; ' : ''}${checked.length} checkpoint(s) open${problems.length ? `; PROBLEMS: ${problems.join('; ')}` : ''}`);
      continue;
    }
    if (e.code !== 0) throw new Error(`interrupted run ${runs} failed (${e.code ?? e.signal}):\n${e.stderr.slice(-3000)}`);
    if (kills.length >= o.kills) break;
    // finished before the kill landed: start again from scratch to place the remaining kills
    log(`run ${runs} completed before its kill; starting over`);
    rmSync(join(killDir, 'SSL-NEST-FastConformer-Tiny'), { recursive: true, force: true });
    mkdirSync(ckDir, { recursive: true });
  }

  // 3. compare
  const a = digestCheckpoint(lastCheckpoint(refDir));
  const b = digestCheckpoint(lastCheckpoint(killDir));
  const differences = compareDigests(a, b);
  const leftoverTemporaries = readdirSync(ckDir).filter((f) => /\.tmp-/.test(f));
  return { kills, runs, referenceMs, differences, leftoverTemporaries, finalStep: JSON.parse(b.progress).globalStep };
}
