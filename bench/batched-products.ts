// Attention's batched small products at B streams (NEST-Small: 4 heads of d_k 44, 4 query frames per step, a cache of
// C keys): the scores q k^T ([B*h, 4, 44] @ [B*h, 44, C+4]) and the weighted values ([B*h, 4, C+4] @ [B*h, C+4, 44]),
// through ATen's bmm (one addmm per matrix inside ATen) and through t.batchedMatmul (one BLAS gemm per matrix in one
// native call). Prints CPU us per product, rounds alternating. Why the attention uses batchedMatmul (BENCHMARKS.md
// "Batched streams").
//
//   npx tsc -p . && node dist/bench/batched-products.js [--streams 16] [--cache 162] [--rounds 5]
import { parseArgs, type OptionsSpec } from '../src/cli/args.js';
import * as t from '../src/torch/index.js';
import { cpuMs, median } from './timing.js';

const spec = {
  streams: { type: 'integer', default: 16, help: 'streams in the batch (B)' },
  cache: { type: 'integer', default: 162, help: 'cached key frames (C)' },
  rounds: { type: 'integer', default: 5, help: 'rounds (each times every route)' },
} satisfies OptionsSpec;
const { options } = parseArgs(process.argv.slice(2), spec, { maxPositionals: 0 });
t.setNumThreads(1);
const [h, dk, tq] = [4, 44, 4];
const n = options.streams * h;
const tk = options.cache + tq;
const q = t.keep(t.randn([n, tq, dk]));
const kT = t.keep(t.randn([n, dk, tk]));
const attn = t.keep(t.softmax(t.randn([n, tq, tk]), -1));
const v = t.keep(t.randn([n, tk, dk]));
const routes: Record<string, (a: t.Tensor, b: t.Tensor) => t.Tensor> = { 'ATen bmm': t.bmm, batchedMatmul: t.batchedMatmul };
const times: Record<string, number[]> = {};
const REPEAT = 200;
for (let r = 0; r < options.rounds; r++)
  for (const [name, f] of Object.entries(routes)) {
    const c0 = cpuMs();
    t.noGrad(() => {
      for (let rep = 0; rep < REPEAT; rep++) {
        f(q, kT).dispose();
        f(attn, v).dispose();
      }
    });
    const list = times[name] ?? [];
    list.push(((cpuMs() - c0) / (2 * REPEAT)) * 1000);
    times[name] = list;
  }
const macs = n * tq * dk * tk;
console.log(`${n} matrices per product (${options.streams} streams x ${h} heads), ${tq} x ${dk} by ${dk} x ${tk}: ${(macs / 1e6).toFixed(2)} M multiply-adds`);
for (const [name, ts] of Object.entries(times))
  console.log(`${name.padEnd(14)} median ${median(ts).toFixed(1)} us per product (rounds: ${ts.map((x) => x.toFixed(1)).join(' ')})`);
for (const x of [q, kT, attn, v]) x.dispose();
