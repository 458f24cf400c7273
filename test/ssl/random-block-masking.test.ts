// RandomBlockMasking: NeMo's masks from the same seeds (golden), the causal window contract over many seeds, masked-fraction statistics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { readNpy } from '../../src/torch/serialize/npy.js';
import { RandomBlockMasking, type RandomBlockMaskingConfig } from '../../src/ssl/random-block-masking.js';
import { GOLDEN } from '../helpers/assert.js';

const scoped = (fn: () => void) => () => {
  const before = t.liveTensorCount();
  t.tidy(fn);
  assert.equal(t.liveTensorCount(), before, 'the test leaked tensors');
};

const NEST: RandomBlockMaskingConfig = { featIn: 80, blockSize: 40, maskProb: 0.01, allowOverlap: true, maxMaskRatio: 0.8, freeze: true };

/** Checks masked == emb where mask == 1, masked == feats elsewhere, and mask constant over D. */
function checkApplied(feats: t.Tensor, masked: t.Tensor, mask: t.Tensor, emb: t.Tensor): void {
  const [B, D, T] = feats.shape as [number, number, number];
  assert.deepEqual(masked.shape, [B, D, T]);
  assert.deepEqual(mask.shape, [B, D, T]);
  assert.equal(mask.dtype, 'float32');
  const f = feats.data() as Float32Array;
  const x = masked.data() as Float32Array;
  const m = mask.data() as Float32Array;
  const e = emb.data() as Float32Array;
  for (let b = 0; b < B; b++) {
    for (let d = 0; d < D; d++) {
      for (let k = 0; k < T; k++) {
        const i = (b * D + d) * T + k;
        assert.equal(m[i], m[b * D * T + k], 'mask must be constant over D');
        assert.equal(x[i], m[i] === 1 ? e[d] : f[i], `masked[${b},${d},${k}]`);
      }
    }
  }
}

function maskRows(mask: t.Tensor): number[][] {
  const [B, , T] = mask.shape as [number, number, number];
  const row = mask.select(1, 0).toArray(); // (B, T)
  return Array.from({ length: B }, (_, b) => row.slice(b * T, (b + 1) * T));
}

test(
  'golden ssl/random_block_masking_nest: embedding from seed 21, masks from seed 22 (torch.manual_seed streams)',
  scoped(() => {
    const dir = join(GOLDEN, 'ssl', 'random_block_masking_nest');
    const masking = new RandomBlockMasking(NEST, { generator: new t.Generator(21) });
    try {
      const goldEmb = readNpy(join(dir, 'mask_embedding.npy'));
      assert.deepEqual(masking.maskEmbedding.toArray(), goldEmb.toArray(), 'mask_embedding init = torch.manual_seed(21); normal_(0, 0.1)');
      assert.equal(masking.maskEmbedding.requiresGrad, false, 'frozen');
      assert.deepEqual([...masking.stateDict().keys()], ['mask_embedding']);
      const feats = readNpy(join(GOLDEN, 'e2e', 'processed_signal.npy')); // (2, 80, 304)
      const lengths = readNpy(join(GOLDEN, 'e2e', 'processed_signal_length.npy'));
      const { masked, mask } = masking.forward(feats, lengths, new t.Generator(22));
      const gold = readNpy(join(dir, 'masks_BT.npy')); // (2, 304)
      assert.deepEqual(mask.select(1, 0).toArray(), gold.toArray(), 'masks exact');
      checkApplied(feats, masked, mask, masking.maskEmbedding);
      // the recorded draws: starts [137, 188, 193] (L=297) and [50, 65, 131, 172] (L=235), blocks of 40 clipped to L
      const rows = maskRows(mask);
      const expectRow = (L: number, starts: number[]): number[] => {
        const r = new Array<number>(304).fill(0);
        for (const s of starts) for (let f = s; f < Math.min(s + 40, L); f++) r[f] = 1;
        return r;
      };
      assert.deepEqual(rows[0], expectRow(297, [137, 188, 193]));
      assert.deepEqual(rows[1], expectRow(235, [50, 65, 131, 172]));
    } finally {
      masking.dispose();
    }
  }),
);

