// RNN-T loss speed: our ATen-op implementation (src/asr/rnnt-loss.ts, both gradient routes) against torchaudio's CPU
// kernel (bench/rnnt-loss/torchaudio_rnnt.py, Debian's python3-torchaudio), forward + backward of the mean loss on
// random logits with full lengths, 1 thread each, median of `repeats` runs after one warm-up. Prints one line per
// shape with both times, the ratio (torchaudio time / ours: above 1 means ours is faster) and the memory of one
// [B, T, U+1, V] float32 buffer; each implementation runs in its own process so that its peak RSS is its own.
// Each shape runs twice: with glibc's default malloc, and with GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (transparent huge
// pages for large blocks). On machines where a page fault is slow (a VM: ~250 ms to fault in 40 MiB, 25 ms with huge
// pages) torchaudio, which allocates its gradient buffer afresh every call, pays that each time; our addon reuses
// freed blocks (native/src/cpu-allocator.cc), so the first line mostly measures the allocator, the second the kernels.
//
//   npx tsc -p . && node dist/bench/rnnt-loss/run.js [--shapes 8x200x50x129,8x400x100x257] [--repeats 5] [--threads 1]
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type OptionsSpec } from '../../src/cli/args.js';
import * as t from '../../src/torch/index.js';
import { rnntLoss } from '../../src/asr/rnnt-loss.js';

const spec = {
  shapes: { type: 'string', default: '8x200x50x129,8x400x100x257', help: 'BxTxUxV shapes, comma-separated' },
  repeats: { type: 'integer', default: 5, help: 'timed runs per implementation (after one warm-up)' },
  threads: { type: 'integer', default: 1, help: 'intra-op threads (both implementations)' },
  only: { type: 'string', default: '', help: 'internal: time one implementation (beta|autograd) of one shape in this process' },
} satisfies OptionsSpec;

interface Timing {
  median_ms: number;
  min_ms: number;
  max_rss_mb: number;
}

function timeOurs(shape: number[], gradient: 'beta' | 'autograd', repeats: number): Timing {
  const [B, T, U, V] = shape as [number, number, number, number];
  const g = new t.Generator(0);
  const logits = t.keep(t.randn([B, T, U + 1, V], { generator: g }));
  logits.requiresGrad = true;
  const targets = t.keep(t.randint(0, V - 1, [B, U], { generator: g }));
  const tl = t.keep(t.full([B], T, { dtype: 'int64' }));
  const ul = t.keep(t.full([B], U, { dtype: 'int64' }));
  const times: number[] = [];
  for (let i = 0; i <= repeats; i++) {
    logits.grad = null;
    const t0 = performance.now();
    t.tidy(() => rnntLoss(logits, targets, tl, ul, { gradient }).backward());
    if (i > 0) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median_ms: times[times.length >> 1]!, min_ms: times[0]!, max_rss_mb: process.resourceUsage().maxRSS / 1024 };
}

function child(args: string[], hugePages: boolean): Timing {
  const env = { ...process.env, ...(hugePages ? { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' } : {}) };
  const out = execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env });
  return JSON.parse(out.trim().split('\n').pop()!) as Timing;
}

function main(): void {
  const { options: o } = parseArgs(process.argv.slice(2), spec);
  t.setNumThreads(o.threads);
  if (o.only) {
    const [impl, shape] = o.only.split(':') as ['beta' | 'autograd', string];
    console.log(JSON.stringify(timeOurs(shape.split('x').map(Number), impl, o.repeats)));
    return;
  }
  const self = fileURLToPath(import.meta.url);
  const py = join(self, '..', '..', '..', '..', 'bench', 'rnnt-loss', 'torchaudio_rnnt.py');
  console.log(`RNN-T loss forward+backward, ${o.threads} thread(s), median of ${o.repeats}; ratio = torchaudio / ours`);
  for (const s of o.shapes.split(',')) {
    for (const hugePages of [false, true]) {
      const dims = s.split('x').map(Number);
      const mb = (dims[0]! * dims[1]! * (dims[2]! + 1) * dims[3]! * 4) / 2 ** 20;
      const ta = child(['/usr/bin/python3', py, ...dims.map(String), String(o.repeats), String(o.threads)], hugePages);
      const ours = (impl: string): Timing =>
        child([process.execPath, self, `--only=${impl}:${s}`, `--repeats=${o.repeats}`, `--threads=${o.threads}`], hugePages);
      const beta = ours('beta');
      const auto = ours('autograd');
      console.log(
        `${s} ${hugePages ? 'huge pages' : 'default malloc'} (one BxTx(U+1)xV float32 buffer: ${mb.toFixed(1)} MiB) | torchaudio ${ta.median_ms.toFixed(1)} ms, RSS ${ta.max_rss_mb.toFixed(0)} MiB | ` +
          `ours beta ${beta.median_ms.toFixed(1)} ms (ratio ${(ta.median_ms / beta.median_ms).toFixed(2)}), RSS ${beta.max_rss_mb.toFixed(0)} MiB | ` +
          `ours autograd ${auto.median_ms.toFixed(1)} ms (ratio ${(ta.median_ms / auto.median_ms).toFixed(2)}), RSS ${auto.max_rss_mb.toFixed(0)} MiB`,
      );
    }
  }
}

main();
