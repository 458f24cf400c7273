// Shortened training soak: 300 steps of a smaller tiny-preset model; after warm-up the live tensors are constant at
// every step start (a count, which no load or machine can change). RSS and speed depend on the machine and its load,
// so they are measured by the explicit soak (tools/reliability/soak.sh, 2000 steps), not asserted here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSoak } from './harness/soak.js';

test('300 training steps: live tensors constant at every step start', { timeout: 300_000 }, async () => {
  const r = await runSoak({
    steps: 300,
    warmupSteps: 50,
    overrides: ['model.encoder.n_layers=1', 'model.encoder.d_model=32', 'model.encoder.subsampling_conv_channels=16'],
    workDir: join(tmpdir(), `streamnest-soak-${process.pid}`),
    log: (l) => process.stderr.write(`# ${l}\n`),
  });
  assert.equal(r.steps, 300);
  assert.equal(r.liveMax, r.liveMin, `live tensors at step starts vary: ${r.liveMin}..${r.liveMax}`);
  process.stderr.write(
    `# RSS growth after warm-up ${(r.rssGrowth * 100).toFixed(1)}%, last/first tenth speed ${r.cpuSpeedRatio.toFixed(2)} (not asserted: load-dependent)\n`,
  );
});
