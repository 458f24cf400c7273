// An RGB raster with lines, rectangles and bitmap text, saved as PNG.
import { writeFileSync } from 'node:fs';
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyph } from './font.js';
import { encodePng } from './png.js';

export type Rgb = [number, number, number];

export class Canvas {
  readonly pixels: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    this.pixels = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.pixels.set(background, i * 3);
  }
  set(x: number, y: number, c: Rgb): void {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= this.width || yi >= this.height) return;
    this.pixels.set(c, (yi * this.width + xi) * 3);
  }
  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let j = Math.max(0, Math.floor(y)); j < Math.min(this.height, Math.ceil(y + h)); j++) {
      for (let i = Math.max(0, Math.floor(x)); i < Math.min(this.width, Math.ceil(x + w)); i++) this.pixels.set(c, (j * this.width + i) * 3);
    }
  }
  strokeRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    this.line(x, y, x + w, y, c);
    this.line(x + w, y, x + w, y + h, c);
    this.line(x + w, y + h, x, y + h, c);
    this.line(x, y + h, x, y, c);
  }
  /** A line of the given thickness (Bresenham on a rounded grid). */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1): void {
    const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
    const r = (thickness - 1) / 2;
    for (let s = 0; s <= steps; s++) {
      const x = x0 + ((x1 - x0) * s) / steps;
      const y = y0 + ((y1 - y0) * s) / steps;
      if (r <= 0) this.set(x, y, c);
      else this.fillRect(x - r, y - r, thickness, thickness, c);
    }
  }
  dashedLine(x0: number, y0: number, x1: number, y1: number, c: Rgb, dash = 6): void {
    const len = Math.hypot(x1 - x0, y1 - y0);
    for (let d = 0; d < len; d += dash * 2) {
      const a = d / len;
      const b = Math.min(1, (d + dash) / len);
      this.line(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a, x0 + (x1 - x0) * b, y0 + (y1 - y0) * b, c);
    }
  }
  /** Text with its top-left corner at (x, y); scale multiplies the 5x7 glyphs. Returns the width drawn. */
  text(x: number, y: number, s: string, c: Rgb = [0, 0, 0], scale = 1): number {
    let cx = x;
    for (const ch of s) {
      const cols = glyph(ch);
      cols.forEach((bits, col) => {
        for (let row = 0; row < GLYPH_HEIGHT; row++) {
          if (bits & (1 << row)) this.fillRect(cx + col * scale, y + row * scale, scale, scale, c);
        }
      });
      cx += GLYPH_WIDTH * scale;
    }
    return cx - x;
  }
  /** Text rotated 90 degrees counter-clockwise (for y-axis labels), starting at the bottom (x, y). */
  textVertical(x: number, y: number, s: string, c: Rgb = [0, 0, 0], scale = 1): void {
    let cy = y;
    for (const ch of s) {
      const cols = glyph(ch);
      cols.forEach((bits, col) => {
        for (let row = 0; row < GLYPH_HEIGHT; row++) {
          if (bits & (1 << row)) this.fillRect(x + row * scale, cy - col * scale, scale, scale, c);
        }
      });
      cy -= GLYPH_WIDTH * scale;
    }
  }
  static textWidth(s: string, scale = 1): number {
    return s.length * GLYPH_WIDTH * scale;
  }
  toPng(): Buffer {
    return encodePng(this.width, this.height, this.pixels);
  }
  save(path: string): void {
    writeFileSync(path, this.toPng());
  }
}
