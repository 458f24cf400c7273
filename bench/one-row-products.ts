// One-row products over weights that do not fit in cache: the 160 linear products of one NEST-Small streaming step of
// one frame (16 layers: feed-forward 176 -> 704 -> 176 twice, q/k/v/out, pointwise convs), each weight distinct (48 MB),
// through the three routes t.linear could take: addmv on W, x @ (W^T contiguous) ("NN"), and ATen's linear ("TN").
// Prints CPU ms per 160 products, rounds alternating. Why t.linear keeps addmv for one row (BENCHMARKS.md "Small products").
// --rows N multiplies N rows per product (a step of N frames); the addmv route then makes one product per row.
//
//   npx tsc -p . && node dist/bench/one-row-products.js [--rounds 5] [--rows 1]
import { parseArgs, type OptionsSpec } from '../src/cli/args.js';
import * as t from '../src/torch/index.js';
import { call, op } from '../src/torch/dispatch.js'; // after index.js (its module cycle)
import { cpuMs, median } from './timing.js';

const spec = {
  rounds: { type: 'integer', default: 5, help: 'rounds (each times every route)' },
  rows: { type: 'integer', default: 1, help: 'rows per product (frames of one stream)' },
} satisfies OptionsSpec;
const { options } = parseArgs(process.argv.slice(2), spec, { maxPositionals: 0 });
t.setNumThreads(1);
const OPS = { addmv: op('addmv'), linear: op('linear'), matmul: op('matmul'), add_: op('add_', 'Tensor') };
const layer: [number, number][] = [
  [704, 176],
  [176, 704],
  [704, 176],
  [176, 704],
  [176, 176],
  [176, 176],
  [176, 176],
  [176, 176],
  [352, 176],
  [176, 176],
];
const shapes = Array.from({ length: 16 }, () => layer).flat();
const w = shapes.map((s) => t.keep(t.randn(s)));
const b = shapes.map((s) => t.keep(t.randn([s[0]])));
const wt = w.map((x) => t.keep(t.tidy(() => x.transpose(0, 1).contiguous())));
const rows = options.rows;
if (!(rows >= 1)) throw new Error(`--rows: expected a positive integer, got ${rows}`);
const v = shapes.map((s) => Array.from({ length: rows }, () => t.keep(t.randn([s[1]]))));
const x3 = shapes.map((s) => t.keep(t.randn([1, rows, s[1]])));
const routes: Record<string, (i: number) => void> = {
  [rows === 1 ? 'addmv (W)' : 'addmv (W) per row']: (i) => {
    for (const row of v[i]!) call(OPS.addmv, b[i]!, w[i]!, row, 1, 1).dispose();
  },
  'NN (W^T copy)': (i) => {
    const y = call(OPS.matmul, x3[i]!, wt[i]!);
    call(OPS.add_, y, b[i]!).dispose();
    y.dispose();
  },
  'ATen linear (TN)': (i) => call(OPS.linear, x3[i]!, w[i]!, b[i]!).dispose(),
};
const times: Record<string, number[]> = {};
for (let r = 0; r < options.rounds; r++)
  for (const [name, f] of Object.entries(routes)) {
    const c0 = cpuMs();
    for (let rep = 0; rep < 20; rep++)
      t.noGrad(() => {
        for (let i = 0; i < shapes.length; i++) f(i);
      });
    const list = times[name] ?? [];
    list.push((cpuMs() - c0) / 20);
    times[name] = list;
  }
for (const [name, ts] of Object.entries(times))
  console.log(`${name.padEnd(18)} median ${median(ts).toFixed(2)} ms per 160 products of ${rows} row(s) (rounds: ${ts.map((x) => x.toFixed(2)).join(' ')})`);
for (const x of [...w, ...b, ...wt, ...v.flat(), ...x3]) x.dispose();
