// `streamnest features`: log-mel features of one audio file with NeMo's preprocessor (src/audio/preprocessor.ts), saved as .npy.
import { formatOptions, parseArgs, ArgError, type OptionsSpec } from '../args.js';

export const name = 'features';
export const summary = 'Compute NeMo log-mel features of a WAV/FLAC file and save them as float32 [features, frames] .npy';

const spec = {
  audio: { type: 'string', metavar: 'FILE', help: 'input audio (WAV or FLAC; mixed to mono, resampled to sample_rate)' },
  out: { type: 'string', metavar: 'FILE.npy', help: 'output .npy file' },
  config: {
    type: 'string',
    short: 'c',
    metavar: 'NAME|FILE',
    help: 'preset or YAML: its model.preprocessor (or preprocessor, or the whole file) section; default: the NEST preprocessor',
  },
  normalizeStats: { type: 'string', metavar: 'FILE', help: 'fixed normalisation statistics (.json {fixed_mean, fixed_std} or .npy [2, F])' },
  offset: { type: 'number', default: 0, help: 'seconds to skip' },
  duration: { type: 'number', default: 0, help: 'seconds to read (0: to the end)' },
  keepPadding: { type: 'boolean', help: 'keep the masked frames and the pad_to padding (default: only the valid frames)' },
  streaming: { type: 'boolean', help: 'compute with the chunk-exact FeatureStream in 100 ms pushes (normalize NA or fixed only)' },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest features --audio FILE --out FILE.npy [--config NAME|FILE] [key=value ...]

${summary}.
Runs AudioToMelSpectrogramPreprocessor in eval mode (no dither). Keys are NeMo's preprocessor keys and may
carry a prefix (model.preprocessor.normalize=NA, preprocessor.pad_to=0 or normalize=NA); they apply on top of --config.
Writes the valid frames (floor(samples / hop)) unless --keep-padding is given.

Options:
${formatOptions(spec)}

Examples:
  streamnest features --audio clip.wav --out clip.npy
  streamnest features --audio clip.flac --out clip.npy --config streaming
  streamnest features --audio clip.wav --out clip.npy normalize=NA features=64 window_size=0.02`;

export async function run(argv: string[]): Promise<number> {
  const { options, overrides } = parseArgs(argv, spec, { overrides: true, maxPositionals: 0 });
  if (!options.audio || !options.out) throw new ArgError(`features: --audio FILE and --out FILE.npy are required\n\n${usage}`);
  const { loadConfigTree, parseOverrideValue } = await import('../../config/index.js');
  const { AudioToMelSpectrogramPreprocessor, NEST_PREPROCESSOR, readFixedNormalization } = await import('../../audio/preprocessor.js');
  const { FeatureStream } = await import('../../audio/feature-stream.js');
  const { loadAudioAsync } = await import('../../audio/load-audio.js');
  const t = await import('../../torch/index.js');
  const { writeNpy } = await import('../../torch/serialize/npy.js');

  let section: Record<string, unknown> = { ...NEST_PREPROCESSOR };
  if (options.config) {
    const tree = loadConfigTree(options.config) as Record<string, unknown>;
    const model = tree.model as Record<string, unknown> | undefined;
    const pre = (model?.preprocessor ?? tree.preprocessor ?? tree) as Record<string, unknown>;
    if (typeof pre !== 'object' || pre === null || Array.isArray(pre)) throw new ArgError(`features: ${options.config} has no preprocessor section`);
    section = { ...pre };
  }
  for (const o of overrides) {
    const key = o.key.replace(/^(model\.)?preprocessor\./, '');
    if (key.includes('.')) throw new ArgError(`features: '${o.key}' is not a preprocessor key`);
    section[key] = parseOverrideValue(o.value, o.key);
  }
  if (options.normalizeStats) section.normalize = readFixedNormalization(options.normalizeStats);

  const pre = new AudioToMelSpectrogramPreprocessor(section).eval();
  try {
    const audio = await loadAudioAsync(options.audio, { offset: options.offset, duration: options.duration, targetSampleRate: pre.cfg.sample_rate });
    const feats = t.tidy(() => {
      if (options.streaming) {
        if (options.keepPadding) throw new ArgError('features: --streaming emits only valid frames; drop --keep-padding');
        const fs = new FeatureStream(pre);
        const chunk = Math.max(1, Math.round(pre.cfg.sample_rate / 10));
        let state = fs.initState();
        const parts: import('../../torch/index.js').Tensor[] = [];
        for (let i = 0; i < audio.samples.length; i += chunk) {
          const r = fs.push(audio.samples.subarray(i, i + chunk), state);
          parts.push(r.frames);
          state = r.state;
        }
        parts.push(fs.flush(state).frames);
        return t.cat(parts, 1).contiguous(); // [F, L]
      }
      const out = pre.forward(t.tensor(audio.samples, [1, audio.samples.length]), [audio.samples.length]);
      const f = out.features.squeeze(0); // [F, T]
      const len = out.lengths.toArray()[0]!;
      return (options.keepPadding ? f : f.narrow(1, 0, len)).contiguous(); // [F, L] or [F, T]
    });
    writeNpy(options.out, feats);
    process.stdout.write(
      `wrote ${options.out}: float32 [${feats.shape.join(', ')}] from ${audio.samples.length} samples at ${audio.sampleRate} Hz ` +
        `(normalize ${typeof pre.cfg.normalize === 'object' && pre.cfg.normalize !== null ? 'fixed' : String(pre.cfg.normalize)})\n`,
    );
    feats.dispose();
  } finally {
    pre.dispose();
  }
  return 0;
}
