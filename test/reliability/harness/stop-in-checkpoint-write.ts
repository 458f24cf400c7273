// Preloaded (node --import) into a `streamnest pretrain` child by the kill-resume harness to make a kill during a
// checkpoint write deterministic. With STREAMNEST_TEST_STOP_IN_CKPT_WRITE=N (N >= 1), the N-th checkpoint temporary
// the process opens (`.<name>.ckpt.tmp-<pid>-<hex>`, written by writeFileAtomic with openSync/writeSync and then
// renamed over the checkpoint) gets only the first half of its first chunk; the process then prints
// STOP_MARKER + the temporary's path on stderr and stops itself (SIGSTOP), so the harness can SIGKILL it while the
// half-written temporary is on disk and before any rename — however loaded the machine is. Without the variable it
// changes nothing.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

export const STOP_ENV = 'STREAMNEST_TEST_STOP_IN_CKPT_WRITE';
export const STOP_MARKER = 'streamnest-test: stopped in checkpoint write ';

const target = Number(process.env[STOP_ENV]);
if (Number.isInteger(target) && target >= 1) {
  const origOpen = fs.openSync;
  const origWrite = fs.writeSync;
  let opened = 0;
  let stopFd: number | null = null;
  let stopPath = '';
  const patched = fs as unknown as Record<string, unknown>;
  patched.openSync = function openSync(path: fs.PathLike, ...rest: unknown[]): number {
    const fd = (origOpen as (...a: unknown[]) => number).call(fs, path, ...rest);
    if (/\.ckpt\.tmp-/.test(String(path)) && ++opened === target) {
      stopFd = fd;
      stopPath = String(path);
    }
    return fd;
  };
  patched.writeSync = function writeSync(fd: number, buffer: unknown, ...rest: unknown[]): number {
    if (fd === stopFd && buffer instanceof Uint8Array) {
      stopFd = null; // once: if continued (SIGCONT), the write completes normally
      const offset = typeof rest[0] === 'number' ? rest[0] : 0;
      const length = typeof rest[1] === 'number' ? rest[1] : buffer.length - offset;
      const half = Math.max(1, Math.floor(length / 2));
      const n = (origWrite as (...a: unknown[]) => number).call(fs, fd, buffer, offset, half);
      (origWrite as (...a: unknown[]) => number).call(fs, 2, `\n${STOP_MARKER}${stopPath}\n`);
      process.kill(process.pid, 'SIGSTOP'); // the harness SIGKILLs us here
      return n;
    }
    return (origWrite as (...a: unknown[]) => number).call(fs, fd, buffer, ...rest);
  };
  syncBuiltinESMExports(); // `import { openSync, writeSync } from 'node:fs'` in src/ sees the wrappers
}
