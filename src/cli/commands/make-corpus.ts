// `streamnest make-corpus`: synthesise the built-in speech + noise corpus (see src/data/corpus.ts).
import { formatOptions, parseArgs, type OptionsSpec } from '../args.js';
import type { CorpusProgress } from '../../data/corpus.js';

export const name = 'make-corpus';
export const summary = 'Synthesise a small speech + noise corpus with espeak-ng and sox (NeMo JSON-lines manifests)';

const spec = {
  out: { type: 'string', metavar: 'DIR', help: 'output folder (created)' },
  minutes: { type: 'number', default: 5, help: 'minutes of speech, train + validation' },
  seed: { type: 'integer', default: 0, help: 'random seed' },
  noiseSeconds: { type: 'number', default: 3, help: 'length of each noise clip in seconds' },
  noiseClips: { type: 'integer', default: 1, help: 'clips per noise kind (white, pink, brown, babble)' },
  sentences: { type: 'string', metavar: 'FILE', help: 'sentence list (default: data/sentences.txt of this package)' },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest make-corpus --out DIR [--minutes N] [--seed S]

${summary}.
Speech: espeak-ng voices (en-us, en, en-gb-x-rp, en-gb-scotland, en-029 and +f/+m variants), rates
130-200 wpm, pitches 30-70, sentences drawn (seeded) from the sentence list; converted to 16 kHz mono
PCM16. Validation sentences are disjoint from training sentences. Noise: white, pink, brown (generated)
and babble (3-5 mixed speech clips). Writes DIR/{train,val,noise}/*.wav, train_manifest.json,
val_manifest.json and noise_manifest.json (audio_filepath relative to DIR).

Options:
${formatOptions(spec)}

Example: streamnest make-corpus --out data/corpus --minutes 2.1 --seed 0`;

function progressLine(p: CorpusProgress, startMs: number): string {
  const secs = (Date.now() - startMs) / 1000;
  const rate = secs > 0 ? p.files / secs : 0;
  const pct = Math.min(100, (100 * p.speechSeconds) / p.targetSeconds);
  return `\r[make-corpus] ${p.stage.padEnd(5)} ${p.files} files, ${p.speechSeconds.toFixed(1)}/${p.targetSeconds.toFixed(0)} s speech (${pct.toFixed(0)}%), ${rate.toFixed(1)} files/s   `;
}

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec, { maxPositionals: 0 });
  if (!options.out) {
    process.stderr.write(`make-corpus: --out DIR is required\n\n${usage}\n`);
    return 2;
  }
  const { makeCorpus } = await import('../../data/corpus.js');
  const start = Date.now();
  try {
    const r = await makeCorpus({
      outDir: options.out,
      minutes: options.minutes,
      seed: options.seed,
      noiseSeconds: options.noiseSeconds,
      noiseClipsPerKind: options.noiseClips,
      sentencesPath: options.sentences,
      onProgress: (p) => process.stderr.write(progressLine(p, start)),
    });
    const sum = (l: { duration: number }[]) => l.reduce((a, b) => a + b.duration, 0);
    process.stderr.write('\n');
    process.stdout.write(
      `wrote ${options.out}: train ${r.train.length} utterances (${sum(r.train).toFixed(1)} s), ` +
        `val ${r.val.length} (${sum(r.val).toFixed(1)} s), noise ${r.noise.length} clips (${sum(r.noise).toFixed(1)} s)\n`,
    );
    return 0;
  } catch (e) {
    process.stderr.write(`\n${(e as Error).message}\n`);
    return 1;
  }
}
