// NeMo parity of cache-aware streaming: every encoder/*/streaming case, driven chunk by chunk exactly as the
// golden `steps` describe (CacheAwareStreamingAudioBuffer chunking), compared per step, per stream and on caches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { cacheLastChannel, disposeEncoderCache, keepEncoderCache, type EncoderCache, type StreamingConfig } from '../../src/model/index.js';
import { assertClose } from '../helpers/assert.js';
import { buildGoldenEncoder, golden, goldenCases, type GoldenCase, type GoldenFile } from './encoder-fixtures.js';

interface Step {
  step: number;
  start: number;
  n_new: number;
  n_pre_encode_cache: number;
  n_zero_pad: number;
  chunk_frames: number;
  chunk_lengths: number[];
  drop_extra_pre_encoded: number;
  keep_all_outputs: boolean;
  out_frames: number;
  encoded_len: number[];
  cache_last_channel_len: number[];
}

interface NemoStreamingCfg {
  chunk_size: [number, number];
  shift_size: [number, number];
  cache_drop_size: number;
  last_channel_cache_size: number;
  valid_out_len: number;
  pre_encode_cache_size: [number, number];
  drop_extra_pre_encoded: number;
}

/** [zeros(n_zero_pad), buf[start - n_cache, start), buf[start, start + n_new)] along time. */
function chunkOf(buf: Tensor, s: Step): Tensor {
  const parts: Tensor[] = [];
  if (s.n_zero_pad > 0) parts.push(t.zeros([buf.size(0), buf.size(1), s.n_zero_pad]));
  if (s.n_pre_encode_cache > 0) parts.push(buf.narrow(2, s.start - s.n_pre_encode_cache, s.n_pre_encode_cache));
  parts.push(buf.narrow(2, s.start, s.n_new));
  return t.cat(parts, 2); // [B, F, chunk_frames]
}

function stackTime(c: EncoderCache): Tensor {
  return t.stack(
    c.layers.map((l) => l.conv.frames),
    0,
  ); // [n, B, d, cl]
}

const cases = goldenCases('encoder/', 'encoder_streaming');

/**
 * NeMo's step-1 chunk for a case: its own `chunk_step1` or, where the fixture has none, the `chunk_step1` of another
 * case that cuts step 1 from the same feature buffer with the same zero padding and pre-encode cache, which is then the
 * first frames of this case's chunk ([zeros, buf[start - n_cache, start), buf[start, start + n_new)], n_new larger).
 * The only case without one, c_lookahead_regular, is the run in which NeMo's own streaming loop raised (at step 25,
 * recorded as `nemo_example_loop_error`); the fixture kept the outputs of the steps NeMo completed but no chunk_step1.
 */
function chunkStep1Reference(c: GoldenCase): { file: string; from: string } {
  const own = (c.outputs as Record<string, unknown>).chunk_step1 as GoldenFile | undefined;
  if (own) return { file: own.file, from: c.id };
  const err = c.nemo_example_loop_error as { step: number; message: string } | undefined;
  assert.ok(err, `${c.id}: the fixture has no chunk_step1 and records no NeMo error that would explain it`);
  assert.ok(err.step >= 2 && (c.steps as Step[]).length === err.step, `${c.id}: NeMo raised at step ${err.step}, after step 1 (${err.message})`);
  const mine = (c.steps as Step[])[1]!;
  const donor = cases.find((d) => {
    const s = (d.steps as Step[])[1]!;
    return (
      d.outputs.chunk_step1 !== undefined &&
      d.inputs.buffer_features!.file === c.inputs.buffer_features!.file &&
      s.start === mine.start &&
      s.n_zero_pad === mine.n_zero_pad &&
      s.n_pre_encode_cache === mine.n_pre_encode_cache &&
      s.n_new <= mine.n_new
    );
  });
  assert.ok(donor, `${c.id}: no case with a chunk_step1 cut the same way from the same buffer`);
  return { file: (donor.outputs.chunk_step1 as GoldenFile).file, from: donor.id };
}

test('there are streaming encoder cases', () => {
  assert.ok(cases.length >= 5, `found ${cases.length}`);
});

