"""PyTorch twin of bench/workloads/op_overhead.ts: 200 adds of [16] tensors."""
import torch

from common import main

OPS_PER_ITER = 200


def setup():
    a = torch.ones(16)
    b = torch.ones(16)

    def step():
        for _ in range(OPS_PER_ITER):
            torch.add(a, b)

    return step


if __name__ == "__main__":
    main(setup)
