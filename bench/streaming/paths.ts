// Why the streaming harness (bench/streaming/latency.js) and `streamnest stream --json` disagree: the same NEST-Small
// streaming encoder timed per chunk through the harness's loop with each of its differences from the CLI's route
// switched over one at a time (cache size, carried attention inputs, event-loop turns), then through the CLI itself
// (same weights, from the .nemo that bench/streaming/cli-model.ts makes), at the CLI's cache size and at the harness's.
// Wall p50 / p90 of steady steps (loop variants), of every push (route, CLI: as the CLI counts them), process CPU p50 and
// minor page faults per steady step where this process can measure them; medians over rounds; load average per row.
//
//   npx tsc -p . && node dist/bench/streaming/paths.js [--chunks 80,160,320,640] [--seconds 20] [--rounds 2]
import { loadavg } from 'node:os';
import { parseArgs, type OptionsSpec } from '../../src/cli/args.js';
import { loadAudio } from '../../src/audio/index.js';
import { loadNemoModel, type LoadedNemoModel } from '../../src/checkpoint/nemo-model.js';
import { configureStreaming, StreamingEncoder } from '../../src/streaming/index.js';
import * as t from '../../src/torch/index.js';
import { cpuMs, median } from '../timing.js';
import { ensureStreamingInputs, type StreamingInputs } from './cli-model.js';
import { runCliStream } from './cli-stream.js';
import { HOP, quantile, S, timeStepLoop, type StepLoopOptions } from './step-loop.js';

const spec = {
  chunks: { type: 'string', default: '80,160,320,640', help: 'chunk lengths in ms' },
  seconds: { type: 'integer', default: 20, help: 'stream length in seconds' },
  rounds: { type: 'integer', default: 2, help: 'rounds (each runs every variant once per chunk)' },
  variants: { type: 'string', default: '', help: 'comma-separated variant names (default: all)' },
} satisfies OptionsSpec;

const HARNESS_C = 384;

type Cache = 'harness' | 'file';
type Variant = { name: string; what: string } & (
  | { loop: Omit<StepLoopOptions, 'maxContext'> & { c: Cache } }
  | { route: { c: Cache; turn: boolean } }
  | { cli: Cache }
);

const VARIANTS: Variant[] = [
  {
    name: 'harness',
    what: 'latency.js as it was until 2026-12: C 384, attention inputs carried, no event-loop turn',
    loop: { c: 'harness', keepInputs: true, turn: false },
  },
  { name: 'turn', what: 'harness + an event-loop turn between steps', loop: { c: 'harness', keepInputs: true, turn: true } },
  { name: 'no-inputs', what: 'harness without the attention inputs (as StreamingEncoder)', loop: { c: 'harness', keepInputs: false, turn: false } },
  { name: 'file-C', what: 'harness with C = the stream length (the CLI default)', loop: { c: 'file', keepInputs: true, turn: false } },
  { name: 'cli-like', what: 'C = stream length, no inputs, turns (the CLI settings, harness loop)', loop: { c: 'file', keepInputs: false, turn: true } },
  { name: 'route', what: 'the CLI route in this process: StreamingEncoder.pushAudio per chunk of the WAV, turns, C = file', route: { c: 'file', turn: true } },
  { name: 'route-noturn', what: 'route without the event-loop turns', route: { c: 'file', turn: false } },
  { name: 'route-C384', what: 'route with C 384', route: { c: 'harness', turn: true } },
  { name: 'cli', what: 'streamnest stream --json (default C = file length)', cli: 'file' },
  { name: 'cli-C384', what: 'streamnest stream --json --max-context 384', cli: 'harness' },
];

interface Times {
  /** Wall p50 / p90 (ms) as the tool reports them; CPU p50 where this process could measure it. */
  p50: number;
  p90: number;
  cpu50: number;
  /** Minor page faults per steady step (loop variants only). */
  faults: number;
}

const cpuQuantile = (xs: number[]): number => (xs.length ? quantile(xs, 0.5) : Number.NaN);

/**
 * The CLI's route in this process (src/cli/commands/stream.ts without its extras): the WAV pushed one chunk of audio at a
 * time through StreamingEncoder.pushAudio (exact mode), every push timed as the CLI times it (features included,
 * every push counted, the end-of-stream flush too).
 */
