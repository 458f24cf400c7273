#!/usr/bin/python3
"""Writes test/fixtures/diarization/sort-loss.json for test/diarization/sort-loss.test.ts.

Run with Debian's interpreter (python3-torch 1.13) and NeMo's multispeaker utilities taken from a NeMo clone:

    git --git-dir <NeMo clone>/.git show HEAD:nemo/collections/asr/parts/utils/asr_multispeaker_utils.py > /tmp/asr_multispeaker_utils.py
    /usr/bin/python3 tools/make_sort_loss_fixtures.py --nemo-utils /tmp/asr_multispeaker_utils.py

That module imports lhotse at the top, so only its find_first_nonzero, find_best_permutation, reconstruct_labels,
get_ats_targets and get_pil_targets definitions are read (with Python's ast) and run. The loss is NeMo's BCELoss with
reduction 'mean' and no class normalisation: torch.nn.BCELoss(reduction='mean') over the valid frames of every batch
row concatenated. Each case stores probs [B, T, S], targets [B, T, S], lengths, NeMo's ATS/PIL targets (chosen by
largest overlap, NeMo's rule) and the BCE against each, and the loss 0.5 * ats + 0.5 * pil.
"""
import argparse
import ast
import itertools
import json
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'diarization', 'sort-loss.json')
WANTED = {'find_first_nonzero', 'find_best_permutation', 'reconstruct_labels', 'get_ats_targets', 'get_pil_targets'}


def load_nemo_functions(path):
    with open(path) as f:
        tree = ast.parse(f.read())
    body = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in WANTED]
    missing = WANTED - {n.name for n in body}
    if missing:
        raise SystemExit(f'{path} lacks {sorted(missing)}')
    module = ast.Module(body=body, type_ignores=[])
    scope = {'torch': torch}
    exec(compile(module, path, 'exec'), scope)
    return scope


def bce_mean(probs, labels, lens):
    p = torch.cat([probs[b, : lens[b]] for b in range(probs.shape[0])], 0)
    y = torch.cat([labels[b, : lens[b]] for b in range(labels.shape[0])], 0)
    return torch.nn.BCELoss(reduction='mean')(p, y).item()


def targets_from_turns(T, S, turns):
    y = torch.zeros(T, S)
    for s, a, b in turns:
        y[a:b, s] = 1.0
    return y


def case(nemo, name, probs, targets, lens):
    perms = torch.tensor(list(itertools.permutations(range(probs.shape[2]))))
    # NeMo's targets are zero on padded frames
    for b, n in enumerate(lens):
        targets[b, n:] = 0
    ats = nemo['get_ats_targets'](targets.clone(), probs, speaker_permutations=perms)
    pil = nemo['get_pil_targets'](targets.clone(), probs, speaker_permutations=perms)
    a = bce_mean(probs, ats, lens)
    p = bce_mean(probs, pil, lens)
    return {
        'name': name,
        'shape': list(probs.shape),
        'lengths': lens,
        'probs': probs.flatten().tolist(),
        'targets': targets.flatten().tolist(),
        'atsTargets': ats.flatten().tolist(),
        'pilTargets': pil.flatten().tolist(),
        'ats': a,
        'pil': p,
        'loss': 0.5 * a + 0.5 * p,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--nemo-utils', required=True, help='asr_multispeaker_utils.py from a NeMo clone')
    args = ap.parse_args()
    nemo = load_nemo_functions(args.nemo_utils)
    g = torch.Generator().manual_seed(23)
    cases = []
    # 1: two rows, 4 speakers, arrival order 2, 0, 3 (row 0) and 1, 3 (row 1, padded), random predictions
    B, T, S = 2, 20, 4
    t0 = targets_from_turns(T, S, [(2, 1, 6), (0, 4, 12), (3, 9, 18), (2, 15, 20)])
    t1 = targets_from_turns(T, S, [(1, 0, 5), (3, 3, 9), (1, 10, 14)])
    probs = torch.rand(B, T, S, generator=g) * 0.98 + 0.01
    cases.append(case(nemo, 'random predictions', probs, torch.stack([t0, t1]), [20, 14]))
    # 2: predictions that follow a different order (PIL and ATS targets differ)
    y = targets_from_turns(T, S, [(1, 2, 8), (0, 6, 14), (2, 12, 19)])
    good = y[:, [2, 0, 1, 3]] * 0.8 + 0.1 + torch.rand(T, S, generator=g) * 0.05
    cases.append(case(nemo, 'predictions in another order', good.unsqueeze(0), y.unsqueeze(0).clone(), [T]))
    # 3: two speakers start on the same frame (ATS ties broken by the predictions)
    y = targets_from_turns(T, S, [(3, 4, 10), (1, 4, 7), (0, 12, 16)])
    probs = torch.rand(1, T, S, generator=g) * 0.9 + 0.05
    cases.append(case(nemo, 'simultaneous arrivals', probs, y.unsqueeze(0).clone(), [T]))
    with open(OUT, 'w') as f:
        json.dump({'source': 'tools/make_sort_loss_fixtures.py (NeMo get_ats_targets / get_pil_targets, torch.nn.BCELoss)', 'cases': cases}, f)
        f.write('\n')
    print(f'wrote {OUT}: {len(cases)} cases')


if __name__ == '__main__':
    main()
