// trainer.precision: the NEST-Small streaming training step (bench/workloads/nest_train.ts: B=8 x 16 s) in float32
// and in bf16-mixed (forward under CPU bfloat16 autocast, as src/train/trainer.ts runs it), phase by phase, process
// CPU time (user+sys, ms, median) and wall time; the two precisions alternate for --rounds rounds. Then the encoder's
// main ops at the step's shapes in both precisions (where bf16 gains and where it loses time).
//   node dist/bench/mixed_precision.js [--threads N] [--repeat N] [--rounds N] [--no-ops] [--json]
import { loadavg } from 'node:os';
import { parseArgs, type OptionsSpec } from '../src/cli/args.js';
import * as t from '../src/torch/index.js';
import { NestModel } from '../src/ssl/nest-model.js';
import { nestArgs } from './workloads/nest-shapes.js';
import { NEST_BATCH, NEST_SECONDS } from './workloads/nest_train.js';
import { cpuMs, median } from './timing.js';

const spec = {
  threads: { type: 'integer', default: 1 },
  repeat: { type: 'integer', default: 2, help: 'timed steps per precision and round (after one warm-up step)' },
  rounds: { type: 'integer', default: 2 },
  ops: { type: 'boolean', default: true, help: 'also time the encoder ops one by one' },
  json: { type: 'boolean', help: "also print one JSON line with the whole step's CPU and wall medians per precision" },
} satisfies OptionsSpec;

type Precision = '32-true' | 'bf16-mixed';
const inPrecision = <T>(p: Precision, fn: () => T): T => (p === 'bf16-mixed' ? t.autocast({ device: 'cpu', dtype: 'bfloat16' }, fn) : fn());

/** One training step, phase by phase (CPU ms); the forward phases under autocast for bf16-mixed, backward and AdamW outside. */
function step(model: NestModel, opt: t.AdamW, batch: { audio: t.Tensor; noisy: t.Tensor; len: t.Tensor }, p: Precision): Map<string, number> {
  const ph = new Map<string, number>();
  let c = cpuMs();
  const mark = (name: string): void => {
    const now = cpuMs();
    ph.set(name, now - c);
    c = now;
  };
  const w0 = performance.now();
  const sys0 = process.cpuUsage().system;
  const faults0 = process.resourceUsage().minorPageFault;
  t.tidy(() => {
    const loss = inPrecision(p, () => {
      const clean = model.preprocessor.forward(batch.audio, batch.len);
      const nz = model.preprocessor.forward(batch.noisy, batch.len);
      mark('preprocessor x2');
      const tokens = t.noGrad(() => t.autocastOff(() => model.quantizer.tokens(model.quantizerInput(clean.features, clean.lengths))));
      mark('quantizer (float32/64)');
      const { masked, mask } = model.mask_processor.forward(nz.features, nz.lengths, model.rng.masking);
      mark('masking');
      const enc = model.encoder.forward(masked, nz.lengths, { rng: model.rng.context });
      mark('encoder forward');
      const logProbs = model.decoder.forward(enc.encoded);
      const l = model.lossOf({ tokens, masks: mask, logProbs, encoded: enc.encoded, encodedLen: enc.lengths });
      mark('decoder + loss');
      return l;
    });
    loss.backward();
    mark('backward');
    opt.step();
    model.zeroGrad();
    mark('AdamW + zero grad');
  });
  ph.set('wall (whole step)', performance.now() - w0);
  ph.set('of the CPU: system', (process.cpuUsage().system - sys0) / 1000);
  ph.set('page faults (count)', process.resourceUsage().minorPageFault - faults0);
  return ph;
}

function timeOp(name: string, fn: () => void, repeat: number): { name: string; fp32: number; bf16: number } {
  const run = (p: Precision): number => {
    inPrecision(p, () => t.tidy(fn));
    const xs: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const c = cpuMs();
      inPrecision(p, () => t.tidy(fn));
      xs.push(cpuMs() - c);
    }
    return median(xs);
  };
  return { name, fp32: run('32-true'), bf16: run('bf16-mixed') };
}

