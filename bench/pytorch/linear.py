"""PyTorch twin of bench/workloads/linear.ts."""
import math

import torch
import torch.nn.functional as F

from common import main


def setup():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2048, 512, generator=g)
    w = (torch.randn(512, 512, generator=g) / math.sqrt(512)).requires_grad_()
    b = torch.zeros(512, requires_grad=True)

    def step():
        w.grad = None
        b.grad = None
        F.linear(x, w, b).sum().backward()

    return step


if __name__ == "__main__":
    main(setup)
