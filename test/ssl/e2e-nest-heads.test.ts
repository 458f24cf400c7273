// The SSL parts of the golden NEST forward (e2e/*) and the decoder part of grad/e2e_a_bidirectional, with the
// .nemo weights: tokens from clean features, masks from the seeded draws, decoder log-probs from the golden
// encoder output, the loss, and d loss / d (decoder params, encoder output).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as t from '../../src/torch/index.js';
import { readNpy } from '../../src/torch/serialize/npy.js';
import { readNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { RandomBlockMasking } from '../../src/ssl/random-block-masking.js';
import { RandomProjectionVectorQuantizer } from '../../src/ssl/random-projection-quantizer.js';
import { MultiSoftmaxDecoder } from '../../src/ssl/multi-softmax-decoder.js';
import { MultiMLMLoss } from '../../src/ssl/mlm-loss.js';
import { GOLDEN, assertClose } from '../helpers/assert.js';

const scoped = (fn: () => void) => () => {
  const before = t.liveTensorCount();
  t.tidy(fn);
  assert.equal(t.liveTensorCount(), before, 'the test leaked tensors');
};

const E2E = join(GOLDEN, 'e2e');
const CASES = ['a_bidirectional', 'b_fully_causal', 'c_lookahead_regular', 'd_limited_context', 'e_chunked_limited', 'f_multi_lookahead'];

interface Heads {
  quantizer: RandomProjectionVectorQuantizer;
  masking: RandomBlockMasking;
  decoder: MultiSoftmaxDecoder;
  H: number;
  C: number;
  dispose(): void;
}

/** Builds the NEST SSL modules (num_books / classes read off the weights) and loads them from the case's .nemo. */
function loadHeads(name: string): Heads {
  const sd = readNemoArchive(join(GOLDEN, 'nemo', `${name}.nemo`)).stateDict;
  try {
    const sub = (prefix: string) => new Map([...sd].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
    const [H, C, K] = sd.get('quantizer.codebooks')!.shape as [number, number, number];
    const [, d] = sd.get('decoder.decoder_layers.0.weight')!.shape as [number, number, number];
    const quantizer = new RandomProjectionVectorQuantizer({ featIn: 80, codeDim: K, numClasses: C, numBooks: H, combineTimeSteps: 8 });
    const masking = new RandomBlockMasking({ featIn: 80, blockSize: 40, maskProb: 0.01, allowOverlap: true, freeze: true });
    const decoder = new MultiSoftmaxDecoder({ featIn: d, numClasses: C, numDecoders: H, useBias: true });
    quantizer.loadStateDict(sub('quantizer.'));
    masking.loadStateDict(sub('mask_processor.'));
    decoder.loadStateDict(sub('decoder.'));
    return {
      quantizer,
      masking,
      decoder,
      H,
      C,
      dispose: () =>
        [quantizer, masking, decoder].forEach((m) => {
          m.dispose();
        }),
    };
  } finally {
    for (const v of sd.values()) v.dispose();
  }
}

/** The first n[b] frames of dim `dim` of each item, flattened. */
function validPart(x: t.Tensor, n: number[], dim: number): number[] {
  return t.tidy(() =>
    n.flatMap((v, b) =>
      x
        .select(0, b)
        .narrow(dim - 1, 0, v)
        .contiguous()
        .toArray(),
    ),
  );
}

for (const name of CASES) {
  test(
    `golden e2e/${name}: tokens exact, masks + masked features exact, decoder log-probs at 1e-4, loss`,
    scoped(() => {
      const heads = loadHeads(name);
      try {
        const dir = join(E2E, name);
        // targets from the clean features: exact on valid groups (8 g < length)
        const clean = readNpy(join(E2E, 'processed_signal.npy'));
        const cleanLen = readNpy(join(E2E, 'processed_signal_length.npy')).toArray();
        const tokens = readNpy(join(dir, 'tokens.npy')); // (2, 38, H)
        const groups = cleanLen.map((L) => Math.ceil(L / 8));
        assert.deepEqual(validPart(heads.quantizer.tokens(clean), groups, 1), validPart(tokens, groups, 1), 'tokens');

        // masks from torch.manual_seed(777) on the noisy features; masked = where(mask, mask_embedding, noisy)
        const noisy = readNpy(join(E2E, 'processed_noisy_signal.npy'));
        const noisyLen = readNpy(join(E2E, 'processed_noisy_signal_length.npy'));
        const { masked, mask } = heads.masking.forward(noisy, noisyLen, new t.Generator(777));
        const masksBT = readNpy(join(dir, 'masks_BT.npy')); // (2, 304)
        assert.deepEqual(mask.select(1, 0).toArray(), masksBT.toArray(), 'masks');
        const expectMasked = t.where(masksBT.unsqueeze(1).eq(1), heads.masking.maskEmbedding.reshape([1, 80, 1]), noisy);
        assert.deepEqual(masked.toArray(), expectMasked.toArray(), 'masked features');

        // decoder on the golden encoder output
        const encoded = readNpy(join(dir, 'encoded.npy')); // (2, d, T')
        const encLen = readNpy(join(dir, 'encoded_len.npy')).toArray();
        const goldLogp = readNpy(join(dir, 'log_probs.npy')); // (2, T', C, H)
        const logp = heads.decoder.forward(encoded);
        assert.deepEqual(logp.shape, goldLogp.shape);
        assertClose(validPart(logp, encLen, 1), validPart(goldLogp, encLen, 1), 1e-4, 0, 'log_probs on valid frames');

        const causal = encoded.size(2) === masksBT.size(1) / 8 + 1; // causal_downsampling: T' = T/8 + 1
        const loss = new MultiMLMLoss({ combineTimeSteps: 8, maskThreshold: 0.8, numDecoders: heads.H, causalDownsampling: causal });
        const fromGold = loss.forward(mask, goldLogp, tokens);
        const fromOurs = loss.forward(mask, logp, tokens);
        assert.ok(Number.isFinite(fromGold.item()), 'some group is selected (8 here)');
        assert.equal(loss.selectedGroups(mask).sum().item(), 8, 'masked 8-frame groups (mean > 0.8): 8');
        assert.ok(Math.abs(fromOurs.item() - fromGold.item()) <= 1e-4 + 1e-5 * Math.abs(fromGold.item()));
        if (!causal) {
          // NeMo's value
          const gold = readNpy(join(dir, 'loss.npy')).item();
          assert.ok(Math.abs(fromGold.item() - gold) <= 1e-4 + 1e-5 * Math.abs(gold), `loss ${fromGold.item()} vs NeMo ${gold}`);
          assert.ok(Math.abs(fromOurs.item() - gold) <= 1e-4 + 1e-5 * Math.abs(gold), `loss ${fromOurs.item()} vs NeMo ${gold}`);
        } else {
          // NeMo raises IndexError here ([2, 38] mask vs [2, 39, 64]); without the alignment we raise too, with it the
          // final encoder frame is dropped
          const nemoLike = new MultiMLMLoss({ combineTimeSteps: 8, numDecoders: heads.H });
          assert.throws(() => nemoLike.forward(mask, goldLogp, tokens), /39 frames but the masks have 38 token groups/);
          const firstG = nemoLike.forward(mask, goldLogp.narrow(1, 0, 38), tokens);
          assert.equal(fromGold.item(), firstG.item());
        }
      } finally {
        heads.dispose();
      }
    }),
  );
}

/** ||g - ref||_2 <= rtol * ||ref||_2 + atol (the fixture's per-tensor rule). */
function assertRelL2(g: t.Tensor, ref: t.Tensor, what: string, rtol = 1e-4, atol = 6.07e-7): void {
  assert.deepEqual(g.shape, ref.shape, `${what}: shape`);
  const a = g.toArray();
  const r = ref.toArray();
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - r[i]!) ** 2;
    den += r[i]! ** 2;
  }
  const err = Math.sqrt(num);
  assert.ok(err <= rtol * Math.sqrt(den) + atol, `${what}: ||g - ref|| = ${err}, ||ref|| = ${Math.sqrt(den)}`);
}

