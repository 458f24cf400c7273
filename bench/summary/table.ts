// The summary block of BENCHMARKS.md: a markdown table (workload, streamnest, twin, ratio, goal, met?) with the run's
// machine, load, date, commit and command, written between two markers so that a rerun replaces only that block.
import type { MachineInfo } from './machine.js';

export const BEGIN = '<!-- summary:begin -->';
export const END = '<!-- summary:end -->';

export interface SummaryRow {
  workload: string;
  streamnest: string;
  twin: string;
  /** streamnest / twin (time: below 1 is faster). */
  ratio: number;
  /** Shown instead of the ratio where the goal is phrased as a speed-up (e.g. "1.72x the utterances/s"). */
  ratioText?: string;
  goal: string;
  /** Whether the goal is met (null: no goal). */
  met: boolean | null;
}

export interface RunInfo {
  machine: MachineInfo;
  twinTorch: string;
  quick: boolean;
  command: string;
  started: Date;
  finished: Date;
  loadBefore: string;
  loadAfter: string;
  /** Load average at the end of each part, in order. */
  loadByPart: { part: string; load: string }[];
}

/** "2026-12-02 06:46–06:51 UTC" (the end's date too when it differs). */
function span(a: Date, b: Date): string {
  const [da, ta] = a.toISOString().slice(0, 16).split('T') as [string, string];
  const [db, tb] = b.toISOString().slice(0, 16).split('T') as [string, string];
  return da === db ? `${da} ${ta}–${tb} UTC` : `${da} ${ta} UTC – ${db} ${tb} UTC`;
}

/** The block (markers included). */
export function summaryBlock(rows: readonly SummaryRow[], run: RunInfo, notes: readonly string[]): string {
  const m = run.machine;
  const minutes = (run.finished.getTime() - run.started.getTime()) / 60000;
  const lines = [BEGIN, '<!-- written by bench/summary.ts; everything between these two markers is replaced by the next run -->', ''];
  if (run.quick) {
    lines.push(
      '**Quick run (`--quick`: shorter streams, fewer repeats and rounds) on a loaded machine: a check that the command works, not a measurement. Re-take it without `--quick` on a quiet machine.**',
      '',
    );
  }
  lines.push(
    `- Command: \`${run.command}\` (1 thread on both sides, one workload after another)`,
    `- Machine: ${m.cpuModel}, ${m.cores} cores; load average (1 / 5 / 15 min) **${run.loadBefore}** before, **${run.loadAfter}** after`,
    `- Date: ${span(run.started, run.finished)} (${minutes.toFixed(1)} min); commit \`${m.commit}\`, native addon built ${m.addonBuilt}`,
    `- streamnest on libtorch ${m.libtorch}, Node ${m.node}; the twins on PyTorch ${run.twinTorch} (\`/usr/bin/python3\`)`,
    '',
    '| workload | streamnest | twin (or the reference named) | ratio | goal | met? |',
    '| --- | --- | --- | --- | --- | --- |',
  );
  for (const r of rows) {
    const met = r.met === null ? '' : r.met ? 'yes' : '**no**';
    lines.push(`| ${r.workload} | ${r.streamnest} | ${r.twin} | ${r.ratioText ?? `${r.ratio.toFixed(2)}x`} | ${r.goal} | ${met} |`);
  }
  lines.push('', ...notes, `- Load average after each part: ${run.loadByPart.map((p) => `${p.part} ${p.load}`).join('; ')}.`, END);
  return lines.join('\n');
}

/** `text` with the block between the markers replaced; without markers, the block goes under the first heading. */
export function replaceSummary(text: string, block: string): string {
  const b = text.indexOf(BEGIN);
  const e = text.indexOf(END);
  if (b >= 0 && e > b) return text.slice(0, b) + block + text.slice(e + END.length);
  if (b >= 0 || e >= 0) throw new Error(`found only one of the markers ${BEGIN} / ${END}; fix the file by hand`);
  const nl = text.indexOf('\n');
  const head = nl < 0 ? text : text.slice(0, nl + 1);
  const rest = nl < 0 ? '' : text.slice(nl + 1);
  return `${head}\n## Summary\n\n${block}\n${rest}`;
}
