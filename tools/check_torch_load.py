#!/usr/bin/python3
"""Loads a torch.save file (or the model_weights.ckpt inside a .nemo) with PyTorch's own torch.load and prints
what it holds: keys, shapes, dtypes and sums. Used to check that streamnest's saveTorchSave output is readable
by PyTorch. Run with Debian's /usr/bin/python3 (torch 1.13):  /usr/bin/python3 tools/check_torch_load.py FILE"""
import io
import sys
import tarfile

import torch


def show(value, path=""):
    if isinstance(value, torch.Tensor):
        s = value.double().sum().item() if value.numel() else 0.0
        print(f"{path}: tensor {list(value.shape)} {str(value.dtype).replace('torch.', '')} sum={s!r} requires_grad={value.requires_grad}")
    elif isinstance(value, dict):
        print(f"{path or '<top>'}: {type(value).__name__} with {len(value)} keys")
        for k, v in value.items():
            show(v, f"{path}[{k!r}]")
    elif isinstance(value, (list, tuple)):
        print(f"{path or '<top>'}: {type(value).__name__} of {len(value)}")
        for i, v in enumerate(value):
            show(v, f"{path}[{i}]")
    else:
        print(f"{path or '<top>'}: {type(value).__name__} {value!r}")


def main(path):
    if tarfile.is_tarfile(path):
        with tarfile.open(path) as tar:
            print("members:", [(m.name, m.size) for m in tar.getmembers()])
            data = tar.extractfile("./model_weights.ckpt").read()
        obj = torch.load(io.BytesIO(data), map_location="cpu")
    else:
        obj = torch.load(path, map_location="cpu")
    show(obj)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: /usr/bin/python3 tools/check_torch_load.py FILE")
    main(sys.argv[1])
