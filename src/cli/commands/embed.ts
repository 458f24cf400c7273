// `streamnest embed`: speaker embeddings of an audio file from a .nemo's encoder (src/diarization/speaker-embedding.ts),
// offline or streamed chunk by chunk, saved as .npy.
import { parseContextPair, trainedContext } from '../att-context.js';
import { ArgError, formatOptions, parseArgs, type OptionsSpec } from '../args.js';

export const name = 'embed';
export const summary = "Speaker embeddings of an audio file from a .nemo's encoder (statistics pooling, or every frame), offline or streamed; saves .npy";

const spec = {
  model: { type: 'string', short: 'm', metavar: 'FILE.nemo', help: 'NEST or FastConformer CTC/RNNT/hybrid .nemo (or a streamnest training .ckpt)' },
  audio: { type: 'string', metavar: 'FILE', help: 'audio (WAV/FLAC/MP3/Opus/Vorbis), one utterance' },
  out: { type: 'string', short: 'o', metavar: 'OUT.npy', help: 'output .npy (float32)' },
  streaming: { type: 'boolean', help: 'run the cache-aware streaming encoder chunk by chunk (exact mode: the same numbers as offline)' },
  frames: { type: 'boolean', help: 'write the frame embeddings [D, frames] (the encoder output) instead of the pooled utterance embedding [2D]' },
  chunkSize: { type: 'number', metavar: 'SECONDS', help: "with --streaming: chunk size in seconds (default: the context's own chunk)" },
  attContextSize: { type: 'string', metavar: 'L,R', help: "attention context [left,right] (default: the model's first att_context_size)" },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest embed --model FILE.nemo --audio FILE --out OUT.npy [--streaming] [--frames] [--att-context-size L,R]

${summary}.
The utterance embedding is [mean, std] of the encoder's output frames (NeMo's StatsPoolLayer, 'xvector' mode:
unbiased std), float32 [2 x d_model]; with --frames the frame embeddings float32 [d_model, frames] are written instead.
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
  const { loadNemoModel } = await import('../../checkpoint/nemo-model.js');
  const { SpeakerEmbedder } = await import('../../diarization/speaker-embedding.js');
  const m = loadNemoModel(options.model);
  try {
    const enc = m.encoder.eval();
    const pre = m.preprocessor.eval();
    const ctx = trainedContext(options.attContextSize, enc, 'embed', options.model);
    if (ctx) enc.setDefaultAttContextSize(ctx);
    const audio = await loadAudioAsync(options.audio, { targetSampleRate: pre.cfg.sample_rate });
    const embedder = new SpeakerEmbedder(pre, enc);
    let r: { frames: import('../../torch/index.js').Tensor; embedding: import('../../torch/index.js').Tensor };
    if (options.streaming) {
      const { configureStreaming, StreamingConfigError, StreamingEncoder } = await import('../../streaming/index.js');
      const hop = pre.featurizer.geometry.hopLength / pre.cfg.sample_rate;
      let geo: ReturnType<typeof configureStreaming>;
      try {
        geo = configureStreaming(enc, { chunkSeconds: options.chunkSize, attContextSize: ctx, hopSeconds: hop });
      } catch (e) {
        if (e instanceof StreamingConfigError) throw new ArgError(`embed: ${e.message}`);
        throw e;
      }
      const se = new StreamingEncoder(enc, { geometry: geo, preprocessor: pre });
      try {
        const piece = Math.max(1, Math.round(geo.chunkSeconds * pre.cfg.sample_rate));
        const chunks = function* (): Generator<Float32Array> {
          for (let at = 0; at < audio.samples.length; at += piece) yield audio.samples.subarray(at, at + piece);
        };
        r = embedder.embedStreaming(se, chunks());
      } finally {
        se.dispose();
      }
    } else {
      r = embedder.embedUtterance(audio.samples);
    }
    const out = options.frames ? r.frames : r.embedding;
    t.writeNpy(options.out, out);
    process.stdout.write(
      `wrote ${options.out}: float32 [${out.shape.join(', ')}] (${options.frames ? 'frame embeddings' : 'mean + std over'} ${r.frames.size(1)} frames, ${options.streaming ? 'streamed' : 'offline'})\n`,
    );
    r.frames.dispose();
    r.embedding.dispose();
  } finally {
    m.dispose();
  }
  return 0;
}
