"""PyTorch side of bench/streaming/latency.ts: a NeMo-style cache-aware streaming loop over the compact FastConformer
(fastconformer.py) with the weights streamnest wrote to exp/bench/stream_<size>.{pt,json}.

Per layer it keeps NeMo's caches: the last C frames of the (normalised) attention input (cache_last_channel, a fixed
C slots, the unfilled ones masked) and the last kernel-1 inputs of the causal depthwise convolution
(cache_last_time); the causal subsampling runs on [pre-encode cache (S+1 feature frames) + new chunk] and drops the
first 2 outputs (NeMo's drop_extra_pre_encoded). It checks that the concatenated stream equals its own offline
forward (fully causal, C >= stream length), times every step (wall + process CPU), counts the FLOPs of one steady
step (Linear / Conv hooks + the attention matmuls) and measures the peak float32 matmul rate (2048^3, same process).

    /usr/bin/python3 bench/pytorch/streaming_latency.py --size small --chunk-frames 2 --frames 2993 --max-context 384 --threads 1
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fastconformer import ConformerEncoder, MASK_FILL, RelPosMHA, rel_pos_emb  # noqa: E402

HANDOFF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "exp", "bench")
S = 8
FLOPS = [0]
COUNT = [False]


def mha_step(att, xq, kv, mask, pos):
    """xq [B, T, d] queries, kv [B, C+T, d] keys/values (cache + chunk), mask [1, T, C+T] True = blocked, pos [1, 2(C+T)-1, d]."""
    b, t, _ = xq.shape
    tk = kv.size(1)
    h, dk = att.h, att.dk
    q = att.linear_q(xq).view(b, t, h, dk)
    k = att.linear_k(kv).view(b, tk, h, dk).transpose(1, 2)
    v = att.linear_v(kv).view(b, tk, h, dk).transpose(1, 2)
    p = att.linear_pos(pos).view(1, -1, h, dk).transpose(1, 2)
    qu = (q + att.pos_bias_u).transpose(1, 2)
    qv = (q + att.pos_bias_v).transpose(1, 2)
    bd = RelPosMHA.rel_shift(torch.matmul(qv, p.transpose(-2, -1)))
    ac = torch.matmul(qu, k.transpose(-2, -1))
    scores = (ac + bd.narrow(3, 0, tk)) / math.sqrt(dk)
    m = mask.unsqueeze(1)
    a = torch.softmax(scores.masked_fill(m, MASK_FILL), -1).masked_fill(m, 0.0)
    o = torch.matmul(a, v).transpose(1, 2).reshape(b, t, h * dk)
    if COUNT[0]:
        FLOPS[0] += 2 * b * h * t * dk * (p.size(2) + 2 * tk)
    return att.linear_out(o)


def layer_step(layer, x, kcache, ccache, mask, pos, pad_mask, C):
    r = x + 0.5 * layer.feed_forward1(layer.norm_feed_forward1(x))
    xn = layer.norm_self_att(r)
    kv = torch.cat([kcache, xn], 1)  # [B, C+T, d]
    new_k = kv[:, kv.size(1) - C:]
    r = r + mha_step(layer.self_attn, xn, kv, mask, pos)
    cm = layer.conv
    z = F.glu(cm.pointwise_conv1(layer.norm_conv(r).transpose(1, 2)), 1)  # [B, d, T]
    z = z.masked_fill(pad_mask.unsqueeze(1), 0.0)
    zc = torch.cat([ccache, z], 2)  # [B, d, k-1+T]
    new_c = zc[:, :, zc.size(2) - ccache.size(2):]
    z = cm.depthwise_conv(zc)
    z = cm.batch_norm(z.transpose(1, 2)).transpose(1, 2)
    r = r + cm.pointwise_conv2(F.silu(z)).transpose(1, 2)
    r = r + 0.5 * layer.feed_forward2(layer.norm_feed_forward2(r))
    return layer.norm_out(r), new_k, new_c


class Streamer:
    def __init__(self, enc, C):
        self.enc, self.C = enc, C
        self.pos = {}
        d = enc.d
        k = enc.c.get("conv_kernel_size", 31)
        self.kc = [torch.zeros(1, C, d) for _ in enc.layers]
        self.cc = [torch.zeros(1, d, k - 1) for _ in enc.layers]
        self.clen = 0

    def step(self, chunk, drop):  # chunk [1, F, Tc] (pre-encode cache prepended)
        enc, C = self.enc, self.C
        x, _ = enc.pre_encode(chunk.transpose(1, 2), torch.tensor([chunk.size(2)]))
        if drop:
            x = x[:, drop:]
        x = x * enc.xscale
        t = x.size(1)
        if t not in self.pos:
            self.pos[t] = rel_pos_emb(C + t, enc.d)
        pos = self.pos[t]
        j = torch.arange(C + t).unsqueeze(0)
        i = torch.arange(t).unsqueeze(1)
        mask = ((j < C - self.clen) | (j > C + i)).unsqueeze(0)  # [1, T, C+T]
        pad_mask = torch.zeros(1, t, dtype=torch.bool)
        for l, layer in enumerate(enc.layers):
            x, self.kc[l], self.cc[l] = layer_step(layer, x, self.kc[l], self.cc[l], mask, pos, pad_mask, C)
        self.clen = min(self.clen + t, C)
        return x.transpose(1, 2)


def chunk_at(feats, idx, k, emitted):
    """(feature frames [idx - (S+1), idx + S*k): the pre-encode cache + the new chunk, encoder frames to drop).
    Near the start (idx < S+1, only k = 1) NeMo zero-pads the cache, which is not exact (spec 05 §8.1); as
    streamnest's exact plan, feed from frame 0 instead and drop the frames already emitted."""
    lo = idx - (S + 1)
    if lo < 0:
        return feats[:, :, 0: idx + S * k], emitted
    return feats[:, :, lo: idx + S * k], 2