for (const c of cases) {
  test(`${c.id}: chunk-by-chunk outputs, lengths and caches match NeMo`, () => {
    const enc = buildGoldenEncoder(c);
    const tol = c.tolerance as { atol: number; rtol: number };
    const setup = c.config.setup_streaming_params as { max_context?: number } | string;
    const st: StreamingConfig = enc.streamingConfig({ maxContext: typeof setup === 'object' ? setup.max_context : undefined });
    const ref = c.config.streaming_cfg as NemoStreamingCfg;
    assert.deepEqual(
      st,
      {
        chunkSize: ref.chunk_size,
        shiftSize: ref.shift_size,
        cacheDropSize: ref.cache_drop_size,
        lastChannelCacheSize: ref.last_channel_cache_size,
        validOutLen: ref.valid_out_len,
        preEncodeCacheSize: ref.pre_encode_cache_size,
        dropExtraPreEncoded: ref.drop_extra_pre_encoded,
      },
      'setup_streaming_params',
    );
    const steps = c.steps as Step[];
    const outs = c.outputs as Record<string, unknown>;
    const offsets = outs.step_encoded_offsets as number[];
    const buf = golden(c.inputs.buffer_features!.file);
    const refConcat = golden((outs.step_encoded_concat as GoldenFile).file);
    const refLens = golden((outs.step_encoded_len as GoldenFile).file).toArray();
    const B = buf.size(0);
    let cache = enc.initCache(B, st);
    const perStream: Tensor[][] = Array.from({ length: B }, () => []);
    const step1 = chunkStep1Reference(c);
    const cacheChecks: Record<string, number> = { cache_after_step0: 0, cache_after_step1: 1, cache_after_steplast: steps.length - 1 };
    for (const [i, s] of steps.entries()) {
      t.tidy(() => {
        const chunk = chunkOf(buf, s);
        assert.equal(chunk.size(2), s.chunk_frames, `step ${i}: chunk frames`);
        if (i === 1) {
          // NeMo's step-1 chunk (first frames of it when it comes from another case, see chunkStep1Reference)
          const want = golden(step1.file);
          assert.deepEqual(
            chunk.narrow(2, 0, want.size(2)).toArray(),
            want.toArray(),
            `step 1 chunk reproduces the buffer (NeMo's chunk_step1 of ${step1.from}, ${want.size(2)} of ${chunk.size(2)} frames)`,
          );
        }
        const len = t.tensor(s.chunk_lengths, [B], { dtype: 'int64' });
        const r = t.noGrad(() =>
          enc.streamStep(chunk, len, cache, { streaming: st, dropExtraPreEncoded: s.drop_extra_pre_encoded, keepAllOutputs: s.keep_all_outputs }),
        );
        assert.deepEqual(r.lengths.toArray(), refLens.slice(i * B, (i + 1) * B), `step ${i}: encoded lengths`);
        assert.deepEqual(r.lengths.toArray(), s.encoded_len);
        assert.deepEqual(r.cache.channelLen.toArray(), s.cache_last_channel_len, `step ${i}: cache_last_channel_len`);
        const expect = refConcat.narrow(2, offsets[i]!, offsets[i + 1]! - offsets[i]!);
        assertClose(r.encoded.contiguous(), expect.contiguous(), tol.atol, tol.rtol, `${c.id} step ${i}`);
        const lens = r.lengths.toArray();
        for (let b = 0; b < B; b++) if (lens[b]! > 0) perStream[b]!.push(t.keep(r.encoded.select(0, b).narrow(1, 0, lens[b]!).contiguous()));
        for (const [key, at] of Object.entries(cacheChecks)) {
          if (at !== i || !outs[key]) continue;
          const ref = outs[key] as Record<string, GoldenFile>;
          const tail = golden(ref.cache_last_channel_tail!.file);
          const ch = cacheLastChannel(r.cache);
          assertClose(ch.narrow(2, ch.size(2) - tail.size(2), tail.size(2)).contiguous(), tail, tol.atol, tol.rtol, `${key} cache_last_channel (tail)`);
          assertClose(stackTime(r.cache).contiguous(), golden(ref.cache_last_time!.file), tol.atol, tol.rtol, `${key} cache_last_time`);
          assert.deepEqual(r.cache.channelLen.toArray(), golden(ref.cache_last_channel_len!.file).toArray(), `${key} cache_last_channel_len`);
        }
        const old = cache;
        cache = keepEncoderCache(r.cache);
        disposeEncoderCache(old);
      });
    }
    t.tidy(() => {
      for (let b = 0; b < B; b++) {
        const f = outs[`stream${b}_concat`] as GoldenFile | undefined;
        if (!f) continue;
        assertClose(t.cat(perStream[b]!, 1), golden(f.file), tol.atol, tol.rtol, `${c.id} stream ${b}`);
      }
    });
    for (const p of perStream.flat()) p.dispose();
    disposeEncoderCache(cache);
    enc.dispose();
  });
}
