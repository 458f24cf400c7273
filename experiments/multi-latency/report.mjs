// Table and plot of experiments/multi-latency/run.sh: the dev WER of every fine-tuned model's final .nemo at each
// look-ahead it was trained for (eval/<run>@<R>.json), mean ± sample std over seeds per row, multi-latency against
// dedicated models, and single- against multi-scale masking in pretraining.
// Usage: node report.mjs OUT_DIR DIST_DIR
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [out, dist] = process.argv.slice(2);
const { linePlot } = await import(pathToFileURL(join(dist, 'src/plot/index.js')).href);
const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
const std = (v) => (v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1)) : NaN);
const pct = (x) => (Number.isFinite(x) ? (100 * x).toFixed(1) : 'n/a');
const RIGHT = [0, 2, 8]; // right context in 40 ms frames
const MS = RIGHT.map((r) => r * 40);

// wer[row][R] = [{ seed, wer }]
const wer = {};
const evalDir = join(out, 'eval');
for (const f of existsSync(evalDir) ? readdirSync(evalDir) : []) {
  const m = /^(.*)-s(\d+)@(\d+)\.json$/.exec(f);
  if (!m) continue;
  const rep = JSON.parse(readFileSync(join(evalDir, f), 'utf8'));
  const byRight = wer[m[1]] ?? {};
  wer[m[1]] = byRight;
  byRight[m[3]] = [...(byRight[m[3]] ?? []), { seed: Number(m[2]), wer: rep.totals.wer }];
}
const stat = (row, r) => {
  const v = (wer[row]?.[r] ?? []).map((x) => x.wer);
  return { n: v.length, mean: v.length ? mean(v) : NaN, std: std(v) };
};
const cell = (s) => (s.n ? `${pct(s.mean)} ± ${pct(s.std)} (n=${s.n})` : 'n/a');
const dedicated = (r) => stat(`scratch-r${r}`, r);

const lines = [];
lines.push(`| model | ${MS.map((ms) => `look-ahead ${ms} ms`).join(' | ')} |`);
lines.push(`| --- | ${MS.map(() => '---').join(' | ')} |`);
lines.push(`| dedicated: one model per look-ahead (from scratch) | ${RIGHT.map((r) => cell(dedicated(r))).join(' | ')} |`);
lines.push(`| multi-latency: one model for all three (from scratch) | ${RIGHT.map((r) => cell(stat('scratch-multi', r))).join(' | ')} |`);
const rel = RIGHT.map((r) => (stat('scratch-multi', r).mean - dedicated(r).mean) / dedicated(r).mean);
lines.push(
  `| multi-latency against dedicated (relative) | ${rel.map((x) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%` : 'n/a')).join(' | ')} |`,
);
lines.push(`| goal: within 5% relative | ${rel.map((x) => (Number.isFinite(x) ? (x <= 0.05 ? 'met' : 'missed') : 'n/a')).join(' | ')} |`);
lines.push(`| multi-latency, NEST-pretrained with single-scale masking (40 frames) | ${RIGHT.map((r) => cell(stat('pre-single-multi', r))).join(' | ')} |`);
lines.push(
  `| multi-latency, NEST-pretrained with multi-scale masking (10/20/40 frames) | ${RIGHT.map((r) => cell(stat('pre-multiscale-multi', r))).join(' | ')} |`,
);
console.log(lines.join('\n'));

// pretraining health at the last validation
const health = [];
for (const name of ['single', 'multiscale']) {
  const f = join(out, 'pretrain', name, 'metrics.csv');
  if (!existsSync(f)) continue;
  const rows = readFileSync(f, 'utf8').trim().split('\n');
  const head = rows[0].split(',');
  const vals = rows
    .slice(1)
    .map((l) => Object.fromEntries(l.split(',').map((v, i) => [head[i], v === '' ? NaN : Number(v)])))
    .filter((r) => Number.isFinite(r.val_loss));
  const last = vals[vals.length - 1];
  if (last)
    health.push(
      `${name}: val_loss ${last.val_loss.toFixed(3)}, masked accuracy ${last.val_masked_accuracy?.toFixed(3)}, prediction perplexity ${last.val_prediction_perplexity?.toFixed(1)} (step ${last.step})`,
    );
}
if (health.length) console.log(`\nPretraining at its last validation: ${health.join('; ')}.`);

const series = [
  { name: 'dedicated (one per look-ahead)', row: (r) => `scratch-r${r}` },
  { name: 'multi-latency (one model)', row: () => 'scratch-multi' },
  { name: 'multi-latency, NEST single-scale', row: () => 'pre-single-multi' },
  { name: 'multi-latency, NEST multi-scale', row: () => 'pre-multiscale-multi' },
]
  .map((s) => ({ name: s.name, x: MS, y: RIGHT.map((r) => 100 * stat(s.row(r), r).mean) }))
  .filter((s) => s.y.every(Number.isFinite));
if (series.length) {
  linePlot(series, { title: 'dev WER against look-ahead, mean of 3 seeds', xLabel: 'look-ahead (ms)', yLabel: 'dev WER %' }).save(join(out, 'wer-latency.png'));
}