/** The encoder's main ops at the step's shapes (B=8, 200 encoder frames, d 176, 4 heads), forward + backward each. */
function encoderOps(): { name: string; fp32: number; bf16: number }[] {
  const g = new t.Generator(1);
  const B = NEST_BATCH;
  const T = 200;
  const d = 176;
  const x = t.keep(t.randn([B, T, d], { generator: g, requiresGrad: true }));
  const w1 = t.keep(t.randn([4 * d, d], { generator: g, requiresGrad: true }));
  const w2 = t.keep(t.randn([d, 4 * d], { generator: g, requiresGrad: true }));
  const ln = t.keep(t.ones([d], { requiresGrad: true }));
  const dw = t.keep(t.randn([d, 1, 9], { generator: g, requiresGrad: true }));
  const q = t.keep(t.randn([B, 4, T, d / 4], { generator: g, requiresGrad: true }));
  const sub = t.keep(t.randn([B, 256, 400, 20], { generator: g, requiresGrad: true }));
  const subW = t.keep(t.randn([256, 1, 3, 3], { generator: g, requiresGrad: true }));
  const act = t.keep(t.randn([B, T, 4 * d], { generator: g }));
  const out = [
    timeOp('feed-forward linear x2 (8x200x176 -> 704 -> 176)', () => t.linear(t.linear(x, w1).sigmoid(), w2).sum().backward(), 10),
    timeOp('layer_norm (8x200x176)', () => t.layerNorm(x, [d], ln).sum().backward(), 10),
    timeOp('depthwise conv1d k9 (8x176x200)', () => t.conv1d(x.transpose(1, 2), dw, null, { groups: d, padding: 4 }).sum().backward(), 10),
    timeOp(
      'attention scores + context (8x4x200x200)',
      () =>
        t
          .softmax(q.matmul(q.transpose(2, 3)), -1)
          .matmul(q)
          .sum()
          .backward(),
      10,
    ),
    timeOp('subsampling depthwise conv2d (8x256x400x20)', () => t.conv2d(sub, subW, null, { groups: 256, padding: 1 }).sum().backward(), 3),
    timeOp('cast float32 -> bfloat16 -> float32 (8x200x704)', () => act.to({ dtype: 'bfloat16' }).to({ dtype: 'float32' }), 10),
  ];
  for (const y of [x, w1, w2, ln, dw, q, sub, subW, act]) y.dispose();
  return out;
}

async function main(): Promise<void> {
  const { options } = parseArgs(process.argv.slice(2), spec);
  t.setNumThreads(options.threads);
  const load = (): string =>
    loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  console.log(`threads ${options.threads}, repeat ${options.repeat}, rounds ${options.rounds}; libtorch ${t.libtorchVersion()}; load average ${load()}`);
  const model = new NestModel(nestArgs('streaming', 'small', 4321));
  model.train();
  const g = new t.Generator(5);
  const N = NEST_SECONDS * 16000;
  const audio = t.keep(t.randn([NEST_BATCH, N], { generator: g }).mul(0.1));
  const noisy = t.keep(audio.add(t.randn([NEST_BATCH, N], { generator: g }).mul(0.05)));
  const len = t.keep(t.full([NEST_BATCH], N, { dtype: 'int64' }));
  const opt = new t.AdamW(model.trainableParameters(), { lr: 1e-4, betas: [0.9, 0.98], eps: 1e-8, weightDecay: 1e-3 });
  const times: Record<Precision, Map<string, number[]>> = { '32-true': new Map(), 'bf16-mixed': new Map() };
  for (let r = 0; r < options.rounds; r++) {
    for (const p of ['32-true', 'bf16-mixed'] as const) {
      for (let it = 0; it <= options.repeat; it++) {
        const ph = step(model, opt, { audio, noisy, len }, p);
        await new Promise((res) => setImmediate(res));
        if (it > 0) for (const [k, v] of ph) times[p].set(k, [...(times[p].get(k) ?? []), v]);
      }
    }
  }
  const fp32 = new Map([...times['32-true']].map(([k, v]) => [k, median(v)]));
  const bf16 = new Map([...times['bf16-mixed']].map(([k, v]) => [k, median(v)]));
  console.log(`${'phase (CPU ms, median)'.padEnd(28)}${'fp32'.padStart(10)}${'bf16-mixed'.padStart(12)}${'speed-up'.padStart(10)}`);
  let s32 = 0;
  let s16 = 0;
  for (const [k, v] of fp32) {
    const b = bf16.get(k)!;
    if (!k.startsWith('wall') && !k.startsWith('of the') && !k.startsWith('page')) {
      s32 += v;
      s16 += b;
    }
    console.log(`${k.padEnd(28)}${v.toFixed(0).padStart(10)}${b.toFixed(0).padStart(12)}${(v / b).toFixed(2).padStart(9)}x`);
  }
  console.log(`${'CPU total'.padEnd(28)}${s32.toFixed(0).padStart(10)}${s16.toFixed(0).padStart(12)}${(s32 / s16).toFixed(2).padStart(9)}x`);
  if (options.json) {
    const wall = 'wall (whole step)';
    console.log(JSON.stringify({ fp32_cpu_ms: s32, bf16_cpu_ms: s16, fp32_wall_ms: fp32.get(wall), bf16_wall_ms: bf16.get(wall), speedup: s32 / s16 }));
  }
  console.log(`load average after the steps: ${load()}`);
  if (options.ops) {
    console.log(`\n${'op, forward + backward (CPU ms, median)'.padEnd(52)}${'fp32'.padStart(8)}${'bf16'.padStart(8)}${'speed-up'.padStart(10)}`);
    for (const o of encoderOps())
      console.log(`${o.name.padEnd(52)}${o.fp32.toFixed(1).padStart(8)}${o.bf16.toFixed(1).padStart(8)}${(o.fp32 / o.bf16).toFixed(2).padStart(9)}x`);
    console.log(`load average after the ops: ${load()}`);
  }
  opt.dispose();
  model.dispose();
  for (const y of [audio, noisy, len]) y.dispose();
}

main().catch((e: unknown) => {
  process.stderr.write(`mixed_precision: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
