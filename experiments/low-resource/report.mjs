// Table and plot of experiments/low-resource/run.sh: best dev WER of every fine-tuning run (the val_loss column of its
// metrics.csv is the dev WER), mean ± sample std over seeds per row, the relative gain of pretraining, and the
// pretraining runs' codebook health at their last validation.
// Usage: node report.mjs OUT_DIR DIST_DIR [wer|cer]  (cer: rank the runs by their dev CER, metrics.csv's val_cer)
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [out, dist, metric = 'wer'] = process.argv.slice(2);
if (!['wer', 'cer'].includes(metric)) throw new Error(`report.mjs: the metric is wer or cer, got ${metric}`);
const col = metric === 'cer' ? 'val_cer' : 'val_loss';
const M = metric.toUpperCase();
const { barPlot, linePlot } = await import(pathToFileURL(join(dist, 'src/plot/index.js')).href);

function csv(f) {
  if (!existsSync(f)) return [];
  const lines = readFileSync(f, 'utf8').trim().split('\n');
  const head = lines[0].split(',');
  return lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [head[i], v === '' ? NaN : Number(v)])));
}
const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
const std = (v) => (v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1)) : NaN);
const pct = (x) => (Number.isFinite(x) ? (100 * x).toFixed(1) : 'n/a');

// fine-tuning runs: <row>-s<seed>
const runs = new Map(); // row -> [{ seed, best, curve }]
const ftDir = join(out, 'finetune');
for (const name of existsSync(ftDir) ? readdirSync(ftDir) : []) {
  const m = /^(.*)-s(\d+)$/.exec(name);
  if (!m || !existsSync(join(ftDir, name, 'checkpoints', `${name}.nemo`))) continue; // finished runs only
  const val = csv(join(ftDir, name, 'metrics.csv')).filter((r) => Number.isFinite(r[col]));
  if (!val.length) continue;
  const best = Math.min(...val.map((r) => r[col]));
  if (!runs.has(m[1])) runs.set(m[1], []);
  runs.get(m[1]).push({ seed: Number(m[2]), best, curve: val.map((r) => [r.step, r[col]]) });
}
const stat = (row) => {
  const r = runs.get(row) ?? [];
  const v = r.map((x) => x.best);
  return { n: v.length, mean: v.length ? mean(v) : NaN, std: std(v), seeds: r.map((x) => x.seed).sort() };
};
const cell = (s) => (s.n ? `${pct(s.mean)} ± ${pct(s.std)} (n=${s.n})` : 'n/a');

