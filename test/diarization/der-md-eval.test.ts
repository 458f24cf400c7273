// src/diarization/der.ts against NIST md-eval-22.pl on generated reference/hypothesis RTTM pairs (overlapping speech,
// missed speakers, extra speakers, two recordings with a UEM) under four conditions (collar 0 / 0.25, overlap scored
// or skipped). The numbers in test/fixtures/diarization/md-eval.json were computed once by tools/make_der_fixtures.py.
// Tolerance: 1e-5 s on each speaker-time total (md-eval prints them with %f, 6 decimals) and 0.005 on the DER in
// percent (md-eval prints it with 2 decimals).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/assert.js';
import { scoreDiarization } from '../../src/diarization/der.js';
import { readRttm } from '../../src/diarization/rttm.js';
import { readUem } from '../../src/diarization/uem.js';

const DIR = join(REPO_ROOT, 'test', 'fixtures', 'diarization');

interface Condition {
  name: string;
  collar: number;
  skip_overlap: boolean;
  scored: number;
  missed: number;
  falseAlarm: number;
  confusion: number;
  derPercent: number;
}
interface Case {
  ref: string;
  hyp: string;
  uem: string | null;
  conditions: Condition[];
}

const fixtures = JSON.parse(readFileSync(join(DIR, 'md-eval.json'), 'utf8')) as { cases: Record<string, Case> };

for (const [name, c] of Object.entries(fixtures.cases)) {
  test(`DER equals md-eval-22.pl on '${name}' under ${c.conditions.map((x) => x.name).join(', ')}`, () => {
    const ref = readRttm(join(DIR, c.ref));
    const hyp = readRttm(join(DIR, c.hyp));
    const uem = c.uem ? readUem(join(DIR, c.uem)) : null;
    for (const cond of c.conditions) {
      const { total } = scoreDiarization(ref, hyp, uem, { collar: cond.collar, skipOverlap: cond.skip_overlap });
      for (const key of ['scored', 'missed', 'falseAlarm', 'confusion'] as const) {
        assert.ok(Math.abs(total[key] - cond[key]) <= 1e-5, `${name} ${cond.name} ${key}: ours ${total[key]}, md-eval ${cond[key]}`);
      }
      assert.ok(Math.abs(100 * total.der - cond.derPercent) <= 0.005 + 1e-9, `${name} ${cond.name} DER: ours ${100 * total.der}%, md-eval ${cond.derPercent}%`);
    }
  });
}

test('the fixtures exercise what they claim: overlap, confusion, false alarm and a collar that changes the score', () => {
  const all = Object.values(fixtures.cases).flatMap((c) => c.conditions);
  assert.ok(all.some((c) => c.confusion > 1));
  assert.ok(all.some((c) => c.falseAlarm > 1));
  const overlaps = fixtures.cases.overlaps!.conditions;
  assert.notEqual(overlaps[0]!.scored, overlaps[3]!.scored); // skipping overlap changes the scored time
  assert.notEqual(overlaps[0]!.derPercent, overlaps[1]!.derPercent);
});
