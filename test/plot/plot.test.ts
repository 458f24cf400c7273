import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePng, linePlot, maskPlot, niceTicks, Canvas } from '../../src/plot/index.js';
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
