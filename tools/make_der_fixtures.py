#!/usr/bin/python3
"""Generates the DER fixtures in test/fixtures/diarization/ and scores them once with NIST md-eval-22.pl.

    /usr/bin/python3 tools/make_der_fixtures.py /path/to/md-eval-22.pl

md-eval-22.pl is NIST's scorer as shipped in https://github.com/nryant/dscore (scorelib/md-eval-22.pl); it is not
part of this repository. For each case the script writes <case>.ref.rttm and <case>.hyp.rttm (and <case>.uem for
the UEM case), runs `perl md-eval-22.pl -r REF -s HYP -c COLLAR [-u UEM] [-1]` for the conditions below, and
writes md-eval's overall SCORED / MISSED / FALARM SPEAKER TIME and SPEAKER ERROR TIME (seconds, 6 decimals)
to md-eval.json. test/diarization/der-md-eval.test.ts checks src/diarization/der.ts against them.
Seeded: re-running reproduces the same files and numbers. Needs only Python 3 and perl.
"""
import json
import os
import random
import re
import subprocess
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'diarization')

CONDITIONS = [
    {'name': 'collar0', 'collar': 0.0, 'skip_overlap': False},
    {'name': 'collar0.25', 'collar': 0.25, 'skip_overlap': False},
    {'name': 'collar0.25-skip-overlap', 'collar': 0.25, 'skip_overlap': True},
    {'name': 'collar0-skip-overlap', 'collar': 0.0, 'skip_overlap': True},
]


def merge(turns):
    """Union of each speaker's turns (md-eval refuses overlapping turns of one speaker)."""
    by = {}
    for f, spk, s, e in turns:
        by.setdefault((f, spk), []).append((s, e))
    out = []
    for (f, spk), segs in by.items():
        segs.sort()
        cur = list(segs[0])
        for s, e in segs[1:]:
            if s <= cur[1]:
                cur[1] = max(cur[1], e)
            else:
                out.append((f, spk, cur[0], cur[1]))
                cur = [s, e]
        out.append((f, spk, cur[0], cur[1]))
    return sorted(out, key=lambda t: (t[0], t[2], t[1]))


def reference(rng, file_id, n_speakers, length, overlap_prob):
    """Alternating turns of n speakers with pauses and, with overlap_prob, overlaps with the previous turn."""
    turns, t, prev = [], rng.uniform(0.2, 1.0), None
    while t < length:
        spk = rng.choice([s for s in range(n_speakers) if s != prev])
        dur = rng.uniform(0.4, 4.0)
        turns.append((file_id, 'spk%d' % spk, t, t + dur))
        prev = spk
        if rng.random() < overlap_prob:
            t = t + dur - rng.uniform(0.1, min(1.5, dur * 0.8))
        else:
            t = t + dur + rng.expovariate(1 / 0.6)
    return merge([(f, s, round(a, 2), round(b, 2)) for f, s, a, b in turns])


def hypothesis(rng, ref, label_map, p_drop, p_wrong, jitter, extra):
    """ref with jittered boundaries, dropped turns, wrongly labelled turns and `extra` false-alarm turns of new speakers."""
    hyp = []
    labels = sorted(set(label_map.values()))
    for f, spk, s, e in ref:
        if rng.random() < p_drop:
            continue
        s2 = max(0.0, s + rng.gauss(0, jitter))
        e2 = max(s2 + 0.05, e + rng.gauss(0, jitter))
        lab = label_map[spk] if rng.random() >= p_wrong else rng.choice(labels)
        hyp.append((f, lab, s2, e2))
    end = max(t[3] for t in ref)
    for k in range(extra):
        s = rng.uniform(0, end)
        hyp.append((ref[0][0], 'extra%d' % (k % 2), s, s + rng.uniform(0.3, 2.0)))
    return merge([(f, l, round(a, 3), round(b, 3)) for f, l, a, b in hyp])


def write_rttm(path, turns):
    with open(path, 'w') as fh:
        for f, spk, s, e in turns:
            fh.write('SPEAKER %s 1 %.3f %.3f <NA> <NA> %s <NA> <NA>\n' % (f, s, e - s, spk))


