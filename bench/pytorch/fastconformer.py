"""A compact PyTorch FastConformer encoder (dw_striding x8 subsampling, rel-pos MHA, macaron Conformer layers),
written from the spec (/work/shared/spec/04-fastconformer-encoder.md), not from NeMo's code. It loads NeMo state-dict
names, so it runs the golden .nemo archives and the weights streamnest's bench workloads save.

    /usr/bin/python3 bench/pytorch/fastconformer.py --check    # golden encoder/*/offline parity (max abs diff)

The op sequence mirrors streamnest's src/model (same pads/views/matmuls), so timings compare like with like.
"""
import io
import json
import math
import os
import sys
import tarfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MASK_FILL = -10000.0


def _pair(v):
    return list(v) if isinstance(v, (list, tuple)) else [v, v]


class Subsampling(nn.Module):
    """dw_striding: conv3x3 s2 (1->C), ReLU, then (depthwise 3x3 s2, pointwise 1x1, ReLU) x (log2 S - 1); per-layer time masking."""

    def __init__(self, feat_in, d, channels, factor, causal):
        super().__init__()
        self.causal = causal
        n = int(math.log2(factor))
        pl, pr = (2, 1) if causal else (1, 1)
        self.pads = (pl, pr)
        self.native = 0 if causal else 1
        layers = [nn.Conv2d(1, channels, 3, stride=2, padding=self.native), nn.ReLU()]
        for _ in range(n - 1):
            layers += [nn.Conv2d(channels, channels, 3, stride=2, padding=self.native, groups=channels),
                       nn.Conv2d(channels, channels, 1), nn.ReLU()]
        self.conv = nn.Sequential(*layers)
        f = feat_in
        for _ in range(n):
            f = (f + pl + pr - 3) // 2 + 1
        self.out = nn.Linear(channels * f, d)

    def forward(self, x, lengths):  # x [B, T, F]
        h = x.unsqueeze(1)  # [B, 1, T, F]
        ln = lengths.to(torch.float32)
        pl, pr = self.pads

        def tmask(tt):
            return (torch.arange(tt).unsqueeze(0) < ln.unsqueeze(1)).to(h.dtype)[:, None, :, None]

        mask = tmask(h.size(2))
        for layer in self.conv:
            h = h * mask
            if isinstance(layer, nn.Conv2d) and layer.stride[0] == 2:
                if self.causal:
                    h = F.pad(h, (pl, pr, pl, pr))
                h = layer(h)
                ln = torch.floor((ln + pl + pr - 3) / 2) + 1
                mask = tmask(h.size(2))
            else:
                h = layer(h)
        h = h * mask
        b, c, tt, f = h.shape
        return self.out(h.transpose(1, 2).reshape(b, tt, c * f)), ln.to(torch.int64)


def rel_pos_emb(tk, d):
    """(1, 2Tk-1, d): row p = pe(Tk-1-p), f32 arguments."""
    pos = torch.arange(tk - 1, -tk, -1, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * -(math.log(10000.0) / d))
    pe = torch.zeros(2 * tk - 1, d)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)
    return pe.unsqueeze(0)


def att_masks(lengths, tm, ctx, style):
    """(att_mask [B,T,T] True = blocked, pad_mask [B,T] True = padding)."""
    left, right = ctx
    i = torch.arange(tm).unsqueeze(1)
    j = torch.arange(tm).unsqueeze(0)
    if style == "chunked_limited" and right >= 0:
        chunk = right + 1
        nl = 10000 if left < 0 else left // chunk
        d = i // chunk - j // chunk
        allowed = (d >= 0) & (d <= nl)
    else:
        allowed = torch.ones(tm, tm, dtype=torch.bool)
        if left >= 0:
            allowed &= (i - j) <= left
        if right >= 0:
            allowed &= (j - i) <= right
    valid = torch.arange(tm).unsqueeze(0) < lengths.unsqueeze(1)
    ok = allowed.unsqueeze(0) & valid.unsqueeze(1) & valid.unsqueeze(2)
    return ~ok, ~valid