def run_stream(enc, feats, k, C, timed=False):
    """NeMo's chunking: first step 1 + S(k-1) frames (no cache), then S*k new frames after S+1 cached ones, drop 2."""
    st = Streamer(enc, C)
    T = feats.size(2)
    first = 1 + S * (k - 1)
    outs, walls, cpus = [], [], []
    out = st.step(feats[:, :, :first], 0)
    outs.append(out)
    idx = first
    while idx < T:
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = st.step(*chunk_at(feats, idx, k, k))
        walls.append((time.perf_counter() - t0) * 1000.0)
        cpus.append((time.process_time() - c0) * 1000.0)
        outs.append(out)
        idx += S * k
    return torch.cat(outs, 2), walls, cpus


def quant(xs, q):
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def peak_flops(n=2048, reps=5):
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        ts.append(time.perf_counter() - t0)
    return 2 * n ** 3 / statistics.median(ts)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", required=True, help="hand-off name: reads exp/bench/stream_<size>.{pt,json} (small, medium, small_cli)")
    p.add_argument("--chunk-frames", type=int, required=True)
    p.add_argument("--frames", type=int, required=True)
    p.add_argument("--max-context", type=int, default=384)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    base = os.path.join(HANDOFF, f"stream_{a.size}")
    meta = json.load(open(base + ".json"))
    enc = ConformerEncoder(meta["encoder"])
    missing, unexpected = enc.load_state_dict(torch.load(base + ".pt", map_location="cpu"), strict=False)
    if missing or [k for k in unexpected if "num_batches_tracked" not in k]:
        raise SystemExit(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    enc.eval()
    assert enc.ctx == [-1, 0] and enc.style == "regular" and enc.pre_encode.causal
    g = torch.Generator().manual_seed(99)
    feats = torch.randn(1, meta["encoder"]["feat_in"], a.frames, generator=g)
    k, C = a.chunk_frames, a.max_context
    with torch.no_grad():
        off, _ = enc(feats, torch.tensor([a.frames]))
        streamed, _, _ = run_stream(enc, feats, k, C)
        diff = float((off - streamed).abs().max()) if off.shape == streamed.shape else float("inf")
        print(f"{a.size} chunk {k} frames: stream {tuple(streamed.shape)} vs offline {tuple(off.shape)} max|diff| = {diff:.3g} "
              f"({'PASS' if diff <= 1e-4 else 'FAIL'})", file=sys.stderr)
        # FLOPs of one steady step (hooks on Linear / Conv + the attention matmuls)
        hooks = []
        for m in enc.modules():
            if isinstance(m, torch.nn.Linear):
                hooks.append(m.register_forward_hook(lambda m, i, o: FLOPS.__setitem__(0, FLOPS[0] + 2 * o.numel() * m.in_features)))
            elif isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d)):
                hooks.append(m.register_forward_hook(lambda m, i, o: FLOPS.__setitem__(
                    0, FLOPS[0] + 2 * o.numel() * (m.in_channels // m.groups) * math.prod(m.kernel_size))))
        st = Streamer(enc, C)
        st.step(feats[:, :, :1 + S * (k - 1)], 0)
        COUNT[0] = True
        FLOPS[0] = 0
        st.step(*chunk_at(feats, 1 + S * (k - 1), k, k))
        COUNT[0] = False
        flops = FLOPS[0]
        for h in hooks:
            h.remove()
        peak = peak_flops()
        t0 = time.perf_counter()
        _, walls, cpus = run_stream(enc, feats, k, C, timed=True)
        total = (time.perf_counter() - t0) * 1000.0
    print(json.dumps({
        "p50_ms": quant(walls, 0.5), "p90_ms": quant(walls, 0.9), "p99_ms": quant(walls, 0.99),
        "cpu_p50_ms": quant(cpus, 0.5), "cpu_p90_ms": quant(cpus, 0.9),
        "total_ms": total, "steps": len(walls), "flops_per_chunk": flops, "peak_flops": peak,
        "offline_max_abs_diff": diff, "threads": torch.get_num_threads(), "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
