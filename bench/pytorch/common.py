"""Shared timing harness for the PyTorch twins: warm-up, then the median of N timed iterations (wall clock and
process CPU time, all threads), printed as JSON."""
import argparse
import json
import statistics
import time

import torch


def main(setup):
    """setup() -> step callable. Parses --threads/--warmup/--repeat, times step(), prints one JSON line."""
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeat", type=int, default=20)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    step = setup()
    for _ in range(a.warmup):
        step()
    times = []
    cpu = []
    for _ in range(a.repeat):
        c0 = time.process_time()
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
    print(json.dumps({
        "ms_per_iter": statistics.median(times),
        "cpu_ms_per_iter": statistics.median(cpu),
        "min_ms": min(times),
        "threads": torch.get_num_threads(),
        "iters": a.repeat,
        "torch": torch.__version__,
    }))
