// `streamnest eval`: WER of a fine-tuned CTC or transducer .nemo on a manifest (offline or streaming), with a JSON report
// (per utterance and totals; substitutions, deletions, insertions from a Levenshtein alignment).
import { writeFileSync } from 'node:fs';
import type { OnlineRecognizer } from '../../serving/online-recognizer.js';
import { chooseTrainedContext } from '../att-context.js';
import { formatOptions, parseArgs, type OptionsSpec } from '../args.js';

export const name = 'eval';
export const summary = 'Word error rate of a CTC or RNN-T .nemo on a manifest (offline or streaming), with a JSON report';

const spec = {
  model: { type: 'string', short: 'm', metavar: 'MODEL.nemo', help: 'a model written by streamnest finetune' },
  manifest: { type: 'string', metavar: 'FILE', help: 'NeMo manifest with audio_filepath and text' },
  streaming: { type: 'boolean', help: 'decode with cache-aware streaming instead of the offline encoder' },
  chunkSize: { type: 'number', default: 0.32, metavar: 'SECONDS', help: 'audio per push in streaming mode (and the encoder chunk of fully causal models)' },
  attContextSize: {
    type: 'string',
    metavar: 'L,R',
    help: "attention context (one of a multi-look-ahead model's trained pairs; default: its first), offline and streaming",
  },
  maxContext: { type: 'integer', default: 1000, metavar: 'FRAMES', help: 'attention cache of unlimited-left-context models' },
  json: { type: 'boolean', help: 'print the JSON report on stdout' },
  out: { type: 'string', metavar: 'FILE', help: 'also write the JSON report to FILE' },
  limit: { type: 'integer', default: 0, help: 'only the first N utterances (0: all)' },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest eval --model MODEL.nemo --manifest FILE [--streaming] [--att-context-size L,R] [--json] [--out report.json]

${summary}.
Normalisation: lowercase, punctuation removed (apostrophes inside words kept), whitespace collapsed.
WER = (S + D + I) / reference words, summed over the manifest.

Options:
${formatOptions(spec)}`;

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec, { maxPositionals: 0 });
  if (!options.model || !options.manifest) throw new Error('eval needs --model MODEL.nemo and --manifest FILE');
  const { loadNemoAsrModel } = await import('../../checkpoint/nemo-model.js');
  const { loadAudioAsync } = await import('../../audio/index.js');
  const { readManifests } = await import('../../data/manifest.js');
  const { utteranceWer, corpusWer } = await import('../../asr/index.js');
  const { streamingTranscriber, transcribeStreaming } = await import('../../serving/transcribe-streaming.js');
  const loaded = await loadNemoAsrModel(options.model);
  const model = loaded.model;
  let rec: OnlineRecognizer | null = null;
  try {
    const ctx = chooseTrainedContext(options.attContextSize, model.encoder, 'eval', options.model);
    rec = options.streaming
      ? streamingTranscriber(model, {
          chunkSeconds: options.chunkSize,
          maxContext: options.maxContext,
          attContextSize: ctx,
        })
      : null;
    let entries = readManifests(options.manifest).entries;
    if (options.limit > 0) entries = entries.slice(0, options.limit);
    const sr = model.preprocessor.cfg.sample_rate;
    const utts = [];
    const stepTimes: number[] = [];
    let audioSeconds = 0;
    const t0 = performance.now();
    for (const e of entries) {
      const audio = (await loadAudioAsync(e.audioFilepath, { targetSampleRate: sr })).samples;
      audioSeconds += audio.length / sr;
      let text: string;
      if (rec) {
        const r = transcribeStreaming(rec, audio, { pushSeconds: options.chunkSize });
        stepTimes.push(...r.stepTimes);
        text = r.text;
      } else {
        text = model.transcribe([audio])[0]!.text;
      }
      utts.push({ audio_filepath: e.audioFilepath, ...utteranceWer(e.text, text) });
    }
    const elapsed = (performance.now() - t0) / 1000;
    const total = corpusWer(utts);
    const sorted = [...stepTimes].sort((a, b) => a - b);
    const report = {
      model: options.model,
      manifest: options.manifest,
      mode: rec ? 'streaming' : 'offline',
      attContextSize: model.encoder.context.default,
      ...(rec
        ? {
            streaming: {
              chunk: rec.describe(),
              exact: rec.geometry.exactnessIssues.length === 0,
              algorithmicLatencyMs: rec.geometry.algorithmicLatencySeconds * 1000,
              steps: sorted.length,
              stepMsMean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
              stepMsP50: sorted[Math.floor(0.5 * (sorted.length - 1))] ?? 0,
              stepMsP90: sorted[Math.floor(0.9 * (sorted.length - 1))] ?? 0,
            },
          }
        : {}),
      totals: { utterances: utts.length, ...total, audioSeconds, elapsedSeconds: elapsed, realTimeFactor: audioSeconds > 0 ? elapsed / audioSeconds : 0 },
      utterances: utts,
    };
    const json = JSON.stringify(report, null, 2) + '\n';
    if (options.out) writeFileSync(options.out, json);
    if (options.json) process.stdout.write(json);
    else {
      process.stdout.write(
        `WER ${(100 * total.wer).toFixed(2)}% (${total.errors} errors / ${total.words} words: S ${total.substitutions}, D ${total.deletions}, I ${total.insertions}) on ${utts.length} utterances, ${report.mode}` +
          (report.streaming ? `; ${report.streaming.chunk}, ${report.streaming.stepMsMean.toFixed(2)} ms per step (mean)` : '') +
          '\n',
      );
    }
    return 0;
  } finally {
    rec?.dispose();
    loaded.dispose();
  }
}
