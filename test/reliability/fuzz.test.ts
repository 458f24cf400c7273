// Seeded short fuzz run of every parser a user can feed (WAV, FLAC, MP3, Ogg Opus/Vorbis, WebM Opus, tarred-dataset
// shards, manifests, YAML configs, overrides, .nemo, torch.save zip/pickle, .npy): mutated valid inputs give a result
// or an error of streamnest's own type, never a crash, a hang (10 s per input) or runaway memory; no tensor outlives a
// failed parse.
// The long run: tools/reliability/fuzz.sh N.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TARGET_NAMES, fuzzTarget } from './harness/fuzz.js';

const PER_TARGET: Record<string, number> = {
  'yaml-config': 120,
  nemo: 150,
  'nemo-meta': 150,
  mp3: 150,
  'ogg-opus': 150,
  'ogg-vorbis': 150,
  'webm-opus': 150,
  'tar-shard': 150,
};
const DEFAULT = 250;

for (const target of TARGET_NAMES) {
  test(`fuzz ${target}: only results or streamnest's own errors`, { timeout: 120_000 }, async () => {
    const scratchDir = join(tmpdir(), `streamnest-fuzz-${target}-${process.pid}`);
    try {
      const r = await fuzzTarget({ target, seed: 20261122, count: PER_TARGET[target] ?? DEFAULT, perInputMs: 10_000, rssLimitMiB: 2048, scratchDir });
      const detail = r.findings.map((f) => `#${f.index} ${f.kind}: ${f.detail}`).join('\n');
      assert.deepEqual(r.findings, [], `${target}: findings (regenerate with mutate(seeds, ${target}, seed 20261122, index)):\n${detail}`);
      assert.equal(r.liveTensorsAtEnd, 0, 'tensors leaked by failed parses');
      process.stderr.write(
        `# fuzz ${target}: ${r.inputs} inputs, ${JSON.stringify(r.outcomes)}, max ${r.maxMs.toFixed(1)} ms, RSS ${r.rssEarlyMiB} -> ${r.rssEndMiB} MiB, ${(r.wallMs / 1000).toFixed(1)} s\n`,
      );
    } finally {
      rmSync(scratchDir, { recursive: true, force: true });
    }
  });
}
