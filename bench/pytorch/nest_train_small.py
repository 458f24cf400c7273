"""PyTorch twin of nest_train_small (bench/workloads/nest_train.ts): the same NEST-Small streaming training step
(2x preprocessor, quantizer, causal masking, encoder, decoder, masked NLL, backward, AdamW) on the weights
streamnest saved. Prints the harness JSON; --audio-seconds-per-s is derived by the caller from ms_per_iter."""
import torch

from common import main
from encoder_bench import load_handoff
from nest_model import NestModel


def setup():
    meta, sd = load_handoff("nest_small_streaming")
    model = NestModel(meta, sd, seed=meta["seed"])
    model.train()
    o = meta["optim"]
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"], weight_decay=o["weightDecay"], foreach=False)
    b, n = meta["batch"], meta["samples"]
    g = torch.Generator().manual_seed(5)
    audio = torch.randn(b, n, generator=g) * 0.1
    noisy = audio + torch.randn(b, n, generator=g) * 0.05
    ln = torch.full((b,), n, dtype=torch.int64)

    def step():
        loss = model.loss(audio, ln, noisy, ln)
        loss.backward()
        opt.step()
        model.zero_grad(set_to_none=True)

    return step


if __name__ == "__main__":
    main(setup)
