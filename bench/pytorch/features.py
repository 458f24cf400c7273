"""Shared body of the features_b* twins (bench/workloads/features.ts): the NeMo log-mel front end with torch.stft
(nest_model.Preprocessor), eval mode, on the window and filterbank streamnest saved (exp/bench/features.pt)."""
import torch

from encoder_bench import load_handoff
from nest_model import Preprocessor


def setup_features(batch):
    def setup():
        meta, sd = load_handoff("features")
        pre = Preprocessor(meta["preprocessor"], sd["preprocessor.featurizer.window"], sd["preprocessor.featurizer.fb"])
        pre.eval()
        n = meta["seconds"] * 16000
        g = torch.Generator().manual_seed(11)
        x = torch.randn(batch, n, generator=g) * 0.1
        ln = torch.full((batch,), n, dtype=torch.int64)

        def step():
            pre(x, ln)[0].sum().item()
        return step
    return setup
