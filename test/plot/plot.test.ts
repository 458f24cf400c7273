import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activityPlot, barPlot, barStats, encodePng, linePlot, maskPlot, niceTicks, Canvas } from '../../src/plot/index.js';
import { decodeRgbPng } from '../helpers/png.js';

test('encodePng writes pixels that decode back exactly', () => {
  const rgb = Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => (i * 37) % 256);
  const out = decodeRgbPng(encodePng(4, 3, rgb));
  assert.equal(out.width, 4);
  assert.equal(out.height, 3);
  assert.deepEqual([...out.rgb], [...rgb]);
  assert.throws(() => encodePng(4, 3, new Uint8Array(5)), /expected 36 bytes/);
});

test('niceTicks gives 1-2-5 steps covering the range', () => {
  assert.deepEqual(niceTicks(0, 10), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(0.3, 0.9, 3), [0.4, 0.6, 0.8]);
});

test('linePlot draws each series in its colour; maskPlot colours allowed cells', () => {
  const c = linePlot([{ name: 'loss', x: [0, 1, 2], y: [3, 2, 1], color: [255, 0, 0] }], { title: 't', xLabel: 'x', yLabel: 'y' });
  const { rgb } = decodeRgbPng(c.toPng());
  let red = 0;
  for (let i = 0; i < rgb.length; i += 3) if (rgb[i] === 255 && rgb[i + 1] === 0 && rgb[i + 2] === 0) red++;
  assert.ok(red > 200, `the red series should be drawn (found ${red} red pixels)`);
  const m = maskPlot(
    [
      [true, false],
      [true, true],
    ],
    { title: 'causal', cell: 10, on: [0, 0, 255], off: [9, 9, 9] },
  );
  const px = (x: number, y: number): number[] => [...m.pixels.subarray((y * m.width + x) * 3, (y * m.width + x) * 3 + 3)];
  // cell (q=0,k=0) on, (q=0,k=1) off; grid origin at left=50, top=44
  assert.deepEqual(px(50 + 2, 44 + 2), [0, 0, 255]);
  assert.deepEqual(px(60 + 2, 44 + 2), [9, 9, 9]);
  assert.ok(Canvas.textWidth('abc') === 18);
});

test('activityPlot shades reference turns where they are and draws the activity line in the lane colour', () => {
  // lane 0 (blue [31,119,180], shade [199,221,236]) speaks 0-5 s of 10; its activity is 1 for the first half
  const lanes = [
    { label: 'spk0', reference: [[0, 5]] as const, activity: Float32Array.from({ length: 125 }, (_, f) => (f < 62 ? 1 : 0)) },
    { label: 'spk1', reference: [[5, 10]] as const, activity: [] },
  ];
  const c = activityPlot(lanes, { title: 'session', frameSeconds: 0.08, seconds: 10, threshold: 0.5, width: 570 });
  const px = (x: number, y: number): number[] => [...c.pixels.subarray((y * c.width + x) * 3, (y * c.width + x) * 3 + 3)];
  // plot area: left 70, width 480 -> 48 px per second; lanes 60 px high from top 44, 10 px apart
  const shade0 = [199, 221, 236];
  assert.deepEqual(px(70 + 48 * 2, 44 + 20), shade0, 'lane 0 is shaded at 2 s');
  assert.deepEqual(px(70 + 48 * 7, 44 + 20), [255, 255, 255], 'lane 0 is not shaded at 7 s');
  assert.deepEqual(px(70 + 48 * 2, 114 + 20), [255, 255, 255], 'lane 1 is not shaded at 2 s');
  assert.notDeepEqual(px(70 + 48 * 7, 114 + 20), [255, 255, 255], 'lane 1 is shaded at 7 s');
  let blueHigh = 0;
  let blueLow = 0;
  for (let x = 70; x < 70 + 480; x++) {
    for (let y = 44; y < 104; y++) {
      const p = px(x, y);
      if (p[0] === 31 && p[1] === 119 && p[2] === 180) y < 60 ? blueHigh++ : blueLow++;
    }
  }
  assert.ok(blueHigh > 200 && blueLow > 200, `the activity line is drawn high then low (${blueHigh}, ${blueLow})`);
  assert.throws(() => activityPlot(lanes, { title: 't', frameSeconds: 0, seconds: 10 }), /positive/);
});

test('barStats: mean and sample standard deviation; one value has no spread; no value is an error', () => {
  const s = barStats([70, 72, 74]);
  assert.equal(s.mean, 72);
  assert.equal(s.std, 2);
  assert.deepEqual(barStats([5]), { mean: 5, std: 0 });
  assert.throws(() => barStats([]), /at least one value/);
});

test('barPlot draws each bar to its mean in its series colour, with the error bar and a white dot per run', () => {
  // y range fixed to [0, 100]: plot area top 40, height 480 - 40 - 70 = 370, so y = v maps to 410 - 3.7 v
  const c = barPlot(
    [
      { label: 'causal', bars: [{ values: [40, 60] }, { values: [80] }] },
      { label: 'none', bars: [null, { values: [20] }] },
    ],
    { title: 't', yLabel: 'WER', series: ['pretrained', 'scratch'], yMin: 0, yMax: 100, width: 470 },
  );
  const px = (x: number, yf: number): number[] => {
    const y = Math.round(yf);
    return [...c.pixels.subarray((y * c.width + x) * 3, (y * c.width + x) * 3 + 3)];
  };
  // plot width 470 - 90 = 380: groups of 190 px; bars of floor(190 * 0.7 / 2) = 66 px starting at 70 + 29
  const blue = [31, 119, 180];
  const orange = [255, 127, 14];
  assert.deepEqual(px(99 + 10, 410 - 3.7 * 45), blue, 'bar 1 of group 1 reaches its mean (50)');
  assert.deepEqual(px(99 + 10, 410 - 3.7 * 55), [255, 255, 255], 'and not above it');
  assert.deepEqual(px(165 + 10, 410 - 3.7 * 75), orange, 'bar 2 of group 1 reaches 80');
  assert.deepEqual(px(99 + 33, 410 - 3.7 * 58), [0, 0, 0], 'the error bar spans mean ± std (50 ± 14.1)');
  assert.deepEqual(px(99 + 33, 410 - 3.7 * 60), [255, 255, 255], 'a white dot marks the run at 60, on the black error bar');
  assert.deepEqual(px(260 + 29 + 10, 410 - 3.7 * 10), [255, 255, 255], 'a missing bar is not drawn');
  assert.deepEqual(px(260 + 29 + 66 + 10, 410 - 3.7 * 10), orange, "the group's other bar is");
});