test(
  'golden e2e/*: masks of the NEST forward after torch.manual_seed(777) are reproduced',
  scoped(() => {
    const masking = new RandomBlockMasking(NEST, { generator: new t.Generator(0) });
    try {
      const feats = readNpy(join(GOLDEN, 'e2e', 'processed_noisy_signal.npy'));
      const lengths = readNpy(join(GOLDEN, 'e2e', 'processed_noisy_signal_length.npy'));
      const { mask } = masking.forward(feats, lengths, new t.Generator(777));
      for (const c of ['a_bidirectional', 'b_fully_causal', 'c_lookahead_regular', 'd_limited_context', 'e_chunked_limited', 'f_multi_lookahead']) {
        assert.deepEqual(mask.select(1, 0).toArray(), readNpy(join(GOLDEN, 'e2e', c, 'masks_BT.npy')).toArray(), c);
      }
    } finally {
      masking.dispose();
    }
  }),
);

test(
  'causal with the default current frame and unlimited left context draws exactly what NeMo draws',
  scoped(() => {
    for (const allowOverlap of [true, false]) {
      const cfg = { featIn: 4, blockSize: 10, maskProb: allowOverlap ? 0.05 : 0.3, allowOverlap };
      const a = new RandomBlockMasking(cfg, { generator: new t.Generator(1) });
      const c = new RandomBlockMasking({ ...cfg, causal: true }, { generator: new t.Generator(1) });
      try {
        for (let seed = 0; seed < 20; seed++) {
          const lengths = [200, 37, 120, 9, 8]; // >= 8: NeMo's unclipped short block [0, 8) stays inside the item
          assert.deepEqual(
            c.selectFrames(lengths, 220, new t.Generator(seed)),
            a.selectFrames(lengths, 220, new t.Generator(seed)),
            `allowOverlap=${allowOverlap} seed ${seed}`,
          );
        }
        // NeMo quirk kept when not causal: an empty item gets [0, 8) in no-overlap mode; causal never masks past L - 1
        assert.deepEqual(a.selectFrames([0], 20, new t.Generator(0)), [allowOverlap ? [] : [0, 1, 2, 3, 4, 5, 6, 7]]);
        assert.deepEqual(c.selectFrames([0], 20, new t.Generator(0)), [[]]);
      } finally {
        a.dispose();
        c.dispose();
      }
    }
  }),
);

/**
 * The causal-window property over `seeds` seeds of one masking module: no masked frame outside
 * [current - left, min(current, L - 1)], masked == feats elsewhere. Returns how many frames were masked.
 */
function causalWindowHolds(m: RandomBlockMasking, seeds: number, label: string): number {
  const T = 96;
  const left = m.leftContextSize;
  let masked = 0;
  for (let seed = 0; seed < seeds; seed++) {
    t.tidy(() => {
      const g = new t.Generator(seed);
      const lengths = [T, 1 + ((seed * 37) % T), 50, (seed * 11) % 20];
      const current = [(seed * 13) % (T + 10), 30, -1 + (seed % 3) * 60, 7];
      const feats = t.randn([4, 3, T], { generator: g });
      const r = m.forward(feats, lengths, g, { currentFrame: current });
      checkApplied(feats, r.masked, r.mask, m.maskEmbedding);
      maskRows(r.mask).forEach((row, b) => {
        const hi = Math.min(current[b]!, lengths[b]! - 1);
        const lo = left < 0 ? 0 : Math.max(0, current[b]! - left);
        row.forEach((v, k) => {
          if (v === 1) {
            masked++;
            assert.ok(k >= lo && k <= hi, `${label} seed=${seed} item ${b}: frame ${k} masked outside [${lo}, ${hi}]`);
          }
        });
      });
    });
  }
  return masked;
}