def cases():
    rng = random.Random(20240523)
    out = {}
    # three speakers, frequent overlaps, a good hypothesis with jitter and some confusions
    ref = reference(rng, 'overlaps', 3, 60, 0.35)
    out['overlaps'] = (ref, hypothesis(rng, ref, {'spk0': 'A', 'spk1': 'B', 'spk2': 'C'}, 0.05, 0.1, 0.12, 0), None)
    # four reference speakers, the hypothesis knows only two (two speakers missed / merged)
    ref = reference(rng, 'missed', 4, 50, 0.15)
    out['missed-speakers'] = (ref, hypothesis(rng, ref, {'spk0': 'x', 'spk1': 'y', 'spk2': 'x', 'spk3': 'y'}, 0.1, 0.05, 0.1, 0), None)
    # two reference speakers, the hypothesis splits them over four labels and adds false-alarm speakers
    ref = reference(rng, 'extra', 2, 40, 0.2)
    hyp = hypothesis(rng, ref, {'spk0': 'h0', 'spk1': 'h1'}, 0.0, 0.3, 0.08, 6)
    hyp = merge([(f, (l + 'b') if (l.startswith('h') and rng.random() < 0.3) else l, s, e) for f, l, s, e in hyp])
    out['extra-speakers'] = (ref, hyp, None)
    # two recordings in one file pair, scored together, with a UEM that leaves out parts of both
    r1 = reference(rng, 'recA', 2, 30, 0.3)
    r2 = reference(rng, 'recB', 3, 30, 0.3)
    h1 = hypothesis(rng, r1, {'spk0': 's1', 'spk1': 's2'}, 0.05, 0.1, 0.15, 2)
    h2 = hypothesis(rng, r2, {'spk0': 's1', 'spk1': 's2', 'spk2': 's3'}, 0.05, 0.1, 0.15, 0)
    uem = [('recA', 1.0, 12.5), ('recA', 14.0, 28.0), ('recB', 0.0, 20.0)]
    out['two-recordings-uem'] = (merge(r1 + r2), merge(h1 + h2), uem)
    return out


def md_eval(mdeval, ref, hyp, uem, collar, skip_overlap):
    cmd = ['perl', mdeval, '-r', ref, '-s', hyp, '-c', str(collar)]
    if uem:
        cmd += ['-u', uem]
    if skip_overlap:
        cmd.append('-1')
    text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    def grab(label):
        m = re.search(label + r' =\s*([0-9.]+) secs', text)
        if not m:
            raise SystemExit('md-eval output has no %s line:\n%s' % (label, text))
        return float(m.group(1))
    der = re.search(r'OVERALL SPEAKER DIARIZATION ERROR = ([0-9.]+) percent', text)
    return {
        'scored': grab('SCORED SPEAKER TIME'),
        'missed': grab('MISSED SPEAKER TIME'),
        'falseAlarm': grab('FALARM SPEAKER TIME'),
        'confusion': grab('SPEAKER ERROR TIME'),
        'derPercent': float(der.group(1)),
    }


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    mdeval = sys.argv[1]
    os.makedirs(OUT, exist_ok=True)
    results = {'tool': 'md-eval-22.pl (NIST), from github.com/nryant/dscore scorelib/', 'cases': {}}
    for name, (ref, hyp, uem) in cases().items():
        ref_path = os.path.join(OUT, name + '.ref.rttm')
        hyp_path = os.path.join(OUT, name + '.hyp.rttm')
        write_rttm(ref_path, ref)
        write_rttm(hyp_path, hyp)
        uem_path = None
        if uem:
            uem_path = os.path.join(OUT, name + '.uem')
            with open(uem_path, 'w') as fh:
                for f, s, e in uem:
                    fh.write('%s 1 %.3f %.3f\n' % (f, s, e))
        entry = {'ref': name + '.ref.rttm', 'hyp': name + '.hyp.rttm', 'uem': name + '.uem' if uem else None, 'conditions': []}
        for c in CONDITIONS:
            scores = md_eval(mdeval, ref_path, hyp_path, uem_path, c['collar'], c['skip_overlap'])
            entry['conditions'].append(dict(c, **scores))
        results['cases'][name] = entry
    with open(os.path.join(OUT, 'md-eval.json'), 'w') as fh:
        json.dump(results, fh, indent=1)
        fh.write('\n')


if __name__ == '__main__':
    main()
