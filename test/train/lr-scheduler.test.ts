import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CosineAnnealing, InverseSquareRootAnnealing, NoamAnnealing, schedulerFromSection } from '../../src/train/lr-scheduler.js';

test('NoamAnnealing reproduces the spec reference values (d=512, warmup 25000, base 5.0)', () => {
  const s = new NoamAnnealing(5.0, 512, { warmupSteps: 25000, minLr: 1e-6 });
  const ref: [number, number][] = [
    [1, 5.5901699e-8],
    [2, 1.118034e-7],
    [1000, 5.5901699e-5],
    [25000, 1.3975425e-3],
    [100000, 6.9877124e-4],
    [500000, 3.125e-4],
  ];
  for (const [step, lr] of ref) assert.ok(Math.abs(s.lrAt(step) - lr) / lr < 1e-6, `step ${step}: ${s.lrAt(step)} != ${lr}`);
  // optimizer steps 0 and 1 both use s = 1 (the scheduler constructor performs step 0)
  assert.equal(s.lrAt(0), s.lrAt(1));
});

test('NoamAnnealing floors at min_lr only after warm-up, and resolves warmup_ratio', () => {
  const s = new NoamAnnealing(1e-3, 512, { warmupSteps: 10, minLr: 1e-4 });
  assert.ok(s.lrAt(1) < 1e-4, 'no floor during warm-up');
  assert.equal(s.lrAt(1e9), 1e-4);
  const r = new NoamAnnealing(5, 256, { warmupRatio: 0.1, maxSteps: 1000 });
  assert.equal(r.warmupSteps, 100);
  assert.throws(() => new NoamAnnealing(5, 256, { warmupRatio: 0.1, warmupSteps: 5, maxSteps: 10 }), /not both/);
  assert.throws(() => new NoamAnnealing(5, 256, { warmupRatio: 0.1 }), /max_steps/);
  assert.throws(() => new NoamAnnealing(1e-7, 256, { minLr: 1e-6 }), /lower than min_lr/);
});

test('CosineAnnealing: linear warm-up (step+1)/(warmup+1), cosine to min_lr, min_lr past max_steps', () => {
  const s = new CosineAnnealing(1.0, { warmupSteps: 9, maxSteps: 109, minLr: 0.1 });
  assert.ok(Math.abs(s.lrAt(0) - 0.1) < 1e-12);
  assert.ok(Math.abs(s.lrAt(9) - 1.0) < 1e-12);
  assert.ok(Math.abs(s.lrAt(59) - 0.55) < 1e-12, `midpoint ${s.lrAt(59)}`);
  assert.ok(Math.abs(s.lrAt(109) - 0.1) < 1e-12);
  assert.equal(s.lrAt(500), 0.1);
});

test("InverseSquareRootAnnealing: NeMo's warm-up to the base lr, then base / sqrt((step+1)/(warmup+1)); min_lr past max_steps", () => {
  const s = new InverseSquareRootAnnealing(1e-4, { warmupSteps: 99, maxSteps: 10_000, minLr: 1e-6 });
  assert.ok(Math.abs(s.lrAt(0) - 1e-6) < 1e-18); // (0+1)/(99+1) * 1e-4
  assert.ok(Math.abs(s.lrAt(99) - 1e-4) < 1e-18); // the peak is the configured lr (not scaled by d_model like Noam)
  assert.ok(Math.abs(s.lrAt(399) - 5e-5) < 1e-18); // 1e-4 / sqrt(400 / 100)
  assert.equal(s.lrAt(10_001), 1e-6);
  const viaSection = schedulerFromSection(1e-4, { name: 'InverseSquareRootAnnealing', warmup_steps: 99, min_lr: 1e-6 }, 10_000, 96);
  assert.equal(viaSection.name, 'InverseSquareRootAnnealing');
  assert.equal(viaSection.lrAt(399), s.lrAt(399));
});