test(
  'causal window: over many seeds no masked frame outside [current - left, min(current, L - 1)], masked == feats elsewhere',
  scoped(() => {
    let maskedSomething = 0;
    for (const allowOverlap of [true, false]) {
      for (const left of [-1, 0, 5, 17, 40]) {
        const m = new RandomBlockMasking(
          { featIn: 3, blockSize: 8, maskProb: allowOverlap ? 0.1 : 0.4, allowOverlap, causal: true, leftContextSize: left },
          { generator: new t.Generator(3) },
        );
        try {
          maskedSomething += causalWindowHolds(m, 40, `overlap=${allowOverlap} left=${left}`);
        } finally {
          m.dispose();
        }
      }
    }
    assert.ok(maskedSomething > 1000, 'the property test must actually mask frames');
  }),
);

test(
  'a scalar current frame applies to every item; currentFrame without causal is rejected',
  scoped(() => {
    const m = new RandomBlockMasking({ featIn: 2, blockSize: 4, maskProb: 0.5, allowOverlap: true, causal: true }, { generator: new t.Generator(0) });
    const n = new RandomBlockMasking({ featIn: 2, blockSize: 4, maskProb: 0.5, allowOverlap: true }, { generator: new t.Generator(0) });
    try {
      const frames = m.selectFrames([50, 50, 50], 50, new t.Generator(5), { currentFrame: 20 });
      for (const fs of frames) for (const f of fs) assert.ok(f <= 20);
      assert.ok(frames.some((fs) => fs.length > 0));
      assert.throws(() => n.selectFrames([50], 50, new t.Generator(5), { currentFrame: 20 }), /only meaningful with causal/);
    } finally {
      m.dispose();
      n.dispose();
    }
  }),
);

/** Exact expected masked fraction of an overlap-mode window of Lw frames (see the test below). */
function expectedOverlapFraction(Lw: number, bs: number, p: number): number {
  const count = Lw - bs;
  let expected = 0;
  for (let f = 0; f < Lw; f++) {
    const m = Math.min(f, count - 1) - Math.max(0, f - bs + 1) + 1;
    expected += 1 - Math.pow(1 - p, Math.max(0, m));
  }
  return expected / Lw;
}

test(
  'overlap mode: mean masked fraction matches the exact expectation (independent Bernoulli starts), causal window too',
  scoped(() => {
    // Binomial(count, p) starts chosen uniformly without replacement = independent Bernoulli(p) per start position,
    // so frame f is masked with probability 1 - (1-p)^m_f, m_f = number of starts s in [0, count) with s <= f < s + bs.
    const bs = 12;
    const p = 0.03;
    const N = 300;
    for (const causal of [false, true]) {
      const masking = new RandomBlockMasking(
        { featIn: 1, blockSize: bs, maskProb: p, allowOverlap: true, causal, leftContextSize: 199 },
        { generator: new t.Generator(0) },
      );
      try {
        const L = 400;
        // causal: current frame 300, left context 199 -> window [101, 300] of 200 frames, nothing outside it
        const Lw = causal ? 200 : L;
        const frames = masking.selectFrames(new Array<number>(N).fill(L), L, new t.Generator(causal ? 99 : 1234), causal ? { currentFrame: 300 } : {});
        if (causal) for (const fs of frames) assert.ok(fs.every((f) => f >= 101 && f <= 300));
        const fr = frames.map((fs) => fs.length / Lw);
        const mean = fr.reduce((a, b) => a + b, 0) / N;
        const sd = Math.sqrt(fr.reduce((a, b) => a + (b - mean) ** 2, 0) / (N - 1));
        const expected = expectedOverlapFraction(Lw, bs, p);
        assert.ok(Math.abs(mean - expected) < 5 * (sd / Math.sqrt(N)), `causal=${causal}: mean fraction ${mean} vs expected ${expected} (sd ${sd})`);
      } finally {
        masking.dispose();
      }
    }
  }),
);