async function timeRoute(m: LoadedNemoModel, wav: string, chunkMs: number, maxContext: number, turn: boolean): Promise<Times> {
  const pre = m.preprocessor;
  const sr = pre.cfg.sample_rate;
  const audio = loadAudio(wav, { targetSampleRate: sr });
  const hop = pre.featurizer.geometry.hopLength / sr;
  const geo = configureStreaming(m.encoder, { chunkSeconds: chunkMs / 1000, hopSeconds: hop, maxContext });
  const se = new StreamingEncoder(m.encoder, { geometry: geo, preprocessor: pre, mode: 'exact' });
  const piece = Math.round(geo.chunkSeconds * sr);
  const walls: number[] = [];
  const cpus: number[] = [];
  let state = se.initStreamState(1);
  for (let pos = 0; pos < audio.samples.length; pos += piece) {
    const c0 = cpuMs();
    const t0 = performance.now();
    const r = se.pushAudio([audio.samples.subarray(pos, pos + piece)], state);
    walls.push(performance.now() - t0);
    cpus.push(cpuMs() - c0);
    state = r.state;
    r.encoded[0]!.dispose();
    if (turn) await new Promise((res) => setImmediate(res));
  }
  const c0 = cpuMs();
  const t0 = performance.now();
  const end = se.finish(state);
  walls.push(performance.now() - t0);
  cpus.push(cpuMs() - c0);
  end.encoded[0]!.dispose();
  se.dispose();
  return { p50: quantile(walls, 0.5), p90: quantile(walls, 0.9), cpu50: cpuQuantile(cpus), faults: Number.NaN };
}

async function measure(v: Variant, m: LoadedNemoModel, inputs: StreamingInputs, ms: number, seconds: number, fileC: number): Promise<Times> {
  if ('loop' in v) {
    const r = await timeStepLoop(m.encoder, ms / 80, seconds, {
      maxContext: v.loop.c === 'harness' ? HARNESS_C : fileC,
      keepInputs: v.loop.keepInputs,
      turn: v.loop.turn,
    });
    return { p50: quantile(r.walls, 0.5), p90: quantile(r.walls, 0.9), cpu50: cpuQuantile(r.cpus), faults: r.faults };
  }
  if ('route' in v) return timeRoute(m, inputs.wav, ms, v.route.c === 'harness' ? HARNESS_C : fileC, v.route.turn);
  const r = runCliStream(inputs.nemo, inputs.wav, { chunkMs: ms, threads: 1, maxContext: v.cli === 'harness' ? HARNESS_C : undefined });
  return { p50: r.latency_ms.p50, p90: r.latency_ms.p90, cpu50: Number.NaN, faults: Number.NaN };
}

async function main(): Promise<void> {
  const { options: a } = parseArgs(process.argv.slice(2), spec);
  t.setNumThreads(1);
  const la = (): string =>
    loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  const chosen = a.variants ? VARIANTS.filter((v) => a.variants.split(',').includes(v.name)) : VARIANTS;
  const chunks = a.chunks.split(',').map(Number);
  const inputs = ensureStreamingInputs(a.seconds);
  const fileC = Math.ceil(a.seconds / HOP / S) + 1; // what the CLI picks for a file of `seconds`
  const m = loadNemoModel(inputs.nemo);
  console.log(`1 thread, ${a.seconds} s, harness C ${HARNESS_C}, file C ${fileC}, rounds ${a.rounds}; load average ${la()}`);
  await timeStepLoop(m.encoder, 1, 2, { maxContext: HARNESS_C, keepInputs: true, turn: true }); // warm-up (untimed)
  const res = new Map<string, Times[]>();
  for (let round = 0; round < a.rounds; round++) {
    for (const ms of chunks) {
      for (const v of chosen) {
        const r = await measure(v, m, inputs, ms, a.seconds, fileC);
        const key = `${v.name} ${ms}`;
        res.set(key, [...(res.get(key) ?? []), r]);
        console.log(
          `round ${round} ${ms} ms ${v.name.padEnd(12)} p50 ${r.p50.toFixed(2)} p90 ${r.p90.toFixed(2)} cpu p50 ${r.cpu50.toFixed(2)} faults/step ${r.faults.toFixed(0)} | load ${la()}`,
        );
      }
    }
  }
  console.log(`\nmedian over rounds: wall p50 / CPU p50 ms per chunk (CLI: wall only); load average ${la()}`);
  console.log(`| variant | what | ${chunks.map((c) => `${c} ms`).join(' | ')} |`);
  console.log(`| --- | --- | ${chunks.map(() => '---').join(' | ')} |`);
  for (const v of chosen) {
    const cells = chunks.map((ms) => {
      const e = res.get(`${v.name} ${ms}`)!;
      const cpu = median(e.map((x) => x.cpu50));
      return `${median(e.map((x) => x.p50)).toFixed(1)}${Number.isNaN(cpu) ? '' : ` / ${cpu.toFixed(1)}`}`;
    });
    console.log(`| ${v.name} | ${v.what} | ${cells.join(' | ')} |`);
  }
  m.dispose();
}

await main();
