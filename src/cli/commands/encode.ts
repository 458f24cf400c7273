// `streamnest encode`: a .nemo's encoder run offline (eval mode) on features or audio, saved as .npy.
import { parseContextPair, trainedContext } from '../att-context.js';
import { formatOptions, parseArgs, ArgError, type OptionsSpec } from '../args.js';

export const name = 'encode';
export const summary = "Run a .nemo model's encoder offline on features (.npy) or audio and save float32 [d_model, frames] .npy";

const spec = {
  model: { type: 'string', short: 'm', metavar: 'FILE.nemo', help: 'NEST or FastConformer CTC/RNNT/hybrid .nemo (or a streamnest training .ckpt)' },
  features: { type: 'string', metavar: 'IN.npy', help: 'float32 features [features, frames] or [1, features, frames]' },
  audio: { type: 'string', metavar: 'FILE', help: "audio (WAV/FLAC) instead of --features: the checkpoint's preprocessor runs first" },
  out: { type: 'string', short: 'o', metavar: 'OUT.npy', help: 'output: float32 [d_model (or feat_out), frames_out]' },
  attContextSize: { type: 'string', metavar: 'L,R', help: "attention context [left,right] (default: the model's first att_context_size)" },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest encode --model FILE.nemo (--features IN.npy | --audio FILE) --out OUT.npy [--att-context-size L,R]

${summary}.
The whole input is one utterance: every input frame is valid, and only the valid output frames are written.
For multi-lookahead models, --att-context-size picks the context pair (one of the trained att_context_size pairs).

Options:
${formatOptions(spec)}

Examples:
  streamnest encode --model model.nemo --features clip.npy --out clip.enc.npy
  streamnest encode --model model.nemo --audio clip.wav --out clip.enc.npy --att-context-size 16,0`;

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec, { maxPositionals: 0 });
  if (!options.model || !options.out) throw new ArgError(`encode: --model FILE.nemo and --out OUT.npy are required\n\n${usage}`);
  if ((options.features === undefined) === (options.audio === undefined)) throw new ArgError('encode: give exactly one of --features IN.npy and --audio FILE');
  if (options.attContextSize !== undefined) parseContextPair(options.attContextSize, '--att-context-size'); // bad syntax: fail before loading
  const t = await import('../../torch/index.js');
  const { loadNemoModel } = await import('../../checkpoint/nemo-model.js');
  const { loadAudioAsync } = await import('../../audio/load-audio.js');

  const m = loadNemoModel(options.model);
  try {
    // any format (compressed ones decode asynchronously), before the synchronous tensor scope below
    const audio = options.audio !== undefined ? await loadAudioAsync(options.audio, { targetSampleRate: m.preprocessorConfig.sample_rate }) : null;
    const enc = m.encoder;
    const ctx = trainedContext(options.attContextSize, enc, 'encode', options.model);
    const out = t.tidy(() =>
      t.noGrad(() => {
        let features: import('../../torch/index.js').Tensor;
        let length: number;
        if (audio !== null) {
          const f = m.preprocessor.forward(t.tensor(audio.samples, [1, audio.samples.length]), [audio.samples.length]);
          features = f.features; // [1, F, T]
          length = f.lengths.toArray()[0]!;
        } else {
          const x = t.readNpy(options.features!);
          if (!(x.ndim === 2 || (x.ndim === 3 && x.size(0) === 1))) {
            throw new ArgError(`encode: ${options.features} holds [${x.shape.join(', ')}]; expected [features, frames] or [1, features, frames]`);
          }
          if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new ArgError(`encode: ${options.features} is ${x.dtype}; expected float32 features`);
          features = (x.ndim === 2 ? x.unsqueeze(0) : x).to({ dtype: 'float32' }); // [1, F, T]
          length = features.size(2);
        }
        const feat = m.encoderConfig.feat_in;
        if (features.size(1) !== feat) throw new ArgError(`encode: the input has ${features.size(1)} features per frame; ${options.model} expects ${feat}`);
        const r = enc.forward(features, t.tensor([length], [1], { dtype: 'int64' }), ctx ? { attContextSize: ctx } : {});
        const valid = r.lengths.toArray()[0]!;
        return r.encoded.select(0, 0).narrow(1, 0, valid).contiguous(); // [1, D, T'] -> [D, valid]
      }),
    );
    t.writeNpy(options.out, out);
    const used = ctx ?? enc.context.default;
    process.stdout.write(
      `wrote ${options.out}: float32 [${out.shape.join(', ')}] (${m.kind === 'nest' ? 'NEST' : `${m.family} ASR`} encoder, att_context_size [${used.join(', ')}])\n`,
    );
    out.dispose();
  } finally {
    m.dispose();
  }
  return 0;
}