test(
  'no-overlap mode: exactly ceil(L p / bs) disjoint blocks of bs frames, fraction ~ mask_prob; short items get [0, 8)',
  scoped(() => {
    const masking = new RandomBlockMasking({ featIn: 1, blockSize: 20, maskProb: 0.2, allowOverlap: false }, { generator: new t.Generator(0) });
    try {
      for (let seed = 0; seed < 30; seed++) {
        const [a, short] = masking.selectFrames([1000, 24], 1100, new t.Generator(seed));
        assert.equal(a!.length, 200, 'k = ceil(1000*0.2/20) = 10 blocks of 20 frames');
        assert.deepEqual(short, [0, 1, 2, 3, 4, 5, 6, 7], '20 >= 24*0.8: one block [0, 8)');
      }
    } finally {
      masking.dispose();
    }
  }),
);

test(
  'constant mask value: a non-trainable vector named mask_embedding; freeze=false makes the random one trainable',
  scoped(() => {
    const c = new RandomBlockMasking({ featIn: 5, maskValue: -2 });
    const r = new RandomBlockMasking({ featIn: 5, freeze: false }, { generator: new t.Generator(0) });
    try {
      assert.deepEqual(c.maskEmbedding.toArray(), [-2, -2, -2, -2, -2]);
      assert.equal(c.maskEmbedding.requiresGrad, false);
      assert.equal(r.maskEmbedding.requiresGrad, true);
      assert.deepEqual([...r.stateDict().keys()], ['mask_embedding']);
      assert.throws(() => new RandomBlockMasking({ featIn: 5, leftContextSize: -2 }), /leftContextSize/);
    } finally {
      c.dispose();
      r.dispose();
    }
  }),
);

// NeMo's forward_without_overlap run after torch.manual_seed(seed) (RandomBlockMasking(block_size=20, mask_prob=p),
// T = 1000), frames as [start, end) runs; recorded once with torch 1.13. Covers the shrunken-block path (L=55, p=0.6).
const NO_OVERLAP_NEMO: Record<string, number[][][]> = {
  '0.3/0': [
    [
      [24, 84],
      [224, 244],
      [264, 284],
    ],
    [[38, 78]],
    [[8, 28]],
    [
      [54, 74],
      [174, 194],
      [314, 334],
      [354, 374],
      [394, 414],
      [434, 454],
      [474, 494],
      [574, 594],
      [674, 694],
      [774, 834],
      [854, 874],
      [934, 954],
      [974, 994],
    ],
  ],
  '0.3/1': [
    [
      [65, 105],
      [125, 165],
      [205, 225],
    ],
    [[13, 53]],
    [[1, 21]],
    [
      [82, 142],
      [382, 422],
      [542, 582],
      [602, 642],
      [702, 722],
      [762, 802],
      [822, 842],
      [862, 882],
      [942, 962],
    ],
  ],
  '0.3/2': [
    [
      [8, 28],
      [48, 88],
      [188, 208],
      [268, 288],
    ],
    [
      [5, 25],
      [45, 65],
    ],
    [[7, 27]],
    [
      [6, 66],
      [106, 126],
      [226, 246],
      [306, 326],
      [426, 466],
      [506, 526],
      [566, 626],
      [706, 746],
      [786, 806],
    ],
  ],
  '0.6/0': [
    [[4, 40]],
    [
      [13, 73],
      [93, 113],
    ],
    [
      [3, 63],
      [103, 123],
      [143, 183],
      [203, 263],
    ],
  ],
  '0.6/1': [
    [[5, 41]],
    [
      [4, 44],
      [64, 104],
    ],
    [
      [21, 61],
      [81, 101],
      [141, 181],
      [201, 281],
    ],
  ],
  '0.6/2': [
    [[8, 44]],
    [[21, 101]],
    [
      [55, 115],
      [135, 155],
      [175, 215],
      [235, 295],
    ],
  ],
};

