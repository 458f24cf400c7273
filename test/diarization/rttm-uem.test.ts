// RTTM and UEM reading and writing, and the errors for lines that do not parse, negative durations and overlapping UEM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataError } from '../../src/data/data-error.js';
import { formatRttm, parseRttm, readRttm, writeRttm } from '../../src/diarization/rttm.js';
import { formatUem, parseUem, readUem } from '../../src/diarization/uem.js';
import { subtractSpans, intersectSpans, unionSpans } from '../../src/diarization/timeline.js';

const dir = mkdtempSync(join(tmpdir(), 'streamnest-rttm-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

test('RTTM: SPEAKER records are read, comments, blank lines and other record types skipped', () => {
  const text = [
    ';; a comment',
    '# another',
    '',
    'SPKR-INFO meeting1 1 <NA> <NA> <NA> unknown spk_a <NA> <NA>',
    'SPEAKER meeting1 1 0.50 2.25 <NA> <NA> spk_a <NA> <NA>',
    '  SPEAKER\tmeeting1 1   3.000   1.5 <NA> <NA> spk_b <NA>',
    'speaker meeting2 A 0 0 <NA> <NA> spk_a', // 8 fields, lower-case type, zero duration
  ].join('\n');
  const turns = parseRttm(text, 'x.rttm');
  assert.deepEqual(
    turns.map((t) => [t.file, t.channel, t.start, t.duration, t.speaker, t.where]),
    [
      ['meeting1', '1', 0.5, 2.25, 'spk_a', 'x.rttm:5'],
      ['meeting1', '1', 3, 1.5, 'spk_b', 'x.rttm:6'],
      ['meeting2', 'A', 0, 0, 'spk_a', 'x.rttm:7'],
    ],
  );
});

test('RTTM and UEM with a UTF-8 byte-order mark and CRLF line ends: the first record is read, not skipped', () => {
  const rttm = parseRttm('\uFEFFSPEAKER m 1 0.5 1 <NA> <NA> a <NA> <NA>\r\nSPEAKER m 1 2 1 <NA> <NA> b <NA> <NA>\r\n', 'bom.rttm');
  assert.deepEqual(
    rttm.map((t) => [t.speaker, t.start, t.where]),
    [
      ['a', 0.5, 'bom.rttm:1'],
      ['b', 2, 'bom.rttm:2'],
    ],
  );
  assert.deepEqual(
    parseUem('\uFEFFm 1 0 10\r\n', 'bom.uem').map((u) => [u.file, u.end]),
    [['m', 10]],
  );
});

test('RTTM errors name the file and line: too few fields, a non-number, a negative duration or start', () => {
  const bad: [string, RegExp][] = [
    ['SPEAKER f 1 0.0 1.0 <NA> <NA>', /r\.rttm:2: SPEAKER record needs at least 8 fields/],
    ['SPEAKER f 1 zero 1.0 <NA> <NA> s <NA> <NA>', /r\.rttm:2: start time 'zero' is not a number/],
    ['SPEAKER f 1 0.0 -0.5 <NA> <NA> s <NA> <NA>', /r\.rttm:2: negative duration -0.5/],
    ['SPEAKER f 1 -1 0.5 <NA> <NA> s <NA> <NA>', /r\.rttm:2: negative start time -1/],
    ['SPEAKER f 1 1 NaN <NA> <NA> s <NA> <NA>', /r\.rttm:2: duration 'NaN' is not a number/],
  ];
  for (const [line, re] of bad) {
    assert.throws(
      () => parseRttm(`SPEAKER f 1 0 1 <NA> <NA> s <NA> <NA>\n${line}\n`, 'r.rttm'),
      (e: unknown) => e instanceof DataError && re.test(e.message),
      line,
    );
  }
  assert.throws(() => readRttm(join(dir, 'missing.rttm')), /missing\.rttm: cannot read RTTM file/);
});

test('RTTM written and read back: the NIST line with 3-decimal times; bad names refused', () => {
  const turns = [
    { file: 'sess_0', channel: '1', start: 1.23449, duration: 0.5, speaker: 'en-us+f3' },
    { file: 'sess_0', channel: '1', start: 0, duration: 2, speaker: 'b' },
  ];
  assert.equal(formatRttm(turns).split('\n')[0], 'SPEAKER sess_0 1 1.234 0.500 <NA> <NA> en-us+f3 <NA> <NA>');
  const p = join(dir, 'w.rttm');
  writeRttm(p, turns);
  assert.deepEqual(
    readRttm(p).map((t) => [t.speaker, t.start, t.duration]),
    [
      ['en-us+f3', 1.234, 0.5],
      ['b', 0, 2],
    ],
  );
  assert.throws(() => formatRttm([{ ...turns[0]!, speaker: 'two words' }]), /speaker name must be one non-empty token/);
  assert.throws(() => formatRttm([{ ...turns[0]!, duration: -1 }]), /must be >= 0/);
});

test('UEM: read, checked and written; overlapping segments, reversed segments and short lines name the line', () => {
  const segs = parseUem('# uem\nrecA 1 0.0 12.5\nrecA 1 14 28\nrecB 1 0 20\n', 'a.uem');
  assert.deepEqual(
    segs.map((s) => [s.file, s.start, s.end, s.where]),
    [
      ['recA', 0, 12.5, 'a.uem:2'],
      ['recA', 14, 28, 'a.uem:3'],
      ['recB', 0, 20, 'a.uem:4'],
    ],
  );
  assert.equal(formatUem(segs), 'recA 1 0.000 12.500\nrecA 1 14.000 28.000\nrecB 1 0.000 20.000\n');
  assert.throws(
    () => parseUem('recA 1 0 10\nrecB 1 0 5\nrecA 1 9 12\n', 'o.uem'),
    /o\.uem:3: UEM segment \[9, 12\] of 'recA' channel 1 overlaps \[0, 10\] \(o\.uem:1\)/,
  );
  assert.throws(() => parseUem('recA 1 5 4\n', 'r.uem'), /r\.uem:1: end 4 must be after start 5/);
  assert.throws(() => parseUem('recA 1 5\n', 's.uem'), /s\.uem:1: UEM record needs 4 fields/);
  assert.throws(() => parseUem('recA 1 x 5\n', 'n.uem'), /n\.uem:1: start time 'x' is not a number/);
  // touching segments are fine; other channels do not overlap each other
  assert.equal(parseUem('r 1 0 5\nr 1 5 9\nr 2 0 9\n', 't.uem').length, 3);
  const p = join(dir, 'x.uem');
  writeFileSync(p, 'r 1 0 5\n');
  assert.equal(readUem(p)[0]!.end, 5);
});

test('span operations: union merges touching spans, subtract and intersect cut correctly', () => {
  assert.deepEqual(
    unionSpans([
      { start: 5, end: 6 },
      { start: 0, end: 2 },
      { start: 2, end: 3 },
      { start: 4, end: 4 },
    ]),
    [
      { start: 0, end: 3 },
      { start: 5, end: 6 },
    ],
  );
  assert.deepEqual(
    subtractSpans(
      [{ start: 0, end: 10 }],
      [
        { start: -1, end: 1 },
        { start: 4, end: 5 },
        { start: 9, end: 12 },
      ],
    ),
    [
      { start: 1, end: 4 },
      { start: 5, end: 9 },
    ],
  );
  assert.deepEqual(
    intersectSpans(
      [
        { start: 0, end: 4 },
        { start: 6, end: 10 },
      ],
      [{ start: 3, end: 7 }],
    ),
    [
      { start: 3, end: 4 },
      { start: 6, end: 7 },
    ],
  );
});
