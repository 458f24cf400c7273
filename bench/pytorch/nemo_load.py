"""The PyTorch side of bench/nemo-archive-rss.ts: what NeMo's restore_from does with a .nemo's weights, without NeMo:
open the tar, extract model_weights.ckpt to a temporary folder, torch.load it on the CPU (Debian's python3-torch).
Prints the number of tensors; peak RSS and time are measured from outside (/usr/bin/time)."""
import os
import sys
import tarfile
import tempfile

import torch


def main() -> None:
    path = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        with tarfile.open(path, 'r:*') as tar:
            member = next(m for m in tar.getmembers() if m.name.lstrip('./') == 'model_weights.ckpt')
            tar.extract(member, d)
        sd = torch.load(os.path.join(d, member.name), map_location='cpu')
    print(len(sd))


if __name__ == '__main__':
    main()
