// Child process of the fuzzer: parses inputs [start, start+count) of one target and reports each on stdout:
//   S <i>                     before input i
//   R <i> <outcome> <ms> <rss> after it; outcome = ok | expected:<Class> | unexpected:<Class>
//   M <i> <json message>      the message of an unexpected error
//   E <liveTensors>           at the end
// Usage: node fuzz-worker.js <target> <seed> <start> <count> <scratchDir>
import { writeSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { TARGETS, mutate } from './fuzz-targets.js';
import { liveTensorCount } from '../../../src/torch/runtime.js';

function out(line: string): void {
  writeSync(1, line + '\n');
}

const [name, seedS, startS, countS, scratchDir] = process.argv.slice(2);
const target = TARGETS.find((t) => t.name === name);
if (!target || !scratchDir) {
  process.stderr.write(`usage: fuzz-worker <${TARGETS.map((t) => t.name).join('|')}> <seed> <start> <count> <scratchDir>\n`);
  process.exit(2);
}
mkdirSync(scratchDir, { recursive: true });
const scratch = join(scratchDir, `input-${process.pid}`);
const seeds = target.seeds();
if (seeds.length === 0) {
  process.stderr.write(`fuzz-worker: no seed inputs for ${name}\n`);
  process.exit(2);
}
const seed = Number(seedS);
const start = Number(startS);
const count = Number(countS);
for (let i = start; i < start + count; i++) {
  const input = mutate(seeds, target.text ?? false, seed, i);
  out(`S ${i}`);
  const t0 = performance.now();
  let outcome = 'ok';
  try {
    await target.run(input, scratch);
  } catch (e) {
    const cls = e instanceof Error ? e.constructor.name : typeof e;
    if (target.allowed.some((c) => e instanceof c)) outcome = `expected:${cls}`;
    else {
      outcome = `unexpected:${cls}`;
      out(`M ${i} ${JSON.stringify(e instanceof Error ? `${e.message}\n${e.stack?.split('\n').slice(1, 6).join('\n')}` : String(e))}`);
    }
  }
  out(`R ${i} ${outcome} ${(performance.now() - t0).toFixed(2)} ${process.memoryUsage().rss}`);
}
out(`E ${liveTensorCount()}`);
