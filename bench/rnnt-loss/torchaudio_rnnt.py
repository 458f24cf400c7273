#!/usr/bin/python3
"""torchaudio's CPU RNN-T loss kernel, forward + backward, timed as bench/rnnt-loss/run.ts times ours.

Usage: /usr/bin/python3 bench/rnnt-loss/torchaudio_rnnt.py B T U V [repeats] [threads]; prints one JSON line.
"""
import json
import resource
import sys
import time

import torch
import torchaudio.functional as AF


def main():
    B, T, U, V = (int(v) for v in sys.argv[1:5])
    repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 5
    torch.set_num_threads(int(sys.argv[6]) if len(sys.argv) > 6 else 1)
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(B, T, U + 1, V, generator=g).requires_grad_()
    targets = torch.randint(0, V - 1, (B, U), generator=g, dtype=torch.int32)
    tl = torch.full((B,), T, dtype=torch.int32)
    ul = torch.full((B,), U, dtype=torch.int32)
    times = []
    for i in range(repeats + 1):
        logits.grad = None
        t0 = time.perf_counter()
        loss = AF.rnnt_loss(logits, targets, tl, ul, blank=-1, reduction='mean')
        loss.backward()
        if i > 0:  # the first run warms up
            times.append(time.perf_counter() - t0)
    times.sort()
    print(json.dumps({'median_ms': times[len(times) // 2] * 1e3, 'min_ms': times[0] * 1e3, 'max_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == '__main__':
    main()
