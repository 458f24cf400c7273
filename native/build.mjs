#!/usr/bin/env node
// `npm ci` / `npm run build:native`: check for libtorch first (one clear message), then node-gyp.
// Skips the build when build/Release/streamnest.node is newer than every source (FORCE_NATIVE_BUILD=1 rebuilds).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findLibtorch } from './libtorch.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
let lt;
try {
  lt = findLibtorch();
} catch (e) {
  console.error(`\nstreamnest: ${e.message}\n`);
  process.exit(1);
}

const addon = join(root, 'build', 'Release', 'streamnest.node');
const sources = [
  join(root, 'binding.gyp'),
  join(root, 'native', 'libtorch.mjs'),
  ...readdirSync(join(root, 'native', 'src')).map((f) => join(root, 'native', 'src', f)),
];
const stampFile = join(root, 'build', 'libtorch-root.txt');
if (
  !process.env.FORCE_NATIVE_BUILD &&
  existsSync(addon) &&
  sources.every((s) => statSync(s).mtimeMs <= statSync(addon).mtimeMs) &&
  (process.env.LIBTORCH ?? '') === (existsSync(stampFile) ? String(spawnSync('cat', [stampFile]).stdout).trim() : '')
) {
  console.log('streamnest: native addon is up to date');
  process.exit(0);
}
console.log(`streamnest: building the native addon against ${lt.root} (${lt.cuda ? 'CUDA' : 'CPU'} build)`);
const jobs = process.env.JOBS ?? '2';
const r = spawnSync('npx', ['node-gyp', 'rebuild', `--jobs=${jobs}`], { stdio: 'inherit', cwd: root });
if (r.status === 0) spawnSync('sh', ['-c', `printf '%s' "${process.env.LIBTORCH ?? ''}" > "${stampFile}"`]);
process.exit(r.status ?? 1);
