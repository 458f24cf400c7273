// The 'nemo' driver reproduces NeMo's golden streaming runs (encoder/*/streaming): the chunk plan step by step
// (start, new frames, pre-encode cache, zero padding, chunk lengths, drop_extra, keep_all_outputs), every step's
// output and both streams' concatenations (batched lockstep buffer); and the incremental per-stream driver fed the
// same features in random pieces gives stream 0's golden output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { configureStreaming, nemoBufferPlans, runNemoBuffer, StreamingEncoder } from '../../src/streaming/index.js';
import { assertClose } from '../helpers/assert.js';
import { buildGoldenEncoder, golden as loadGolden, goldenCases, type GoldenFile } from '../model/encoder-fixtures.js';
import { randomInts } from './helpers.js';

interface Step {
  start: number;
  n_new: number;
  n_pre_encode_cache: number;
  n_zero_pad: number;
  chunk_lengths: number[];
  drop_extra_pre_encoded: number;
  keep_all_outputs: boolean;
}

const cases = goldenCases('encoder/', 'encoder_streaming');

for (const c of cases) {
  test(`${c.id}: the nemo driver reproduces NeMo's chunking and outputs`, () => {
    buildGoldenEncoder(c).dispose(); // loads the fixture's weights into the shared cache
    const before = t.liveTensorCount();
    const enc = buildGoldenEncoder(c);
    const owned: Tensor[] = [];
    const golden = (f: string): Tensor => {
      const x = loadGolden(f);
      owned.push(x);
      return x;
    };
    const setup = c.config.setup_streaming_params as { max_context?: number } | string;
    const geo = configureStreaming(enc, { hopSeconds: 0.01, maxContext: typeof setup === 'object' ? setup.max_context : undefined });
    const se = new StreamingEncoder(enc, { geometry: geo, mode: 'nemo' });
    const tol = c.tolerance as { atol: number; rtol: number };
    const buf = golden(c.inputs.buffer_features!.file); // [B, F, Tb]
    const lens = golden(c.inputs.buffer_streams_length!.file).toArray();
    const steps = c.steps as Step[];
    const plans = nemoBufferPlans(buf.size(2), geo, (n) => se.offlineFrames(n));
    assert.equal(plans.length, steps.length, 'number of steps');
    const run = runNemoBuffer(enc, geo, buf, lens);
    const outs = c.outputs as Record<string, unknown>;
    const offsets = outs.step_encoded_offsets as number[];
    const refConcat = golden((outs.step_encoded_concat as GoldenFile).file);
    for (const [i, s] of steps.entries()) {
      const p = plans[i]!;
      assert.deepEqual(
        { start: p.idx, n_new: p.end - p.idx, n_pre_encode_cache: p.idx - p.start, n_zero_pad: p.zeroPad, drop: p.drop, keep: p.keepAll },
        {
          start: s.start,
          n_new: s.n_new,
          n_pre_encode_cache: s.n_pre_encode_cache,
          n_zero_pad: s.n_zero_pad,
          drop: s.drop_extra_pre_encoded,
          keep: s.keep_all_outputs,
        },
        `step ${i}`,
      );
      assert.deepEqual(run.steps[i]!.chunkLengths, s.chunk_lengths, `step ${i} chunk lengths`);
      const e = run.steps[i]!.encoded;
      t.tidy(() => assertClose(e.contiguous(), refConcat.narrow(2, offsets[i]!, offsets[i + 1]! - offsets[i]!).contiguous(), tol.atol, tol.rtol, `step ${i}`));
    }
    for (let b = 0; b < 2; b++) {
      const f = outs[`stream${b}_concat`] as GoldenFile;
      assertClose(run.streams[b]!, golden(f.file), tol.atol, tol.rtol, `stream ${b}`);
    }
    // The incremental driver (one stream, features pushed in random pieces) = NeMo's stream 0 (full-length stream).
    const rnd = randomInts(5);
    let state = se.initStreamState(1);
    const parts: Tensor[] = [];
    const s0 = t.tidy(() => buf.select(0, 0).narrow(1, 0, lens[0]!).contiguous()); // [F, L0]
    for (let pos = 0; pos < s0.size(1); ) {
      const n = Math.min(s0.size(1) - pos, rnd(0, 40));
      const piece = s0.narrow(1, pos, n);
      const r = se.pushFeatures([piece], state);
      piece.dispose();
      parts.push(r.encoded[0]!);
      state = r.state;
      pos += n;
    }
    parts.push(se.finish(state).encoded[0]!);
    const inc = t.cat(parts, 1);
    assertClose(inc, golden((outs.stream0_concat as GoldenFile).file), tol.atol, tol.rtol, 'incremental stream 0');
    for (const x of [...owned, ...parts, inc, s0, ...run.streams, ...run.steps.map((s) => s.encoded)]) x.dispose();
    se.dispose();
    enc.dispose(); // (also frees the positional table the encoder grows lazily)
    assert.equal(t.liveTensorCount(), before, 'no tensor leaked');
  });
}
