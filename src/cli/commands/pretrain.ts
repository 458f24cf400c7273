// `streamnest pretrain`: NEST pretraining from a preset or NeMo-layout YAML with Hydra-style overrides.
// trainer.devices=N starts N worker processes here (c10d TCPStore + Gloo); trainer.num_nodes=M joins machines
// with torchrun's variables (MASTER_ADDR, MASTER_PORT, NODE_RANK); a process that already has RANK/WORLD_SIZE
// set (e.g. started by torchrun) is one worker.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { formatOptions, parseArgs, type OptionsSpec } from '../args.js';

export const name = 'pretrain';
export const summary = 'Pretrain a (streaming) FastConformer with NEST / BEST-RQ from a preset or NeMo YAML config';

const spec = {
  config: {
    type: 'string',
    short: 'c',
    default: 'tiny',
    metavar: 'PRESET|FILE',
    help: 'preset name (tiny, tiny_multilatency, streaming, lookahead, limited_context, nest_fast-conformer) or a YAML file',
  },
  seed: { type: 'integer', default: 1234, help: 'seed of the initialisation, masking, dropout, data order and augmentation' },
  allowUnsafe: { type: 'boolean', help: 'train a config that declares itself streaming even if the streaming-safety check fails' },
  quiet: { type: 'boolean', help: 'no progress bar' },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest pretrain [--config PRESET|FILE] [--seed N] [key.path=value ...]

${summary}.

Options:
${formatOptions(spec)}

Overrides (Hydra style, NeMo key layout):
  trainer.max_steps=500  model.encoder.att_context_size=[-1,4]  +model.new_key=1  ~model.some_key
  model.train_ds.manifest_filepath=/data/train.json  exp_manager.resume_if_exists=true

Multi-process: trainer.devices=N (this machine); trainer.num_nodes=M with MASTER_ADDR, MASTER_PORT and
NODE_RANK set on every machine (torchrun's conventions).

Outputs under exp_manager.exp_dir/<name>/: checkpoints/ (top-k by val_loss, <name>--last.ckpt, <name>.nemo),
metrics.csv, TensorBoard events, loss.png.`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

/**
 * Starts `devices` workers of this same command with RANK/WORLD_SIZE set. A failing worker stops the others:
 * they get SIGTERM (a worker blocked in a collective fails on its own once the dead peer's connection drops, or
 * after STREAMNEST_DIST_TIMEOUT_S), then SIGKILL after STREAMNEST_KILL_GRACE_S (default 20) if still alive.
 * Workers run in their own process group so that a terminal's Ctrl-C reaches them once, through this launcher,
 * and they stop by themselves if the launcher dies. Exit status: 0, or the first failing worker's.
 */
async function launchWorkers(devices: number, numNodes: number): Promise<number> {
  const nodeRank = Number(process.env.NODE_RANK ?? process.env.GROUP_RANK ?? 0);
  if (numNodes > 1 && (!process.env.MASTER_ADDR || !process.env.MASTER_PORT)) {
    throw new Error(`trainer.num_nodes=${numNodes}: set MASTER_ADDR, MASTER_PORT and NODE_RANK on every machine (torchrun's conventions)`);
  }
  const addr = process.env.MASTER_ADDR ?? '127.0.0.1';
  const port = process.env.MASTER_PORT ?? String(await freePort());
  const world = devices * numNodes;
  const threads = process.env.STREAMNEST_THREADS ?? '1';
  const children = [...Array(devices).keys()].map((local) => {
    const rank = nodeRank * devices + local;
    const child = spawn(process.execPath, process.argv.slice(1), {
      stdio: 'inherit',
      detached: true,
      env: {
        ...process.env,
        RANK: String(rank),
        LOCAL_RANK: String(local),
        WORLD_SIZE: String(world),
        MASTER_ADDR: addr,
        MASTER_PORT: port,
        STREAMNEST_THREADS: threads,
        STREAMNEST_LAUNCHER_PID: String(process.pid),
      },
    });
    return { rank, child, exited: false };
  });
  const forward = (sig: NodeJS.Signals) => () =>
    children.forEach((c) => {
      !c.exited && c.child.kill(sig);
    });
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const grace = 1000 * Number(process.env.STREAMNEST_KILL_GRACE_S ?? 20);
  let first: { rank: number; how: string; code: number } | null = null;
  let killTimer: NodeJS.Timeout | null = null;
  const codes = await Promise.all(
    children.map(
      (w) =>
        new Promise<number>((resolve) =>
          w.child.on('exit', (code, signal) => {
            w.exited = true;
            const c = code ?? (signal ? 128 + (SIGNALS[signal] ?? 0) : 1);
            if (c !== 0 && first === null) {
              first = { rank: w.rank, how: signal ? `was killed by ${signal}` : `exited with code ${code}`, code: c };
              process.stderr.write(`streamnest: worker rank ${w.rank} ${first.how}; stopping the other workers\n`);
              for (const o of children) if (!o.exited) o.child.kill('SIGTERM');
              killTimer = setTimeout(() => {
                for (const o of children) {
                  if (o.exited) continue;
                  process.stderr.write(`streamnest: worker rank ${o.rank} still running ${grace / 1000} s after SIGTERM; sending SIGKILL\n`);
                  o.child.kill('SIGKILL');
                }
              }, grace);
            }
            resolve(c);
          }),
        ),
    ),
  );
  if (killTimer) clearTimeout(killTimer);
  process.off('SIGINT', onInt);
  process.off('SIGTERM', onTerm);
  const f = first as { rank: number; how: string; code: number } | null;
  if (f) {
    process.stderr.write(
      `streamnest: distributed run failed: worker rank ${f.rank} ${f.how} first (the last complete checkpoint is kept; resume with exp_manager.resume_if_exists=true)\n`,
    );
    return f.code;
  }
  return codes.find((c) => c !== 0) ?? 0;
}

/** A worker started by launchWorkers stops (exit 1) if the launcher disappears, instead of training on alone. */
function watchLauncher(): void {
  const launcher = Number(process.env.STREAMNEST_LAUNCHER_PID ?? NaN);
  if (!Number.isInteger(launcher)) return;
  setInterval(() => {
    if (process.ppid !== launcher) {
      process.stderr.write(`streamnest: worker rank ${process.env.RANK}: the launcher (pid ${launcher}) is gone; stopping\n`);
      process.exit(1);
    }
  }, 2000).unref();
}

export async function run(argv: string[]): Promise<number> {
  const { options, overrides } = parseArgs(argv, spec, { overrides: true, maxPositionals: 0 });
  const { loadConfig } = await import('../../config/index.js');
  const loaded = loadConfig(
    options.config,
    overrides.map((o) => o.text),
  );
  const c = loaded.config;
  const devices = typeof c.trainer.devices === 'number' ? c.trainer.devices : Array.isArray(c.trainer.devices) ? c.trainer.devices.length : 1;
  const isWorker = process.env.RANK !== undefined && process.env.WORLD_SIZE !== undefined;
  if (!isWorker && devices * c.trainer.num_nodes > 1) return launchWorkers(devices, c.trainer.num_nodes);

  const rank = Number(process.env.RANK ?? 0);
  if (rank === 0) for (const w of loaded.warnings) process.stderr.write(`streamnest: config: ${w}\n`);
  if (c.streaming === true) {
    const { checkStreamingSafety, formatSafetyReport } = await import('../../config/streaming-safety.js');
    const problems = checkStreamingSafety(c);
    if (problems.some((p) => p.severity === 'error')) {
      if (!options.allowUnsafe) {
        process.stderr.write(
          `streamnest: the config declares streaming: true but is not streaming-safe (pass --allow-unsafe to train it anyway):\n${formatSafetyReport(loaded.file, problems)}\n`,
        );
        return 1;
      }
      if (rank === 0)
        process.stderr.write(`streamnest: WARNING: training an unsafe streaming config (--allow-unsafe):\n${formatSafetyReport(loaded.file, problems)}\n`);
    }
  }
  const t = await import('../../torch/index.js');
  const { pretrainNest } = await import('../../train/nest-pretraining.js');
  if (isWorker) watchLauncher();
  // a dead or hung peer makes every collective fail after this long (a killed one usually much sooner)
  const timeoutS = Number(process.env.STREAMNEST_DIST_TIMEOUT_S ?? 300);
  if (!(timeoutS > 0)) throw new Error(`STREAMNEST_DIST_TIMEOUT_S=${process.env.STREAMNEST_DIST_TIMEOUT_S} is not a positive number of seconds`);
  const pg = isWorker ? t.ProcessGroup.fromEnv(process.env, timeoutS * 1000) : null;
  const r = await pretrainNest({
    config: c,
    resolved: loaded.raw,
    baseDir: process.cwd(),
    seed: options.seed,
    progress: !options.quiet,
    processGroup: pg,
  });
  if (rank === 0) {
    const first = r.trainLoss[0];
    const last = r.trainLoss[r.trainLoss.length - 1];
    const lines = [
      `streamnest: pretraining finished at step ${r.globalStep} (${r.stoppedBy})`,
      first && last ? `  train_loss ${first.loss.toFixed(4)} (step ${first.step}) -> ${last.loss.toFixed(4)} (step ${last.step})` : '',
      r.valLoss.length ? `  val_loss ${r.valLoss.map((v) => `${v.loss.toFixed(4)}@${v.step}`).join(', ')}` : '',
      `  logs: ${r.logDir} (metrics.csv${readdirSync(r.logDir).some((f) => f.startsWith('events.out.tfevents')) ? ', TensorBoard events' : ''}${r.plot ? ', loss.png' : ''})`,
      r.nemoPath ? `  model: ${r.nemoPath}` : '',
    ];
    process.stdout.write(lines.filter((l) => l).join('\n') + '\n');
  }
  return r.stoppedBy === 'non_finite' ? 1 : 0;
}
