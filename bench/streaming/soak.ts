// Soak test: one hour (STREAMNEST_SOAK_SECONDS) of audio streamed through a small limited-context causal encoder,
// one chunk per event-loop turn. Prints live tensors, RSS and per-chunk latency per simulated 5 minutes, and the drift
// of median latency (last 10% vs first 10%). Run: npx tsc --outDir dist && node dist/bench/streaming/soak.js
import * as t from '../../src/torch/index.js';
import { AudioToMelSpectrogramPreprocessor } from '../../src/audio/index.js';
import { ConformerEncoder } from '../../src/model/index.js';
import { configureStreaming, StreamingEncoder } from '../../src/streaming/index.js';

const seconds = Number(process.env.STREAMNEST_SOAK_SECONDS ?? 3600);
t.setNumThreads(1);
const enc = new ConformerEncoder(
  {
    feat_in: 80,
    n_layers: 4,
    d_model: 128,
    n_heads: 4,
    subsampling: 'dw_striding',
    subsampling_factor: 8,
    subsampling_conv_channels: 64,
    causal_downsampling: true,
    att_context_style: 'chunked_limited',
    att_context_size: [48, 3],
    conv_kernel_size: 9,
    conv_context_size: 'causal',
    conv_norm_type: 'layer_norm',
    dropout: 0,
    dropout_pre_encoder: 0,
    dropout_emb: 0,
    dropout_att: 0,
  },
  { init: { generator: new t.Generator(1) } },
).eval();
const pre = new AudioToMelSpectrogramPreprocessor({ sample_rate: 16000, normalize: 'NA', features: 80, dither: 0, pad_to: 0 }).eval();
const geo = configureStreaming(enc, { hopSeconds: 0.01 });
const se = new StreamingEncoder(enc, { geometry: geo, preprocessor: pre });
const sr = 16000;
const piece = Math.round(geo.chunkSeconds * sr);
const chunks = Math.ceil((seconds * sr) / piece);
let seed = 12345;
const noise = new Float32Array(piece);
let state = se.initStreamState(1);
const lat: number[] = [];
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const report = Math.round(300 / geo.chunkSeconds);
let live0 = -1;
let rss0 = 0;
/** RSS at the first report (after 5 minutes of audio): the baseline of the growth bar. */
let rssWarm = 0;
for (let i = 0; i < chunks; i++) {
  for (let k = 0; k < piece; k++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    noise[k] = 0.1 * Math.sin((i * piece + k) * 0.05) + 0.05 * (seed / 2 ** 32 - 0.5);
  }
  const s = performance.now();
  const r = se.pushAudio([noise], state);
  lat.push(performance.now() - s);
  r.encoded[0]!.dispose();
  state = r.state;
  await new Promise((res) => setImmediate(res));
  if (i === 50) {
    live0 = t.liveTensorCount();
    rss0 = process.memoryUsage().rss;
  }
  if (i > 50 && (i % report === 0 || i === chunks - 1)) {
    const m = process.memoryUsage();
    if (rssWarm === 0) rssWarm = m.rss;
    const cached = t.cpuAllocatorStats().cachedBytes ?? 0;
    console.log(
      `${((i * piece) / sr / 60).toFixed(1)} min: live tensors ${t.liveTensorCount()} (at start ${live0}), RSS ${(m.rss / 2 ** 20).toFixed(0)} MiB (+${((m.rss - rss0) / 2 ** 20).toFixed(1)}), ` +
        `V8 heap ${(m.heapTotal / 2 ** 20).toFixed(0)} MiB, allocator cache ${(cached / 2 ** 20).toFixed(1)} MiB, median chunk latency ${median(lat.slice(-report)).toFixed(2)} ms`,
    );
  }
}
se.finish(state).encoded[0]!.dispose();
se.dispose();
const tenth = Math.floor(lat.length / 10);
const first = median(lat.slice(50, 50 + tenth));
const last = median(lat.slice(-tenth));
console.log(
  JSON.stringify({
    seconds,
    chunks,
    chunk_ms: geo.chunkSeconds * 1000,
    median_first_10pct_ms: first,
    median_last_10pct_ms: last,
    drift: last / first - 1,
    rss_growth_mib: (process.memoryUsage().rss - rss0) / 2 ** 20,
    rss_growth_after_5min_pct: (process.memoryUsage().rss / rssWarm - 1) * 100,
    live_tensors: t.liveTensorCount(),
    live_tensors_at_start: live0,
  }),
);
