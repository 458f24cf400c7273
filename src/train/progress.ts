// A one-line progress bar for long work: step/total, loss, learning rate, steps per second and ETA.
export interface ProgressFields {
  step: number;
  total: number;
  loss?: number;
  lr?: number;
  extra?: Record<string, string | number>;
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
}

export class ProgressBar {
  private readonly start = Date.now();
  private startStep = -1;
  private lastDraw = 0;
  constructor(
    readonly label: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
    readonly width = 24,
  ) {}

  /** Formats the line (exposed for tests and non-TTY logs). */
  format(f: ProgressFields, now = Date.now()): string {
    if (this.startStep < 0) this.startStep = f.step;
    const frac = f.total > 0 ? Math.min(1, f.step / f.total) : 0;
    const filled = Math.round(frac * this.width);
    const bar = '#'.repeat(filled) + '.'.repeat(this.width - filled);
    const elapsed = (now - this.start) / 1000;
    const rate = elapsed > 0 ? (f.step - this.startStep) / elapsed : 0;
    const eta = rate > 0 ? (f.total - f.step) / rate : NaN;
    const parts = [`${this.label} [${bar}] ${f.step}/${f.total}`];
    if (f.loss !== undefined) parts.push(`loss ${Number.isFinite(f.loss) ? f.loss.toFixed(4) : String(f.loss)}`);
    if (f.lr !== undefined) parts.push(`lr ${f.lr.toExponential(2)}`);
    parts.push(`${rate.toFixed(2)} it/s`, `eta ${fmtDuration(eta)}`);
    for (const [k, v] of Object.entries(f.extra ?? {})) parts.push(`${k} ${typeof v === 'number' ? Number(v.toPrecision(4)) : v}`);
    return parts.join(' | ');
  }

  /** Redraws in place on a TTY (at most 10 times a second); prints a line every `everyLines` steps otherwise. */
  update(f: ProgressFields, everyLines = 10): void {
    const now = Date.now();
    const line = this.format(f, now);
    if (this.out.isTTY) {
      if (now - this.lastDraw < 100 && f.step < f.total) return;
      this.lastDraw = now;
      this.out.write(`\r${line.slice(0, (this.out.columns ?? 160) - 1)}\x1b[K`);
    } else if (f.step % everyLines === 0 || f.step === f.total) {
      this.out.write(line + '\n');
    }
  }

  done(message?: string): void {
    if (this.out.isTTY) this.out.write('\n');
    if (message) this.out.write(message + '\n');
  }
}
