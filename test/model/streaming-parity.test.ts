// NeMo parity of cache-aware streaming: every encoder/*/streaming case, driven chunk by chunk exactly as the
// golden `steps` describe (CacheAwareStreamingAudioBuffer chunking), compared per step, per stream and on caches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as t from '../../src/torch/index.js';
import type { Tensor } from '../../src/torch/index.js';
import { cacheLastChannel, disposeEncoderCache, keepEncoderCache, type EncoderCache, type StreamingConfig } from '../../src/model/index.js';
import { assertClose } from '../helpers/assert.js';
import { buildGoldenEncoder, golden, goldenCases, type GoldenFile } from './encoder-fixtures.js';

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
    const cacheChecks: Record<string, number> = { cache_after_step0: 0, cache_after_step1: 1, cache_after_steplast: steps.length - 1 };
    for (const [i, s] of steps.entries()) {
      t.tidy(() => {
        const chunk = chunkOf(buf, s);
        assert.equal(chunk.size(2), s.chunk_frames, `step ${i}: chunk frames`);
        if (i === 1 && outs.chunk_step1)
          assert.deepEqual(chunk.toArray(), golden((outs.chunk_step1 as GoldenFile).file).toArray(), 'step 1 chunk reproduces the buffer');
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
