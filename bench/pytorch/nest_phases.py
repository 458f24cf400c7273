"""Phase-by-phase CPU time (user+sys, ms, median over --repeat) of the NEST-Small training step twin
(nest_train_small.py); called by bench/nest_phases.ts, which does the same in streamnest."""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn.functional as F

from encoder_bench import load_handoff
from nest_model import NestModel


def cpu():
    # CLOCK_PROCESS_CPUTIME_ID (ns resolution); os.times() ticks in 10 ms
    return time.process_time() * 1000.0


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    meta, sd = load_handoff("nest_small_streaming")
    m = NestModel(meta, sd, seed=meta["seed"])
    m.train()
    o = meta["optim"]
    opt = torch.optim.AdamW([q for q in m.parameters() if q.requires_grad], lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"],
                            weight_decay=o["weightDecay"], foreach=False)
    b, n = meta["batch"], meta["samples"]
    g = torch.Generator().manual_seed(5)
    audio = torch.randn(b, n, generator=g) * 0.1
    noisy = audio + torch.randn(b, n, generator=g) * 0.05
    ln = torch.full((b,), n, dtype=torch.int64)
    times = {}
    for it in range(a.repeat + 1):
        ph = {}
        c = cpu()

        def mark(name):
            global c
            now = cpu()
            ph[name] = now - c
            c = now

        clean, _ = m.preprocessor(audio, ln); mark("preprocessor clean")
        nf, nl = m.preprocessor(noisy, ln); mark("preprocessor noisy")
        tokens = m.quantizer(clean); mark("quantizer")
        masked, mask = m.masking(nf, nl); mark("masking")
        enc, _ = m.encoder(masked, nl); mark("encoder forward")
        bb, tt = enc.size(0), enc.size(2)
        logp = torch.log_softmax(m.decoder(enc).transpose(1, 2).reshape(bb, tt, m.C, m.H), 2)
        gg = mask.size(2) // m.loss_c
        sel = mask.transpose(1, 2).reshape(bb, gg, -1).mean(-1) > m.thr
        loss = F.nll_loss(logp.narrow(1, 0, gg)[..., 0][sel], tokens[..., 0][sel]); mark("decoder + loss")
        loss.backward(); mark("backward")
        opt.step(); m.zero_grad(set_to_none=True); mark("AdamW + zero grad")
        if it > 0:
            for k, v in ph.items():
                times.setdefault(k, []).append(v)
    print(json.dumps({k: statistics.median(v) for k, v in times.items()}))
