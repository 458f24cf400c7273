// `streamnest embed`: speaker embeddings of an audio file from a .nemo's encoder (src/diarization/speaker-embedding.ts),
// offline or streamed chunk by chunk, through a speaker .nemo's trained embedding layer when it has one; saved as .npy.
import { parseContextPair, trainedContext } from '../att-context.js';
import { ArgError, formatOptions, parseArgs, type OptionsSpec } from '../args.js';

export const name = 'embed';
export const summary = "Speaker embeddings of an audio file from a .nemo's encoder (statistics pooling, or every frame), offline or streamed; saves .npy";

const spec = {
  model: {
    type: 'string',
    short: 'm',
    metavar: 'FILE.nemo',
    help: 'speaker .nemo (finetune-embed), or NEST or FastConformer CTC/RNNT/hybrid .nemo (or a streamnest training .ckpt)',
  },
  audio: { type: 'string', metavar: 'FILE', help: 'audio (WAV/FLAC/MP3/Opus/Vorbis), one utterance' },
  out: { type: 'string', short: 'o', metavar: 'OUT.npy', help: 'output .npy (float32)' },
  streaming: { type: 'boolean', help: 'run the cache-aware streaming encoder chunk by chunk (exact mode: the same numbers as offline)' },
  projection: {
    type: 'boolean',
    default: true,
    help: 'with a speaker .nemo (finetune-embed): its trained embedding layer; --no-projection writes the pooled statistics',
  },
  frames: { type: 'boolean', help: 'write the frame embeddings [D, frames] (the encoder output) instead of the pooled utterance embedding [2D]' },
  chunkSize: { type: 'number', metavar: 'SECONDS', help: "with --streaming: chunk size in seconds (default: the context's own chunk)" },
  attContextSize: { type: 'string', metavar: 'L,R', help: "attention context [left,right] (default: the model's first att_context_size)" },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest embed --model FILE.nemo --audio FILE --out OUT.npy [--streaming] [--frames] [--no-projection] [--att-context-size L,R]

${summary}.
The utterance embedding is [mean, std] of the encoder's output frames (NeMo's StatsPoolLayer, 'xvector' mode:
unbiased std), float32 [2 x d_model]; a speaker .nemo trained by finetune-embed passes it through its trained
embedding layer (float32 [emb_dim]) unless --no-projection; the output line says which. With --frames the frame
embeddings float32 [d_model, frames] are written instead.
--streaming feeds the audio through the cache-aware streaming encoder in chunks and pools the frames as they arrive;
with a causal (cache-aware) model the result equals the offline one. The utterance must give at least 2 encoder
frames (160 ms at 8x subsampling).

Options:
${formatOptions(spec)}

Examples:
  streamnest embed --model nest.nemo --audio spk1.wav --out spk1.npy
  streamnest embed --model nest.nemo --audio spk1.wav --streaming --frames --out spk1.frames.npy`;

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec, { maxPositionals: 0 });
  if (!options.model || !options.audio || !options.out) throw new ArgError(`embed: --model, --audio and --out are required\n\n${usage}`);
  if (options.chunkSize !== undefined && !options.streaming) throw new ArgError('embed: --chunk-size applies to --streaming only');
  if (options.attContextSize !== undefined) parseContextPair(options.attContextSize, '--att-context-size'); // bad syntax: fail before loading
  const t = await import('../../torch/index.js');
  const { loadAudioAsync } = await import('../../audio/index.js');
  const { loadEmbedderModel } = await import('../../diarization/speaker-model-archive.js');
  const { embedClip } = await import('../../diarization/speaker-manifest.js');
  const { clipMode } = await import('../embed-streaming.js');
  const m = loadEmbedderModel(options.model, { pooledOnly: !options.projection });
  try {
    const ctx = trainedContext(options.attContextSize, m.encoder, 'embed', options.model);
    if (ctx) m.encoder.setDefaultAttContextSize(ctx);
    const audio = await loadAudioAsync(options.audio, { targetSampleRate: m.preprocessor.cfg.sample_rate });
    const how = await clipMode(m.preprocessor, m.encoder, {
      streaming: options.streaming ?? false,
      chunkSeconds: options.chunkSize,
      attContextSize: ctx,
      command: 'embed',
    });
    let r: ReturnType<typeof embedClip>;
    try {
      r = embedClip(m.embedder, audio.samples, how.mode);
    } finally {
      how.dispose();
    }
    const out = options.frames ? r.frames : r.embedding;
    t.writeNpy(options.out, out);
    const what = options.frames ? 'frame embeddings of' : `${m.describe} over`;
    process.stdout.write(
      `wrote ${options.out}: float32 [${out.shape.join(', ')}] (${what} ${r.frames.size(1)} frames, ${options.streaming ? 'streamed' : 'offline'})\n`,
    );
    r.frames.dispose();
    r.embedding.dispose();
  } finally {
    m.dispose();
  }
  return 0;
}
