#!/usr/bin/env node
// The `streamnest` command line: global options, the command registry, help, and error reporting.
//
//   streamnest [--threads N] <command> [options]     run a command
//   streamnest --help | streamnest <command> --help  help
//   streamnest --version
//
// Exit codes: 0 success, 1 a command failed (one-line message; the stack with STREAMNEST_DEBUG=1),
// 2 a usage error (unknown command or option, malformed value).
import { ArgError, closest } from './args.js';
import { COMMANDS, findCommand, loadCommand, packageVersion, type Command } from './command.js';

const GLOBAL_HELP = `Global options:
  --threads N    threads for libtorch and OpenBLAS (default: STREAMNEST_THREADS, else libtorch's default, as PyTorch)
  -h, --help     show help (after a command: that command's help)
  --version      print streamnest's version

Environment:
  STREAMNEST_THREADS=N   as --threads
  STREAMNEST_DEBUG=1     print stack traces for errors`;

async function mainHelp(): Promise<string> {
  const cmds = await Promise.all(
    COMMANDS.map(async (e) => {
      try {
        return { name: e.name, summary: (await loadCommand(e)).summary };
      } catch (err) {
        return { name: e.name, summary: `(cannot load: ${(err as Error).message})` };
      }
    }),
  );
  const w = Math.max(8, ...cmds.map((c) => c.name.length));
  return `streamnest ${packageVersion()}: streaming NEST / BEST-RQ pretraining of a causal FastConformer on libtorch

Usage: streamnest [--threads N] <command> [options]

Commands:
${cmds.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`).join('\n')}

${GLOBAL_HELP}

Run 'streamnest <command> --help' for a command's options.
`;
}

interface Globals {
  threads?: number;
  help: boolean;
  version: boolean;
  command?: string;
  rest: string[];
}

/** Splits global options (accepted before or after the command name, up to `--`) from the command's argv. */
export function splitGlobals(argv: readonly string[]): Globals {
  const g: Globals = { help: false, version: false, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      g.rest.push(...argv.slice(i));
      break;
    }
    if (a === '--threads' || a.startsWith('--threads=')) {
      const raw = a === '--threads' ? argv[++i] : a.slice('--threads='.length);
      if (raw === undefined) throw new ArgError('--threads needs a value');
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isInteger(n) || n < 1) throw new ArgError(`--threads must be a positive integer, got '${raw}'`);
      g.threads = n;
    } else if (g.command === undefined && (a === '--help' || a === '-h' || a === 'help')) {
      g.help = true;
    } else if (g.command === undefined && (a === '--version' || a === '-V')) {
      g.version = true;
    } else if (g.command === undefined && !a.startsWith('-')) {
      g.command = a;
    } else if (g.command === undefined) {
      throw new ArgError(`unknown global option ${a} (see streamnest --help)`);
    } else {
      g.rest.push(a);
    }
  }
  return g;
}

function debug(): boolean {
  const v = process.env.STREAMNEST_DEBUG;
  return v !== undefined && v !== '' && v !== '0';
}

function report(prefix: string, err: unknown): void {
  if (debug() && err instanceof Error && err.stack) {
    process.stderr.write(`${prefix}: ${err.stack}\n`);
    return;
  }
  // the whole message (a config error lists every problem, one per line), never the stack
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(
    `${prefix}: ${msg
      .split('\n')
      .filter((l) => l.trim() !== '')
      .join('\n')}\n`,
  );
}

export async function main(argv: readonly string[]): Promise<number> {
  let g: Globals;
  try {
    g = splitGlobals(argv);
  } catch (e) {
    report('streamnest: error', e);
    return 2;
  }
  if (g.version) {
    process.stdout.write(`streamnest ${packageVersion()}\n`);
    return 0;
  }
  if (g.help && g.command === undefined) {
    process.stdout.write(await mainHelp());
    return 0;
  }
  if (g.command === undefined) {
    process.stderr.write(await mainHelp());
    return 2;
  }
  // `streamnest help <cmd>` is the same as `streamnest <cmd> --help`.
  const wantsHelp = g.help || g.rest.some((a) => a === '--help' || a === '-h');
  const entry = findCommand(g.command);
  if (!entry) {
    const hint = closest(
      g.command,
      COMMANDS.map((c) => c.name),
    );
    process.stderr.write(
      `streamnest: unknown command '${g.command}'${hint ? `. Did you mean '${hint}'?` : ''}\n` +
        `Commands: ${COMMANDS.map((c) => c.name).join(', ')}. See 'streamnest --help'.\n`,
    );
    return 2;
  }
  let cmd: Command;
  try {
    cmd = await loadCommand(entry);
  } catch (e) {
    report(`streamnest ${entry.name}: error`, e);
    return 1;
  }
  if (wantsHelp) {
    process.stdout.write(cmd.usage.endsWith('\n') ? cmd.usage : cmd.usage + '\n');
    return 0;
  }
  try {
    const { startup } = await import('../torch/startup.js');
    startup({ threads: g.threads });
    return await cmd.run(g.rest);
  } catch (e) {
    if (e instanceof ArgError) {
      report(`streamnest ${cmd.name}: error`, e);
      process.stderr.write(`See 'streamnest ${cmd.name} --help'.\n`);
      return 2;
    }
    report(`streamnest ${cmd.name}: error`, e);
    return 1;
  }
}

/** Exit status of a process that ended before its command finished (an awaited promise that never settled). */
export const EXIT_UNFINISHED = 70;

/**
 * Node exits with code 0 when its event loop empties, even while `main()` is still awaiting a promise that can never
 * settle (e.g. one waiting on an unref'd worker or handle). Then whatever came after the await (a last checkpoint, a
 * .nemo, a summary) silently never happened. This makes that exit non-zero and says so: the CLI never exits 0
 * without reaching its own end.
 */
export function guardUnfinishedExit(finished: () => boolean): void {
  process.on('exit', (code) => {
    if (finished() || code !== 0) return;
    writeSync(
      2,
      'streamnest: internal error: the process was about to exit before the command finished (a pending operation could never complete); nothing after that point ran\n',
    );
    process.exitCode = EXIT_UNFINISHED;
  });
}

// Run when executed directly (also through the npm bin symlink), not when imported by tests.
import { realpathSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const self = fileURLToPath(import.meta.url);
const invoked = process.argv[1] ? safeRealpath(process.argv[1]) : '';
function safeRealpath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}
if (invoked === self) {
  let settled = false;
  guardUnfinishedExit(() => settled);
  main(process.argv.slice(2)).then(
    (code) => {
      settled = true;
      process.exitCode = code;
    },
    (e: unknown) => {
      settled = true;
      report('streamnest: internal error', e);
      process.exitCode = 1;
    },
  );
}
