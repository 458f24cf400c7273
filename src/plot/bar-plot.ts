// Grouped bar charts with error bars and the individual runs as dots (e.g. best dev WER per experiment row,
// pretrained against from scratch, mean ± std over seeds) drawn to PNG.
import { Canvas, type Rgb } from './canvas.js';
import { formatTick, niceTicks, PALETTE } from './line-plot.js';

/** One bar: its runs' values (the bar is their mean, the error bar their sample standard deviation). */
export interface Bar {
  values: readonly number[];
}

/** A group of bars side by side, one per series, under one label. */
export interface BarGroup {
  label: string;
  bars: readonly (Bar | null)[];
}

export interface BarPlotOptions {
  title: string;
  yLabel: string;
  /** The name of each series (bar position within a group), shown in the legend. */
  series: readonly string[];
  colors?: readonly Rgb[];
  width?: number;
  height?: number;
  /** The y axis range; by default from the lowest to the highest value or error bar end, padded. */
  yMin?: number;
  yMax?: number;
}

/** The mean and sample standard deviation (0 for one value) of a bar's runs. */
export function barStats(values: readonly number[]): { mean: number; std: number } {
  if (values.length === 0) throw new RangeError('barPlot: a bar needs at least one value');
  const mean = values.reduce((a, v) => a + v, 0) / values.length;
  const ss = values.reduce((a, v) => a + (v - mean) ** 2, 0);
  return { mean, std: values.length > 1 ? Math.sqrt(ss / (values.length - 1)) : 0 };
}

function yRange(groups: readonly BarGroup[], o: BarPlotOptions): [number, number] {
  const ends = groups.flatMap((g) =>
    g.bars.flatMap((b) => {
      if (!b) return [];
      const { mean, std } = barStats(b.values);
      return [mean - std, mean + std, ...b.values];
    }),
  );
  let lo = o.yMin ?? (ends.length ? Math.min(...ends) : 0);
  let hi = o.yMax ?? (ends.length ? Math.max(...ends) : 1);
  if (hi <= lo) [lo, hi] = [lo - 0.5, lo + 0.5];
  const pad = (hi - lo) * 0.08;
  return [o.yMin ?? lo - pad, o.yMax ?? hi + pad];
}

/** Bars rise from the bottom of the y range; each has a black error bar (± std) and a white dot per run. */
export function barPlot(groups: readonly BarGroup[], o: BarPlotOptions): Canvas {
  const W = o.width ?? 800;
  const H = o.height ?? 480;
  const c = new Canvas(W, H);
  const [left, right, top, bottom] = [70, 20, 40, 70];
  const pw = W - left - right;
  const ph = H - top - bottom;
  const [y0, y1] = yRange(groups, o);
  const py = (y: number): number => top + ph - ((Math.min(Math.max(y, y0), y1) - y0) / (y1 - y0)) * ph;
  const colors = o.colors ?? PALETTE;

  c.text(left, 14, o.title, [0, 0, 0], 2);
  for (const t of niceTicks(y0, y1)) {
    const Y = py(t);
    c.line(left, Y, left + pw, Y, [225, 225, 225]);
    const s = formatTick(t);
    c.text(left - 6 - Canvas.textWidth(s), Y - 3, s);
  }
  c.textVertical(8, top + ph / 2 + Canvas.textWidth(o.yLabel) / 2, o.yLabel);

  const groupWidth = pw / Math.max(groups.length, 1);
  const barWidth = Math.max(2, Math.floor((groupWidth * 0.7) / Math.max(o.series.length, 1)));
  groups.forEach((g, gi) => {
    const gx = left + gi * groupWidth + (groupWidth - barWidth * o.series.length) / 2;
    g.bars.forEach((b, bi) => {
      if (!b) return;
      const { mean, std } = barStats(b.values);
      const col = colors[bi % colors.length]!;
      const x = gx + bi * barWidth;
      c.fillRect(x + 1, py(mean), barWidth - 2, top + ph - py(mean), col);
      const mid = x + barWidth / 2;
      c.line(mid, py(mean - std), mid, py(mean + std), [0, 0, 0], 2);
      for (const e of [mean - std, mean + std]) c.line(mid - barWidth / 4, py(e), mid + barWidth / 4, py(e), [0, 0, 0], 2);
      for (const v of b.values) {
        c.fillRect(mid - 3, py(v) - 3, 7, 7, [0, 0, 0]);
        c.fillRect(mid - 2, py(v) - 2, 5, 5, [255, 255, 255]);
      }
    });
    g.label.split('\n').forEach((l, k) => {
      c.text(left + gi * groupWidth + groupWidth / 2 - Canvas.textWidth(l) / 2, top + ph + 6 + k * 11, l);
    });
  });
  c.strokeRect(left, top, pw, ph, [0, 0, 0]);
  o.series.forEach((name, i) => {
    const x = left + pw - 200;
    const y = top + 8 + i * 14;
    c.fillRect(x, y, 14, 8, colors[i % colors.length]!);
    c.text(x + 20, y, name);
  });
  return c;
}
