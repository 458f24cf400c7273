#!/usr/bin/python3
"""Writes the optimizer fixtures in test/fixtures/optim/ from PyTorch (torch 1.13, Debian python3-torch).

Run once with Debian's interpreter, which has torch:  /usr/bin/python3 tools/make_optim_fixtures.py
Each fixture fixes initial parameters and, per step, the gradient of every parameter (null: no gradient that step),
and records the parameters after every step and the optimizer state at the end (torch.optim's state_dict layout).
The tests set the same gradients in TypeScript and compare. Values are float32, written as JSON numbers (exact).
"""
import json
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'optim')


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def run(name, make_opt, shapes, steps, skip=(), options=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    params = [torch.randn(s, generator=g).requires_grad_() for s in shapes]
    init = [flat(p) for p in params]
    opt = make_opt(params)
    record = []
    for k in range(steps):
        grads = []
        for i, p in enumerate(params):
            if (k, i) in skip:
                p.grad = None
                grads.append(None)
            else:
                p.grad = torch.randn(p.shape, generator=g)
                grads.append(flat(p.grad))
        opt.step()
        record.append({'grads': grads, 'params_after': [flat(p) for p in params]})
    sd = opt.state_dict()
    state = []
    for i in range(len(params)):
        s = sd['state'].get(i)
        if s is None:
            state.append(None)
            continue
        entry = {}
        for key, v in s.items():
            if v is None:
                entry[key] = None
            elif key == 'step':
                entry[key] = float(v)
            else:
                entry[key] = flat(v)
        state.append(entry)
    doc = {
        'generated_by': 'tools/make_optim_fixtures.py with torch ' + torch.__version__,
        'optimizer': type(opt).__name__,
        'options': options,
        'params': [{'shape': list(s), 'init': v} for s, v in zip(shapes, init)],
        'steps': record,
        'state_after': state,
    }
    with open(os.path.join(OUT, name + '.json'), 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')


def clip_cases():
    g = torch.Generator().manual_seed(7)
    cases = []
    for max_norm, norm_type, scale in [(1.0, 2.0, 1.0), (100.0, 2.0, 1.0), (0.5, float('inf'), 1.0), (0.3, 1.0, 1.0), (2.0, 3.0, 0.2)]:
        shapes = [[3, 2], [4], [1]]
        params = [torch.zeros(s, requires_grad=True) for s in shapes]
        grads = [torch.randn(s, generator=g) * scale for s in shapes]
        for p, gr in zip(params, grads):
            p.grad = gr.clone()
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
        cases.append({
            'max_norm': max_norm,
            'norm_type': 'inf' if norm_type == float('inf') else norm_type,
            'shapes': shapes,
            'grads': [flat(x) for x in grads],
            'total_norm': float(total),
            'clipped': [flat(p.grad) for p in params],
        })
    with open(os.path.join(OUT, 'clip_grad_norm.json'), 'w') as f:
        json.dump({'generated_by': 'tools/make_optim_fixtures.py with torch ' + torch.__version__, 'cases': cases}, f, indent=1)
        f.write('\n')


def main():
    os.makedirs(OUT, exist_ok=True)
    shapes = [[2, 3], [3]]
    o = {'lr': 1e-3, 'betas': [0.9, 0.999], 'eps': 1e-8, 'weight_decay': 1e-2}
    run('adamw_default', lambda ps: torch.optim.AdamW(ps, foreach=False), shapes, 6, skip={(2, 1), (3, 1)}, options=o, seed=1)
    o = {'lr': 0.1, 'betas': [0.8, 0.95], 'eps': 1e-6, 'weight_decay': 0.1}
    run('adamw_custom', lambda ps: torch.optim.AdamW(ps, lr=0.1, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1, foreach=False),
        shapes, 5, options=o, seed=2)
    o = {'lr': 0.1}
    run('sgd_plain', lambda ps: torch.optim.SGD(ps, lr=0.1, foreach=False), shapes, 3, options=o, seed=3)
    o = {'lr': 0.05, 'momentum': 0.9, 'dampening': 0.1, 'weight_decay': 0.01}
    run('sgd_momentum', lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01, foreach=False),
        shapes, 5, skip={(2, 0)}, options=o, seed=4)
    o = {'lr': 0.05, 'momentum': 0.9, 'nesterov': True}
    run('sgd_nesterov', lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, foreach=False), shapes, 4,
        options=o, seed=5)
    clip_cases()


if __name__ == '__main__':
    main()
