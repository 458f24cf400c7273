#!/usr/bin/python3
"""Checks a streamnest-written transducer .nemo with PyTorch alone (no NeMo needed), as verify_nemo_export.py checks
a NEST export: run with Debian's /usr/bin/python3 (torch 1.13, PyYAML).

  /usr/bin/python3 tools/verify_nemo_rnnt_export.py MODEL.nemo [--digests DUMP.json]

1. the tar layout of NeMo's save_to (the same check as verify_nemo_export.py);
2. model_config.yaml as NeMo's EncDecRNNTModel / EncDecRNNTBPEModel constructor reads it: target, labels (or the
   tokenizer section), model_defaults.enc_hidden / pred_hidden (NeMo copies them into joint.jointnet); the encoder
   section against ConformerEncoder's arguments; decoder against RNNTDecoder's and its prednet keys; joint against
   RNNTJoint's and jointnet's; the sizes NeMo fills in (decoder.vocab_size, joint.num_classes, joint.vocabulary,
   jointnet.encoder_hidden / pred_hidden) agreeing with the labels, the encoder and the prediction network; loss_name
   one of NeMo's RNN-T losses; fuse_loss_wer with a positive fused_batch_size;
3. model_weights.ckpt (torch.load, weights_only=True) has exactly NeMo's keys: preprocessor.* and encoder.* from a
   golden NeMo archive's key list (layers adjusted), then RNNTDecoder's decoder.prediction.{embed, dec_rnn.lstm.*} and
   RNNTJoint's joint.{pred, enc, joint_net.N} (N = 2 with joint dropout, else 1: the Sequential's index), with the
   shapes the config implies;
4. with --digests: every tensor equals what streamnest read (as verify_nemo_export.py).
Exit code 0 when everything holds, 1 otherwise. Not run by the tests (they never run Python).
Provenance of the argument lists: NeMo 2.x nemo/collections/asr/modules/rnnt.py (RNNTDecoder, RNNTJoint __init__),
models/rnnt_models.py (EncDecRNNTModel.__init__), losses/rnnt.py (RNNT_LOSS_RESOLVER).
"""
import argparse
import io
import os
import sys
import tarfile

import torch

sys.dont_write_bytecode = True  # no tools/__pycache__ left behind
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verify_nemo_export as base  # noqa: E402  (the tar, encoder, golden key list and digest checks)

RNNT_TARGETS = {
    "nemo.collections.asr.models.EncDecRNNTModel",
    "nemo.collections.asr.models.rnnt_models.EncDecRNNTModel",
    "nemo.collections.asr.models.rnnt_bpe_models.EncDecRNNTBPEModel",
    "nemo.collections.asr.models.EncDecRNNTBPEModel",
}
RNNT_DECODER_ARGS = {"prednet", "vocab_size", "normalization_mode", "random_state_sampling", "blank_as_pad"}
PREDNET_KEYS = {"pred_hidden", "pred_rnn_layers", "forget_gate_bias", "t_max", "weights_init_scale", "hidden_hidden_bias_scale", "dropout", "rnn_hidden_size"}
RNNT_JOINT_ARGS = {
    "jointnet", "num_classes", "num_extra_outputs", "vocabulary", "log_softmax", "preserve_memory", "fuse_loss_wer",
    "fused_batch_size", "experimental_fuse_loss_wer", "masking_prob",
}
JOINTNET_KEYS = {"encoder_hidden", "pred_hidden", "joint_hidden", "activation", "dropout"}
RNNT_LOSS_NAMES = {
    "default", "warprnnt", "warprnnt_numba", "pytorch", "multiblank_rnnt", "multiblank_rnnt_pytorch", "graph_w_transducer",
    "graph_rnnt", "tdt", "tdt_pytorch",
}

fail = base.fail


def check_args(section, name, allowed, required=()):
    if not isinstance(section, dict):
        fail(f"{name}: missing or not a mapping")
        return {}
    for k in section:
        if k != "_target_" and k not in allowed:
            fail(f"{name}.{k}: not an argument NeMo's constructor takes (NeMo would fail to build the model)")
    for k in required:
        if k not in section:
            fail(f"{name}.{k}: missing (NeMo reads it with [], a KeyError without it)")
    return section


