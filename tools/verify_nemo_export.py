#!/usr/bin/python3
"""Checks a streamnest-written .nemo with PyTorch alone (no NeMo needed): run with Debian's /usr/bin/python3 (torch 1.13).

  /usr/bin/python3 tools/verify_nemo_export.py MODEL.nemo [--digests DUMP.json]

1. the tar layout of NeMo's save_to ('.', ./model_config.yaml, ./model_weights.ckpt, sorted, uncompressed or gzip);
2. model_config.yaml: target EncDecDenoiseMaskedTokenPredModel and the sections NeMo's constructor reads
   (parsed with PyYAML when installed, else a text check); with PyYAML, every encoder key is an argument of NeMo's
   ConformerEncoder (NeMo builds it as ConformerEncoder(**cfg.encoder); streamnest's dynamic-chunk keys must have
   been expanded into att_context_size) and att_context_size passes NeMo's _calc_context_sizes checks;
3. model_weights.ckpt opened by torch.load (weights_only=True: nothing is executed) has exactly the state-dict keys
   NeMo's EncDecDenoiseMaskedTokenPredModel has for this config: the key list of a golden NeMo archive
   (test/fixtures/golden/index.json 'archives'), with the layer / decoder count and the conv-norm variant adjusted,
   and shapes that follow from the config;
4. with --digests (written by `streamnest inspect MODEL.nemo --dump-tensors DUMP.json`): every tensor's dtype,
   shape and SHA-256 of its raw bytes equal what streamnest read.
Exit code 0 when everything holds, 1 otherwise. Not run by the tests (they never run Python).
"""
import argparse
import hashlib
import io
import json
import os
import re
import sys
import tarfile

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INDEX = os.path.join(ROOT, "test", "fixtures", "golden", "index.json")
NEST_TARGET = "nemo.collections.asr.models.ssl_models.EncDecDenoiseMaskedTokenPredModel"
SECTIONS = ["preprocessor", "masking", "quantizer", "encoder", "decoder", "loss"]

problems = []

# NeMo 2.x ConformerEncoder.__init__ arguments (nemo/collections/asr/modules/conformer_encoder.py)
CONFORMER_ENCODER_ARGS = {
    "feat_in", "n_layers", "d_model", "feat_out", "causal_downsampling", "subsampling", "subsampling_factor",
    "subsampling_conv_chunking_factor", "subsampling_conv_channels", "reduction", "reduction_position",
    "reduction_factor", "ff_expansion_factor", "self_attention_model", "n_heads", "att_context_size",
    "att_context_probs", "att_context_style", "xscaling", "untie_biases", "pos_emb_max_len", "conv_kernel_size",
    "conv_norm_type", "conv_context_size", "use_bias", "dropout", "dropout_pre_encoder", "dropout_emb", "dropout_att",
    "stochastic_depth_drop_prob", "stochastic_depth_mode", "stochastic_depth_start_layer", "global_tokens",
    "global_tokens_spacing", "global_attn_separate", "use_pytorch_sdpa", "use_pytorch_sdpa_backends",
    "sync_max_audio_length",
}

# NeMo's RandomBlockMasking.__init__ arguments (nemo/collections/asr/modules/ssl_modules/masking.py)
RANDOM_BLOCK_MASKING_ARGS = {"feat_in", "mask_prob", "block_size", "mask_value", "freeze", "allow_overlap", "max_mask_ratio"}


def fail(msg):
    problems.append(msg)
    print("  FAIL", msg)


def read_config(text):
    try:
        import yaml  # noqa: PLC0415
    except ImportError:
        yaml = None
    if yaml is not None:
        return yaml.safe_load(text), "PyYAML"
    # text fallback: top-level keys and the few scalars the key check needs
    cfg = {k: {} for k in re.findall(r"^([A-Za-z_]\w*):", text, re.M)}
    m = re.search(r"^target:\s*(\S+)", text, re.M)
    cfg["target"] = m.group(1) if m else None
    for sec, key in [("encoder", "n_layers"), ("encoder", "d_model"), ("encoder", "n_heads"), ("encoder", "conv_norm_type"), ("decoder", "num_decoders")]:
        body = re.search(rf"^{sec}:\n((?:[ ]+.*\n)+)", text, re.M)
        v = body and re.search(rf"^\s+{key}:\s*(\S+)", body.group(1), re.M)
        if v:
            cfg[sec][key] = int(v.group(1)) if v.group(1).isdigit() else v.group(1)
    return cfg, "text check (PyYAML not installed)"


