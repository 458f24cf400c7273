// `streamnest eval-embed`: speaker verification of a manifest's utterances: every utterance embedded (a speaker .nemo's
// trained embedding layer, or a NEST / ASR .nemo's pooled statistics), offline or streamed; cosine-scored trials (all
// pairs, or a seeded sample) and their equal error rate (src/diarization/verification.ts).
import { parseContextPair, trainedContext } from '../att-context.js';
import { ArgError, formatOptions, parseArgs, type OptionsSpec } from '../args.js';

export const name = 'eval-embed';
export const summary = "Speaker verification EER of a manifest's utterance embeddings (its 'speaker' field is the label)";

const spec = {
  model: { type: 'string', short: 'm', metavar: 'FILE.nemo', help: 'speaker .nemo (finetune-embed), or a NEST / FastConformer ASR .nemo (pooled statistics)' },
  manifest: { type: 'string', metavar: 'FILE', help: "NeMo manifest whose lines have a 'speaker' field (at least 2 speakers)" },
  streaming: { type: 'boolean', help: 'embed through the cache-aware streaming encoder chunk by chunk' },
  chunkSize: { type: 'number', metavar: 'SECONDS', help: "with --streaming: chunk size in seconds (default: the context's own chunk)" },
  attContextSize: { type: 'string', metavar: 'L,R', help: "attention context [left,right] (default: the model's first att_context_size)" },
  projection: { type: 'boolean', default: true, help: "a speaker .nemo's trained embedding layer; --no-projection scores the pooled statistics" },
  maxTrials: { type: 'integer', default: 200000, help: 'all pairs up to N trials, else a seeded sample of N pairs' },
  seed: { type: 'integer', default: 1234, help: 'seed of the trial sample' },
  json: { type: 'boolean', help: 'print the result as one JSON object' },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest eval-embed --model FILE.nemo --manifest FILE [--streaming] [--max-trials N] [--json]

${summary}.
A trial pairs two utterances; its score is NeMo's (cosine + 1) / 2 of their embeddings; the EER is where the
false-acceptance rate equals the false-rejection rate (NeMo's voxceleb_eval.py). Utterances must give at least 2
encoder frames.

Options:
${formatOptions(spec)}

Examples:
  streamnest eval-embed --model speaker.nemo --manifest test_manifest.json
  streamnest eval-embed --model nest.nemo --manifest test_manifest.json --streaming --json`;

export async function run(argv: string[]): Promise<number> {
  const { options: o } = parseArgs(argv, spec, { maxPositionals: 0 });
  if (!o.model || !o.manifest) throw new ArgError(`eval-embed: --model and --manifest are required\n\n${usage}`);
  if (o.chunkSize !== undefined && !o.streaming) throw new ArgError('eval-embed: --chunk-size applies to --streaming only');
  if (!(o.maxTrials >= 1)) throw new ArgError(`eval-embed: --max-trials must be >= 1, got ${o.maxTrials}`);
  if (o.attContextSize !== undefined) parseContextPair(o.attContextSize, '--att-context-size');
  const { readSpeakerManifest, embedUtterances } = await import('../../diarization/speaker-manifest.js');
  const { loadEmbedderModel } = await import('../../diarization/speaker-model-archive.js');
  const { equalErrorRate, sampledPairTrials } = await import('../../diarization/verification.js');
  const { clipMode } = await import('../embed-streaming.js');
  const utterances = readSpeakerManifest(o.manifest); // bad manifests fail before the model loads
  const m = loadEmbedderModel(o.model, { pooledOnly: !o.projection });
  let rows: Awaited<ReturnType<typeof embedUtterances>>;
  try {
    const ctx = trainedContext(o.attContextSize, m.encoder, 'eval-embed', o.model);
    if (ctx) m.encoder.setDefaultAttContextSize(ctx);
    const how = await clipMode(m.preprocessor, m.encoder, {
      streaming: o.streaming ?? false,
      chunkSeconds: o.chunkSize,
      attContextSize: ctx,
      command: 'eval-embed',
    });
    try {
      rows = await embedUtterances(m.embedder, utterances, how.mode);
    } finally {
      how.dispose();
    }
  } finally {
    m.dispose();
  }
  const trials = sampledPairTrials(rows, o.maxTrials, o.seed);
  const r = equalErrorRate(trials.scores, trials.target);
  const targets = trials.target.filter(Boolean).length;
  const result = {
    model: o.model,
    manifest: o.manifest,
    embedding: m.describe,
    mode: o.streaming ? 'streamed' : 'offline',
    utterances: rows.length,
    speakers: new Set(rows.map((x) => x.speaker)).size,
    trials: trials.scores.length,
    target_trials: targets,
    nontarget_trials: trials.scores.length - targets,
    all_pairs: trials.all,
    eer: r.eer,
    threshold: r.threshold,
  };
  if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else
    process.stdout.write(
      `eval-embed: EER ${(100 * r.eer).toFixed(2)}% at threshold ${r.threshold.toFixed(4)}; ${result.trials} trials ` +
        `(${targets} target, ${result.nontarget_trials} non-target${trials.all ? ', all pairs' : `, a sample seeded ${o.seed}`}) ` +
        `of ${result.utterances} utterances, ${result.speakers} speakers; ${m.describe}, ${result.mode}\n`,
    );
  return 0;
}
