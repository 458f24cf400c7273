"""PyTorch twin of bench/phases.ts: transformer_step timed phase by phase (median ms per phase, JSON)."""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn.functional as F

from transformer_step import Block, B, T, D

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=1)
p.add_argument("--repeat", type=int, default=20)
p.add_argument("--warmup", type=int, default=3)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
block = Block()
g = torch.Generator().manual_seed(0)
x = torch.randn(B, T, D, generator=g)
target = torch.randn(B, T, D, generator=g)
opt = torch.optim.AdamW(block.parameters(), lr=1e-4, weight_decay=1e-3, foreach=False)
times = {k: [] for k in ("forward", "backward", "optimizer", "free")}


def step(record):
    t0 = time.perf_counter()
    loss = F.mse_loss(block(x), target)
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    opt.step()
    t3 = time.perf_counter()
    block.zero_grad(set_to_none=True)
    del loss
    t4 = time.perf_counter()
    if record:
        for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            times[k].append(v * 1000.0)


for i in range(a.warmup + a.repeat):
    step(i >= a.warmup)
out = {k: statistics.median(v) for k, v in times.items()}
out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1000
print(json.dumps(out))
