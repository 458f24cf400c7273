#!/usr/bin/python3
"""Writes the RNN-T loss fixtures in test/fixtures/rnnt/ (cases.json) for test/asr/rnnt-loss.test.ts.

Run with Debian's interpreter (python3-torch 1.13 and python3-torchaudio 0.13):

    git --git-dir <NeMo clone>/.git show HEAD:nemo/collections/asr/parts/numba/rnnt_loss/rnnt_numpy.py > /tmp/rnnt_numpy.py
    /usr/bin/python3 tools/make_rnnt_fixtures.py --nemo-rnnt-numpy /tmp/rnnt_numpy.py

Cases without FastEmit come from torchaudio.functional.rnnt_loss (its CPU kernel): the loss with the case's reduction
and the gradient of that loss w.r.t. the logits ('none': the gradient of the sum of the costs). torchaudio has no
FastEmit, so the FastEmit cases come from NeMo's numpy reference transducer (rnnt_numpy.transduce_batch, the one
NeMo's own tests check its numba kernels against): its costs, (1 + lambda) * -log P, and its gradient w.r.t. the
log-probabilities, carried to the logits through torch's log_softmax backward, clamped per utterance as torchaudio
clamps and scaled by the reduction. Before writing, NeMo's reference is checked against torchaudio with lambda = 0.
cases.json holds each case's inputs and options; <id>.logits.npy and <id>.grad.npy its float32 logits and gradient.
"""
import argparse
import importlib.util
import json
import os

import numpy as np
import torch
import torchaudio
import torchaudio.functional as AF

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'rnnt')


def flat(x):
    return [float(v) for v in x.detach().reshape(-1).tolist()]


def make_inputs(seed, B, T, U, V, blank, t_len, u_len, scale):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(B, T, U + 1, V, generator=g) * scale).float()
    blank_idx = blank % V
    targets = torch.zeros(B, U, dtype=torch.int32)
    for b in range(B):
        for u in range(u_len[b]):
            y = int(torch.randint(0, V - 1, (1,), generator=g))
            targets[b, u] = y if y < blank_idx else y + 1  # any class but the blank
    return logits, targets, torch.tensor(t_len, dtype=torch.int32), torch.tensor(u_len, dtype=torch.int32)


def torchaudio_case(logits, targets, t_len, u_len, blank, clamp, reduction):
    x = logits.clone().requires_grad_()
    loss = AF.rnnt_loss(x, targets, t_len, u_len, blank=blank, clamp=clamp, reduction=reduction)
    (loss.sum() if reduction == 'none' else loss).backward()
    return loss.detach(), x.grad


def nemo_case(nemo, logits, targets, t_len, u_len, blank, clamp, reduction, fastemit):
    """NeMo's numpy reference: costs and the gradient w.r.t. the log-probabilities; log_softmax backward here."""
    V = logits.shape[-1]
    blank_idx = blank % V
    x = logits.clone().requires_grad_()
    lp = torch.log_softmax(x, -1)
    costs, grads_lp = nemo.transduce_batch(lp.detach().numpy(), targets.long().numpy(), t_len.numpy(), u_len.numpy(), blank_idx, fastemit)
    costs = torch.tensor(np.array(costs, dtype=np.float64))
    grad_lp = torch.tensor(np.asarray(grads_lp, dtype=np.float32))
    per_utt = []
    for b in range(logits.shape[0]):  # each utterance's gradient w.r.t. its logits (the log_softmax is per row)
        (gb,) = torch.autograd.grad(lp[b], x, grad_lp[b], retain_graph=True)
        per_utt.append(gb[b])
    grad = torch.stack(per_utt)
    if clamp > 0:
        grad = grad.clamp(-clamp, clamp)
    if reduction == 'mean':
        loss, grad = costs.mean(), grad / logits.shape[0]
    elif reduction == 'sum':
        loss = costs.sum()
    else:
        loss = costs
    return loss.float(), grad


