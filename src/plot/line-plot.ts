// Line charts (loss curves, latency over time) drawn to PNG with axes, ticks, legend and reference lines.
import { Canvas, type Rgb } from './canvas.js';

export interface Series {
  name: string;
  x: number[];
  y: number[];
  color?: Rgb;
}

export interface LinePlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  logY?: boolean;
  /** Horizontal reference lines (e.g. a real-time budget), drawn dashed. */
  hLines?: { y: number; label: string; color?: Rgb }[];
}

/** The series colours, in order (matplotlib's first six). */
export const PALETTE: readonly Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
];

/** "Nice" tick values covering [lo, hi] (1, 2, 5 x 10^k steps). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw * (1 - 1e-9)) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** An axis tick's label: up to 4 significant digits, exponential outside [1e-3, 1e5). */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

export function linePlot(series: Series[], o: LinePlotOptions): Canvas {
  const W = o.width ?? 800;
  const H = o.height ?? 480;
  const c = new Canvas(W, H);
  const left = 70;
  const right = 20;
  const top = 40;
  const bottom = 50;
  const pw = W - left - right;
  const ph = H - top - bottom;
  const tf = (v: number): number => (o.logY ? Math.log10(Math.max(v, 1e-30)) : v);
  const xs = series.flatMap((s) => s.x);
  const ys = [...series.flatMap((s) => s.y), ...(o.hLines ?? []).map((l) => l.y)].filter((v) => Number.isFinite(v)).map(tf);
  const x0 = xs.length ? Math.min(...xs) : 0;
  let x1 = xs.length ? Math.max(...xs) : 1;
  let y0 = ys.length ? Math.min(...ys) : 0;
  let y1 = ys.length ? Math.max(...ys) : 1;
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const px = (x: number): number => left + ((x - x0) / (x1 - x0)) * pw;
  const py = (y: number): number => top + ph - ((tf(y) - y0) / (y1 - y0)) * ph;

  c.text(left, 14, o.title, [0, 0, 0], 2);
  const grid: Rgb = [225, 225, 225];
  for (const t of niceTicks(x0, x1)) {
    const X = px(t);
    c.line(X, top, X, top + ph, grid);
    const s = formatTick(t);
    c.text(X - Canvas.textWidth(s) / 2, top + ph + 6, s);
  }
  for (const t of niceTicks(y0, y1)) {
    const Y = top + ph - ((t - y0) / (y1 - y0)) * ph;
    c.line(left, Y, left + pw, Y, grid);
    const s = o.logY ? formatTick(10 ** t) : formatTick(t);
    c.text(left - 6 - Canvas.textWidth(s), Y - 3, s);
  }
  c.strokeRect(left, top, pw, ph, [0, 0, 0]);
  c.text(left + pw / 2 - Canvas.textWidth(o.xLabel) / 2, H - 18, o.xLabel);
  c.textVertical(8, top + ph / 2 + Canvas.textWidth(o.yLabel) / 2, o.yLabel);

  for (const l of o.hLines ?? []) {
    const Y = py(l.y);
    c.dashedLine(left, Y, left + pw, Y, l.color ?? [200, 0, 0]);
    c.text(left + pw - Canvas.textWidth(l.label) - 4, Y - 10, l.label, l.color ?? [200, 0, 0]);
  }
  series.forEach((s, i) => {
    const col = s.color ?? PALETTE[i % PALETTE.length]!;
    let prev: [number, number] | null = null;
    for (let k = 0; k < s.x.length; k++) {
      const yv = s.y[k]!;
      if (!Number.isFinite(yv)) {
        prev = null;
        continue;
      }
      const p: [number, number] = [px(s.x[k]!), py(yv)];
      if (prev) c.line(prev[0], prev[1], p[0], p[1], col, 2);
      else c.fillRect(p[0] - 1, p[1] - 1, 3, 3, col);
      prev = p;
    }
    // legend
    const ly = top + 8 + i * 14;
    c.fillRect(left + 10, ly + 2, 14, 3, col);
    c.text(left + 30, ly, s.name);
  });
  return c;
}
