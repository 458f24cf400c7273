// What the summary block records about the run: the machine (CPU model, cores), the load average, the date, the commit
// and the library versions, so that a reader can tell a quiet machine's figures from a loaded one's.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { REPO_ROOT } from '../workloads/nest-shapes.js';

export interface MachineInfo {
  cpuModel: string;
  /** Logical CPUs this process may use. */
  cores: number;
  libtorch: string;
  node: string;
  /** `git describe --always --dirty` of the working tree (dirty: uncommitted edits were compiled in). */
  commit: string;
  /** When the native addon (build/Release/streamnest.node) was built: a rebuild changes what runs, not the commit. */
  addonBuilt: string;
}

/** The first "model name" of /proc/cpuinfo ('unknown' where there is none). */
export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? m[1]!.trim() : 'unknown';
  } catch {
    return 'unknown';
  }
}

export function gitCommit(): string {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/** The 1 / 5 / 15 minute load averages, as `uptime` prints them. */
export function loadAverage(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');
}

/** The native addon's modification time (UTC, to the second), or 'unknown'. */
export function addonBuilt(): string {
  try {
    return `${statSync(join(REPO_ROOT, 'build', 'Release', 'streamnest.node'))
      .mtime.toISOString()
      .slice(0, 19)
      .replace('T', ' ')} UTC`;
  } catch {
    return 'unknown';
  }
}

export function machineInfo(): MachineInfo {
  return {
    cpuModel: cpuModel(),
    cores: availableParallelism(),
    libtorch: t.libtorchVersion(),
    node: process.version,
    commit: gitCommit(),
    addonBuilt: addonBuilt(),
  };
}
