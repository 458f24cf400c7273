"""Compact PyTorch NEST (BEST-RQ) pieces around fastconformer.py, written from the spec (02, 01): the log-mel
preprocessor (torch.stft, NeMo's current front end), the random-projection quantizer, causal random block masking,
the multi-softmax decoder and the masked-token NLL. Used by the nest_train_* and features twins; the configuration
and every tensor come from the state dict streamnest saved (exp/bench/<name>.pt/.json), so both sides run the same
model. Op sequences follow streamnest's src/ssl and src/audio (same chunked f64 quantizer distances, same STFT path).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from fastconformer import ConformerEncoder, sub_state


class Preprocessor(nn.Module):
    """AudioToMelSpectrogramPreprocessor (n_fft 512, hop 160, win 400, preemph 0.97, log(x + 2^-24), pad_to 16)."""

    def __init__(self, cfg, window, fb, generator=None):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("window", window)
        self.register_buffer("fb", fb)
        self.dither = cfg.get("dither", 1e-5)
        self.normalize = cfg.get("normalize", "per_feature")
        self.pad_to = cfg.get("pad_to", 16)
        self.g = generator

    @torch.no_grad()
    def forward(self, x, n):  # x [B, N] f32, n [B] int64 samples
        b, nn_ = x.shape
        if self.training and self.dither > 0:
            x = x + self.dither * torch.randn(x.shape, generator=self.g)
        x = torch.cat([x[:, :1], x[:, 1:] - 0.97 * x[:, :-1]], 1)
        x = x.masked_fill(~(torch.arange(nn_).unsqueeze(0) < n.unsqueeze(1)), 0.0)
        x = F.pad(x.unsqueeze(1), (256, 256)).squeeze(1)
        spec = torch.view_as_real(torch.stft(x, 512, 160, 400, window=self.window, center=False, return_complex=True))
        s = spec.pow(2).sum(-1).sqrt().pow(2.0)
        m = torch.log(torch.matmul(self.fb, s) + 2 ** -24)  # [B, F, T]
        frames = m.size(2)
        L = torch.div(n, 160, rounding_mode="floor")
        valid = torch.arange(frames).unsqueeze(0) < L.unsqueeze(1)  # [B, T]
        if self.normalize == "per_feature":
            v3 = valid.unsqueeze(1)
            mean = torch.where(v3, m, torch.zeros(())).sum(2) / L.unsqueeze(1)
            centred = torch.where(v3, m - mean.unsqueeze(2), torch.zeros(()))
            std = torch.sqrt(centred.pow(2).sum(2) / (L.unsqueeze(1) - 1))
            std = std.masked_fill(torch.isnan(std), 0.0) + 1e-5
            m = (m - mean.unsqueeze(2)) / std.unsqueeze(2)
        m = m.masked_fill(~valid.unsqueeze(1), 0.0)
        r = frames % self.pad_to if self.pad_to else 0
        if r:
            m = F.pad(m, (0, self.pad_to - r))
        return m, L


class Quantizer(nn.Module):
    """RandomProjectionVectorQuantizer, l2 distances in float64 (chunked like streamnest: 2^22 elements a chunk)."""

    def __init__(self, cfg, proj_w, codebooks):
        super().__init__()
        self.c = cfg["combineTimeSteps"]
        self.H, self.K, self.C = cfg["numBooks"], cfg["codeDim"], cfg["numClasses"]
        self.register_buffer("proj", proj_w)
        self.register_buffer("codebooks", codebooks)

    @torch.no_grad()
    def forward(self, feats):  # [B, D, T] -> tokens [B, T/c, H]
        x = feats.transpose(1, 2)
        b, tt, d = x.shape
        nt = tt // self.c
        z = F.normalize(F.linear(x.contiguous().reshape(b, nt, self.c * d), self.proj).reshape(b, nt, self.H, self.K), dim=-1)
        cbt = self.codebooks.transpose(1, 2).unsqueeze(0)  # (1, H, K, C) f64
        zr = z.reshape(b * nt, self.H, self.K, 1)
        per = max(1, (1 << 22) // (self.H * self.K * self.C))
        parts = [torch.argmin(torch.norm(zr[s:s + per] - cbt, 2, -2), -1) for s in range(0, b * nt, per)]
        return torch.cat(parts, 0).reshape(b, nt, self.H)


class Masking(nn.Module):
    """RandomBlockMasking, allow_overlap (binomial count of block starts, randperm) with the causal window extension."""

    def __init__(self, cfg, emb, generator=None):
        super().__init__()
        self.block, self.p, self.ratio = cfg["blockSize"], cfg["maskProb"], cfg.get("maxMaskRatio", 0.8)
        self.causal, self.left = cfg.get("causal", False), cfg.get("leftContextSize", -1)
        assert cfg.get("allowOverlap", False), "only allow_overlap masking is implemented here"
        self.register_buffer("emb", emb)
        self.g = generator

    def frames(self, L, T):
        hi = L - 1
        lo = 0 if not self.causal or self.left < 0 else max(0, hi - self.left)
        lw = hi - lo + 1
        if lw <= 0:
            return []
        if self.block >= lw * self.ratio:
            local = list(range(min(8, lw)))
        else:
            count = max(0, lw - self.block)
            n = int(torch.binomial(torch.tensor(float(count)), torch.tensor(self.p), generator=self.g).item())
            local = []
            for s in torch.randperm(count, generator=self.g)[:n].tolist():
                local.extend(range(s, min(s + self.block, lw)))
        top = min(hi + 1, T) if self.causal else T
        return sorted({f + lo for f in local if lo <= f + lo < top})

    def forward(self, feats, lengths):
        b, d, t = feats.shape
        bt = torch.zeros(b, 1, t)
        for i, L in enumerate(lengths.tolist()):
            fs = self.frames(L, t)
            if fs:
                bt[i, 0, fs] = 1.0
        mask = bt.expand(b, d, t).contiguous()
        return torch.where(bt > 0, self.emb.reshape(1, d, 1), feats), mask


class NestModel(nn.Module):
    def __init__(self, args, sd, seed=0):
        super().__init__()
        self.g = {k: torch.Generator().manual_seed(seed + i) for i, k in enumerate(["dither", "masking"])}
        pre = sub_state(sd, "preprocessor.")
        win = next(v for k, v in pre.items() if k.endswith("window"))
        fb = next(v for k, v in pre.items() if k.endswith("fb"))
        self.preprocessor = Preprocessor(args["preprocessor"], win, fb, self.g["dither"])
        self.encoder = ConformerEncoder(args["encoder"])
        missing, unexpected = self.encoder.load_state_dict(sub_state(sd, "encoder."), strict=False)
        if missing or [k for k in unexpected if "num_batches_tracked" not in k]:
            raise SystemExit(f"encoder state dict mismatch: missing {missing}, unexpected {unexpected}")
        self.quantizer = Quantizer(args["quantizer"], sd["quantizer.proj.weight"], sd["quantizer.codebooks"])
        self.masking = Masking(args["masking"], sd["mask_processor.mask_embedding"], self.g["masking"])
        dec_w, dec_b = sd["decoder.decoder_layers.0.weight"], sd.get("decoder.decoder_layers.0.bias")
        self.decoder = nn.Conv1d(dec_w.size(1), dec_w.size(0), 1, bias=dec_b is not None)
        self.decoder.load_state_dict({"weight": dec_w, **({"bias": dec_b} if dec_b is not None else {})})
        self.C, self.H = args["decoder"]["numClasses"], args["decoder"].get("numDecoders", 1)
        self.loss_c = args["loss"]["combineTimeSteps"]
        self.thr = args["loss"].get("maskThreshold", 0.8)

    def loss(self, audio, audio_len, noisy, noisy_len):
        clean, _ = self.preprocessor(audio, audio_len)
        nfeat, nlen = self.preprocessor(noisy, noisy_len)
        tokens = self.quantizer(clean)  # [B, G, H]
        masked, mask = self.masking(nfeat, nlen)
        enc, _ = self.encoder(masked, nlen)  # [B, d, T']
        b, t = enc.size(0), enc.size(2)
        logp = torch.log_softmax(self.decoder(enc).transpose(1, 2).reshape(b, t, self.C, self.H), 2)
        g = mask.size(2) // self.loss_c
        sel = mask.transpose(1, 2).reshape(b, g, -1).mean(-1) > self.thr  # [B, G]
        logp = logp.narrow(1, 0, g)  # causal subsampling: one extra trailing frame dropped
        total = None
        for h in range(self.H):
            l = F.nll_loss(logp[..., h][sel], tokens[..., h][sel])
            total = l if total is None else total + l
        return total / self.H


def check_golden(root):
    """Front end (preproc/*) and heads (e2e/a_bidirectional: tokens, log-probs, loss) against NeMo's outputs."""
    import json
    import os
    import wave

    import numpy as np

    from fastconformer import read_nemo

    gold = os.path.join(root, "test", "fixtures", "golden")
    index = json.load(open(os.path.join(gold, "index.json")))
    cases = {c["id"]: c for c in index["cases"]}
    ok = True

    def wav(name):
        with wave.open(os.path.join(gold, name)) as w:
            return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0

    mc, sd = read_nemo(os.path.join(gold, "nemo", "a_bidirectional.nemo"))
    for cid in ("preproc/nest_per_feature", "preproc/nest_NA"):
        c = cases[cid]
        clips = [wav(a) for a in c["inputs"]["audio"]]
        x = torch.zeros(len(clips), max(len(a) for a in clips))
        for i, a in enumerate(clips):
            x[i, :len(a)] = torch.from_numpy(a)
        pre = Preprocessor(c["config"], sd["preprocessor.featurizer.window"], sd["preprocessor.featurizer.fb"]).eval()
        m, L = pre(x, torch.tensor(c["inputs"]["input_signal_length"]))
        want = np.load(os.path.join(gold, c["outputs"]["processed_signal"]["file"]))
        diff = float(np.abs(m.numpy() - want).max()) if m.shape == want.shape else float("inf")
        good = diff <= c["tolerance"]["atol"] and np.array_equal(L.numpy(), np.load(os.path.join(gold, c["outputs"]["processed_signal_length"]["file"])))
        ok &= good
        print(f"{cid:28s} max|diff| = {diff:.3g} (atol {c['tolerance']['atol']}) {'PASS' if good else 'FAIL'}")

    c = cases["e2e/a_bidirectional"]
    ld = lambda k: torch.from_numpy(np.load(os.path.join(gold, c[k[0]][k[1]]["file"])))  # noqa: E731
    clean, noisy = ld(("inputs", "processed_signal")), ld(("inputs", "processed_noisy_signal"))
    q = Quantizer({"combineTimeSteps": mc["quantizer"]["combine_time_steps"], "numBooks": mc["quantizer"]["num_books"],
                   "codeDim": mc["quantizer"]["code_dim"], "numClasses": mc["quantizer"]["num_classes"]},
                  sd["quantizer.proj.weight"], sd["quantizer.codebooks"])
    tokens = q(clean)
    tok_ok = torch.equal(tokens, ld(("outputs", "tokens")))
    mbt = ld(("outputs", "masks_BT"))
    mask = mbt.unsqueeze(1).expand_as(noisy).contiguous()
    masked = torch.where(mask > 0, sd["mask_processor.mask_embedding"].reshape(1, -1, 1), noisy)
    enc = ConformerEncoder(mc["encoder"])
    enc.load_state_dict(sub_state(sd, "encoder."), strict=False)
    enc.eval()
    lens = torch.tensor([n // 160 for n in c["inputs"]["input_signal_length"]])
    with torch.no_grad():
        e, el = enc(masked, lens)
        dec = nn.Conv1d(e.size(1), sd["decoder.decoder_layers.0.weight"].size(0), 1)
        dec.load_state_dict({"weight": sd["decoder.decoder_layers.0.weight"], "bias": sd["decoder.decoder_layers.0.bias"]})
        C, H = mc["decoder"]["num_classes"], mc["decoder"]["num_decoders"]
        logp = torch.log_softmax(dec(e).transpose(1, 2).reshape(e.size(0), e.size(2), C, H), 2)
        want = ld(("outputs", "log_probs"))
        lp_diff = max(float((logp[b, :n] - want[b, :n]).abs().max()) for b, n in enumerate(el.tolist()))
        g = mask.size(2) // mc["loss"]["combine_time_steps"]
        sel = mask.transpose(1, 2).reshape(mask.size(0), g, -1).mean(-1) > mc["loss"]["mask_threshold"]
        loss = sum(F.nll_loss(logp[..., h][sel], tokens[..., h][sel]) for h in range(H)) / H
        loss_diff = abs(float(loss) - float(ld(("outputs", "loss"))))
    good = tok_ok and lp_diff <= 1e-4 and loss_diff <= 1e-4
    ok &= good
    print(f"e2e/a_bidirectional          tokens {'exact' if tok_ok else 'DIFFER'}, log-probs max|diff| = {lp_diff:.3g}, "
          f"loss |diff| = {loss_diff:.3g} {'PASS' if good else 'FAIL'}")
    return ok


if __name__ == "__main__":
    import os
    import sys
    if "--check" in sys.argv:
        torch.set_num_threads(1)
        here = os.path.dirname(os.path.abspath(__file__))
        sys.exit(0 if check_golden(os.path.dirname(os.path.dirname(here))) else 1)
    print(__doc__)