test(
  "no-overlap mode reproduces NeMo's draws and blocks for the same seed",
  scoped(() => {
    for (const [p, lengths] of [
      [0.3, [300, 97, 45, 1000]],
      [0.6, [55, 120, 300]],
    ] as const) {
      const m = new RandomBlockMasking({ featIn: 1, blockSize: 20, maskProb: p, allowOverlap: false });
      try {
        for (let seed = 0; seed < 3; seed++) {
          const runs = m.selectFrames(lengths, 1000, new t.Generator(seed)).map((fs) => {
            const r: number[][] = [];
            for (const f of fs) {
              const last = r[r.length - 1];
              if (last && last[1] === f) last[1] = f + 1;
              else r.push([f, f + 1]);
            }
            return r;
          });
          assert.deepEqual(runs, NO_OVERLAP_NEMO[`${p}/${seed}`], `p=${p} seed=${seed}`);
        }
      } finally {
        m.dispose();
      }
    }
  }),
);

// ---- multi-scale block sizes (issue 17 item 5) ----------------------------------------------------------------

/** [start, end) runs of a sorted frame list. */
function runsOf(fs: readonly number[]): [number, number][] {
  const r: [number, number][] = [];
  for (const f of fs) {
    const last = r[r.length - 1];
    if (last && last[1] === f) last[1] = f + 1;
    else r.push([f, f + 1]);
  }
  return r;
}

test(
  'multi-scale: one size, or extra sizes of probability 0, is the single-size mask bit-exact with no extra draw (blockSize ignored)',
  scoped(() => {
    const lengths = [300, 97, 45, 9, 0, 1000, 160];
    let masked = 0;
    for (const allowOverlap of [true, false]) {
      for (const causal of [false, true]) {
        const base = { featIn: 3, maskProb: allowOverlap ? 0.02 : 0.3, allowOverlap, causal };
        const single = new RandomBlockMasking({ ...base, blockSize: 20 }, { generator: new t.Generator(4) });
        const variants = [
          new RandomBlockMasking({ ...base, blockSizes: [20] }, { generator: new t.Generator(4) }),
          new RandomBlockMasking({ ...base, blockSize: 7, blockSizes: [20], blockSizeProbs: [1] }, { generator: new t.Generator(4) }),
          new RandomBlockMasking({ ...base, blockSizes: [5, 20, 64], blockSizeProbs: [0, 1, 0] }, { generator: new t.Generator(4) }),
        ];
        try {
          for (const v of variants) assert.equal(v.blockSize, 20);
          for (let seed = 0; seed < 8; seed++) {
            const ga = new t.Generator(seed);
            const want = single.selectFrames(lengths, 1000, ga);
            const next = t.tidy(() => t.rand([4], { generator: ga }).toArray());
            masked += want.flat().length;
            for (const [i, v] of variants.entries()) {
              const g = new t.Generator(seed);
              assert.deepEqual(v.selectFrames(lengths, 1000, g), want, `overlap=${allowOverlap} causal=${causal} variant ${i} seed ${seed}`);
              assert.deepEqual(
                t.tidy(() => t.rand([4], { generator: g }).toArray()),
                next,
                `variant ${i}: the generator is where the single-size path leaves it`,
              );
            }
          }
          // the whole forward too: same mask and masked features from the same seed
          const feats = t.randn([2, 3, 120], { generator: new t.Generator(9) });
          const a = single.forward(feats, [120, 77], new t.Generator(11));
          const b = variants[2]!.forward(feats, [120, 77], new t.Generator(11));
          assert.deepEqual(b.mask.toArray(), a.mask.toArray());
          assert.deepEqual(b.masked.toArray(), a.masked.toArray());
        } finally {
          single.dispose();
          for (const v of variants) v.dispose();
        }
      }
    }
    assert.ok(masked > 1000, 'the comparison must actually mask frames');
  }),
);

