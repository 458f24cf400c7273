#!/usr/bin/env node
// Makes `npx streamnest` work inside this checkout: npm links the bins of dependencies, not the project's own,
// so after the build we link node_modules/.bin/streamnest to the compiled CLI (and make it executable).
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const target = join(root, 'dist', 'src', 'cli', 'main.js');
if (!existsSync(target)) {
  console.error(`streamnest: ${target} is missing (the TypeScript build failed?)`);
  process.exit(1);
}
chmodSync(target, 0o755);
const binDir = join(root, 'node_modules', '.bin');
mkdirSync(binDir, { recursive: true });
const link = join(binDir, 'streamnest');
rmSync(link, { force: true });
symlinkSync('../../dist/src/cli/main.js', link);
console.log('streamnest: linked node_modules/.bin/streamnest');
