#!/usr/bin/env node
// `npm ci` / `npm run build:native`: check for libtorch first (one clear message), then node-gyp.
import { spawnSync } from 'node:child_process';
import { findLibtorch } from './libtorch.mjs';

let lt;
try {
  lt = findLibtorch();
} catch (e) {
  console.error(`\nstreamnest: ${e.message}\n`);
  process.exit(1);
}
console.log(`streamnest: building the native addon against ${lt.root} (${lt.cuda ? 'CUDA' : 'CPU'} build)`);
const jobs = process.env.JOBS ?? '2';
const r = spawnSync('npx', ['node-gyp', 'rebuild', `--jobs=${jobs}`], { stdio: 'inherit' });
process.exit(r.status ?? 1);