const lines = [];
lines.push('| model | pretrained (NEST, per_utterance targets) | from scratch | relative gain | goal (>= 10%) |');
lines.push('| --- | --- | --- | --- | --- |');
const MAIN_ROWS = [
  ['causal', 'causal-per_utterance', 'causal, NEST blocks (400 ms)'],
  ['causal', 'causal-short_blocks', 'causal, short mask blocks'],
  ['lookahead', 'lookahead-per_utterance', 'lookahead, NEST blocks (400 ms)'],
  ['lookahead', 'lookahead-short_blocks', 'lookahead, short mask blocks'],
  ['bidirectional', 'bidirectional-per_utterance', 'bidirectional, NEST blocks (400 ms)'],
  ['bidirectional', 'bidirectional-short_blocks', 'bidirectional, short mask blocks'],
  ['causal-fixed_stats', 'causal-fixed_stats', 'causal, short mask blocks, fixed feature statistics'],
  ['lookahead-fixed_stats', 'lookahead-fixed_stats', 'lookahead, short mask blocks, fixed feature statistics'],
  ['causal', 'causal-mask50', 'causal, short mask blocks, half the frames masked'],
  ['lookahead', 'lookahead-mask50', 'lookahead, short mask blocks, half the frames masked'],
  ['causal-d176', 'causal-d176', 'causal, short mask blocks, d 176 encoder'],
  ['lookahead-d176', 'lookahead-d176', 'lookahead, short mask blocks, d 176 encoder'],
  ['causal-d176-fixed_stats', 'causal-d176-fixed_stats', 'causal, short mask blocks, d 176 encoder, fixed feature statistics'],
  ['lookahead-d176-fixed_stats', 'lookahead-d176-fixed_stats', 'lookahead, short mask blocks, d 176 encoder, fixed feature statistics'],
  // the d 176 rows pretrained on raw log-mel against the strongest from-scratch baseline of that width: fixed statistics
  ['causal-d176-fixed_stats', 'causal-d176', 'causal, short mask blocks, d 176 encoder, raw log-mel pretrained against fixed statistics from scratch'],
  ['lookahead-d176-fixed_stats', 'lookahead-d176', 'lookahead, short mask blocks, d 176 encoder, raw log-mel pretrained against fixed statistics from scratch'],
];
for (const [c, row, label] of MAIN_ROWS) {
  const p = stat(row);
  const s = stat(`scratch-${c}`);
  if (!p.n) continue; // not run here
  const gain = (s.mean - p.mean) / s.mean;
  const goal = c.startsWith('bidirectional') ? '(reference)' : Number.isFinite(gain) ? (gain >= 0.1 ? 'met' : 'missed') : 'n/a';
  lines.push(`| ${label} | ${cell(p)} | ${cell(s)} | ${Number.isFinite(gain) ? `${(100 * gain).toFixed(1)}%` : 'n/a'} | ${goal} |`);
}
const rel = (a, b) => (Number.isFinite(a.mean / b.mean) ? `${(100 * (a.mean / b.mean - 1)).toFixed(1)}%` : 'n/a');
const [sb, sc, sl] = ['bidirectional', 'causal', 'lookahead'].map((c) => stat(`scratch-${c}`));
// the causal-vs-bidirectional gap, for each pretraining family (masking) whose bidirectional row was fine-tuned
for (const [family, label] of [
  ['per_utterance', "NEST's blocks"],
  ['short_blocks', 'short mask blocks'],
]) {
  const [bi, ca, la] = ['bidirectional', 'causal', 'lookahead'].map((c) => stat(`${c}-${family}`));
  if (!bi.n) continue;
  lines.push('');
  lines.push(
    `Relative dev ${M} against bidirectional (${label}): causal ${rel(ca, bi)} (pretrained) / ${rel(sc, sb)} (scratch); look-ahead ${rel(la, bi)} / ${rel(sl, sb)} (the seeds' documents expect +0.5-2%).`,
  );
}
lines.push('');
lines.push(
  `| pretraining row | target_normalize | target_alignment | mask blocks | encoder features | val target perplexity | val masked accuracy | val prediction perplexity | fine-tuned dev ${M} |`,
);
lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
const NEST_BLOCKS = '40 frames, p 0.01';
const SHORT_BLOCKS = '4 frames, p 0.085';
const HALF_MASKED = '4 frames, p 0.16';
const ABLATION_ROWS = [
  ['causal-none', 'none', 'first_frames', NEST_BLOCKS],
  ['causal-per_utterance', 'per_utterance', 'first_frames', NEST_BLOCKS],
  ['causal-per_frame', 'per_frame', 'first_frames', NEST_BLOCKS],
  ['causal-per_utterance-whole_group', 'per_utterance', 'whole_group', NEST_BLOCKS],
  ['causal-short_blocks', 'per_utterance', 'first_frames', SHORT_BLOCKS],
  ['lookahead-short_blocks', 'per_utterance', 'first_frames', SHORT_BLOCKS],
  ['bidirectional-short_blocks', 'per_utterance', 'first_frames', SHORT_BLOCKS],
  ['causal-fixed_stats', 'per_utterance', 'first_frames', SHORT_BLOCKS, 'fixed statistics'],
  ['lookahead-fixed_stats', 'per_utterance', 'first_frames', SHORT_BLOCKS, 'fixed statistics'],
  ['causal-mask50', 'per_utterance', 'first_frames', HALF_MASKED],
  ['lookahead-mask50', 'per_utterance', 'first_frames', HALF_MASKED],
  ['causal-d176', 'per_utterance', 'first_frames', SHORT_BLOCKS],
  ['lookahead-d176', 'per_utterance', 'first_frames', SHORT_BLOCKS],
  ['causal-d176-fixed_stats', 'per_utterance', 'first_frames', SHORT_BLOCKS, 'fixed statistics'],
  ['lookahead-d176-fixed_stats', 'per_utterance', 'first_frames', SHORT_BLOCKS, 'fixed statistics'],
];
/** True when the pretraining row ran all its steps here (run.sh's test: its log says so; an interrupted run resumes). */
const pretrained = (row) => {
  const log = join(out, `pretrain-${row}.log`);
  return existsSync(log) && /finished at step \d+ \(max_steps\)/.test(readFileSync(log, 'utf8'));
};
for (const [row, norm, align, blocks, features = 'raw log-mel'] of ABLATION_ROWS) {
  const pre = csv(join(out, 'pretrain', row, 'metrics.csv')).filter((r) => Number.isFinite(r.val_target_perplexity));
  if (!pre.length || !pretrained(row)) continue; // not run here, or not to the end
  const last = pre[pre.length - 1];
  const f = (k, d) => (last && Number.isFinite(last[k]) ? last[k].toFixed(d) : 'n/a');
  lines.push(
    `| ${row} | ${norm} | ${align} | ${blocks} | ${features} | ${f('val_target_perplexity', 1)} | ${f('val_masked_accuracy', 3)} | ${f('val_prediction_perplexity', 1)} | ${cell(stat(row))} |`,
  );
}
// every other fine-tuning row found (e.g. --ft-freeze runs: <row>-freezeN), mean ± std of the best dev WER
const known = new Set([...MAIN_ROWS.map(([, row]) => row), ...ABLATION_ROWS.map(([row]) => row), ...MAIN_ROWS.map(([c]) => `scratch-${c}`)]);
const others = [...runs.keys()].filter((r) => !known.has(r)).sort();
if (others.length) {
  lines.push('', `| other fine-tuning row | best dev ${M} |`, '| --- | --- |');
  for (const row of others) lines.push(`| ${row} | ${cell(stat(row))} |`);
}
console.log(lines.join('\n'));

