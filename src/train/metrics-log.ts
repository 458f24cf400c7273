// Metrics to disk: a CSV (one row per logged step, columns grow as new metrics appear) and TensorBoard scalars.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { TensorBoardWriter } from './tensorboard.js';

export class CsvLog {
  private columns: string[] = [];
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    if (existsSync(path)) {
      const head = readFileSync(path, 'utf8').split('\n')[0];
      if (head) this.columns = head.split(',');
    }
  }
  append(row: Record<string, number | string>): void {
    const keys = Object.keys(row);
    const missing = keys.filter((k) => !this.columns.includes(k));
    if (missing.length) {
      // rewrite the header with the new columns (old rows keep blanks)
      const old = existsSync(this.path)
        ? readFileSync(this.path, 'utf8')
            .split('\n')
            .slice(1)
            .filter((l) => l.length)
        : [];
      this.columns = [...this.columns, ...missing];
      writeFileSync(this.path, [this.columns.join(','), ...old].join('\n') + '\n');
    }
    appendFileSync(this.path, this.columns.map((c) => (row[c] === undefined ? '' : String(row[c]))).join(',') + '\n');
  }
  /** Reads the CSV back as rows of numbers (blank cells become NaN). */
  static read(path: string): Record<string, number>[] {
    const lines = readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.length);
    const cols = lines[0]?.split(',') ?? [];
    return lines.slice(1).map((l) => {
      const cells = l.split(',');
      return Object.fromEntries(cols.map((c, i) => [c, cells[i] === undefined || cells[i] === '' ? NaN : Number(cells[i])]));
    });
  }
}

/** Writes each logged step to TensorBoard and the CSV together. */
export class MetricsLogger {
  readonly csv: CsvLog;
  readonly tb: TensorBoardWriter | null;
  constructor(logDir: string, tensorboard = true) {
    this.csv = new CsvLog(`${logDir}/metrics.csv`);
    this.tb = tensorboard ? new TensorBoardWriter(logDir) : null;
  }
  log(step: number, values: Record<string, number>): void {
    this.csv.append({ step, ...values });
    this.tb?.scalars(step, values);
  }
  close(): void {
    this.tb?.close();
  }
}
