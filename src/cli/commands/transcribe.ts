// `streamnest transcribe`: CTC or transducer transcription of one audio file, offline or cache-aware streaming
// (partial results printed as chunks arrive; a transducer's prediction-network state carried between chunks), with
// word timestamps.
import { chooseTrainedContext } from '../att-context.js';
import { formatOptions, parseArgs, type OptionsSpec } from '../args.js';

export const name = 'transcribe';
export const summary = 'Transcribe an audio file with a fine-tuned CTC or RNN-T .nemo (offline or streaming, word timestamps)';

const spec = {
  model: { type: 'string', short: 'm', metavar: 'MODEL.nemo', help: 'a model written by streamnest finetune' },
  audio: { type: 'string', short: 'a', metavar: 'FILE', help: 'WAV or FLAC (any rate; mixed to mono and resampled)' },
  streaming: { type: 'boolean', help: 'cache-aware streaming: audio pushed chunk by chunk, partial results on stderr' },
  chunkSize: { type: 'number', default: 0.32, metavar: 'SECONDS', help: 'audio per push in streaming mode (and the encoder chunk of fully causal models)' },
  attContextSize: {
    type: 'string',
    metavar: 'L,R',
    help: "attention context (one of a multi-look-ahead model's trained pairs; default: its first), offline and streaming",
  },
  maxContext: { type: 'integer', default: 1000, metavar: 'FRAMES', help: 'attention cache of unlimited-left-context models (80 ms frames)' },
  json: { type: 'boolean', help: 'print one JSON object (text, words with start/end seconds, timing)' },
  precision: {
    type: 'string',
    choices: ['32', 'bf16'],
    default: '32',
    help: 'bf16: encoder and decoder under CPU bfloat16 autocast (features and log-probabilities in float32)',
  },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest transcribe --model MODEL.nemo --audio FILE [--streaming [--chunk-size 0.32]] [--att-context-size L,R]
                            [--precision 32|bf16] [--json]

${summary}.

Options:
${formatOptions(spec)}

Fully causal models stream in chunks of --chunk-size (rounded to whole encoder frames); chunked_limited models use
their own chunk (right context + 1 frames). For both, the streaming transcript equals the offline one. Streaming
runs the same recognizer as streamnest serve and the TypeScript API (OnlineRecognizer). With --precision bf16
streaming equals offline within bfloat16 rounding (both run in bf16; log-probabilities differ from float32 ones by
a few 1e-2), so a transcript can differ from the float32 one where two tokens score within that.`;

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec, { maxPositionals: 0 });
  if (!options.model || !options.audio) throw new Error('transcribe needs --model MODEL.nemo and --audio FILE');
  const { loadNemoAsrModel } = await import('../../checkpoint/nemo-model.js');
  const { loadAudioAsync } = await import('../../audio/index.js');
  const { streamingTranscriber, transcribeStreaming } = await import('../../serving/transcribe-streaming.js');
  const t = await import('../../torch/index.js');
  const inPrecision = <T>(fn: () => T): T => (options.precision === 'bf16' ? t.autocast({ device: 'cpu', dtype: 'bfloat16' }, fn) : fn());
  const loaded = await loadNemoAsrModel(options.model);
  const model = loaded.model;
  try {
    const ctx = chooseTrainedContext(options.attContextSize, model.encoder, 'transcribe', options.model);
    // what the loader noted (e.g. a hybrid RNN-T/CTC model decoded with its CTC head); stderr keeps stdout the transcript
    if (!options.json) for (const w of loaded.warnings) process.stderr.write(`streamnest: warning: ${w}\n`);
    const audio = (await loadAudioAsync(options.audio, { targetSampleRate: model.preprocessor.cfg.sample_rate })).samples;
    const seconds = audio.length / model.preprocessor.cfg.sample_rate;
    const t0 = performance.now();
    let out: { text: string; words: { word: string; start: number; end: number }[] };
    let extra: Record<string, unknown> = {};
    if (options.streaming) {
      const rec = streamingTranscriber(model, {
        chunkSeconds: options.chunkSize,
        maxContext: options.maxContext,
        attContextSize: ctx,
      });
      try {
        if (!options.json) process.stderr.write(`streamnest: streaming (${rec.describe()})\n`);
        const r = inPrecision(() =>
          transcribeStreaming(rec, audio, {
            pushSeconds: options.chunkSize,
            onUpdate: (u) => {
              if (!options.json) process.stderr.write(`  [${u.decodedSeconds.toFixed(2)} s] ${u.text}\n`);
            },
          }),
        );
        out = r;
        const sorted = [...r.stepTimes].sort((a, b) => a - b);
        extra = {
          streaming: {
            chunk: rec.describe(),
            algorithmicLatencyMs: rec.geometry.algorithmicLatencySeconds * 1000,
            exact: rec.geometry.exactnessIssues.length === 0,
            steps: r.stepTimes.length,
            stepMsMean: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length),
            stepMsP90: sorted[Math.floor(0.9 * (sorted.length - 1))] ?? 0,
          },
        };
      } finally {
        rec.dispose();
      }
    } else {
      out = inPrecision(() => model.transcribe([audio])[0]!);
    }
    const ms = performance.now() - t0;
    if (options.json) {
      process.stdout.write(
        JSON.stringify(
          {
            audio: options.audio,
            durationSeconds: seconds,
            mode: options.streaming ? 'streaming' : 'offline',
            precision: options.precision === 'bf16' ? 'bf16' : '32',
            attContextSize: model.encoder.context.default,
            text: out.text,
            words: out.words,
            elapsedMs: ms,
            ...extra,
          },
          null,
          2,
        ) + '\n',
      );
    } else {
      process.stdout.write(out.text + '\n');
      for (const w of out.words) process.stdout.write(`  ${w.start.toFixed(2)}-${w.end.toFixed(2)}  ${w.word}\n`);
    }
    return 0;
  } finally {
    loaded.dispose();
  }
}
