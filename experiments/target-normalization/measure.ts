// Target health of each preset's own quantizer under each target normalisation: distinct tokens and perplexity of the
// targets over a manifest's clean audio (no training needed: the quantizer is random and frozen).
//   node dist/experiments/target-normalization/measure.js MANIFEST [--presets tiny,streaming] [--max N] [--json]
import { loadAudio } from '../../src/audio/load-audio.js';
import { loadConfig } from '../../src/config/index.js';
import { TARGET_NORMALIZATIONS, type TargetNormalize } from '../../src/config/schema/nest.js';
import { readManifest } from '../../src/data/manifest.js';
import { buildNestModel } from '../../src/ssl/nest-factory.js';
import * as t from '../../src/torch/index.js';

export interface TargetHealth {
  preset: string;
  normalize: TargetNormalize;
  classes: number;
  targets: number;
  distinct: number;
  perplexity: number;
  /** Share of all targets taken by the 4 most frequent tokens. */
  top4: number;
}

export function health(counts: Map<number, number>): { targets: number; distinct: number; perplexity: number; top4: number } {
  const c = [...counts.values()].sort((a, b) => b - a);
  const n = c.reduce((a, b) => a + b, 0);
  let h = 0;
  for (const k of c) h -= (k / n) * Math.log(k / n);
  return { targets: n, distinct: c.length, perplexity: Math.exp(h), top4: c.slice(0, 4).reduce((a, b) => a + b, 0) / n };
}

export function measureTargets(preset: string, mode: TargetNormalize, files: readonly string[], overrides: readonly string[] = []): TargetHealth {
  const { config } = loadConfig(preset, [
    'model.train_ds.manifest_filepath=unused',
    'model.validation_ds.manifest_filepath=unused',
    `model.target_normalize=${mode}`,
    ...overrides,
  ]);
  const model = buildNestModel(config.model, 0);
  model.eval();
  const counts = new Map<number, number>();
  try {
    for (const f of files) {
      const a = loadAudio(f, { targetSampleRate: config.model.sample_rate });
      const ids = t.noGrad(() =>
        t.tidy(() => {
          const feats = model.preprocessor.forward(t.tensor(a.samples, [1, a.samples.length]), [a.samples.length]);
          const T = feats.features.size(2);
          const S = model.quantizer.combineTimeSteps;
          const usable = Math.floor(T / S) * S;
          const x = model.quantizerInput(feats.features, feats.lengths).narrow(2, 0, usable);
          const valid = Math.floor(feats.lengths.toArray()[0]! / S); // whole token groups inside the utterance
          return model.quantizer
            .tokens(x)
            .reshape([-1])
            .narrow(0, 0, valid * model.quantizer.numBooks)
            .toArray();
        }),
      );
      for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  } finally {
    model.dispose();
  }
  return { preset, normalize: mode, classes: config.model.quantizer.num_classes, ...health(counts) };
}

async function main(argv: string[]): Promise<void> {
  const manifest = argv[0];
  if (!manifest) throw new Error('usage: measure.js MANIFEST [--presets tiny,streaming] [--max N] [--json]');
  const opt = (k: string): string | undefined => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const presets = (opt('--presets') ?? 'tiny,streaming').split(',');
  const max = Number(opt('--max') ?? 1e9);
  const files = readManifest(manifest)
    .entries.slice(0, max)
    .map((e) => e.audioFilepath);
  const rows: TargetHealth[] = [];
  for (const p of presets) for (const m of TARGET_NORMALIZATIONS) rows.push(measureTargets(p, m, files));
  if (argv.includes('--json')) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  else {
    process.stdout.write(
      `${manifest}: ${files.length} clips\n| preset (classes) | target_normalize | targets | distinct | perplexity | top-4 share |\n| --- | --- | --- | --- | --- | --- |\n`,
    );
    for (const r of rows)
      process.stdout.write(
        `| ${r.preset} (${r.classes}) | ${r.normalize} | ${r.targets} | ${r.distinct} | ${r.perplexity.toFixed(1)} | ${(100 * r.top4).toFixed(0)}% |\n`,
      );
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) await main(process.argv.slice(2));
