// Table and plot of experiments/streaming-asr/run.sh: reads the eval JSON reports and the fine-tuning metrics.csv.
// Usage: node report.mjs OUT_DIR DIST_DIR
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [out, dist] = process.argv.slice(2);
const { linePlot } = await import(pathToFileURL(join(dist, 'src/plot/index.js')).href);
const read = (f) => (existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : null);
const pct = (r) => (r ? `${(100 * r.totals.wer).toFixed(1)}%` : 'n/a');
/** Best dev WER (val_loss column of the fine-tuning metrics.csv), as a percentage string. */
const bestDev = (name, init) => {
  const f = join(out, 'finetune', `${name}-${init}`, 'metrics.csv');
  if (!existsSync(f)) return 'n/a';
  const lines = readFileSync(f, 'utf8').trim().split('\n');
  const vi = lines[0].split(',').indexOf('val_loss');
  const v = lines
    .slice(1)
    .map((l) => l.split(',')[vi])
    .filter((x) => x !== undefined && x !== '')
    .map(Number);
  return v.length ? `${(100 * Math.min(...v)).toFixed(1)}%` : 'n/a';
};
const rows = [];
for (const name of ['bidirectional', 'lookahead', 'causal']) {
  const off = read(join(out, `eval-${name}-nest-offline.json`));
  const str = read(join(out, `eval-${name}-nest-streaming.json`));
  const scratch = read(join(out, `eval-${name}-scratch-offline.json`));
  const scratchStr = read(join(out, `eval-${name}-scratch-streaming.json`));
  const latency = str ? `${str.streaming.algorithmicLatencyMs.toFixed(0)} ms` : 'whole utterance';
  const perChunk = str ? `${str.streaming.stepMsMean.toFixed(2)} ms (p90 ${str.streaming.stepMsP90.toFixed(2)})` : 'n/a';
  rows.push(
    `| ${name} | ${latency} | ${perChunk} | ${pct(off)} | ${pct(str)} | ${pct(scratch)} / ${pct(scratchStr)} | ${bestDev(name, 'nest')} / ${bestDev(name, 'scratch')} |`,
  );
}
console.log(
  '| configuration | algorithmic latency | measured per-chunk compute | offline WER | streaming WER | from scratch (offline / streaming) | dev WER, held-in voices (NEST / scratch) |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
const series = [];
for (const name of ['bidirectional', 'lookahead', 'causal']) {
  for (const init of ['nest', 'scratch']) {
    const f = join(out, 'finetune', `${name}-${init}`, 'metrics.csv');
    if (!existsSync(f)) continue;
    const lines = readFileSync(f, 'utf8').trim().split('\n');
    const head = lines[0].split(',');
    const si = head.indexOf('step');
    const vi = head.indexOf('val_loss');
    const pts = lines
      .slice(1)
      .map((l) => l.split(','))
      .filter((c) => c[vi] !== undefined && c[vi] !== '');
    if (pts.length) series.push({ name: `${name} (${init})`, x: pts.map((c) => Number(c[si])), y: pts.map((c) => 100 * Number(c[vi])) });
  }
}
if (series.length) {
  linePlot(series, { title: 'CTC fine-tuning: dev WER (held-in voices)', xLabel: 'step', yLabel: 'WER %' }).save(join(out, 'wer-curves.png'));
}