def check_encoder(enc):
    """The encoder section as NeMo's ConformerEncoder(**cfg) takes it, and its _calc_context_sizes checks."""
    for k in enc:
        if k != "_target_" and k not in CONFORMER_ENCODER_ARGS:
            fail(f"encoder.{k}: not an argument of NeMo's ConformerEncoder (NeMo would fail to build the encoder)")
    acs = enc.get("att_context_size")
    pairs = [[-1, -1]] if not acs else ([acs] if isinstance(acs[0], int) else acs)
    style = enc.get("att_context_style", "regular")
    for i, p in enumerate(pairs):
        if not (isinstance(p, list) and len(p) == 2 and all(isinstance(x, int) for x in p)):
            fail(f"encoder.att_context_size[{i}]: {p!r} is not a pair of integers")
        elif style == "chunked_limited" and p[1] != -1 and p[0] % (p[1] + 1) > 0:
            fail(f"encoder.att_context_size[{i}]: {p} breaks chunked_limited's left % (right + 1) == 0")
    probs = enc.get("att_context_probs")
    if probs and (len(probs) != len(pairs) or sum(probs) != 1):
        fail(f"encoder.att_context_probs: {probs} is not one probability per pair summing to 1")
    print(f"  encoder: {len(enc)} keys checked against NeMo's ConformerEncoder arguments; att_context_size {pairs} ({style})")


def reference_keys(cfg):
    """NeMo's key list for this config from a golden NeMo archive with the same conv-norm variant."""
    with open(INDEX) as f:
        archives = json.load(f)["archives"]
    enc = cfg["encoder"]
    norm = enc.get("conv_norm_type", "batch_norm")
    want_bn = norm == "batch_norm"
    ref = None
    for a in archives:
        keys = [s["key"] for s in a["state_dict"]]
        if any(k.endswith("conv.batch_norm.running_mean") for k in keys) == want_bn:
            ref = a
            break
    if ref is None:
        raise SystemExit(f"no golden archive with conv_norm_type {norm} to take the key list from")
    # MultiSoftmaxDecoder is one 1x1 conv (decoder.decoder_layers.0) whatever the number of books: kept as is
    keys = [s["key"] for s in ref["state_dict"]]
    layer0 = [k[len("encoder.layers.0."):] for k in keys if k.startswith("encoder.layers.0.")]
    out = []
    for k in keys:
        if k.startswith("encoder.layers."):
            if k.startswith("encoder.layers.0.") and k[len("encoder.layers.0."):] == layer0[0]:
                for i in range(int(enc["n_layers"])):
                    out += [f"encoder.layers.{i}.{s}" for s in layer0]
        else:
            out.append(k)
    feat_out = int(enc.get("feat_out", -1))
    if feat_out > 0 and feat_out != int(enc["d_model"]):
        out += ["encoder.out_proj.weight", "encoder.out_proj.bias"]
    return out, ref["file"]


