// Frame-to-frame boolean matrices (attention masks) drawn as grids: rows = query frames, columns = key frames.
import { Canvas, type Rgb } from './canvas.js';

export interface MaskPlotOptions {
  title: string;
  subtitle?: string;
  /** Pixel size of one cell (default chosen to fit ~640 px). */
  cell?: number;
  on?: Rgb;
  off?: Rgb;
  /** Draw chunk boundaries every `chunk` frames. */
  chunk?: number;
}

/** mask[q][k] = true where query frame q may attend to key frame k. */
export function maskPlot(mask: boolean[][], o: MaskPlotOptions): Canvas {
  const n = mask.length;
  const m = n ? mask[0]!.length : 0;
  const cell = o.cell ?? Math.max(4, Math.floor(640 / Math.max(n, m, 1)));
  const left = 50;
  const top = o.subtitle ? 60 : 44;
  const W = left + m * cell + 20;
  const H = top + n * cell + 40;
  const c = new Canvas(Math.max(W, 360), H);
  c.text(10, 10, o.title, [0, 0, 0], 2);
  if (o.subtitle) c.text(10, 34, o.subtitle, [60, 60, 60]);
  const on = o.on ?? [31, 119, 180];
  const off = o.off ?? [240, 240, 240];
  for (let q = 0; q < n; q++) {
    for (let k = 0; k < m; k++) c.fillRect(left + k * cell, top + q * cell, cell - (cell > 4 ? 1 : 0), cell - (cell > 4 ? 1 : 0), mask[q]![k] ? on : off);
  }
  if (o.chunk && o.chunk > 0) {
    for (let b = o.chunk; b < Math.max(n, m); b += o.chunk) {
      if (b < m) c.line(left + b * cell - 1, top, left + b * cell - 1, top + n * cell, [200, 0, 0]);
      if (b < n) c.line(left, top + b * cell - 1, left + m * cell, top + b * cell - 1, [200, 0, 0]);
    }
  }
  c.text(left, top + n * cell + 8, 'key frame ->');
  c.textVertical(20, top + n * cell, 'query frame ->');
  return c;
}
