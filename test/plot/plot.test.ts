import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { encodePng, linePlot, maskPlot, niceTicks, Canvas } from '../../src/plot/index.js';

function decodeRgbPng(png: Buffer): { width: number; height: number; rgb: Uint8Array } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let off = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.subarray(off + 4, off + 8).toString('latin1');
    const data = png.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8);
      assert.equal(data[9], 2);
    }
    if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) rgb.set(raw.subarray(y * (width * 3 + 1) + 1, (y + 1) * (width * 3 + 1)), y * width * 3);
  return { width, height, rgb };
}

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
