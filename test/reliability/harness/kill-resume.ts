// Kill-and-resume harness: runs `streamnest pretrain` (tiny preset, resume_if_exists=true), SIGKILLs it at random
// moments and while a checkpoint is being written (deterministically: the child, preloaded with
// stop-in-checkpoint-write.js, stops itself half-way through writing the chosen checkpoint temporary and is killed
// there), restarts it each time, checks after every kill that every
// checkpoint present opens, and finally compares the last checkpoint (weights, optimizer, RNG states, sampler)
// with that of an uninterrupted run. Used by test/reliability/kill-resume.test.ts (3 kills) and
// tools/reliability/kill-resume.sh (20 kills).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { MAIN_JS, REPO_ROOT, checkAllReadable, checkpointsDir, compareDigests, digestCheckpoint, lastCheckpoint, prng } from './common.js';
import { STOP_ENV, STOP_MARKER } from './stop-in-checkpoint-write.js';

const STOP_HOOK = new URL('./stop-in-checkpoint-write.js', import.meta.url).href;

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
  /** The temporaries (new since the run started) present right after the kill. */
  temporaries: string[];
  /** checkpoint-write mode: the temporary the child stopped in (half written) when it was killed. */
  stoppedIn: string | null;
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

/**
 * Starts a run. With `stopInWrite` = N the child stops itself inside its N-th checkpoint write (half of the temporary
 * written, nothing renamed) and `onStopped` is called with the temporary's path.
 */
function start(
  expDir: string,
  o: KillResumeOptions,
  stop?: { stopInWrite: number; onStopped: (tmp: string) => void },
): { child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> } {
  const env: NodeJS.ProcessEnv = { ...process.env, STREAMNEST_THREADS: '1' };
  delete env[STOP_ENV];
  if (stop) env[STOP_ENV] = String(stop.stopInWrite);
  const argv = stop ? ['--import', STOP_HOOK, ...args(expDir, o)] : args(expDir, o);
  const child = spawn(process.execPath, argv, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  let stopped = false;
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stop && !stopped) {
      const m = new RegExp(`${STOP_MARKER}(\\S+)\n`).exec(stderr);
      if (m) {
        stopped = true;
        stop.onStopped(m[1]!);
      }
    }
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((res) =>
    child.on('exit', (code, signal) => res({ code, signal, stderr })),
  );
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
    let killedAt = 0;
    let stoppedIn: string | null = null;
    let p: ReturnType<typeof start>;
    const kill = (): void => {
      if (killedAt || p.child.exitCode !== null) return;
      killedAt = Date.now();
      p.child.kill('SIGKILL');
    };
    let timer: NodeJS.Timeout | null = null;
    if (wantKill && mode === 'checkpoint-write') {
      // skip a random number of checkpoint writes, then stop in the next one and kill the child there. Every
      // validation check writes at least --last (and a top-k file when it improves), so with skip < the checks left
      // to this run the chosen write always happens; the child waits, stopped, for the kill (no race with the write).
      const checksLeft = Math.floor(o.maxSteps / o.valCheckInterval) - Math.floor((stepBefore ?? 0) / o.valCheckInterval);
      const skip = Math.floor(rnd() * Math.max(1, Math.min(4, checksLeft)));
      p = start(killDir, o, {
        stopInWrite: skip + 1,
        onStopped: (tmp) => {
          stoppedIn = basename(tmp);
          kill();
        },
      });
    } else {
      p = start(killDir, o);
      // any moment of a run as long as the reference (mostly after start-up, which is about a third of it)
      if (wantKill) timer = setTimeout(kill, Math.floor((0.2 + 0.8 * rnd()) * referenceMs));
    }
    const e = await p.exited;
    if (timer) clearTimeout(timer);
    if (killedAt && e.signal === 'SIGKILL') {
      const temps = readdirSync(ckDir).filter((f) => /\.tmp-/.test(f) && !tempsBefore.includes(f));
      const { checked, problems } = checkAllReadable(ckDir);
      const rec: KillRecord = {
        attempt: runs,
        mode,
        afterMs: killedAt - began,
        duringWrite: temps.length > 0,
        temporaries: temps,
        stoppedIn,
        stepBefore,
        checked,
        problems,
      };
      kills.push(rec);
      log(
        `kill ${kills.length}/${o.kills} (${mode}) after ${rec.afterMs} ms, resumed from step ${stepBefore ?? 0}, now at step ${stepOf(lastCheckpoint(killDir)) ?? 0}; ${temps.length ? `during a checkpoint write (${stoppedIn ? `stopped in ${stoppedIn}; ` : ''}left: ${temps.join(', ')}); ` : ''}${checked.length} checkpoint(s) open${problems.length ? `; PROBLEMS: ${problems.join('; ')}` : ''}`,
      );
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