// a curve's name: the model (context, then what differs from the d 96 encoder on raw log-mel), then how it started
const seriesName = (row) => {
  const r = row.replace(/^scratch-/, '');
  const extras = [r.includes('-d176') && ', d 176', r.includes('-fixed_stats') && ', fixed statistics'].filter(Boolean).join('');
  if (row.startsWith('scratch-')) return `${r.split('-')[0]}${extras} (scratch)`;
  const masking = r.endsWith('-per_utterance') ? '' : r.endsWith('-mask50') ? ', short blocks, half masked' : ', short blocks';
  return `${r.split('-')[0]}${extras} (NEST${masking})`;
};
// dev WER against fine-tuning step, mean over seeds, for the main rows and their from-scratch rows
const series = [];
for (const row of new Set(MAIN_ROWS.flatMap(([c, row]) => [row, `scratch-${c}`]))) {
  const r = runs.get(row);
  if (!r) continue;
  const steps = r[0].curve.map(([s]) => s).filter((s) => r.every((x) => x.curve.some(([q]) => q === s)));
  series.push({
    name: seriesName(row),
    x: steps,
    y: steps.map((s) => 100 * mean(r.map((x) => x.curve.find(([q]) => q === s)[1]))),
  });
}
if (series.length) {
  linePlot(series, { title: `CTC on ${labelledMinutes()} min labelled: dev ${M}, mean over seeds`, xLabel: 'fine-tuning step', yLabel: `dev ${M} %` }).save(
    join(out, 'dev-wer.png'),
  );
}

// best dev WER of every seed, pretrained against from scratch, per main row that ran (bars: mean; error bars: std)
const groups = MAIN_ROWS.filter(([, row]) => runs.has(row)).map(([c, row, label]) => ({
  label: label
    .replace(', short mask blocks', '')
    .replace(', NEST blocks (400 ms)', '\n400 ms blocks')
    .replace(', fixed feature statistics', '\n+ fixed stats')
    .replace(', half the frames masked', '\n50% masked')
    .replace(', d 176 encoder', '\nd 176')
    .replace(', raw log-mel pretrained against fixed statistics from scratch', ' vs\nscratch + fixed stats'),
  bars: [row, `scratch-${c}`].map((r) => (runs.has(r) ? { values: runs.get(r).map((x) => 100 * x.best) } : null)),
}));
if (groups.length) {
  barPlot(groups, {
    title: `CTC on ${labelledMinutes()} min labelled: best dev ${M} per run`,
    yLabel: `best dev ${M} %`,
    series: ['pretrained (NEST)', 'from scratch'],
    width: Math.max(640, 150 * groups.length),
  }).save(join(out, 'best-wer.png'));
}

/** Minutes of the labelled subset (the corpus's labelled_manifest.json), to one decimal. */
function labelledMinutes() {
  const manifest = join(out, 'corpus', 'labelled_manifest.json');
  if (!existsSync(manifest)) return '?';
  const rows = readFileSync(manifest, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  return (rows.reduce((s, r) => s + r.duration, 0) / 60).toFixed(1);
}
