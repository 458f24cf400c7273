// Fixed feature statistics for training: estimated over the training manifest with a progress bar, cached as a JSON
// file beside the run (reused while the manifest and the preprocessor are unchanged), and substituted into the
// config so that checkpoints and the .nemo carry the values (NeMo's normalize: {fixed_mean, fixed_std}).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ConfigMap } from '../config/index.js';
import { estimateFeatureStatistics, type FeatureStatistics } from '../data/feature-statistics.js';
import { readManifests, splitManifestPaths } from '../data/manifest.js';
import { ProgressBar } from './progress.js';

export interface StatisticsFile extends FeatureStatistics {
  /** The manifests (absolute paths) and the preprocessor section the statistics belong to (the cache key). */
  manifests: string[];
  preprocessor: Record<string, unknown>;
}

/** The preprocessor keys that change the features (normalize and dither do not enter the estimate). */
function preprocessorKey(pre: Record<string, unknown>): Record<string, unknown> {
  const { normalize: _n, dither: _d, ...rest } = pre;
  return Object.fromEntries(Object.entries(rest).sort(([a], [b]) => a.localeCompare(b)));
}

/** Estimates the statistics of `manifestSpec` (one path, a comma list or a list), drawing a progress bar on stderr. */
export async function estimateStatistics(
  preprocessor: Record<string, unknown>,
  manifestSpec: string | readonly string[],
  baseDir: string,
  o: { progress?: boolean; label?: string } = {},
): Promise<StatisticsFile> {
  const manifests = splitManifestPaths(manifestSpec).map((p) => resolve(baseDir, p));
  const { entries } = readManifests(manifests);
  const bar = o.progress === false ? null : new ProgressBar(o.label ?? 'stats');
  const t0 = Date.now();
  const stats = await estimateFeatureStatistics(preprocessor, entries, (done, total, seconds) =>
    bar?.update(
      {
        step: done,
        total,
        extra: { audio: `${(seconds / 3600).toFixed(3)} h`, speed: `${Math.round(seconds / Math.max(1e-3, (Date.now() - t0) / 1000))}x real time` },
      },
      100,
    ),
  );
  bar?.done();
  return { ...stats, manifests, preprocessor: preprocessorKey(preprocessor) };
}

export function writeStatisticsFile(path: string, s: StatisticsFile): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(s, null, 1) + '\n');
  renameSync(tmp, path);
}

/** The cached statistics at `path` if they were computed for these manifests and this preprocessor, else null. */
function readCached(path: string, manifests: string[], preprocessor: Record<string, unknown>): StatisticsFile | null {
  if (!existsSync(path)) return null;
  try {
    const s = JSON.parse(readFileSync(path, 'utf8')) as StatisticsFile;
    const same = JSON.stringify(s.manifests) === JSON.stringify(manifests) && JSON.stringify(s.preprocessor) === JSON.stringify(preprocessorKey(preprocessor));
    return same && Array.isArray(s.fixed_mean) && Array.isArray(s.fixed_std) ? s : null;
  } catch {
    return null;
  }
}

/**
 * For a config whose model.preprocessor.normalize is {fixed_mean: null, fixed_std: null}: the statistics of the
 * training manifest, from `cachePath` or estimated now (and cached there), filled into a copy of the resolved config
 * tree. Returns null when the config does not ask for an estimate.
 */
export async function fillFixedStatistics(
  resolved: ConfigMap,
  o: { baseDir: string; cachePath: string; progress?: boolean; log: (line: string) => void },
): Promise<ConfigMap | null> {
  const model = (resolved as Record<string, unknown>).model as Record<string, unknown>;
  const pre = model.preprocessor as Record<string, unknown>;
  const n = pre.normalize as { fixed_mean?: unknown; fixed_std?: unknown } | null | string | undefined;
  if (n === null || typeof n !== 'object' || n.fixed_mean !== null || n.fixed_std !== null) return null;
  const train = model.train_ds as Record<string, unknown> | undefined;
  const spec = train?.manifest_filepath as string | string[] | string[][] | null | undefined;
  if (spec === null || spec === undefined || spec === '???') {
    throw new Error(
      'model.preprocessor.normalize asks for fixed statistics (fixed_mean: null, fixed_std: null) to be estimated from the training manifest, ' +
        'but model.train_ds.manifest_filepath is not set: set it, or compute the statistics with `streamnest stats --manifest FILE --out stats.json` ' +
        'and put its fixed_mean and fixed_std into the config',
    );
  }
  if (train?.is_tarred === true) {
    throw new Error(
      'model.preprocessor.normalize asks for fixed statistics (fixed_mean: null, fixed_std: null) to be estimated from the training manifest, ' +
        'but model.train_ds is tarred (is_tarred: true) and the estimate reads plain manifests only: compute the statistics with ' +
        '`streamnest stats --manifest FILE --out stats.json` over a plain manifest of (a sample of) the same audio and put its fixed_mean and ' +
        'fixed_std into the config',
    );
  }
  const manifests = splitManifestPaths(spec as string | string[]).map((p) => resolve(o.baseDir, p));
  let stats = readCached(o.cachePath, manifests, pre);
  if (stats) o.log(`streamnest: fixed feature statistics from ${o.cachePath} (${stats.utterances} utterances, ${(stats.seconds / 3600).toFixed(3)} h)`);
  else {
    o.log(`streamnest: estimating fixed feature statistics over ${manifests.join(', ')} (model.preprocessor.normalize: fixed_mean/fixed_std null)`);
    stats = await estimateStatistics(pre, manifests, o.baseDir, { progress: o.progress, label: 'feature statistics' });
    writeStatisticsFile(o.cachePath, stats);
    o.log(`streamnest: wrote ${o.cachePath} (${stats.utterances} utterances, ${(stats.seconds / 3600).toFixed(3)} h, ${stats.frames} frames)`);
  }
  return {
    ...resolved,
    model: { ...model, preprocessor: { ...pre, normalize: { fixed_mean: stats.fixed_mean, fixed_std: stats.fixed_std } } },
  } as ConfigMap;
}
