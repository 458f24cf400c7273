"""Shared by small_products_1.py / small_products_8.py: twin of bench/workloads/small_products.ts (one NEST-Small
streaming step's products under no_grad, as NeMo's modules call them: F.linear, F.conv1d)."""
import torch
import torch.nn.functional as F

D, FF, LAYERS, KERNEL = 176, 704, 16, 9


def make_setup(frames):
    def setup():
        g = torch.Generator().manual_seed(0)

        def p(*shape):
            return torch.randn(*shape, generator=g) * 0.05

        layers = [
            {
                "ff": [(p(FF, D), p(FF), p(D, FF), p(D)) for _ in range(2)],
                "att": [(p(D, D), p(D)) for _ in range(4)],
                "pw1": (p(2 * D, D, 1), p(2 * D)),
                "dw": (p(D, 1, KERNEL), p(D)),
                "pw2": (p(D, D, 1), p(D)),
            }
            for _ in range(LAYERS)
        ]
        x = p(1, frames, D)
        xt = x.transpose(1, 2)  # NeMo's conv module works on [B, D, T]
        window = p(1, D, frames + KERNEL - 1)

        def step():
            with torch.no_grad():
                for l in layers:
                    for w1, b1, w2, b2 in l["ff"]:
                        F.linear(F.linear(x, w1, b1), w2, b2)
                    for w, b in l["att"]:
                        F.linear(x, w, b)
                    F.conv1d(xt, *l["pw1"])
                    F.conv1d(window, *l["dw"], groups=D)
                    F.conv1d(xt, *l["pw2"])

        return step

    return setup