def expected_shapes(cfg):
    enc = cfg["encoder"]
    d = int(enc["d_model"])
    h = int(enc.get("n_heads", 4))
    ff = int(float(enc.get("ff_expansion_factor", 4)) * d)
    k = int(enc.get("conv_kernel_size", 31))
    rules = [
        (r"encoder\.layers\.\d+\.self_attn\.linear_(q|k|v|out|pos)\.weight", [d, d]),
        (r"encoder\.layers\.\d+\.self_attn\.pos_bias_[uv]", [h, d // h]),
        (r"encoder\.layers\.\d+\.feed_forward[12]\.linear1\.weight", [ff, d]),
        (r"encoder\.layers\.\d+\.feed_forward[12]\.linear2\.weight", [d, ff]),
        (r"encoder\.layers\.\d+\.conv\.depthwise_conv\.weight", [d, 1, k]),
        (r"encoder\.layers\.\d+\.conv\.pointwise_conv1\.weight", [2 * d, d, 1]),
        (r"encoder\.layers\.\d+\.norm_\w+\.weight", [d]),
        (r"encoder\.pre_encode\.out\.bias", [d]),
    ]
    if isinstance(cfg.get("preprocessor"), dict) and "features" in cfg["preprocessor"]:
        rules.append((r"mask_processor\.mask_embedding", [int(cfg["preprocessor"]["features"])]))
    return rules


def check_digests(sd, path):
    """Every tensor's dtype, shape and SHA-256 equal the dump of `streamnest inspect --dump-tensors` (path)."""
    with open(path) as f:
        dig = json.load(f)["tensors"]
    same = 0
    for k, v in sd.items():
        d = dig.get(k)
        if d is None:
            fail(f"{k}: not in the streamnest dump")
            continue
        b = v.detach().contiguous().numpy().tobytes()
        dt = str(v.dtype).replace("torch.", "")
        if dt != d["dtype"] or list(v.shape) != d["shape"]:
            fail(f"{k}: torch {dt} {list(v.shape)} vs streamnest {d['dtype']} {d['shape']}")
        elif hashlib.sha256(b).hexdigest() != d["sha256"]:
            fail(f"{k}: bytes differ (sum torch {float(v.double().sum())} vs streamnest {d['sum']})")
        else:
            same += 1
    extra = [k for k in dig if k not in sd]
    for k in extra:
        fail(f"{k}: in the streamnest dump but not in the file torch read")
    print(f"  tensors bit-identical to streamnest's: {same}/{len(sd)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("nemo")
    ap.add_argument("--digests", help="JSON from `streamnest inspect MODEL.nemo --dump-tensors FILE`")
    args = ap.parse_args()
    print(f"{args.nemo}: torch {torch.__version__}")

    with tarfile.open(args.nemo, "r:*") as tar:
        names = tar.getnames()
        print(f"  members: {names}")
        if names[0] not in (".", "./"):
            fail(f"first member is {names[0]!r}, not the '.' folder entry of save_to")
        files = [n for n in names if n not in (".", "./")]
        if files != sorted(files):
            fail("members are not sorted by name as tarfile.add writes them")
        for need in ("./model_config.yaml", "./model_weights.ckpt"):
            if need not in names:
                fail(f"missing member {need}")
        text = tar.extractfile("./model_config.yaml").read().decode("utf-8")
        weights = tar.extractfile("./model_weights.ckpt").read()

    cfg, how = read_config(text)
    print(f"  config read by {how}: target {cfg.get('target')}, nemo_version {cfg.get('nemo_version')}")
    if cfg.get("target") != NEST_TARGET:
        fail(f"target is {cfg.get('target')!r}, expected {NEST_TARGET}")
    for s in SECTIONS:
        if s not in cfg:
            fail(f"config section {s!r} missing")
    if how == "PyYAML" and isinstance(cfg.get("encoder"), dict):
        check_encoder(cfg["encoder"])
    if how == "PyYAML" and isinstance(cfg.get("masking"), dict):
        for k in cfg["masking"]:
            if k != "_target_" and k not in RANDOM_BLOCK_MASKING_ARGS:
                fail(f"masking.{k}: not an argument of NeMo's RandomBlockMasking (NeMo would fail to build the model)")

    sd = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
    print(f"  torch.load(weights_only=True): {type(sd).__name__} with {len(sd)} tensors")
    rg = [k for k, v in sd.items() if v.requires_grad]
    if rg:
        print(f"  note: {len(rg)} tensors load with requires_grad=True (NeMo's state_dict() saves detached tensors; load_state_dict ignores the flag)")
    want, ref = reference_keys(cfg)
    missing = [k for k in want if k not in sd]
    unexpected = [k for k in sd if k not in set(want)]
    print(f"  NeMo key list (from golden {ref}, adjusted to {cfg['encoder']['n_layers']} layers): {len(want)} keys, missing {len(missing)}, unexpected {len(unexpected)}")
    for k in missing:
        fail(f"missing key {k}")
    for k in unexpected:
        fail(f"unexpected key {k}")
    if list(sd.keys()) != [k for k in want if k in sd] and not missing and not unexpected:
        print("  note: key order differs from NeMo's (harmless for load_state_dict)")
    checked = 0
    for pat, shape in expected_shapes(cfg):
        for k, v in sd.items():
            if re.fullmatch(pat, k):
                checked += 1
                if list(v.shape) != shape:
                    fail(f"{k}: shape {list(v.shape)}, config says {shape}")
    print(f"  shapes implied by the config: {checked} tensors checked")

    if args.digests:
        check_digests(sd, args.digests)

    print("OK" if not problems else f"{len(problems)} problem(s)")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
