// Load test of `streamnest serve` (not a timed test): N concurrent real-time streams from clients in this process to
// a server process on the same machine. Each client sends chunk-sized pieces of float32 audio at 16 kHz paced in
// real time (starts staggered over one chunk), then `Done`. Latency of a result = its arrival time minus the time
// the piece holding the last audio it decoded was sent (`decoded_seconds`): queueing + features + encoder + CTC head.
// For each thread count, N grows until p99 passes the chunk length; the largest N under it is the capacity.
// Nothing may be lost: every stream's final text must equal the offline transcript of its audio.
//
//   npx tsc -p tsconfig.json && node dist/bench/serving/load.js [--model M.nemo] [--threads 1,2] [--streams 10,20,...]
//
// Without --model, a random-weight character CTC model with the low-resource experiment's architecture (4 layers,
// d_model 96, 4 heads, 4x causal subsampling, fully causal [-1, 0]) is written first: the cost per step does not
// depend on the weights.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import WebSocket from 'ws';
import { parseArgs, type OptionsSpec } from '../../src/cli/args.js';
import { loadAudio } from '../../src/audio/index.js';
import { CharVocabulary, CtcModel, CTC_TARGET, type CtcModelArgs } from '../../src/asr/index.js';
import { loadNemoCtcModel } from '../../src/checkpoint/nemo-model.js';
import { writeNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { repoRoot } from '../../src/data/corpus.js';
import { readManifest } from '../../src/data/manifest.js';
import { linePlot } from '../../src/plot/index.js';

const spec = {
  model: { type: 'string', metavar: 'M.nemo', help: 'CTC model to serve (default: a random model of the experiment architecture)' },
  threads: { type: 'string', default: '1,2', help: 'server thread counts' },
  streams: { type: 'string', default: '10,20,30,40,50,60,70,80,100', help: 'concurrent stream counts to try, ascending' },
  seconds: { type: 'number', default: 20, help: 'audio per stream' },
  chunk: { type: 'number', default: 0.32, help: 'encoder chunk and piece length in seconds' },
  maxBatch: { type: 'integer', default: 128, help: 'server --max-batch-size' },
  maxContext: { type: 'integer', default: 1000, help: 'server --max-context (attention cache frames)' },
  batchWait: { type: 'number', default: 50, help: 'server --batch-wait-ms' },
  plot: { type: 'string', default: 'docs/images/serve-load.png', help: 'latency plot (empty: none)' },
  json: { type: 'string', help: 'write the rows as JSON here' },
  url: { type: 'string', metavar: 'ws://HOST:PORT/', help: 'use this running server (e.g. one under a profiler) instead of starting one per row' },
} satisfies OptionsSpec;

const trace: number[][] = [];
process.on('exit', () => {
  if (process.env.LOAD_TRACE) writeFileSync(process.env.LOAD_TRACE, JSON.stringify(trace));
});
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Row {
  threads: number;
  streams: number;
  results: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  meanBatch: number;
  exact: boolean;
  lost: number;
}

function experimentModel(path: string): void {
  const labels = CharVocabulary.english().labels;
  const preprocessor = {
    _target_: 'nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor',
    sample_rate: 16000,
    normalize: 'NA',
    features: 80,
    dither: 0,
  };
  const encoder = {
    _target_: 'nemo.collections.asr.modules.ConformerEncoder',
    feat_in: 80,
    feat_out: -1,
    n_layers: 4,
    d_model: 96,
    n_heads: 4,
    subsampling: 'dw_striding',
    subsampling_factor: 4,
    subsampling_conv_channels: 96,
    causal_downsampling: true,
    conv_kernel_size: 9,
    conv_norm_type: 'layer_norm',
    conv_context_size: 'causal',
    att_context_size: [-1, 0],
    att_context_style: 'regular',
  };
  const m = new CtcModel({ preprocessor, encoder: encoder as unknown as CtcModelArgs['encoder'], labels, specAugment: null, seed: 3 });
  const cfg = {
    target: CTC_TARGET,
    sample_rate: 16000,
    labels: [...labels],
    preprocessor,
    encoder,
    decoder: { _target_: 'nemo.collections.asr.modules.ConvASRDecoder', feat_in: 96, num_classes: labels.length, vocabulary: [...labels] },
  };
  writeNemoArchive(path, { configYaml: stringify(cfg), stateDict: m.stateDict() });
  m.dispose();
}

/** `seconds` of speech for stream i: corpus clips, concatenated from a different starting clip per stream. */
function streamAudio(clips: Float32Array[], i: number, seconds: number): Float32Array {
  const out = new Float32Array(Math.round(seconds * 16000));
  let at = 0;
  for (let k = i; at < out.length; k++) {
    const c = clips[k % clips.length]!;
    out.set(c.subarray(0, Math.min(c.length, out.length - at)), at);
    at += c.length;
  }
  return out;
}

async function startServer(
  model: string,
  threads: number,
  maxBatch: number,
  maxContext: number,
  batchWait: number,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [
      MAIN,
      '--threads',
      String(threads),
      'serve',
      '--model',
      model,
      '--port',
      '0',
      '--max-streams',
      '1000',
      '--max-batch-size',
      String(maxBatch),
      '--max-context',
      String(maxContext),
      '--batch-wait-ms',
      String(batchWait),
      '--no-endpoint',
      '--quiet',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const hit = /listening on (http:\/\/\S+)/.exec(out);
      if (hit) resolve(hit[1]!.replace(/^http/, 'ws'));
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
  return { child, url };
}

/** One real-time client: returns per-result latencies (ms) and the final text. */
async function client(url: string, audio: Float32Array, chunk: number, delayMs: number): Promise<{ latencies: number[]; text: string | null }> {
  await new Promise((r) => setTimeout(r, delayMs));
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const piece = Math.round(chunk * 16000);
  const sent: number[] = [];
  const latencies: number[] = [];
  let text: string | null = null;
  const done = new Promise<void>((resolve) => {
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const s = data.toString();
      if (s === 'Done!') return;
      const r = JSON.parse(s) as { text: string; is_eof: boolean; decoded_seconds: number };
      const idx = Math.min(sent.length - 1, Math.max(0, Math.ceil((r.decoded_seconds * 16000) / piece) - 1));
      if (!r.is_eof) latencies.push(performance.now() - sent[idx]!);
      if (!r.is_eof && process.env.LOAD_TRACE) trace.push([Math.round(performance.now()), Math.round(performance.now() - sent[idx]!), idx]);
      if (r.is_eof) text = r.text;
    });
    ws.on('close', () => resolve());
  });
  const t0 = performance.now();
  for (let i = 0, k = 0; i < audio.length; i += piece, k++) {
    const wait = t0 + k * chunk * 1000 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sent.push(performance.now());
    ws.send(Buffer.from(audio.buffer, audio.byteOffset + 4 * i, 4 * Math.min(piece, audio.length - i)));
  }
  ws.send('Done');
  await done;
  return { latencies, text };
}

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]! : Number.NaN;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url.replace(/^ws/, 'http')}metrics`)).text();
  const m = new RegExp(`^${name} ([\\d.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

async function main(): Promise<void> {
  const { options } = parseArgs(process.argv.slice(2), spec, { maxPositionals: 0 });
  const tmp = mkdtempSync(join(tmpdir(), 'streamnest-load-'));
  try {
    const model = options.model ?? join(tmp, 'experiment-architecture.nemo');
    if (!options.model) experimentModel(model);
    const root = repoRoot();
    const clips = readManifest(join(root, 'data', 'corpus', 'train_manifest.json')).entries.map(
      (e) => loadAudio(e.audioFilepath, { targetSampleRate: 16000 }).samples,
    );
    const loaded = await loadNemoCtcModel(model);
    const counts = options.streams.split(',').map(Number);
    const maxN = Math.max(...counts);
    const audio = Array.from({ length: maxN }, (_, i) => streamAudio(clips, i, options.seconds));
    process.stderr.write(`load: offline transcripts of ${maxN} streams for the exactness check...\n`);
    const expected = audio.map((a) => loaded.model.transcribe([a])[0]!.text);
    loaded.dispose();
    const rows: Row[] = [];
    const series: { name: string; x: number[]; y: number[] }[] = [];
    for (const threads of options.threads.split(',').map(Number)) {
      const s = { name: `p99, ${threads} thread${threads > 1 ? 's' : ''}`, x: [] as number[], y: [] as number[] };
      series.push(s);
      for (const n of counts) {
        const server = options.url
          ? { url: options.url, child: null }
          : await startServer(model, threads, options.maxBatch, options.maxContext, options.batchWait);
        try {
          const load0 = loadavg()[0]!;
          const runs = await Promise.all(audio.slice(0, n).map((a, i) => client(server.url, a, options.chunk, (i / n) * options.chunk * 1000)));
          const lat = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
          const lost = runs.filter((r, i) => r.text !== expected[i]).length;
          const steps = await metric(server.url, 'streamnest_decode_steps_total');
          const batched = await metric(server.url, 'streamnest_batch_size_sum');
          const row: Row = {
            threads,
            streams: n,
            results: lat.length,
            p50: pct(lat, 0.5),
            p90: pct(lat, 0.9),
            p99: pct(lat, 0.99),
            max: lat.at(-1) ?? Number.NaN,
            meanBatch: batched / steps,
            exact: lost === 0,
            lost,
          };
          rows.push(row);
          s.x.push(n);
          s.y.push(row.p99);
          process.stderr.write(
            `load: ${threads} thread(s), ${n} streams: p50 ${row.p50.toFixed(1)} ms, p99 ${row.p99.toFixed(1)} ms, max ${row.max.toFixed(1)} ms, ` +
              `mean batch ${row.meanBatch.toFixed(1)}, ${lost} of ${n} transcripts differ from offline (load ${load0.toFixed(1)})\n`,
          );
          if (row.p99 > 3 * options.chunk * 1000) break; // far past capacity: larger N only queue more
        } finally {
          if (server.child) {
            server.child.kill('SIGTERM');
            await new Promise((r) => server.child.once('exit', r));
          }
        }
      }
    }
    const budget = options.chunk * 1000;
    process.stdout.write(
      `\n| server threads | streams | p50 ms | p90 ms | p99 ms | max ms | mean batch | transcripts equal offline |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n`,
    );
    for (const r of rows)
      process.stdout.write(
        `| ${r.threads} | ${r.streams} | ${r.p50.toFixed(1)} | ${r.p90.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} | ${r.meanBatch.toFixed(1)} | ${r.exact ? 'all' : `${r.streams - r.lost} of ${r.streams}`} |\n`,
      );
    for (const threads of new Set(rows.map((r) => r.threads))) {
      const ok = rows.filter((r) => r.threads === threads && r.p99 < budget && r.exact);
      const cap = ok.length ? Math.max(...ok.map((r) => r.streams)) : 0;
      process.stdout.write(`capacity with ${threads} server thread(s): ${cap} real-time streams with p99 under ${budget.toFixed(0)} ms (goal: 50)\n`);
    }
    if (options.json) writeFileSync(options.json, JSON.stringify(rows, null, 2));
    if (options.plot) {
      linePlot(series, {
        title: `streamnest serve: p99 result latency, ${options.chunk * 1000} ms chunks, max context ${options.maxContext}`,
        xLabel: 'concurrent real-time streams',
        yLabel: 'p99 latency (ms)',
        hLines: [{ y: budget, label: `chunk = real-time budget (${budget} ms)` }],
      }).save(options.plot);
      process.stdout.write(`plot: ${options.plot}\n`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
