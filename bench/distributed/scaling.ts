// Data-parallel scaling of NEST pretraining on this machine: `streamnest pretrain` on the tiny preset with
// trainer.devices=1 and 2 (1 libtorch thread per process, Gloo on 127.0.0.1). The time of each step is taken
// from when rank 0 appends it to metrics.csv; the first `--skip` steps (start-up, warm-up) are left out.
// Throughput = steps/s x devices x batch_size (utterances/s) and seconds of audio/s (from the corpus' mean
// duration); scaling efficiency = throughput(2) / (2 x throughput(1)). The global batch doubles with 2 devices.
//
//   node dist/bench/distributed/scaling.js [--steps 40] [--skip 5] [--devices 1,2] [--model 'key=value ...'] [--batch 4]
//                                          [--ceiling] [--rounds 1] [--json]
// --model: overrides of the tiny preset, e.g. 'model.encoder.n_layers=4 model.encoder.d_model=176' (a model larger than tiny).
// --batch: batch_size per process. --ceiling: also runs 2 independent single-process trainings at the same time (no
// collectives, no waiting for a peer): their summed throughput is the most any 2-process data parallel could reach on
// this machine. --gloo: also runs each devices > 1 with STREAMNEST_SHM_ALLREDUCE=0 (every collective through Gloo over
// TCP, as before shared-memory gradients). --rounds N: repeats the whole set N times, alternating, and reports each
// round and the median. --json: also one JSON line per set-up other than devices=1 (its speed-up in every round, the
// median, and the utterances/s medians of both).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from '../timing.js';

const here = dirname(fileURLToPath(import.meta.url));
const MAIN_JS = join(here, '..', '..', 'src', 'cli', 'main.js');
let root = here;
while (!existsSync(join(root, 'package.json'))) root = dirname(root);
const RUN = 'SSL-NEST-FastConformer-Tiny';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}
const steps = Number(arg('steps', '40'));
const skip = Number(arg('skip', '5'));
const devicesList = arg('devices', '1,2').split(',').map(Number);
const modelOverrides = arg('model', '').split(/\s+/).filter(Boolean);
const batch = Number(arg('batch', '4'));
const ceiling = process.argv.includes('--ceiling');
const rounds = Number(arg('rounds', '1'));
const alsoGloo = process.argv.includes('--gloo');
const json = process.argv.includes('--json');

function meanDuration(manifest: string): number {
  const lines = readFileSync(manifest, 'utf8').trim().split('\n');
  return lines.reduce((a, l) => a + (JSON.parse(l) as { duration: number }).duration, 0) / lines.length;
}

async function run(devices: number, env: Record<string, string> = {}): Promise<{ stepTimes: number[]; wall: number }> {
  const exp = mkdtempSync(join(tmpdir(), `sn-scaling-${devices}-`));
  const csv = join(exp, RUN, 'metrics.csv');
  const t0 = Date.now();
  const child = spawn(
    process.execPath,
    [
      MAIN_JS,
      'pretrain',
      '--quiet',
      `trainer.devices=${devices}`,
      `trainer.max_steps=${steps}`,
      'trainer.val_check_interval=100000',
      'trainer.log_every_n_steps=1',
      `exp_manager.exp_dir=${exp}`,
      `model.train_ds.batch_size=${batch}`,
      ...modelOverrides,
    ],
    { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, STREAMNEST_THREADS: '1', ...env } },
  );
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const seen: number[] = [];
  const poll = setInterval(() => {
    if (!existsSync(csv)) return;
    const n = readFileSync(csv, 'utf8').trim().split('\n').length - 1;
    while (seen.length < n) seen.push(performance.now());
  }, 10);
  const code = await new Promise<number | null>((res) => child.on('close', res));
  clearInterval(poll);
  if (code !== 0) throw new Error(`devices=${devices}: exit ${code}\n${err}`);
  return { stepTimes: seen, wall: (Date.now() - t0) / 1000 };
}

const audio = meanDuration(join(root, 'data', 'corpus', 'train_manifest.json'));
console.log(
  `# NEST tiny preset${modelOverrides.length ? ` with ${modelOverrides.join(' ')}` : ''}, ${steps} steps (first ${skip} skipped), batch_size ${batch} per process, 1 thread per process`,
);
console.log(
  `# ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);

/** Steps per second of one run's steps after the first `skip`. */
function stepsPerSecond(r: { stepTimes: number[] }): number {
  const ts = r.stepTimes.slice(skip);
  return (ts.length - 1) / ((ts[ts.length - 1]! - ts[0]!) / 1000);
}

interface Row {
  label: string;
  processes: number;
  uttPerS: number;
}

async function measure(devices: number, gloo = false): Promise<Row> {
  const r = await run(devices, gloo ? { STREAMNEST_SHM_ALLREDUCE: '0' } : {});
  const sps = stepsPerSecond(r);
  const row = { label: `devices=${devices}${gloo ? ' (Gloo only)' : ''}`, processes: devices, uttPerS: sps * devices * batch };
  console.log(
    `${row.label}: ${sps.toFixed(2)} steps/s, ${row.uttPerS.toFixed(1)} utterances/s, ${(row.uttPerS * audio).toFixed(1)} s of audio/s (wall ${r.wall.toFixed(1)} s incl. start-up)`,
  );
  return row;
}

async function measureIndependentPair(): Promise<Row> {
  const rs = await Promise.all([run(1), run(1)]);
  const sps = rs.map(stepsPerSecond);
  const row = { label: '2 independent', processes: 2, uttPerS: (sps[0]! + sps[1]!) * batch };
  console.log(
    `2 independent single-process runs at once: ${sps.map((x) => x.toFixed(2)).join(' + ')} steps/s, ${row.uttPerS.toFixed(1)} utterances/s, ${(row.uttPerS * audio).toFixed(1)} s of audio/s (the ceiling)`,
  );
  return row;
}

const speedups = new Map<string, number[]>();
const throughputs = new Map<string, number[]>();
for (let round = 0; round < rounds; round++) {
  if (rounds > 1) console.log(`# round ${round + 1} of ${rounds}`);
  const results: Row[] = [];
  for (const d of devicesList) {
    results.push(await measure(d));
    if (alsoGloo && d > 1) results.push(await measure(d, true));
  }
  if (ceiling) results.push(await measureIndependentPair());
  for (const r of results) throughputs.set(r.label, [...(throughputs.get(r.label) ?? []), r.uttPerS]);
  const one = results.find((r) => r.label === 'devices=1');
  for (const r of results) {
    if (!one || r.processes === 1) continue;
    const x = r.uttPerS / one.uttPerS;
    speedups.set(r.label, [...(speedups.get(r.label) ?? []), x]);
    console.log(`${r.label} vs devices=1: ${x.toFixed(2)}x the utterances/s (scaling efficiency ${((100 * x) / r.processes).toFixed(0)}%)`);
  }
}
if (rounds > 1) {
  for (const [label, xs] of speedups) {
    console.log(`median over ${rounds} rounds, ${label} vs devices=1: ${median(xs).toFixed(2)}x (${xs.map((x) => x.toFixed(2)).join(', ')})`);
  }
}
if (json) {
  for (const [label, xs] of speedups) {
    const utt = median(throughputs.get(label)!);
    const oneUtt = median(throughputs.get('devices=1')!);
    console.log(
      JSON.stringify({ label, batch, model: modelOverrides.join(' '), speedup_rounds: xs, speedup: median(xs), utt_per_s: utt, one_process_utt_per_s: oneUtt }),
    );
  }
}
