// Products of a few rows with a linear weight (a streaming step's new frames: 4 rows at 320 ms, 8 at 640 ms, 64 for 16
// streams at 320 ms) at NEST-Small's widths, through t.linear with the small-product kernel (native/src/small-products.cc)
// and through ATen's routes (the kernel turned off: the transposed weight copy and BLAS's gemm, or a matrix-vector
// product per row for 1-3 rows). The weights cycle through 48 different matrices (24 MB at 176 x 704), so each product
// reads its weight from memory as a streaming step does. Prints CPU us per product and GFLOP/s, routes alternating in
// every round, medians over rounds (BENCHMARKS.md "A small-product kernel").
//
//   npx tsc -p . && node dist/bench/small-products.js [--rows 1,2,4,8,16,64] [--rounds 5]
import { parseArgs, type OptionsSpec } from '../src/cli/args.js';
import * as t from '../src/torch/index.js';
import { SMALL_PRODUCT_KERNEL, useSmallProductKernel } from '../src/torch/ops/nn.js';
import { blasReport } from '../src/torch/runtime.js';
import { cpuMs, median } from './timing.js';

const spec = {
  rows: { type: 'string', default: '1,2,4,8,16,64', help: 'row counts' },
  rounds: { type: 'integer', default: 5, help: 'rounds (each times both routes)' },
} satisfies OptionsSpec;
const { options } = parseArgs(process.argv.slice(2), spec, { maxPositionals: 0 });
t.setNumThreads(1);
if (SMALL_PRODUCT_KERNEL === null) throw new Error('no small-product kernel on this CPU (or STREAMNEST_SMALL_PRODUCTS=off): nothing to compare');
const blas = blasReport();
console.log(
  `kernel ${SMALL_PRODUCT_KERNEL}; ATen's BLAS: ${blas.kind}${blas.core ? ` (${blas.core} kernels)` : ''}; 1 thread; CPU us per product, median of ${options.rounds} rounds`,
);
const WEIGHTS = 48;
const REPEAT = 20;
const rowCounts = options.rows.split(',').map(Number);
console.log('| product | ATen | kernel | kernel / ATen | kernel GFLOP/s |\n| --- | ---: | ---: | ---: | ---: |');
for (const [inF, outF] of [
  [176, 704],
  [704, 176],
  [176, 528],
  [176, 176],
] as const) {
  const ws = Array.from({ length: WEIGHTS }, () => t.keep(t.randn([outF, inF])));
  const bs = Array.from({ length: WEIGHTS }, () => t.keep(t.randn([outF])));
  for (const rows of rowCounts) {
    const x = t.keep(t.randn([rows, inF]));
    const times: Record<'aten' | 'kernel', number[]> = { aten: [], kernel: [] };
    for (let r = 0; r < options.rounds; r++)
      for (const route of ['aten', 'kernel'] as const) {
        const was = useSmallProductKernel(route === 'kernel');
        t.noGrad(() => {
          for (let i = 0; i < WEIGHTS; i++) t.linear(x, ws[i]!, bs[i]!).dispose(); // the cached copies made, untimed
          const c0 = cpuMs();
          for (let rep = 0; rep < REPEAT; rep++) for (let i = 0; i < WEIGHTS; i++) t.linear(x, ws[i]!, bs[i]!).dispose();
          times[route].push(((cpuMs() - c0) / (REPEAT * WEIGHTS)) * 1000);
        });
        useSmallProductKernel(was);
      }
    const [a, k] = [median(times.aten), median(times.kernel)];
    const gflops = (2 * rows * inF * outF) / k / 1e3;
    console.log(`| ${rows} x ${inF} by ${inF} x ${outF} | ${a.toFixed(1)} | ${k.toFixed(1)} | ${(k / a).toFixed(2)}x | ${gflops.toFixed(0)} |`);
    x.dispose();
  }
  for (const w of [...ws, ...bs]) w.dispose();
}
