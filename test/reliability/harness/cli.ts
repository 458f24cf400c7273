// Command line of the long reliability runs (tools/reliability/*.sh call the compiled file):
//   node <outDir>/test/reliability/harness/cli.js kill-resume [kills=20] [steps=60] [seed=1]
//   node <outDir>/test/reliability/harness/cli.js fuzz [inputsPerTarget=5000] [seed=1] [target,...]
//   node <outDir>/test/reliability/harness/cli.js soak [steps=2000] [warmup=200]
// Prints a JSON summary on stdout and exits 1 when a check fails.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runKillResume } from './kill-resume.js';
import { TARGET_NAMES, fuzzTarget } from './fuzz.js';
import { runSoak } from './soak.js';

const log = (l: string): void => {
  process.stderr.write(l + '\n');
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const num = (i: number, d: number): number => (rest[i] !== undefined ? Number(rest[i]) : d);
  if (cmd === 'kill-resume') {
    const kills = num(0, 20);
    const steps = num(1, 60);
    const r = await runKillResume({
      kills,
      maxSteps: steps,
      valCheckInterval: 2,
      seed: num(2, 1),
      workDir: join(tmpdir(), `streamnest-kill-resume-${process.pid}`),
      log,
    });
    const failed = r.differences.length > 0 || r.kills.some((k) => k.problems.length > 0) || r.leftoverTemporaries.length > 0 || r.finalStep !== steps;
    const summary = {
      check: 'kill-resume',
      kills: r.kills.length,
      duringCheckpointWrite: r.kills.filter((k) => k.duringWrite).length,
      byMode: { timer: r.kills.filter((k) => k.mode === 'timer').length, checkpointWrite: r.kills.filter((k) => k.mode === 'checkpoint-write').length },
      runs: r.runs,
      checkpointsOpened: r.kills.reduce((s, k) => s + k.checked.length, 0),
      unreadable: r.kills.flatMap((k) => k.problems),
      finalStep: r.finalStep,
      identicalToUninterrupted: r.differences.length === 0,
      differences: r.differences,
      leftoverTemporaries: r.leftoverTemporaries,
      passed: !failed,
    };
    process.stdout.write(JSON.stringify(summary, null, 1) + '\n');
    return failed ? 1 : 0;
  }
  if (cmd === 'fuzz') {
    const n = num(0, 5000);
    const seed = num(1, 1);
    const targets = rest[2] ? rest[2].split(',') : TARGET_NAMES;
    const reports = [];
    let failed = false;
    for (const target of targets) {
      const r = await fuzzTarget({
        target,
        seed,
        count: n,
        perInputMs: 10_000,
        rssLimitMiB: 2048,
        scratchDir: join(tmpdir(), `streamnest-fuzz-${process.pid}`),
        findingsDir: join(process.cwd(), 'fuzz-findings'),
      });
      const memGrowth = r.rssEndMiB - r.rssEarlyMiB;
      const ok = r.findings.length === 0 && r.liveTensorsAtEnd === 0 && memGrowth < 100;
      failed ||= !ok;
      log(
        `fuzz ${target}: ${r.inputs} inputs in ${(r.wallMs / 1000).toFixed(1)} s; ${JSON.stringify(r.outcomes)}; max ${r.maxMs.toFixed(1)} ms/input; RSS ${r.rssEarlyMiB} -> ${r.rssEndMiB} MiB (max ${r.maxRssMiB}); live tensors at end ${r.liveTensorsAtEnd}; ${r.findings.length} finding(s)`,
      );
      for (const f of r.findings.slice(0, 10)) log(`  #${f.index} ${f.kind}: ${f.detail.split('\n')[0]}${f.file ? ` (${f.file})` : ''}`);
      reports.push({ ...r, findings: r.findings.slice(0, 20), passed: ok });
    }
    process.stdout.write(JSON.stringify({ check: 'fuzz', seed, inputsPerTarget: n, reports, passed: !failed }, null, 1) + '\n');
    return failed ? 1 : 0;
  }
  if (cmd === 'soak') {
    const steps = num(0, 2000);
    const warmup = num(1, Math.floor(steps / 10));
    const r = await runSoak({ steps, warmupSteps: warmup, workDir: join(tmpdir(), `streamnest-soak-${process.pid}`), log });
    // the release bar: memory flat within 5%, the last tenth at least 85% as fast as the first (per CPU-second; the
    // wall-clock ratio is reported, and held to the same bar with SOAK_WALL=1 on a quiet machine), live tensors constant
    const ok = r.rssGrowth <= 0.05 && r.cpuSpeedRatio >= 0.85 && (process.env.SOAK_WALL !== '1' || r.speedRatio >= 0.85) && r.liveMax === r.liveMin;
    const { samples: _s, ...summary } = r;
    process.stdout.write(JSON.stringify({ check: 'soak', ...summary, passed: ok }, null, 1) + '\n');
    return ok ? 0 : 1;
  }
  process.stderr.write('usage: cli.js kill-resume [kills] [steps] [seed] | fuzz [n] [seed] [targets] | soak [steps] [warmup]\n');
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
