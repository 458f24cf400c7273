// SIGKILL at random moments and during checkpoint writes, resume each time: every checkpoint left behind opens,
// and the final checkpoint equals an uninterrupted run's bit for bit (weights, optimizer, RNG states, sampler).
// The 20-kill version: tools/reliability/kill-resume.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { runKillResume } from './harness/kill-resume.js';

test("3 SIGKILLs (two inside a checkpoint write) and resumes end at the uninterrupted run's exact state", { timeout: 180_000 }, async () => {
  const workDir = join(tmpdir(), `streamnest-kill-resume-${process.pid}`);
  try {
    const r = await runKillResume({ kills: 3, maxSteps: 8, valCheckInterval: 2, seed: 7, workDir, log: (l) => process.stderr.write(`# ${l}\n`) });
    assert.equal(r.kills.length, 3);
    for (const k of r.kills) assert.deepEqual(k.problems, [], `after kill at attempt ${k.attempt}`);
    assert.equal(r.finalStep, 8);
    // the kills in 'checkpoint-write' mode (the 1st and the 3rd) each landed in a checkpoint write: the child was
    // stopped half-way through writing a checkpoint temporary, and that temporary was on disk after the kill
    const inWrite = r.kills.filter((k) => k.mode === 'checkpoint-write');
    assert.equal(inWrite.length, 2);
    for (const k of inWrite) {
      assert.ok(k.stoppedIn && /\.ckpt\.tmp-/.test(k.stoppedIn), `kill at attempt ${k.attempt}: stopped in a checkpoint temporary (${k.stoppedIn})`);
      assert.equal(k.duringWrite, true, `kill at attempt ${k.attempt}: a temporary was left (${k.temporaries.join(', ')})`);
      assert.ok(k.temporaries.includes(k.stoppedIn), `kill at attempt ${k.attempt}: ${k.stoppedIn} is among the temporaries left: ${k.temporaries.join(', ')}`);
    }
    assert.ok(
      r.kills.some((k) => k.duringWrite),
      'at least one kill happened during a checkpoint write',
    );
    assert.deepEqual(r.differences, [], 'the resumed run differs from the uninterrupted one');
    assert.deepEqual(r.leftoverTemporaries, [], 'temporaries of killed writes are removed on resume');
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
});