test(
  'golden grad/e2e_a_bidirectional: d loss / d decoder parameters and d loss / d encoder output',
  scoped(() => {
    const heads = loadHeads('a_bidirectional');
    try {
      const dir = join(E2E, 'a_bidirectional');
      const gdir = join(GOLDEN, 'grad', 'e2e_a_bidirectional');
      const encoded = readNpy(join(dir, 'encoded.npy'));
      encoded.requiresGrad = true;
      const masks = readNpy(join(dir, 'masks_BT.npy')).unsqueeze(1).expand([2, 80, 304]).contiguous(); // (B, D, T)
      const tokens = readNpy(join(dir, 'tokens.npy'));
      const loss = new MultiMLMLoss({ combineTimeSteps: 8, maskThreshold: 0.8, numDecoders: 2 }).forward(masks, heads.decoder.forward(encoded), tokens);
      const gold = readNpy(join(dir, 'loss.npy')).item();
      assert.ok(Math.abs(loss.item() - gold) <= 1e-4 + 1e-5 * Math.abs(gold));
      const conv = heads.decoder.decoderLayers.conv;
      const [dW, dB, dE] = t.grad(loss, [conv.weight, conv.bias!, encoded]);
      assertRelL2(dW!, readNpy(join(gdir, 'decoder.decoder_layers.0.weight.npy')), 'decoder.decoder_layers.0.weight');
      assertRelL2(dB!, readNpy(join(gdir, 'decoder.decoder_layers.0.bias.npy')), 'decoder.decoder_layers.0.bias');
      assertRelL2(dE!, readNpy(join(gdir, 'd_encoded.npy')), 'd_encoded');
    } finally {
      heads.dispose();
    }
  }),
);
