// Table of experiments/low-resource/transducer.sh: per row (pretrained / scratch), the best dev WER during fine-tuning
// (metrics.csv, mean ± sample std over seeds), the final model's dev WER offline and streaming (eval reports), and the
// streaming step's compute (p50 ms per chunk of 320 ms).
// Usage: node transducer-report.mjs OUT_DIR ROW
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [out, row] = process.argv.slice(2);
const dir = join(out, 'transducer');
const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
const std = (v) => (v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1)) : Number.NaN);
const cell = (v, d = 1) => (v.length ? `${mean(v).toFixed(d)} ± ${Number.isFinite(std(v)) ? std(v).toFixed(d) : 'n/a'} (n=${v.length})` : 'n/a');

function bestDevWer(run) {
  const f = join(dir, run, 'metrics.csv');
  if (!existsSync(f)) return null;
  const lines = readFileSync(f, 'utf8').trim().split('\n');
  const head = lines[0].split(',');
  const col = head.indexOf('val_loss'); // the dev WER (fraction), as in report.mjs
  const v = lines
    .slice(1)
    .map((l) => l.split(',')[col] ?? '')
    .filter((x) => x !== '')
    .map(Number)
    .filter((x) => Number.isFinite(x));
  return v.length ? 100 * Math.min(...v) : null;
}

const rows = [];
for (const init of [row, 'scratch']) {
  const runs = (existsSync(dir) ? readdirSync(dir) : []).filter(
    (n) => n.startsWith(`rnnt-${init}-s`) && existsSync(join(dir, n, 'checkpoints', `${n}.nemo`)), // finished runs only
  );
  const best = [];
  const offline = [];
  const streaming = [];
  const step = [];
  for (const r of runs) {
    const b = bestDevWer(r);
    if (b !== null) best.push(b);
    const ev = (m) => {
      const f = join(dir, r, `eval-${m}.json`);
      return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : null;
    };
    const o = ev('offline');
    const s = ev('streaming');
    if (o) offline.push(100 * o.totals.wer);
    if (s) {
      streaming.push(100 * s.totals.wer);
      step.push(s.streaming.stepMsP50);
    }
  }
  rows.push(`| ${init === 'scratch' ? 'from scratch' : `NEST (${init})`} | ${cell(best)} | ${cell(offline)} | ${cell(streaming)} | ${cell(step, 2)} |`);
}
console.log('| RNN-T, causal encoder | best dev WER % (training) | final dev WER % offline | final dev WER % streaming (320 ms) | streaming step p50 ms |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