class FeedForward(nn.Module):
    def __init__(self, d, ff, bias, dropout):
        super().__init__()
        self.linear1 = nn.Linear(d, d * ff, bias=bias)
        self.linear2 = nn.Linear(d * ff, d, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.linear2(self.dropout(F.silu(self.linear1(x))))


class RelPosMHA(nn.Module):
    def __init__(self, d, h, bias, dropout_att):
        super().__init__()
        self.h, self.dk = h, d // h
        self.pos_bias_u = nn.Parameter(torch.zeros(h, self.dk))
        self.pos_bias_v = nn.Parameter(torch.zeros(h, self.dk))
        self.linear_q = nn.Linear(d, d, bias=bias)
        self.linear_k = nn.Linear(d, d, bias=bias)
        self.linear_v = nn.Linear(d, d, bias=bias)
        self.linear_out = nn.Linear(d, d, bias=bias)
        self.linear_pos = nn.Linear(d, d, bias=False)
        self.dropout = nn.Dropout(dropout_att)

    @staticmethod
    def rel_shift(x):  # [B, h, Tq, P] -> out[i][j] = x[i][j + Tq - 1 - i]
        b, h, q, p = x.shape
        x = F.pad(x, (1, 0)).view(b, h, -1, q)
        return x.narrow(2, 1, p).view(b, h, q, p)

    def forward(self, x, mask, pos):
        b, t, _ = x.shape
        q = self.linear_q(x).view(b, t, self.h, self.dk)
        k = self.linear_k(x).view(b, t, self.h, self.dk).transpose(1, 2)
        v = self.linear_v(x).view(b, t, self.h, self.dk).transpose(1, 2)
        p = self.linear_pos(pos).view(pos.size(0), -1, self.h, self.dk).transpose(1, 2)
        qu = (q + self.pos_bias_u).transpose(1, 2)
        qv = (q + self.pos_bias_v).transpose(1, 2)
        bd = self.rel_shift(torch.matmul(qv, p.transpose(-2, -1)))
        ac = torch.matmul(qu, k.transpose(-2, -1))
        scores = (ac + bd.narrow(3, 0, ac.size(3))) / math.sqrt(self.dk)
        m = mask.unsqueeze(1)
        attn = torch.softmax(scores.masked_fill(m, MASK_FILL), -1).masked_fill(m, 0.0)
        o = torch.matmul(self.dropout(attn), v).transpose(1, 2).reshape(b, t, self.h * self.dk)
        return self.linear_out(o)


class ConvModule(nn.Module):
    def __init__(self, d, k, bias, norm, ctx):
        super().__init__()
        self.pads = ctx
        self.pointwise_conv1 = nn.Conv1d(d, 2 * d, 1, bias=bias)
        self.depthwise_conv = nn.Conv1d(d, d, k, groups=d, bias=bias)
        self.is_ln = norm == "layer_norm"
        self.batch_norm = nn.LayerNorm(d) if self.is_ln else nn.BatchNorm1d(d)
        self.pointwise_conv2 = nn.Conv1d(d, d, 1, bias=bias)

    def forward(self, x, pad_mask):  # x [B, T, d]
        z = F.glu(self.pointwise_conv1(x.transpose(1, 2)), 1)
        z = z.masked_fill(pad_mask.unsqueeze(1), 0.0)
        z = self.depthwise_conv(F.pad(z, tuple(self.pads)))
        z = self.batch_norm(z.transpose(1, 2)).transpose(1, 2) if self.is_ln else self.batch_norm(z)
        return self.pointwise_conv2(F.silu(z)).transpose(1, 2)


class ConformerLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        bias = c.get("use_bias", True)
        k = c.get("conv_kernel_size", 31)
        cc = c.get("conv_context_size")
        ctx = [k - 1, 0] if cc == "causal" else ([(k - 1) // 2] * 2 if cc is None else list(cc))
        self.norm_feed_forward1 = nn.LayerNorm(d)
        self.feed_forward1 = FeedForward(d, c.get("ff_expansion_factor", 4), bias, c.get("dropout", 0.1))
        self.norm_conv = nn.LayerNorm(d)
        self.conv = ConvModule(d, k, bias, c.get("conv_norm_type", "batch_norm"), ctx)
        self.norm_self_att = nn.LayerNorm(d)
        self.self_attn = RelPosMHA(d, c.get("n_heads", 4), bias, c.get("dropout_att", 0.0))
        self.norm_feed_forward2 = nn.LayerNorm(d)
        self.feed_forward2 = FeedForward(d, c.get("ff_expansion_factor", 4), bias, c.get("dropout", 0.1))
        self.norm_out = nn.LayerNorm(d)
        self.dropout = nn.Dropout(c.get("dropout", 0.1))

    def forward(self, x, att_mask, pos, pad_mask):
        r = x + 0.5 * self.dropout(self.feed_forward1(self.norm_feed_forward1(x)))
        r = r + self.dropout(self.self_attn(self.norm_self_att(r), att_mask, pos))
        r = r + self.dropout(self.conv(self.norm_conv(r), pad_mask))
        r = r + 0.5 * self.dropout(self.feed_forward2(self.norm_feed_forward2(r)))
        return self.norm_out(r)


class ConformerEncoder(nn.Module):
    """NeMo-config encoder (the subset NEST uses). forward(features [B, F, T], lengths [B]) -> ([B, d, T'], lengths')."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        d = c["d_model"]
        self.d = d
        cc = c.get("subsampling_conv_channels", -1)
        self.pre_encode = Subsampling(c["feat_in"], d, d if cc == -1 else cc, c.get("subsampling_factor", 4),
                                      c.get("causal_downsampling", False))
        self.layers = nn.ModuleList([ConformerLayer(c) for _ in range(c["n_layers"])])
        self.xscale = math.sqrt(d) if c.get("xscaling", True) else None
        self.dropout_pre = nn.Dropout(c.get("dropout_pre_encoder", 0.1))
        acs = c.get("att_context_size") or [-1, -1]
        self.ctx = list(acs[0]) if isinstance(acs[0], (list, tuple)) else list(acs)
        self.style = c.get("att_context_style", "regular")

    def forward(self, feats, lengths, ctx=None):
        x, ln = self.pre_encode(feats.transpose(1, 2), lengths)
        if self.xscale is not None:
            x = x * self.xscale
        x = self.dropout_pre(x)
        tm = x.size(1)
        pos = rel_pos_emb(tm, self.d)
        att_mask, pad_mask = att_masks(ln, tm, ctx or self.ctx, self.style)
        for layer in self.layers:
            x = layer(x, att_mask, pos, pad_mask)
        return x.transpose(1, 2), ln


def read_nemo(path):
    """(config dict, state dict) of a .nemo archive."""
    import yaml
    with tarfile.open(path) as tf:
        names = {os.path.basename(m.name): m for m in tf.getmembers()}
        cfg = yaml.safe_load(tf.extractfile(names["model_config.yaml"]).read())
        sd = torch.load(io.BytesIO(tf.extractfile(names["model_weights.ckpt"]).read()), map_location="cpu")
    return cfg, sd


def sub_state(sd, prefix):
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def check_golden(root):
    gold = os.path.join(root, "test", "fixtures", "golden")
    index = json.load(open(os.path.join(gold, "index.json")))
    feats = torch.from_numpy(np.load(os.path.join(gold, "encoder", "input_features.npy")))
    lens = torch.from_numpy(np.load(os.path.join(gold, "encoder", "input_lengths.npy")))
    worst = 0.0
    for case in index["cases"]:
        if case["kind"] != "encoder_offline":
            continue
        cfg = case["config"]["encoder"]
        nemo = os.path.join(gold, case["config"]["weights"].split()[0].replace("golden/", ""))
        _, sd = read_nemo(nemo)
        enc = ConformerEncoder(cfg)
        missing, unexpected = enc.load_state_dict(sub_state(sd, "encoder."), strict=False)
        if missing or [k for k in unexpected if "num_batches_tracked" not in k]:
            raise SystemExit(f"{case['id']}: missing {missing} unexpected {unexpected}")
        enc.eval()
        with torch.no_grad():
            out, ln = enc(feats, lens, ctx=list(case["config"]["att_context_size_in_use"]))
        want = np.load(os.path.join(gold, case["outputs"]["outputs"]["file"]))
        want_len = np.load(os.path.join(gold, case["outputs"]["encoded_lengths"]["file"])) if "encoded_lengths" in case["outputs"] else None
        diff = 0.0
        for b in range(out.size(0)):
            n = int(ln[b])
            diff = max(diff, float(np.abs(out[b, :, :n].numpy() - want[b, :, :n]).max()))
        len_ok = want_len is None or np.array_equal(ln.numpy(), want_len)
        print(f"{case['id']:45s} conv_norm={cfg['conv_norm_type']:10s} causal_sub={cfg['causal_downsampling']!s:5s} "
              f"ctx={case['config']['att_context_size_in_use']}: max|diff| = {diff:.3g}  lengths {'ok' if len_ok else 'DIFFER'}")
        worst = max(worst, diff if len_ok else float("inf"))
    print(f"worst max|diff| = {worst:.3g} ({'PASS' if worst <= 1e-4 else 'FAIL'} at 1e-4)")
    return worst <= 1e-4


if __name__ == "__main__":
    if "--check" in sys.argv:
        torch.set_num_threads(1)
        here = os.path.dirname(os.path.abspath(__file__))
        sys.exit(0 if check_golden(os.path.dirname(os.path.dirname(here))) else 1)
    print(__doc__)