def check_transducer_config(cfg):
    """The sections EncDecRNNTModel.__init__ reads; returns (labels count, sizes) for the key list."""
    target = cfg.get("target")
    if target not in RNNT_TARGETS:
        fail(f"target is {target!r}, expected one of {sorted(RNNT_TARGETS)}")
    bpe = "BPE" in str(target)
    labels = cfg.get("labels")
    if bpe:
        tok = cfg.get("tokenizer")
        if not (isinstance(tok, dict) and tok.get("dir") is not None or isinstance(tok, dict) and tok.get("model_path")):
            fail("tokenizer: a sub-word model needs its tokenizer section (dir / model_path inside the archive)")
    elif not (isinstance(labels, list) and all(isinstance(x, str) for x in labels)):
        fail("labels: EncDecRNNTModel needs the character labels (len(labels) sizes the decoder and joint)")
    n = len(labels) if isinstance(labels, list) else cfg.get("decoder", {}).get("vocab_size")
    md = check_args(cfg.get("model_defaults"), "model_defaults", {"enc_hidden", "pred_hidden", "joint_hidden", "tdt_durations", "num_tdt_durations"}, ("enc_hidden", "pred_hidden"))
    dec = check_args(cfg.get("decoder"), "decoder", RNNT_DECODER_ARGS, ("prednet",))
    prednet = check_args(dec.get("prednet"), "decoder.prednet", PREDNET_KEYS, ("pred_hidden", "pred_rnn_layers"))
    joint = check_args(cfg.get("joint"), "joint", RNNT_JOINT_ARGS, ("jointnet",))
    jointnet = check_args(joint.get("jointnet"), "joint.jointnet", JOINTNET_KEYS, ("joint_hidden", "activation"))
    enc = cfg.get("encoder", {})
    e_out = int(enc.get("feat_out", -1)) if int(enc.get("feat_out", -1)) > 0 else int(enc.get("d_model", 0))
    h = prednet.get("pred_hidden")
    for key, got, want in [
        ("decoder.vocab_size", dec.get("vocab_size"), n),
        ("joint.num_classes", joint.get("num_classes"), n),
        ("model_defaults.enc_hidden", md.get("enc_hidden"), e_out),
        ("model_defaults.pred_hidden", md.get("pred_hidden"), h),
        ("joint.jointnet.encoder_hidden", jointnet.get("encoder_hidden"), e_out),
        ("joint.jointnet.pred_hidden", jointnet.get("pred_hidden"), h),
    ]:
        if got != want:
            fail(f"{key} is {got!r}; NeMo's model makes it {want!r}")
    if isinstance(labels, list) and joint.get("vocabulary") != labels:
        fail("joint.vocabulary differs from labels (EncDecRNNTModel sets joint.vocabulary = labels)")
    if jointnet.get("activation") not in ("relu", "sigmoid", "tanh"):
        fail(f"joint.jointnet.activation {jointnet.get('activation')!r}: RNNTJoint takes relu, sigmoid or tanh")
    if joint.get("fuse_loss_wer") and not (isinstance(joint.get("fused_batch_size"), int) and joint["fused_batch_size"] > 0):
        fail("joint.fuse_loss_wer is set without a positive fused_batch_size (NeMo raises)")
    loss = cfg.get("loss") or {}
    if loss.get("loss_name", "default") not in RNNT_LOSS_NAMES:
        fail(f"loss.loss_name {loss.get('loss_name')!r} is not one of NeMo's RNN-T losses")
    sizes = {
        "V": int(n or 0),
        "H": int(h or 0),
        "L": int(prednet.get("pred_rnn_layers", 1)),
        "J": int(jointnet.get("joint_hidden", 0)),
        "E": e_out,
        "dropout": float(jointnet.get("dropout", 0.0) or 0.0) > 0,
    }
    print(f"  transducer: {n} labels + blank, prediction network {sizes['L']} x LSTM({sizes['H']}), joint {sizes['E']} + {sizes['H']} -> {sizes['J']} -> {n} + 1")
    return sizes


