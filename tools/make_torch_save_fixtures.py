#!/usr/bin/python3
"""Writes the small torch.save fixtures in test/fixtures/torch_save/ with PyTorch itself (torch 1.13), plus
expected.json (shapes, dtypes, sums, first values) so the TypeScript tests check the numbers without Python,
and hostile files the restricted unpickler must refuse. Run once from the repository root:
    /usr/bin/python3 tools/make_torch_save_fixtures.py"""
import argparse
import enum
import json
import os
import zipfile
from collections import OrderedDict

import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "torch_save")


def describe(value, path, out):
    """Flattens a loaded object into expected-value records keyed by their path."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().contiguous().reshape(-1)
        as_num = flat.double() if value.dtype != torch.bool else flat.to(torch.int64)
        out.append({
            "path": path,
            "shape": list(value.shape),
            "dtype": str(value.dtype).replace("torch.", "").replace("half", "float16"),
            "sum": float(as_num.double().sum().item()),
            "first": [float(v) if value.is_floating_point() else int(v) for v in as_num[:6].tolist()],
            "requires_grad": bool(value.requires_grad),
        })
    elif isinstance(value, dict):
        out.append({"path": path, "dict": [k for k in value.keys()], "ordered": isinstance(value, OrderedDict)})
        for k, v in value.items():
            describe(v, path + [k], out)
    elif isinstance(value, (list, tuple)):
        out.append({"path": path, "list": len(value)})
        for i, v in enumerate(value):
            describe(v, path + [i], out)
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        out.append({"path": path, "value": value})
    elif isinstance(value, int):
        if abs(value) > 2**53:
            out.append({"path": path, "bigint": str(value)})
        else:
            out.append({"path": path, "value": value})
    elif isinstance(value, float):
        out.append({"path": path, "value": value})
    else:
        raise TypeError(f"cannot describe {type(value)} at {path}")


class Config:
    """Stands in for an OmegaConf container: pickled by class reference plus instance state."""

    def __init__(self):
        self.content = {}
        self.parent = None


class Mode(enum.Enum):
    TRAIN = "train"


def tiny_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Conv1d(3, 2, 3), nn.LayerNorm(2), nn.BatchNorm1d(2))
    return model


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}

    # 1. a plain state dict (OrderedDict, with BatchNorm's int64 num_batches_tracked)
    model = tiny_model()
    model.train()
    with torch.no_grad():
        x = torch.randn(5, 2, 4)
        h = model[0](x).transpose(1, 2)  # (5, 3, 2) channels first for conv
        h = nn.functional.pad(h, (1, 1))
        h = model[1](h)  # (5, 2, 2)
        h = model[2](h)
        model[3](h)  # updates running stats and num_batches_tracked
    sd = model.state_dict()
    torch.save(sd, os.path.join(OUT, "state_dict.pt"))

    # 2. dtypes, views and shared storage, scalars, parameters, nested plain values
    base = torch.arange(10, dtype=torch.float32) * 0.5
    mat = torch.arange(12, dtype=torch.float32).reshape(3, 4) - 5.5
    tensors = {
        "f64": torch.linspace(-1, 1, 7, dtype=torch.float64),
        "i64": torch.tensor([[1, -2, 3], [2**40, -(2**33), 0]], dtype=torch.int64),
        "i32": torch.tensor([7, -8, 9], dtype=torch.int32),
        "u8": torch.tensor([0, 200, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True, True]),
        "f16": torch.tensor([0.5, -1.25, 3.0], dtype=torch.float16),
        "transposed": mat.t(),  # non-contiguous view, stride (1, 4)
        "base": base,
        "offset_view": base[3:7],  # shares base's storage at offset 3
        "strided_view": base[1::3],  # offset 1, stride 3
        "scalar": torch.tensor(2.75),
        "param": nn.Parameter(torch.tensor([1.0, 2.0, 3.0])),
        "empty": torch.zeros(0, 3),
        "nested": {
            "list": [1, 2.5, "text", None, True, False],
            "tuple": (4, 5),
            "big": 2**40,
            "neg": -7,
            "huge": 2**70,
            "neg_huge": -(2**65),
            "unicode": "über ✓",
            7: "int key",
        },
    }
    torch.save(tensors, os.path.join(OUT, "tensors.pt"))

    # 3. a Lightning-style checkpoint with Adam's state
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(2):
        opt.zero_grad()
        loss = sum((p.float() ** 2).sum() for p in model.parameters())
        loss.backward()
        opt.step()
    ckpt = {
        "epoch": 3,
        "global_step": 12,
        "pytorch-lightning_version": "2.4.0",
        "state_dict": model.state_dict(),
        "optimizer_states": [opt.state_dict()],
        "lr_schedulers": [],
        "hyper_parameters": {"lr": 0.001, "name": "tiny", "layers": [4, 3], "dropout": 0.0},
    }
    torch.save(ckpt, os.path.join(OUT, "lightning.ckpt"))

    # 3b. a checkpoint whose hyper_parameters hold objects of classes outside the whitelist (as Lightning's
    # OmegaConf DictConfig): a plain class with a parent cycle, argparse.Namespace, an Enum, bytes
    cfg = Config()
    cfg.content = {"lr": 0.001, "child": Config()}
    cfg.content["child"].parent = cfg  # a reference cycle, as OmegaConf nodes have
    opaque = {
        "state_dict": model.state_dict(),
        "hyper_parameters": {"cfg": cfg, "ns": argparse.Namespace(a=1, b="x"), "mode": Mode.TRAIN, "raw": b"\x00\xffab"},
        "epoch": 1,
    }
    torch.save(opaque, os.path.join(OUT, "lightning_opaque.ckpt"))

    # 4. the same tensors.pt re-zipped with deflate and a different top folder (readers must cope)
    with zipfile.ZipFile(os.path.join(OUT, "tensors.pt")) as src, zipfile.ZipFile(os.path.join(OUT, "deflated.pt"), "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr("some_other_name/" + info.filename.split("/", 1)[1], src.read(info.filename))

    # 4b. pickle protocol 4 (FRAME, MEMOIZE, SHORT_BINUNICODE, STACK_GLOBAL), as torch.save(..., pickle_protocol=4) writes
    torch.save({"a": base[2:4], "b": [1.5, -(2**40), "x"], "c": mat}, os.path.join(OUT, "protocol4.pt"), pickle_protocol=4)

    # 5. the legacy (pre-1.6) non-zip format, which is refused with advice
    torch.save(torch.ones(2), os.path.join(OUT, "legacy.pt"), _use_new_zipfile_serialization=False)

    # 6. hostile pickles in otherwise valid torch.save zips: GLOBAL + REDUCE of os.system / builtins.eval
    marker = "/tmp/streamnest-torch-save-pwned"
    hostile = {
        "malicious_system.ckpt": b"\x80\x02cposix\nsystem\nX" + len(f"touch {marker}").to_bytes(4, "little") + f"touch {marker}".encode() + b"\x85R.",
        "malicious_eval.ckpt": b"\x80\x02cbuiltins\neval\nX" + len(f"open('{marker}','w')").to_bytes(4, "little") + f"open('{marker}','w')".encode() + b"\x85R.",
        # a harmless-looking OrderedDict whose value hides a call of subprocess.Popen behind STACK_GLOBAL
        "malicious_nested.ckpt": b"\x80\x02ccollections\nOrderedDict\n)R(X\x01\x00\x00\x00a\x8c\nsubprocess\x8c\x05Popen\x93X\x04\x00\x00\x00true\x85Ru.",
    }
    for name, pkl in hostile.items():
        with zipfile.ZipFile(os.path.join(OUT, name), "w", zipfile.ZIP_STORED) as z:
            z.writestr("archive/data.pkl", pkl)
            z.writestr("archive/version", "3\n")

    for name in ["state_dict.pt", "tensors.pt", "lightning.ckpt", "deflated.pt", "protocol4.pt"]:
        records = []
        describe(torch.load(os.path.join(OUT, name)), [], records)
        expected[name] = records
    expected["_meta"] = {"torch": torch.__version__, "marker": marker}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
