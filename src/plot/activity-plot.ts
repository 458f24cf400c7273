// Speaker activity over time: one lane per speaker, the reference turns as shaded bars and the diarizer's activity
// probability as a line over them (the threshold dashed), with a time axis in seconds.
import { Canvas, type Rgb } from './canvas.js';
import { niceTicks } from './line-plot.js';

export interface ActivityLane {
  /** Lane label (a speaker name or "spk0"). */
  label: string;
  /** Reference speech of this lane, [start, end] in seconds. */
  reference: readonly (readonly [number, number])[];
  /** Activity probabilities in [0, 1], one per frame of `frameSeconds` (empty: reference only). */
  activity: ArrayLike<number>;
}

export interface ActivityPlotOptions {
  title: string;
  subtitle?: string;
  /** Seconds per activity frame (the encoder's output frame, e.g. 0.08). */
  frameSeconds: number;
  /** Length of the time axis in seconds. */
  seconds: number;
  /** Decision threshold drawn as a dashed line in every lane. */
  threshold?: number;
  width?: number;
  laneHeight?: number;
}

const PALETTE: Rgb[] = [
  [31, 119, 180],
  [214, 39, 40],
  [44, 160, 44],
  [148, 103, 189],
  [255, 127, 14],
  [140, 86, 75],
];

const lighten = (c: Rgb): Rgb => c.map((v) => Math.round(v + (255 - v) * 0.75)) as Rgb;

/** One lane per entry of `lanes`, time on the x axis. */
export function activityPlot(lanes: readonly ActivityLane[], o: ActivityPlotOptions): Canvas {
  if (!(o.seconds > 0) || !(o.frameSeconds > 0)) throw new RangeError('activity plot: seconds and frameSeconds must be positive');
  const left = 70;
  const right = 20;
  const top = o.subtitle ? 60 : 44;
  const laneH = o.laneHeight ?? 60;
  const gap = 10;
  const W = o.width ?? 960;
  const plotW = W - left - right;
  const H = top + lanes.length * (laneH + gap) + 40;
  const c = new Canvas(W, H);
  c.text(10, 10, o.title, [0, 0, 0], 2);
  if (o.subtitle) c.text(10, 34, o.subtitle, [60, 60, 60]);
  const x = (sec: number): number => left + (Math.min(Math.max(sec, 0), o.seconds) / o.seconds) * plotW;
  lanes.forEach((lane, i) => {
    const y0 = top + i * (laneH + gap);
    const color = PALETTE[i % PALETTE.length]!;
    c.strokeRect(left, y0, plotW, laneH, [180, 180, 180]);
    for (const [s, e] of lane.reference) c.fillRect(x(s), y0 + 1, Math.max(1, x(e) - x(s)), laneH - 1, lighten(color));
    const y = (p: number): number => y0 + laneH - 2 - Math.min(Math.max(p, 0), 1) * (laneH - 4);
    if (o.threshold !== undefined) c.dashedLine(left, y(o.threshold), left + plotW, y(o.threshold), [120, 120, 120], 4);
    for (let f = 1; f < lane.activity.length; f++) {
      const t0 = (f - 0.5) * o.frameSeconds;
      c.line(x(t0), y(lane.activity[f - 1]!), x(t0 + o.frameSeconds), y(lane.activity[f]!), color, 2);
    }
    c.text(6, y0 + laneH / 2 - 3, lane.label.slice(0, 10), color);
  });
  const axisY = top + lanes.length * (laneH + gap);
  for (const tick of niceTicks(0, o.seconds, 8)) {
    if (tick < 0 || tick > o.seconds) continue;
    c.line(x(tick), axisY - gap, x(tick), axisY - gap + 4, [0, 0, 0]);
    const label = `${Number(tick.toFixed(2))}`;
    c.text(x(tick) - (label.length * 6) / 2, axisY, label);
  }
  c.text(left + plotW / 2 - 36, axisY + 14, 'time (s)');
  return c;
}
