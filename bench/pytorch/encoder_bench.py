"""Shared body of the encoder_{small,medium}_{fwd,fwdbwd} twins (bench/workloads/encoder.ts): the compact
FastConformer (fastconformer.py) with the weights and config streamnest wrote to exp/bench/encoder_<size>.{pt,json}."""
import json
import os

import torch

from fastconformer import ConformerEncoder

HANDOFF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "exp", "bench")


def load_handoff(name):
    base = os.path.join(HANDOFF, name)
    if not os.path.exists(base + ".json"):
        raise SystemExit(f"{base}.json missing: run the streamnest side first (node dist/bench/run.js {name}_...)")
    meta = json.load(open(base + ".json"))
    return meta, torch.load(base + ".pt", map_location="cpu")


def setup_encoder(size, mode):
    def setup():
        meta, sd = load_handoff(f"encoder_{size}")
        enc = ConformerEncoder(meta["encoder"])
        missing, unexpected = enc.load_state_dict(sd, strict=False)
        if missing or [k for k in unexpected if "num_batches_tracked" not in k]:
            raise SystemExit(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
        b, frames = meta["batch"], meta["frames"]
        g = torch.Generator().manual_seed(99)
        x = torch.randn(b, meta["encoder"]["feat_in"], frames, generator=g)
        ln = torch.full((b,), frames, dtype=torch.int64)
        if mode == "fwd":
            enc.eval()

            def step():
                with torch.no_grad():
                    enc(x, ln)[0].sum().item()
        else:
            enc.train()

            def step():
                loss = enc(x, ln)[0].pow(2).mean()
                loss.backward()
                enc.zero_grad(set_to_none=True)
        return step
    return setup
