// The command registry. To add a command:
//   1. write src/cli/commands/<name>.ts exporting `name`, `summary`, `usage` and `run(argv)` (the Command shape below);
//      keep its top-level imports light and import heavy modules (src/torch, models, data) inside run();
//   2. append ONE entry to COMMANDS below: `{ name: '<name>', load: () => import('./commands/<name>.js') }`.
// The lazy import() means that a command's modules load only when it runs (or when --help lists summaries).

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What every module in src/cli/commands/ exports. */
export interface Command {
  /** The word typed after `streamnest`. */
  readonly name: string;
  /** One line for `streamnest --help`. */
  readonly summary: string;
  /** Full help for `streamnest <name> --help`: synopsis, options, examples. */
  readonly usage: string;
  /** Runs the command with the arguments after its name; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

export interface CommandEntry {
  readonly name: string;
  readonly load: () => Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'info', load: () => import('./commands/info.js') },
  { name: 'make-corpus', load: () => import('./commands/make-corpus.js') },
  { name: 'features', load: () => import('./commands/features.js') },
  { name: 'stats', load: () => import('./commands/stats.js') },
  { name: 'pretrain', load: () => import('./commands/pretrain.js') },
  { name: 'encode', load: () => import('./commands/encode.js') },
  { name: 'inspect', load: () => import('./commands/inspect.js') },
  { name: 'convert', load: () => import('./commands/convert.js') },
  { name: 'check-config', load: () => import('./commands/check-config.js') },
  { name: 'show-attention', load: () => import('./commands/show-attention.js') },
  { name: 'stream', load: () => import('./commands/stream.js') },
  { name: 'analyze', load: () => import('./commands/analyze.js') },
  { name: 'finetune', load: () => import('./commands/finetune.js') },
  { name: 'transcribe', load: () => import('./commands/transcribe.js') },
  { name: 'eval', load: () => import('./commands/eval.js') },
  { name: 'serve', load: () => import('./commands/serve.js') },
  { name: 'make-tarred', load: () => import('./commands/make-tarred.js') },
  { name: 'make-diarization-corpus', load: () => import('./commands/make-diarization-corpus.js') },
  { name: 'eval-diar', load: () => import('./commands/eval-diar.js') },
  { name: 'embed', load: () => import('./commands/embed.js') },
  { name: 'finetune-diar', load: () => import('./commands/finetune-diar.js') },
  { name: 'finetune-embed', load: () => import('./commands/finetune-embed.js') },
  { name: 'diarize', load: () => import('./commands/diarize.js') },
  { name: 'eval-embed', load: () => import('./commands/eval-embed.js') },
  // append new commands here, one line each
];

export function findCommand(name: string): CommandEntry | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** Loads a command and checks that the module's shape matches its registry entry. */
export async function loadCommand(entry: CommandEntry): Promise<Command> {
  const cmd = await entry.load();
  if (cmd.name !== entry.name || typeof cmd.run !== 'function' || typeof cmd.summary !== 'string' || typeof cmd.usage !== 'string') {
    throw new Error(`command module for '${entry.name}' does not export { name: '${entry.name}', summary, usage, run }`);
  }
  return cmd;
}

let version: string | undefined;
/** streamnest's version, from the package.json above this file (src/cli or dist/src/cli). */
export function packageVersion(): string {
  if (version !== undefined) return version;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'streamnest' && pkg.version) {
        version = pkg.version;
        return version;
      }
    }
    dir = dirname(dir);
  }
  version = 'unknown';
  return version;
}
