// `streamnest stats`: global per-feature log-mel statistics of a manifest, for NeMo's streaming-safe
// `normalize: {fixed_mean, fixed_std}`.
import { formatOptions, parseArgs, ArgError, type OptionsSpec } from '../args.js';

export const name = 'stats';
export const summary = 'Estimate fixed per-feature mean/std of the log-mel features over a manifest (streaming-safe normalisation)';

const spec = {
  manifest: { type: 'string', metavar: 'FILE[,FILE]', help: "NeMo manifest(s); default: the config's model.train_ds.manifest_filepath" },
  config: { type: 'string', short: 'c', default: 'streaming', metavar: 'PRESET|FILE', help: 'whose model.preprocessor computes the features' },
  out: { type: 'string', metavar: 'FILE.json', help: 'where to write {fixed_mean, fixed_std, frames, utterances, seconds, ...}' },
  quiet: { type: 'boolean', help: 'no progress bar' },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest stats --out FILE.json [--manifest FILE] [--config PRESET|FILE] [key.path=value ...]

${summary}.
Runs the config's preprocessor without normalisation and without dither over every utterance, and accumulates
each feature's mean and (unbiased) standard deviation in float64. The result is what NeMo's
model.preprocessor.normalize: {fixed_mean: [...], fixed_std: [...]} expects; pretraining estimates it by itself
when the config says normalize: {fixed_mean: null, fixed_std: null}. features --normalize-stats FILE reads it.

Options:
${formatOptions(spec)}

Example:
  streamnest stats --manifest data/corpus/train_manifest.json --out stats.json`;

export async function run(argv: string[]): Promise<number> {
  const { options, overrides } = parseArgs(argv, spec, { overrides: true, maxPositionals: 0 });
  if (!options.out) throw new ArgError(`stats: --out FILE.json is required\n\n${usage}`);
  const { loadConfigForCheck } = await import('./check-config.js');
  const manifestOverride = options.manifest ? [`model.train_ds.manifest_filepath=${options.manifest}`] : [];
  const loaded = await loadConfigForCheck(options.config, [...overrides.map((o) => o.text), ...manifestOverride]);
  const model = (loaded.raw as Record<string, unknown>).model as Record<string, unknown>;
  const manifest = (model.train_ds as Record<string, unknown> | undefined)?.manifest_filepath as string | string[] | null | undefined;
  if (!manifest || manifest === 'MANIFEST_NOT_SET') throw new ArgError(`stats: ${loaded.file} names no training manifest: give --manifest FILE`);
  const { estimateStatistics, writeStatisticsFile } = await import('../../train/feature-statistics.js');
  const pre = model.preprocessor as Record<string, unknown>;
  const t0 = Date.now();
  const s = await estimateStatistics(pre, manifest, process.cwd(), { progress: !options.quiet });
  const wall = (Date.now() - t0) / 1000;
  writeStatisticsFile(options.out, s);
  const range = (v: number[]): string => `${Math.min(...v).toFixed(2)}..${Math.max(...v).toFixed(2)}`;
  process.stdout.write(
    `streamnest: wrote ${options.out}: ${s.fixed_mean.length} features over ${s.utterances} utterances, ${(s.seconds / 3600).toFixed(3)} h, ${s.frames} frames ` +
      `(${Math.round(s.seconds / Math.max(wall, 1e-3))}x real time); mean ${range(s.fixed_mean)}, std ${range(s.fixed_std)}\n` +
      `  use: model.preprocessor.normalize: {fixed_mean: [...], fixed_std: [...]} with the file's two lists, or features --normalize-stats ${options.out}\n`,
  );
  return 0;
}