test(
  'multi-scale: each block starts where NeMo (block_size = the largest size) starts one, and is at most that long',
  scoped(() => {
    // one item per call: NeMo's draws for it come first, so the multi-scale blocks sit inside the single-size blocks
    for (const allowOverlap of [true, false]) {
      const base = { featIn: 1, maskProb: allowOverlap ? 0.02 : 0.3, allowOverlap };
      const ref = new RandomBlockMasking({ ...base, blockSize: 24 });
      const multi = new RandomBlockMasking({ ...base, blockSizes: [24, 6, 12], blockSizeProbs: [0.2, 0.5, 0.3] });
      try {
        assert.equal(multi.blockSize, 24);
        let shorter = 0;
        for (let seed = 0; seed < 30; seed++) {
          const L = 200 + seed * 23;
          const [r] = ref.selectFrames([L], L + 30, new t.Generator(seed));
          const [m] = multi.selectFrames([L], L + 30, new t.Generator(seed));
          const inRef = new Set(r);
          assert.ok(
            m!.every((f) => inRef.has(f)),
            `overlap=${allowOverlap} seed ${seed}: a multi-scale frame outside the single-size blocks`,
          );
          if (!allowOverlap) {
            // disjoint cells: every single-size block keeps exactly its first k frames, k in the size list
            const mset = new Set(m);
            for (const [s, e] of runsOf(r!)) {
              for (let b = s; b < e; b += 24) {
                let k = 0;
                while (k < 24 && mset.has(b + k)) k++;
                assert.ok([6, 12, 24].includes(k), `seed ${seed}: block at ${b} has ${k} frames`);
                for (let f = b + k; f < Math.min(b + 24, e); f++) assert.ok(!mset.has(f), `seed ${seed}: block at ${b} is not one run`);
                if (k < 24) shorter++;
              }
            }
          } else if (m!.length < r!.length) shorter++;
        }
        assert.ok(shorter > 10, `overlap=${allowOverlap}: the smaller sizes must be drawn (${shorter})`);
      } finally {
        ref.dispose();
        multi.dispose();
      }
    }
  }),
);

test(
  'multi-scale: the drawn block lengths follow block_size_probs (no-overlap grid decoded exactly; isolated overlap blocks)',
  scoped(() => {
    const sizes = [4, 8, 16];
    const probs = [0.5, 0.3, 0.2];
    const check = (counts: Map<number, number>, what: string): void => {
      const total = sizes.reduce((a, k) => a + (counts.get(k) ?? 0), 0);
      assert.ok(total > 1500, `${what}: ${total} blocks`);
      sizes.forEach((k, i) => {
        const f = (counts.get(k) ?? 0) / total;
        assert.ok(Math.abs(f - probs[i]!) < 0.04, `${what}: size ${k} drawn with frequency ${f.toFixed(3)}, expected ${probs[i]}`);
      });
    };
    // no-overlap: cells of 16 frames at offset o (o = first frame mod 16, < 16); each block = the first k frames of its cell
    const noOverlap = new RandomBlockMasking({ featIn: 1, maskProb: 0.3, allowOverlap: false, blockSizes: sizes, blockSizeProbs: probs });
    // overlap: ~20 starts in 20000 frames, so blocks rarely touch; runs of other lengths (merged blocks) are not counted
    const overlap = new RandomBlockMasking({ featIn: 1, maskProb: 0.001, allowOverlap: true, blockSizes: sizes, blockSizeProbs: probs });
    try {
      const grid = new Map<number, number>();
      for (const fs of noOverlap.selectFrames(new Array<number>(60).fill(2000), 2020, new t.Generator(7))) {
        assert.ok(fs.length > 0);
        const o = fs[0]! % 16;
        const perCell = new Map<number, number[]>();
        for (const f of fs) {
          const c = Math.floor((f - o) / 16);
          perCell.set(c, [...(perCell.get(c) ?? []), f - o - 16 * c]);
        }
        assert.equal(perCell.size, 38, 'ceil(2000 * 0.3 / 16) = 38 blocks per item (grid of the largest size)');
        for (const rel of perCell.values()) {
          assert.deepEqual(
            rel,
            rel.map((_, i) => i),
            'a block starts at its cell start and is one run',
          );
          grid.set(rel.length, (grid.get(rel.length) ?? 0) + 1);
        }
      }
      check(grid, 'no-overlap');
      const runs = new Map<number, number>();
      for (const fs of overlap.selectFrames(new Array<number>(100).fill(20000), 20000, new t.Generator(8))) {
        for (const [s, e] of runsOf(fs)) runs.set(e - s, (runs.get(e - s) ?? 0) + 1);
      }
      check(runs, 'overlap');
    } finally {
      noOverlap.dispose();
      overlap.dispose();
    }
  }),
);

