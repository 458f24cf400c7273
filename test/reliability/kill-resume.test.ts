// SIGKILL at random moments and during checkpoint writes, resume each time: every checkpoint left behind opens,
// and the final checkpoint equals an uninterrupted run's bit for bit (weights, optimizer, RNG states, sampler).
// The 20-kill version: tools/reliability/kill-resume.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { runKillResume } from './harness/kill-resume.js';

test('3 SIGKILLs (one during a checkpoint write) and resumes end at the uninterrupted run\'s exact state', { timeout: 180_000 }, async () => {
  const workDir = join(tmpdir(), `streamnest-kill-resume-${process.pid}`);
  try {
    const r = await runKillResume({ kills: 3, maxSteps: 8, valCheckInterval: 2, seed: 7, workDir, log: (l) => process.stderr.write(`# ${l}\n`) });
    assert.equal(r.kills.length, 3);
    for (const k of r.kills) assert.deepEqual(k.problems, [], `after kill at attempt ${k.attempt}`);
    assert.equal(r.finalStep, 8);
    assert.ok(r.kills.some((k) => k.mode === 'checkpoint-write'));
    assert.deepEqual(r.differences, [], 'the resumed run differs from the uninterrupted one');
    assert.deepEqual(r.leftoverTemporaries, [], 'temporaries of killed writes are removed on resume');
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
});
