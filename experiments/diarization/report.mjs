// Table of experiments/diarization/run.sh: test DER of every finished diarizer run (eval-diar --json, offline and
// streamed, collar 0.25 s and none), at the activity threshold 0.5 and at the one chosen on the validation sessions,
// mean ± sample std over seeds per row, and whether streaming equalled offline.
// Usage: node report.mjs OUT_DIR
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const [out] = process.argv.slice(2);
const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
const std = (v) => (v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1)) : NaN);
const cell = (v) => (v.length === 0 ? 'n/a' : v.length === 1 ? (100 * v[0]).toFixed(1) : `${(100 * mean(v)).toFixed(1)} ± ${(100 * std(v)).toFixed(1)}`);
const json = (f) => (existsSync(f) && statSync(f).size > 0 ? JSON.parse(readFileSync(f, 'utf8')).total : null); // empty: an interrupted eval
const share = (t, k) => t[k] / t.scored;

const LATENCY = { causal: '40 ms ([-1,0], 1-frame chunks)', lookahead: '200 ms ([-1,4] chunked_limited, 5-frame chunks)' };
const same = (rs) => rs.every((r) => Math.abs(r.offline.der - r.streaming.der) < 5e-4 && Math.abs(r.tunedOffline.der - r.tuned.der) < 5e-4);
const rows = new Map(); // row -> [{ seed, offline, streaming, nocollar }]
const runs = join(out, 'runs');
for (const name of existsSync(runs) ? readdirSync(runs).sort() : []) {
  const m = /^(.*)-s(\d+)$/.exec(name);
  const offline = json(join(runs, name, 'der-offline.json'));
  const streaming = json(join(runs, name, 'der-streaming.json'));
  const tunedOffline = json(join(runs, name, 'der-offline-tuned.json'));
  const tuned = json(join(runs, name, 'der-streaming-tuned.json'));
  const nocollar = json(join(runs, name, 'der-streaming-tuned-nocollar.json'));
  const th = existsSync(join(runs, name, 'threshold.txt')) ? readFileSync(join(runs, name, 'threshold.txt'), 'utf8').trim() : null;
  if (!m || !offline || !streaming || !tuned || !tunedOffline || !nocollar) continue; // finished and scored runs only
  if (!rows.has(m[1])) rows.set(m[1], []);
  rows.get(m[1]).push({ seed: Number(m[2]), offline, streaming, tunedOffline, tuned, nocollar, th });
}

const lines = [
  '| diarizer encoder | loss | latency | seeds | DER % at 0.5, offline / streamed | threshold (validation) | DER % at it, offline / streamed | missed / false alarm / confusion % | DER % no collar |',
  '| --- | --- | --- | ---: | --- | --- | --- | --- | ---: |',
];
for (const [row, rs] of rows) {
  const [ctx, init, pil] = row.split('-');
  const pick = (k, f) => rs.map((r) => f(r[k]));
  const parts = ['missed', 'falseAlarm', 'confusion'].map((k) => (100 * mean(pick('tuned', (t) => share(t, k)))).toFixed(1)).join(' / ');
  const pair = (a, b) => `${cell(pick(a, (t) => t.der))} / ${cell(pick(b, (t) => t.der))}`;
  lines.push(
    `| ${init === 'pretrained' ? 'NEST-pretrained' : 'from scratch'} ${ctx} | ${pil === 'pil' ? 'PIL only' : 'ATS + PIL'} | ${LATENCY[ctx] ?? ctx} | ${rs.map((r) => r.seed).join(', ')} | ${pair('offline', 'streaming')} | ${rs.map((r) => r.th).join(', ')} | ${pair('tunedOffline', 'tuned')} | ${parts} | ${cell(pick('nocollar', (t) => t.der))} |`,
  );
}
for (const ctx of ['causal', 'lookahead']) {
  const p = rows.get(`${ctx}-pretrained`);
  const s = rows.get(`${ctx}-scratch`);
  if (!p || !s) continue;
  const a = mean(p.map((r) => r.tuned.der));
  const b = mean(s.map((r) => r.tuned.der));
  lines.push(
    '',
    `${ctx}: pretrained ${(100 * a).toFixed(1)}% against from scratch ${(100 * b).toFixed(1)}% streamed DER at the validation threshold (${(100 * (1 - a / b)).toFixed(1)}% relative).`,
  );
}
const all = [...rows.values()].flat();
lines.push('', all.length === 0 ? 'No finished runs.' : `Streamed DER ${same(all) ? 'equals' : 'does NOT equal'} the offline DER on every run.`);
console.log(lines.join('\n'));
