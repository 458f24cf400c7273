// `streamnest show-attention`: the mask grid equals the spec's rule and worked examples; the PNG written by the
// built CLI decodes and its cells are coloured exactly where the mask allows attention.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { attentionGrid, defaultFrames, encoderLookahead } from '../../src/model/attention-mask-picture.js';
import { describeAttention } from '../../src/cli/commands/show-attention.js';
import { decodeRgbPng } from '../helpers/png.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ON = [31, 119, 180];
const OFF = [236, 236, 236];
const PAD = [252, 228, 214];
const CHUNK = [214, 39, 40];
const WHITE = [255, 255, 255];

/** In-process run (a CLI start costs seconds): the exit code as main.ts maps it, and the error message. */
async function runIn(args: string[]): Promise<{ code: number; message: string }> {
  const { run } = await import('../../src/cli/commands/show-attention.js');
  const { ArgError } = await import('../../src/cli/args.js');
  try {
    return { code: await run(args), message: '' };
  } catch (err) {
    return { code: err instanceof ArgError ? 2 : 1, message: (err as Error).message };
  }
}

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'show-attention', ...args], {
    encoding: 'utf8',
    env: { ...process.env, STREAMNEST_DEBUG: '' },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Cell = boolean | 'pad' | string;

/**
 * The picture read back: its size, pixel access, the grid origin (first ON pixel; pitch from column 0, frames 0 and
 * 1 both ON there) and each cell's centre colour: true = ON, false = OFF, 'pad' = PAD, else 'rgb(r,g,b)'.
 */
function readPicture(
  png: Buffer,
  n: number,
): { width: number; height: number; px: (x: number, y: number) => number[]; x0: number; y0: number; cell: number; grid: Cell[][] } {
  const { width, height, rgb } = decodeRgbPng(png);
  const px = (x: number, y: number): number[] => [...rgb.subarray((y * width + x) * 3, (y * width + x) * 3 + 3)];
  const is = (x: number, y: number, c: number[]): boolean => px(x, y).every((v, i) => v === c[i]);
  let x0 = -1;
  let y0 = -1;
  for (let y = 0; y < height && y0 < 0; y++) {
    for (let x = 0; x < width; x++) {
      if (is(x, y, ON) && is(x + 1, y, ON) && is(x, y + 1, ON)) {
        x0 = x;
        y0 = y;
        break;
      }
    }
  }
  assert.ok(x0 >= 0, 'no allowed cell found');
  let y = y0;
  while (is(x0, y, ON)) y++;
  while (!is(x0, y, ON)) y++;
  const cell = y - y0; // rows 0 and 1 of column 0 are both allowed in the tested masks
  const grid = Array.from({ length: n }, (_, q) =>
    Array.from({ length: n }, (_, k): Cell => {
      const cx = x0 + k * cell + Math.floor((cell - 1) / 2);
      const cy = y0 + q * cell + Math.floor((cell - 1) / 2);
      return is(cx, cy, ON) ? true : is(cx, cy, OFF) ? false : is(cx, cy, PAD) ? 'pad' : `rgb(${px(cx, cy).join(',')})`;
    }),
  );
  return { width, height, px, x0, y0, cell, grid };
}

/**
 * The picture's size is the one the CLI reports, and the layout's: the grid starts 64 px from the left, below the
 * title and the info lines (34 + 12 per line + 24 px), with 44 px of axis label and legend under it; the background is
 * white, and the legend's first swatch is the ON colour.
 */
function checkLayout(stdout: string, pic: ReturnType<typeof readPicture>, n: number): void {
  const reported = /: (\d+)x(\d+) px, /.exec(stdout);
  assert.ok(reported, `no size in the report: ${stdout}`);
  assert.deepEqual([pic.width, pic.height], [Number(reported[1]), Number(reported[2])], 'PNG size = reported size');
  const infoLines = stdout.trimEnd().split('\n').length - 1;
  const top = 34 + 12 * infoLines + 24;
  assert.deepEqual([pic.x0, pic.y0], [64, top], 'grid origin');
  assert.equal(pic.height, top + n * pic.cell + 44, 'height');
  assert.ok(pic.width >= 64 + n * pic.cell + 24, `width ${pic.width}`);
  for (const [x, y] of [
    [0, 0],
    [pic.width - 1, 0],
    [0, pic.height - 1],
    [pic.width - 1, pic.height - 1],
  ] as const)
    assert.deepEqual(pic.px(x, y), WHITE, `background at (${x}, ${y})`);
  assert.deepEqual(pic.px(64 + 4, top + n * pic.cell + 24 + 4), ON, 'legend swatch "may attend"');
}

const rows = (g: boolean[][]): string[] => g.map((r) => r.map((b) => (b ? '1' : '.')).join(''));

test("attentionGrid follows createMasks and the spec's worked examples (04 §4.3)", () => {
  assert.deepEqual(rows(attentionGrid({ size: [-1, 0], style: 'regular', frames: 4 })), ['1...', '11..', '111.', '1111']);
  assert.deepEqual(rows(attentionGrid({ size: [5, 0], style: 'regular', frames: 8 })).slice(5), ['111111..', '.111111.', '..111111']);
  assert.deepEqual(rows(attentionGrid({ size: [4, 1], style: 'chunked_limited', frames: 8 })), [
    '11......',
    '11......',
    '1111....',
    '1111....',
    '111111..',
    '111111..',
    '..111111',
    '..111111',
  ]);
  assert.deepEqual(rows(attentionGrid({ size: [3, 2], style: 'chunked_limited', frames: 9, validFrames: 8 })), [
    '111......',
    '111......',
    '111......',
    '111111...',
    '111111...',
    '111111...',
    '...11111.',
    '...11111.',
    '.........',
  ]);
  assert.deepEqual(rows(attentionGrid({ size: [2, 1], style: 'regular', frames: 8, validFrames: 6 })), [
    '11......',
    '111.....',
    '1111....',
    '.1111...',
    '..1111..',
    '...111..',
    '........',
    '........',
  ]);
  assert.throws(() => attentionGrid({ size: [-1, 0], style: 'regular', frames: 0 }), /frames/);
});

test('default frame counts show the left limit; look-ahead follows NeMo', () => {
  assert.equal(defaultFrames([-1, 0], 'regular'), 16);
  assert.equal(defaultFrames([320, 0], 'regular'), 400);
  assert.equal(defaultFrames([-1, 4], 'chunked_limited'), 20);
  assert.equal(encoderLookahead([-1, 4], 'chunked_limited', 17), 4);
  assert.equal(encoderLookahead([-1, 4], 'regular', 17), 68);
  assert.equal(encoderLookahead([70, 2], 'regular', 17), 34);
  assert.equal(encoderLookahead([-1, -1], 'regular', 17), Infinity);
  const d = describeAttention({ pair: [-1, 4], style: 'chunked_limited', frameMs: 80, nLayers: 17, convRight: 0, frames: 20, pairs: 1 });
  assert.equal(d.chunk, 5);
  assert.match(d.title, /\[-1, 4\]\s+chunked_limited/);
  assert.ok(d.lines.some((l) => /look-ahead: 4 frames x 80 ms = 320 ms/.test(l)));
  const r = describeAttention({ pair: [-1, 4], style: 'regular', frameMs: 80, nLayers: 17, convRight: 0, frames: 20, pairs: 1 });
  assert.ok(r.lines.some((l) => /adding up over 17 layers: 68 frames x 80 ms = 5\.44 s/.test(l)));
});

test('the CLI draws [-1,0] as the lower triangle, pixel for pixel per cell', () => {
  const dir = mkdtempSync(join(tmpdir(), 'show-attention-'));
  try {
    const out = join(dir, 'causal.png');
    const r = cli(['--config', 'tiny', '--out', out, '--frames', '12']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /12x12 frames, att_context_size \[-1, 0\]\s+regular/);
    assert.match(r.stdout, /look-ahead: 0 frames \(fully causal\)/);
    const pic = readPicture(readFileSync(out), 12);
    const { grid, cell, x0, y0 } = pic;
    assert.equal(cell, 32, 'cell = min(32, 640 / frames) px');
    checkLayout(r.stdout, pic, 12);
    for (let q = 0; q < 12; q++) for (let k = 0; k < 12; k++) assert.equal(grid[q]![k], k <= q, `cell (${q}, ${k})`);
    // cells are separated by a 1 px background gap; a regular mask draws no chunk boundaries
    assert.deepEqual(pic.px(x0 + cell - 1, y0 + 5 * cell + 3), WHITE, 'gap right of cell (5, 0)');
    assert.deepEqual(pic.px(x0 + 3, y0 + 5 * cell - 1), WHITE, 'gap above cell (5, 0)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the CLI draws a chunked_limited mask (with padding) exactly as the chunk rule says', () => {
  const dir = mkdtempSync(join(tmpdir(), 'show-attention-'));
  try {
    const out = join(dir, 'chunked.png');
    const r = cli([
      '--config',
      'streaming',
      'model.encoder.att_context_style=chunked_limited',
      '--att-context-size',
      '4,1',
      '--frames',
      '10',
      '--valid-frames',
      '9',
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /chunks of 2 frames \(160 ms\)/);
    assert.match(r.stdout, /left context: 2 earlier chunks/);
    const pic = readPicture(readFileSync(out), 10);
    const { grid, cell, x0, y0 } = pic;
    assert.equal(cell, 32, 'cell = min(32, 640 / frames) px');
    checkLayout(r.stdout, pic, 10);
    // chunk boundaries (every 2 frames) are red lines in the gaps between cells, across the whole grid
    for (const b of [2, 4, 6, 8]) {
      assert.deepEqual(pic.px(x0 + b * cell - 1, y0 + 3), CHUNK, `vertical chunk boundary at frame ${b}`);
      assert.deepEqual(pic.px(x0 + 3, y0 + b * cell - 1), CHUNK, `horizontal chunk boundary at frame ${b}`);
    }
    assert.deepEqual(pic.px(x0 + cell - 1, y0 + 3), WHITE, 'no boundary inside a chunk (after frame 0)');
    for (let q = 0; q < 10; q++) {
      for (let k = 0; k < 10; k++) {
        const d = Math.floor(q / 2) - Math.floor(k / 2);
        const allowed = q < 9 && k < 9 && d >= 0 && d <= 2;
        assert.equal(grid[q]![k], allowed ? true : q >= 9 || k >= 9 ? 'pad' : false, `cell (${q}, ${k})`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('usage errors: no --out, a malformed pair, a pair chunked_limited refuses, too many frames', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'show-attention-usage-'));
  const png = join(dir, 'x.png');
  try {
    const cases: [string[], RegExp][] = [
      [['--config', 'tiny'], /--out FILE\.png is required/],
      [['--out', png, '--att-context-size', 'a,b'], /--att-context-size: expected L,R \(two integers, -1 = unlimited\), got 'a,b'/],
      [
        ['--config', 'lookahead', '--att-context-size', '5,1', '--out', png],
        /chunked_limited needs left % \(right \+ 1\) == 0 \(NeMo refuses it\); got \[5, 1\]/,
      ],
      [['--config', 'tiny', '--frames', '5000', '--out', png], /--frames must be in \[1, 2000\], got 5000/],
      [['--config', 'tiny', '--frames', '8', '--valid-frames', '9', '--out', png], /--valid-frames must be in \[0, 8\], got 9/],
    ];
    for (const [args, message] of cases) {
      const r = await runIn(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.message}`);
      assert.match(r.message, message, args.join(' '));
    }
    assert.equal(existsSync(png), false, 'a refused command writes nothing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
