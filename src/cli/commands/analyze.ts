// `streamnest analyze`: prediction quality of a NEST model on a manifest (the seeds' analyze_predictions) and the
// agreement of its streaming and offline passes (compare_streaming_vs_offline).
import { formatOptions, parseArgs, ArgError, type OptionsSpec } from '../args.js';
import type { Tensor } from '../../torch/index.js';

export const name = 'analyze';
export const summary = 'Masked-token accuracy, token distribution/perplexity, codebook usage and streaming-vs-offline agreement of a NEST .nemo';

const spec = {
  model: { type: 'string', metavar: 'FILE.nemo', help: 'NEST SSL archive (encoder, preprocessor, quantizer, decoder)' },
  manifest: { type: 'string', metavar: 'FILE', help: 'NeMo JSON-lines manifest (audio_filepath, duration, offset)' },
  maxUtterances: { type: 'integer', default: 20, help: 'utterances analysed (from the top of the manifest)' },
  seed: { type: 'integer', default: 0, help: 'seed of the random masks' },
  chunkSize: { type: 'number', metavar: 'SECONDS', help: 'streaming chunk length (default: from the attention context)' },
  json: { type: 'boolean', help: 'print one JSON object' },
  threads: { type: 'integer', default: 1, help: 'intra-op threads' },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest analyze --model FILE.nemo --manifest FILE [--max-utterances N] [--seed S] [--json]

${summary}.
Per utterance: the NEST forward pass with seeded random block masks (masked-token accuracy against the
random-projection targets), the target and predicted token distributions (perplexity, codebook usage), and the
decoder's argmax tokens from an exact cache-aware streaming pass vs the offline pass (unmasked).

Options:
${formatOptions(spec)}

Example:
  streamnest analyze --model exp/tiny/checkpoints/tiny.nemo --manifest data/dev.json --max-utterances 10 --json`;

function perplexity(counts: number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / n) * Math.log(c / n);
  return Math.exp(h);
}

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec, { maxPositionals: 0 });
  if (!options.model || !options.manifest) throw new ArgError(`analyze: --model FILE.nemo and --manifest FILE are required\n\n${usage}`);
  const t = await import('../../torch/index.js');
  const { loadAudioAsync } = await import('../../audio/index.js');
  const { readManifest } = await import('../../data/manifest.js');
  const { configureStreaming, StreamingEncoder, StreamingConfigError } = await import('../../streaming/index.js');
  const { loadNemoModel } = await import('../../checkpoint/nemo-model.js');
  t.setNumThreads(options.threads);
  const m = loadNemoModel(options.model);
  try {
    if (m.kind !== 'nest') throw new ArgError(`analyze: ${options.model} is not a NEST SSL model (needs quantizer and decoder)`);
    const nest = m.model;
    const decoder = nest.decoder;
    const pre = m.preprocessor;
    const sr = pre.cfg.sample_rate;
    const hopSeconds = pre.featurizer.geometry.hopLength / sr;
    const geometry = (maxContext?: number): ReturnType<typeof configureStreaming> => {
      try {
        return configureStreaming(m.encoder, { chunkSeconds: options.chunkSize, hopSeconds, maxContext });
      } catch (e) {
        if (e instanceof StreamingConfigError) throw new ArgError(e.message);
        throw e;
      }
    };
    // The context the streaming pass runs with (a chunked_limited --chunk-size sets its right context); the offline
    // pass it is compared with uses the same one. The masked-token pass keeps the model's own default.
    const attContextSize = geometry().attContextSize;
    const { entries } = readManifest(options.manifest);
    const use = entries.slice(0, Math.max(1, options.maxUtterances));
    if (use.length === 0) throw new ArgError(`analyze: ${options.manifest} has no entries`);
    // Masking draws from the model's masking generator: reseed it for reproducible masks.
    nest.rng.masking.manualSeed(options.seed);
    let scored = 0;
    let correct = 0;
    let targetCounts: number[] = [];
    let predCounts: number[] = [];
    let agree = 0;
    let compared = 0;
    let maxDiff = 0;
    let seconds = 0;
    const perUtt: Record<string, unknown>[] = [];
    for (const e of use) {
      const audio = await loadAudioAsync(e.audioFilepath, { offset: e.offset, duration: e.duration ?? 0, targetSampleRate: sr });
      const x = audio.samples;
      seconds += x.length / sr;
      const r = t.tidy(() =>
        t.noGrad(() => {
          const sig = t.tensor(x, [1, x.length]);
          const len = t.tensor([x.length], [1], { dtype: 'int64' });
          const f = nest.forward({ audio: sig, audioLen: len, noisy: sig, noisyLen: len });
          const met = nest.metricsOf(f);
          const tokens = f.tokens.reshape([-1]).toArray(); // targets of every head
          // offline pass without masks
          const feats = pre.forward(sig, len);
          const L = feats.lengths.toArray()[0]!;
          const off = m.encoder.forward(feats.features.narrow(2, 0, L), t.tensor([L], [1], { dtype: 'int64' }), { attContextSize });
          const T = off.lengths.toArray()[0]!;
          const offEnc = off.encoded.narrow(2, 0, T); // [1, D, T]
          const lp = decoder.forward(offEnc); // [1, T, C(, H)]
          return { met, tokens, offEnc: t.keep(offEnc.contiguous()), offPred: lp.argmax(2).reshape([-1]).toArray(), numClasses: lp.size(2) };
        }),
      );
      scored += r.met.scored;
      correct += r.met.maskedAccuracy * r.met.scored || 0;
      if (targetCounts.length === 0) {
        targetCounts = new Array<number>(r.numClasses).fill(0);
        predCounts = new Array<number>(r.numClasses).fill(0);
      }
      for (const k of r.tokens) targetCounts[k]!++;
      for (const k of r.offPred) predCounts[k]!++;
      // streaming pass (exact mode), chunk by chunk
      const geo = geometry(r.offEnc.size(2) + 1);
      const se = new StreamingEncoder(m.encoder, { geometry: geo, preprocessor: pre });
      const piece = Math.max(1, Math.round(geo.chunkSeconds * sr));
      let state = se.initStreamState(1);
      const parts: Tensor[] = [];
      for (let p = 0; p < x.length; p += piece) {
        const s = se.pushAudio([x.subarray(p, p + piece)], state);
        parts.push(s.encoded[0]!);
        state = s.state;
      }
      parts.push(se.finish(state).encoded[0]!);
      const u = t.tidy(() =>
        t.noGrad(() => {
          const str = t.cat(parts, 1).unsqueeze(0); // [1, D, T]
          const n = Math.min(str.size(2), r.offEnc.size(2));
          const sp = decoder
            .forward(str.narrow(2, 0, n))
            .argmax(2)
            .reshape([-1])
            .toArray();
          const diff =
            n > 0
              ? str
                  .narrow(2, 0, n)
                  .sub(r.offEnc.narrow(2, 0, n))
                  .abs()
                  .max()
                  .item()
              : 0;
          return { sp, diff };
        }),
      );
      for (const p of parts) p.dispose();
      se.dispose();
      let a = 0;
      for (let i = 0; i < u.sp.length; i++) if (u.sp[i] === r.offPred[i]) a++;
      agree += a;
      compared += u.sp.length;
      maxDiff = Math.max(maxDiff, u.diff);
      perUtt.push({
        audio: e.audioFilepath,
        seconds: x.length / sr,
        masked_accuracy: r.met.maskedAccuracy,
        token_agreement: u.sp.length ? a / u.sp.length : null,
        max_abs_diff: u.diff,
      });
      r.offEnc.dispose();
    }
    const used = (c: number[]): number => c.filter((v) => v > 0).length;
    const result = {
      model: options.model,
      manifest: options.manifest,
      utterances: use.length,
      seconds,
      seed: options.seed,
      masked_accuracy: scored > 0 ? correct / scored : null,
      scored_positions: scored,
      num_classes: targetCounts.length,
      target_perplexity: perplexity(targetCounts),
      target_codebook_usage: used(targetCounts) / targetCounts.length,
      predicted_perplexity: perplexity(predCounts),
      predicted_codebook_usage: used(predCounts) / predCounts.length,
      top_targets: targetCounts
        .map((c, k) => [k, c] as const)
        .filter(([, c]) => c > 0)
        .sort((p, q) => q[1] - p[1])
        .slice(0, 10),
      streaming_vs_offline: { token_agreement: compared ? agree / compared : null, tokens_compared: compared, max_abs_diff: maxDiff },
      per_utterance: perUtt,
    };
    if (options.json) process.stdout.write(JSON.stringify(result) + '\n');
    else {
      const f = (v: number | null, d = 4): string => (v === null ? 'n/a' : v.toFixed(d));
      process.stdout.write(
        [
          `analyzed ${use.length} utterances (${seconds.toFixed(1)} s) of ${options.manifest} with ${options.model}`,
          `  masked-token accuracy ${f(result.masked_accuracy)} over ${scored} masked positions (seed ${options.seed})`,
          `  targets: perplexity ${f(result.target_perplexity, 1)} of ${result.num_classes} classes, codebook usage ${f(result.target_codebook_usage)}`,
          `  predictions: perplexity ${f(result.predicted_perplexity, 1)}, codebook usage ${f(result.predicted_codebook_usage)}`,
          `  streaming vs offline: token agreement ${f(result.streaming_vs_offline.token_agreement)} over ${compared} frames, max |diff| ${maxDiff.toExponential(2)}`,
        ].join('\n') + '\n',
      );
    }
  } finally {
    m.dispose();
  }
  return 0;
}