def transducer_keys(s):
    """RNNTDecoder then RNNTJoint state-dict names and shapes (NeMo's module order)."""
    V1, H, J, E = s["V"] + 1, s["H"], s["J"], s["E"]
    keys = [("decoder.prediction.embed.weight", [V1, H])]
    for i in range(s["L"]):
        keys += [
            (f"decoder.prediction.dec_rnn.lstm.weight_ih_l{i}", [4 * H, H]),
            (f"decoder.prediction.dec_rnn.lstm.weight_hh_l{i}", [4 * H, H]),
            (f"decoder.prediction.dec_rnn.lstm.bias_ih_l{i}", [4 * H]),
            (f"decoder.prediction.dec_rnn.lstm.bias_hh_l{i}", [4 * H]),
        ]
    out = 2 if s["dropout"] else 1
    keys += [
        ("joint.pred.weight", [J, H]),
        ("joint.pred.bias", [J]),
        ("joint.enc.weight", [J, E]),
        ("joint.enc.bias", [J]),
        (f"joint.joint_net.{out}.weight", [V1, J]),
        (f"joint.joint_net.{out}.bias", [V1]),
    ]
    return keys


def subsampling_modules(enc):
    """Modules in NeMo's ConvSubsampling.conv Sequential: dw_striding has conv + act, then (depthwise, pointwise, act)
    per further halving; striding has (conv, act) per halving."""
    stages = int(enc.get("subsampling_factor", 8)).bit_length() - 1
    return 2 + 3 * (stages - 1) if enc.get("subsampling", "dw_striding") == "dw_striding" else 2 * stages


def adjust_subsampling(keys, enc):
    """The golden key list's pre_encode.conv.N keys, cut to this encoder's subsampling factor."""
    n = subsampling_modules(enc)
    pat = base.re.compile(r"encoder\.pre_encode\.conv\.(\d+)\.")
    return [k for k in keys if not (pat.match(k) and int(pat.match(k).group(1)) >= n)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("nemo")
    ap.add_argument("--digests", help="JSON from `streamnest inspect MODEL.nemo --dump-tensors FILE`")
    args = ap.parse_args()
    print(f"{args.nemo}: torch {torch.__version__}")
    with tarfile.open(args.nemo, "r:*") as tar:
        names = tar.getnames()
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
    cfg, how = base.read_config(text)
    if how != "PyYAML":
        raise SystemExit("PyYAML is needed for the transducer checks (apt-get install python3-yaml)")
    print(f"  config: target {cfg.get('target')}, nemo_version {cfg.get('nemo_version')}")
    base.check_encoder(cfg.get("encoder", {}))
    sizes = check_transducer_config(cfg)

    sd = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
    print(f"  torch.load(weights_only=True): {len(sd)} tensors")
    golden, ref = base.reference_keys(cfg)
    want = adjust_subsampling([k for k in golden if k.startswith("preprocessor.") or k.startswith("encoder.")], cfg["encoder"])
    rnnt = transducer_keys(sizes)
    want += [k for k, _ in rnnt]
    missing = [k for k in want if k not in sd]
    unexpected = [k for k in sd if k not in set(want)]
    print(f"  NeMo key list (encoder from golden {ref}, {cfg['encoder']['n_layers']} layers; transducer from RNNTDecoder / RNNTJoint): {len(want)} keys, missing {len(missing)}, unexpected {len(unexpected)}")
    for k in missing:
        fail(f"missing key {k}")
    for k in unexpected:
        fail(f"unexpected key {k}")
    if not missing and not unexpected and list(sd.keys()) != want:
        print("  note: key order differs from NeMo's (harmless for load_state_dict)")
    checked = 0
    for pat, shape in base.expected_shapes(cfg):
        for k, v in sd.items():
            if base.re.fullmatch(pat, k):
                checked += 1
                if list(v.shape) != shape:
                    fail(f"{k}: shape {list(v.shape)}, config says {shape}")
    for k, shape in rnnt:
        if k in sd:
            checked += 1
            if list(sd[k].shape) != shape:
                fail(f"{k}: shape {list(sd[k].shape)}, config says {shape}")
    print(f"  shapes implied by the config: {checked} tensors checked")
    if args.digests:
        base.check_digests(sd, args.digests)
    print("OK" if not base.problems else f"{len(base.problems)} problem(s)")
    return 0 if not base.problems else 1


if __name__ == "__main__":
    sys.exit(main())
