"""Times one twin workload by wall clock AND process CPU time (user+sys of all threads): on an oversubscribed
machine CPU time at 1 thread is the steadier measure of work. Used by bench/cpu.ts.
    cpu_driver.py <workload> --threads N --warmup W --repeat R   -> JSON {wall_ms, cpu_ms (medians), threads}"""
import argparse
import json
import os
import statistics
import time

import torch


def resolve(name):
    if name.startswith("encoder_"):
        from encoder_bench import setup_encoder
        _, size, mode = name.split("_")
        return setup_encoder(size, mode)
    if name.startswith("features_b"):
        from features import setup_features
        return setup_features(int(name[len("features_b"):]))
    import importlib
    return importlib.import_module(name).setup


def cpu():
    # CLOCK_PROCESS_CPUTIME_ID (ns resolution); os.times() ticks in 10 ms
    return time.process_time() * 1000.0


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("workload")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    step = resolve(a.workload)()
    for _ in range(a.warmup):
        step()
    walls, cpus = [], []
    for _ in range(a.repeat):
        c0, t0 = cpu(), time.perf_counter()
        step()
        walls.append((time.perf_counter() - t0) * 1000.0)
        cpus.append(cpu() - c0)
    print(json.dumps({"wall_ms": statistics.median(walls), "cpu_ms": statistics.median(cpus), "threads": torch.get_num_threads()}))
