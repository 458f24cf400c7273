"""PyTorch twin of bench/workloads/transformer_step.ts: the identical op sequence (no fused attention)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import main

B, T, D, H = 8, 200, 256, 4
DK = D // H


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D)
        self.q = nn.Linear(D, D)
        self.k = nn.Linear(D, D)
        self.v = nn.Linear(D, D)
        self.o = nn.Linear(D, D)
        self.ln2 = nn.LayerNorm(D)
        self.ff1 = nn.Linear(D, 4 * D)
        self.ff2 = nn.Linear(4 * D, D)

    def forward(self, x):
        a = self.ln1(x)

        def heads(y):
            return y.view(B, T, H, DK).transpose(1, 2)

        q = heads(self.q(a))
        k = heads(self.k(a))
        v = heads(self.v(a))
        scores = q.matmul(k.transpose(-2, -1)).mul(1 / math.sqrt(DK))
        attn = torch.softmax(scores, -1)
        ctx = attn.matmul(v).transpose(1, 2).reshape(B, T, D)
        h = x.add(self.o(ctx))
        f = self.ff2(F.silu(self.ff1(self.ln2(h))))
        return h.add(f)


def setup():
    torch.manual_seed(0)
    block = Block()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, T, D, generator=g)
    target = torch.randn(B, T, D, generator=g)
    # foreach=False: the single-tensor path, as streamnest's AdamW (torch 1.13 also picks it on CPU).
    opt = torch.optim.AdamW(block.parameters(), lr=1e-4, weight_decay=1e-3, foreach=False)

    def step():
        loss = F.mse_loss(block(x), target)
        loss.backward()
        opt.step()
        block.zero_grad(set_to_none=True)

    return step


if __name__ == "__main__":
    main(setup)