CASES = [
    # id, seed, B, T, U, V, blank, t_len, u_len, scale, clamp, reduction, fastemit
    ('full_lengths_none', 1, 2, 4, 3, 5, -1, [4, 4], [3, 3], 1.0, -1, 'none', 0.0),
    ('uneven_mean', 2, 3, 6, 4, 7, -1, [6, 3, 1], [4, 0, 2], 1.0, -1, 'mean', 0.0),
    ('blank_zero_sum', 3, 2, 5, 3, 6, 0, [5, 4], [2, 3], 1.0, -1, 'sum', 0.0),
    ('blank_middle_none', 4, 2, 5, 3, 6, 2, [3, 5], [3, 1], 1.5, -1, 'none', 0.0),
    ('clamp_mean', 5, 3, 7, 4, 6, -1, [7, 5, 6], [4, 2, 3], 2.0, 0.05, 'mean', 0.0),
    ('peaky_larger_none', 6, 2, 20, 10, 12, -1, [20, 13], [10, 6], 4.0, -1, 'none', 0.0),
    ('fastemit_mean', 7, 3, 6, 4, 7, -1, [6, 4, 2], [4, 3, 0], 1.0, -1, 'mean', 0.01),
    ('fastemit_clamp_sum', 8, 2, 5, 3, 6, -1, [5, 3], [3, 2], 2.0, 0.1, 'sum', 0.5),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--nemo-rnnt-numpy', required=True, help="NeMo's nemo/collections/asr/parts/numba/rnnt_loss/rnnt_numpy.py")
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location('nemo_rnnt_numpy', args.nemo_rnnt_numpy)
    nemo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nemo)

    out = []
    for cid, seed, B, T, U, V, blank, t_len, u_len, scale, clamp, reduction, fastemit in CASES:
        logits, targets, tl, ul = make_inputs(seed, B, T, U, V, blank, t_len, u_len, scale)
        ta_loss, ta_grad = torchaudio_case(logits, targets, tl, ul, blank, clamp, reduction)
        # NeMo's reference at lambda = 0 must agree with torchaudio (same definition of loss, gradient and clamp)
        ne_loss, ne_grad = nemo_case(nemo, logits, targets, tl, ul, blank, clamp, reduction, 0.0)
        dl = (ne_loss - ta_loss).abs().max().item()
        dg = (ne_grad - ta_grad).abs().max().item()
        assert dl < 1e-4 * max(1.0, ta_loss.abs().max().item()) and dg < 1e-4 * max(1.0, ta_grad.abs().max().item()), f'{cid}: NeMo vs torchaudio loss {dl} grad {dg}'
        if fastemit > 0:
            loss, grad = nemo_case(nemo, logits, targets, tl, ul, blank, clamp, reduction, fastemit)
            source = 'nemo rnnt_numpy.transduce_batch'
        else:
            loss, grad = ta_loss, ta_grad
            source = 'torchaudio.functional.rnnt_loss'
        os.makedirs(OUT, exist_ok=True)
        np.save(os.path.join(OUT, f'{cid}.logits.npy'), logits.numpy().astype(np.float32))
        np.save(os.path.join(OUT, f'{cid}.grad.npy'), grad.detach().numpy().astype(np.float32))
        print(f'{cid}: loss {flat(loss)[:3]} | NeMo vs torchaudio at lambda 0: loss {dl:.2e} grad {dg:.2e}')
        out.append(
            {
                'id': cid,
                'source': source,
                'shape': [B, T, U + 1, V],
                'targets': [int(v) for v in targets.reshape(-1).tolist()],
                'logit_lengths': t_len,
                'target_lengths': u_len,
                'blank': blank,
                'clamp': clamp,
                'reduction': reduction,
                'fastemit_lambda': fastemit,
                'loss': flat(loss),
            }
        )
    with open(os.path.join(OUT, 'cases.json'), 'w') as f:
        json.dump({'torch': torch.__version__, 'torchaudio': torchaudio.__version__, 'cases': out}, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