test(
  'multi-scale causal window: over many seeds no masked frame outside [current - left, min(current, L - 1)]; default current frame = NeMo-style draws',
  scoped(() => {
    let maskedSomething = 0;
    const sizeSets = [
      { blockSizes: [3, 8, 13], blockSizeProbs: [0.3, 0.3, 0.4] },
      { blockSizes: [2, 20], blockSizeProbs: null },
    ];
    for (const allowOverlap of [true, false]) {
      for (const sizes of sizeSets) {
        for (const left of [-1, 0, 5, 17, 40]) {
          const m = new RandomBlockMasking(
            { featIn: 3, ...sizes, maskProb: allowOverlap ? 0.1 : 0.4, allowOverlap, causal: true, leftContextSize: left },
            { generator: new t.Generator(3) },
          );
          try {
            maskedSomething += causalWindowHolds(m, 30, `overlap=${allowOverlap} sizes=${sizes.blockSizes.join('/')} left=${left}`);
          } finally {
            m.dispose();
          }
        }
      }
      // causal with the default current frame and unlimited left context draws exactly the non-causal multi-scale masks
      const cfg = { featIn: 4, blockSizes: [4, 10], blockSizeProbs: [0.6, 0.4], maskProb: allowOverlap ? 0.05 : 0.3, allowOverlap };
      const a = new RandomBlockMasking(cfg);
      const c = new RandomBlockMasking({ ...cfg, causal: true });
      try {
        for (let seed = 0; seed < 20; seed++) {
          const lengths = [200, 37, 120, 9, 8];
          assert.deepEqual(c.selectFrames(lengths, 220, new t.Generator(seed)), a.selectFrames(lengths, 220, new t.Generator(seed)), `seed ${seed}`);
        }
      } finally {
        a.dispose();
        c.dispose();
      }
    }
    assert.ok(maskedSomething > 1000, 'the property test must actually mask frames');
  }),
);

test('multi-scale: bad size lists and probabilities are refused', () => {
  const make = (cfg: Partial<RandomBlockMaskingConfig>) => () => new RandomBlockMasking({ featIn: 2, maskValue: 0, ...cfg }).dispose();
  assert.throws(make({ blockSizes: [] }), /blockSizes must be a non-empty list of positive integers/);
  assert.throws(make({ blockSizes: [8, 0] }), /blockSizes must be a non-empty list of positive integers, got \[8,0\]/);
  assert.throws(make({ blockSizes: [2.5] }), /blockSizes/);
  assert.throws(make({ blockSizes: [4, 8], blockSizeProbs: [0.5, 0.6] }), /blockSizeProbs must be 2 probabilities summing to 1/);
  assert.throws(make({ blockSizes: [4, 8], blockSizeProbs: [1] }), /blockSizeProbs/);
  assert.throws(make({ blockSizes: [4, 8], blockSizeProbs: [1.5, -0.5] }), /blockSizeProbs/);
  assert.throws(make({ blockSizeProbs: [1] }), /blockSizeProbs needs blockSizes/);
  const u = new RandomBlockMasking({ featIn: 2, maskValue: 0, blockSizes: [4, 8, 2] });
  assert.deepEqual([u.blockSize, u.blockSizeProbs], [8, [1 / 3, 1 / 3, 1 / 3]], 'uniform by default; NeMo runs with the largest size');
  u.dispose();
});
