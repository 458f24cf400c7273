// `streamnest show-attention`: a PNG of the encoder's frame-to-frame self-attention mask for a config
// (rows = query frames, columns = key frames, blue = may attend), with chunk boundaries and the look-ahead.
import { ArgError, formatOptions, parseArgs, type OptionsSpec } from '../args.js';
import type { Canvas, Rgb } from '../../plot/index.js';
import { chunkedLimitedViolations } from '../../config/schema/encoder.js';
import { parseContextPair } from '../att-context.js';

export const name = 'show-attention';
export const summary = "Draw a config's encoder self-attention mask (query x key frames) as a PNG, with its look-ahead latency";

const spec = {
  config: { type: 'string', short: 'c', default: 'tiny', metavar: 'PRESET|FILE', help: 'preset name or YAML file (default tiny)' },
  out: { type: 'string', short: 'o', metavar: 'FILE.png', help: 'output PNG (required)' },
  frames: { type: 'integer', metavar: 'N', help: 'encoder frames shown (default: enough to show the left limit and a few chunks, at least 16)' },
  validFrames: { type: 'integer', metavar: 'N', help: 'frames that are real input; the rest are drawn as padding (default: all)' },
  attContextSize: { type: 'string', metavar: 'L,R', help: "the [left, right] pair to draw (default: the config's default, i.e. first, pair)" },
  chunk: { type: 'boolean', help: 'draw chunk boundaries every right+1 frames (default: on for chunked_limited, off for regular)' },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest show-attention [--config PRESET|FILE] [key.path=value ...] --out FILE.png
                                [--frames N] [--valid-frames N] [--att-context-size L,R] [--chunk | --no-chunk]

${summary}.
The mask is the one the encoder builds (NeMo's _create_masks) from model.encoder.att_context_size and
att_context_style; one encoder frame is subsampling_factor x window_stride (80 ms for NEST). The subtitle gives
the chunk size, the algorithmic look-ahead of the whole encoder (chunked_limited: right frames; regular: right
frames in every layer, so right x n_layers) and the left context. Missing (???) manifest paths are ignored.

Options:
${formatOptions(spec)}

Examples:
  streamnest show-attention --config streaming --out causal.png
  streamnest show-attention --config lookahead --out lookahead.png --frames 20
  streamnest show-attention --config limited_context --out limited.png          # 400 frames: the 320-frame limit
  streamnest show-attention --config tiny --att-context-size 8,0 --frames 24 --out window.png
  streamnest show-attention --config streaming model.encoder.att_context_style=chunked_limited \\
      model.encoder.att_context_size=[8,3] --out chunked.png`;

const ON: Rgb = [31, 119, 180];
const OFF: Rgb = [236, 236, 236];
const PAD: Rgb = [252, 228, 214];
const CHUNK: Rgb = [214, 39, 40];

export interface AttentionPicture {
  canvas: Canvas;
  /** Pixel position of the grid's top-left corner and the size of one cell (cells have a 1 px gap when cell >= 6). */
  left: number;
  top: number;
  cell: number;
}

/** Draws grid[q][k] (true = may attend) with a title, info lines, frame ticks, chunk boundaries and padding shading. */
export async function drawAttentionMask(
  grid: boolean[][],
  o: { title: string; lines: string[]; chunk?: number | null; validFrames?: number; cell?: number },
): Promise<AttentionPicture> {
  const { Canvas } = await import('../../plot/index.js');
  const n = grid.length;
  const cell = o.cell ?? Math.min(32, Math.max(2, Math.floor(640 / n)));
  const gap = cell >= 6 ? 1 : 0;
  const left = 64;
  const top = 34 + 12 * o.lines.length + 24;
  const textW = Math.max(Canvas.textWidth(o.title, 2), ...o.lines.map((l) => Canvas.textWidth(l))) + 20;
  const W = Math.max(left + n * cell + 24, textW, 360);
  const H = top + n * cell + 44;
  const c = new Canvas(W, H);
  c.text(10, 10, o.title, [0, 0, 0], 2);
  o.lines.forEach((l, i) => {
    c.text(10, 34 + 12 * i, l, [60, 60, 60]);
  });
  const valid = o.validFrames ?? n;
  for (let q = 0; q < n; q++) {
    for (let k = 0; k < n; k++) {
      const colour = grid[q]![k] ? ON : q >= valid || k >= valid ? PAD : OFF;
      c.fillRect(left + k * cell, top + q * cell, cell - gap, cell - gap, colour);
    }
  }
  // frame numbers: every `step` frames along the top (keys) and the left (queries)
  const step = [1, 2, 4, 5, 10, 20, 25, 50, 100, 200, 500, 1000].find((s) => n / s <= 16) ?? 1000;
  for (let f = 0; f < n; f += step) {
    const label = String(f);
    c.text(left + f * cell + (cell - gap) / 2 - Canvas.textWidth(label) / 2 + 0.5, top - 11, label, [90, 90, 90]);
    c.text(left - 6 - Canvas.textWidth(label), top + f * cell + (cell - gap) / 2 - 3, label, [90, 90, 90]);
  }
  if (o.chunk && o.chunk > 1 && cell >= 3) {
    for (let b = o.chunk; b < n; b += o.chunk) {
      const x = left + b * cell - 1;
      const y = top + b * cell - 1;
      c.line(x, top - 2, x, top + n * cell, CHUNK);
      c.line(left - 2, y, left + n * cell, y, CHUNK);
    }
  }
  c.text(left, top + n * cell + 8, 'key frame (attended to) ->', [0, 0, 0]);
  c.textVertical(8, top + n * cell, 'query frame ->', [0, 0, 0]);
  const legendY = top + n * cell + 24;
  c.fillRect(left, legendY, 8, 8, ON);
  let x = left + 12 + c.text(left + 12, legendY + 1, 'may attend', [0, 0, 0]) + 14;
  c.fillRect(x, legendY, 8, 8, OFF);
  x += 12 + c.text(x + 12, legendY + 1, 'blocked', [0, 0, 0]) + 14;
  if (valid < n) {
    c.fillRect(x, legendY, 8, 8, PAD);
    x += 12 + c.text(x + 12, legendY + 1, 'padding', [0, 0, 0]) + 14;
  }
  if (o.chunk && o.chunk > 1 && cell >= 3) {
    c.line(x, legendY + 4, x + 8, legendY + 4, CHUNK);
    c.text(x + 12, legendY + 1, `chunk boundary (${o.chunk} frames)`, [0, 0, 0]);
  }
  return { canvas: c, left, top, cell };
}

const fmtMs = (ms: number): string => (ms >= 1000 ? `${+(ms / 1000).toFixed(3)} s` : `${+ms.toFixed(1)} ms`);

/** Title and info lines for a pair under a style. */
export function describeAttention(o: {
  pair: [number, number];
  style: 'regular' | 'chunked_limited';
  frameMs: number;
  nLayers: number;
  convRight: number;
  frames: number;
  pairs: number;
}): { title: string; lines: string[]; chunk: number | null } {
  const [L, R] = o.pair;
  const chunk = o.style === 'chunked_limited' && R >= 0 ? R + 1 : null;
  const title = `att_context_size [${L}, ${R}]  ${o.style}`;
  const lines: string[] = [];
  const f = (frames: number): string => `${frames} frame${frames === 1 ? '' : 's'} x ${+o.frameMs.toFixed(2)} ms = ${fmtMs(frames * o.frameMs)}`;
  if (R < 0) {
    lines.push('look-ahead: unlimited (every frame attends to the whole future): not streamable');
  } else if (chunk !== null) {
    lines.push(
      `chunks of ${chunk} frame${chunk === 1 ? '' : 's'} (${fmtMs(chunk * o.frameMs)}): a frame sees its whole chunk and earlier chunks, never later ones`,
    );
    lines.push(R === 0 ? 'look-ahead: 0 frames (fully causal)' : `look-ahead: ${f(R)} for a chunk's first frame, 0 for its last (the same in every layer)`);
  } else if (R === 0) {
    lines.push('look-ahead: 0 frames (fully causal): an output waits only for its own encoder frame');
  } else {
    lines.push(`look-ahead: ${f(R)} per layer, adding up over ${o.nLayers} layers: ${f(R * o.nLayers)}`);
  }
  if (o.convRight > 0) lines.push(`+ depthwise conv looks ${o.convRight} frame(s) ahead per layer: ${f(o.convRight * o.nLayers)} more`);
  if (L < 0) lines.push('left context: unlimited (the attention cache grows with the stream)');
  else if (chunk !== null) {
    const nL = Math.floor(L / chunk);
    lines.push(`left context: ${nL} earlier chunk${nL === 1 ? '' : 's'} = ${f(L)} (attention cache of ${L} frames per layer)`);
  } else lines.push(`left context: ${f(L)} (attention cache of ${L} frames per layer)`);
  lines.push(`rows: query frames, columns: key frames; ${o.frames} encoder frames shown${o.pairs > 1 ? `; the config lists ${o.pairs} pairs` : ''}`);
  return { title, lines, chunk };
}

export async function run(argv: string[]): Promise<number> {
  const { options, overrides } = parseArgs(argv, spec, { overrides: true, maxPositionals: 0 });
  if (!options.out) throw new ArgError(`show-attention: --out FILE.png is required\n\n${usage}`);
  const { loadConfigForCheck } = await import('./check-config.js');
  const { encoderFrameMs } = await import('../../config/streaming-safety.js');
  const { convContextOf } = await import('../../config/schema/encoder.js');
  const { attentionGrid, defaultFrames } = await import('../../model/attention-mask-picture.js');
  const loaded = await loadConfigForCheck(
    options.config,
    overrides.map((o) => o.text),
  );
  const c = loaded.config;
  const e = c.model.encoder;
  const pair: [number, number] = options.attContextSize
    ? parseContextPair(options.attContextSize, '--att-context-size')
    : [e.att_context_size[0]![0], e.att_context_size[0]![1]];
  const style = e.att_context_style;
  if (style === 'chunked_limited' && pair[1] >= 0 && chunkedLimitedViolations(pair).includes('left_not_whole_chunks')) {
    throw new ArgError(`show-attention: chunked_limited needs left % (right + 1) == 0 (NeMo refuses it); got [${pair[0]}, ${pair[1]}]`);
  }
  const frames = options.frames ?? defaultFrames(pair, style);
  if (frames < 1 || frames > 2000) throw new ArgError(`show-attention: --frames must be in [1, 2000], got ${frames}`);
  const validFrames = options.validFrames ?? frames;
  if (validFrames < 0 || validFrames > frames) throw new ArgError(`show-attention: --valid-frames must be in [0, ${frames}], got ${validFrames}`);
  const grid = attentionGrid({ size: pair, style, frames, validFrames });
  const d = describeAttention({
    pair,
    style,
    frameMs: encoderFrameMs(c),
    nLayers: e.n_layers,
    convRight: convContextOf(e)[1],
    frames,
    pairs: e.att_context_size.length,
  });
  const chunk = options.chunk === false ? null : options.chunk === true ? pair[1] + 1 : d.chunk;
  const pic = await drawAttentionMask(grid, { title: d.title, lines: d.lines, chunk, validFrames });
  pic.canvas.save(options.out);
  process.stdout.write(
    `wrote ${options.out}: ${pic.canvas.width}x${pic.canvas.height} px, ${frames}x${frames} frames, ${d.title}\n  ${d.lines.join('\n  ')}\n`,
  );
  return 0;
}
