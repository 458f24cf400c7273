// `streamnest check-config`: the streaming-safety report of a preset or NeMo-layout YAML (src/config/streaming-safety.ts).
import { ArgError, formatOptions, parseArgs, type OptionsSpec } from '../args.js';
import { finetuneFamilyOf, isConfigMap, type ConfigMap, type LoadedConfig } from '../../config/index.js';

export const name = 'check-config';
export const summary = 'Check a preset or YAML config for streaming safety (future look-ahead, chunk consistency); exit 1 on errors';

const spec = {
  json: { type: 'boolean', help: 'print the report as JSON' },
  maxLookahead: {
    type: 'integer',
    metavar: 'FRAMES',
    help: 'the look-ahead you intend, in encoder frames (80 ms for NEST): an attention context that looks further ahead is an error',
  },
  fullyCausal: { type: 'boolean', help: 'declare the model fully causal (same as --max-lookahead 0)' },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest check-config PRESET|FILE [key.path=value ...] [--json] [--max-lookahead FRAMES | --fully-causal]

${summary}.
Lists every setting that lets the encoder see future frames or makes chunk-by-chunk streaming differ from
the offline pass (per-utterance feature normalisation, non-causal subsampling or convolutions, batch/instance/
group norm in the convolution module, unlimited or accumulating attention look-ahead, absolute positions,
non-causal masking, masking windows in the wrong units), each with its fix. Exit status: 0 when there is no
error (warnings alone pass), 1 when there is one, 2 for a usage error. A config that does not load exits 1 with
the loader's message. Missing (???) manifest paths are ignored: they do not matter for this check.

Options:
${formatOptions(spec)}

Examples:
  streamnest check-config tiny
  streamnest check-config nest_fast-conformer            # NeMo's bidirectional recipe: 6 errors
  streamnest check-config my_config.yaml model.encoder.att_context_size=[-1,4] --fully-causal
  streamnest check-config lookahead --json
  streamnest check-config diar_streaming_tiny init_from_nemo_model=nest.nemo   # a diarizer config: its keys and its encoder`;

/**
 * loadConfig, but a mandatory (???) manifest_filepath does not stop the load: such keys are set to a placeholder
 * (they do not matter for checks of the model). Any other problem is thrown as usual.
 */
export async function loadConfigForCheck(source: string, overrides: readonly string[]): Promise<LoadedConfig> {
  const { loadConfig, ConfigError } = await import('../../config/index.js');
  try {
    return loadConfig(source, overrides);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const manifests = err.issues.filter((i) => /(^|\.)manifest_filepath$/.test(i.path) && /\?\?\?/.test(i.message));
    if (manifests.length === 0 || manifests.length !== err.issues.length) throw err;
    return loadConfig(source, [...overrides, ...manifests.map((i) => `${i.path}=MANIFEST_NOT_SET`)]);
  }
}

export async function run(argv: string[]): Promise<number> {
  const { options, positionals, overrides } = parseArgs(argv, spec, { overrides: true, maxPositionals: 1 });
  const source = positionals[0];
  if (!source) throw new ArgError(`check-config: name a preset or YAML file\n\n${usage}`);
  if (options.fullyCausal && options.maxLookahead !== undefined && options.maxLookahead !== 0) {
    throw new ArgError('check-config: --fully-causal means --max-lookahead 0; give one of them');
  }
  if (options.maxLookahead !== undefined && options.maxLookahead < 0) throw new ArgError('check-config: --max-lookahead must be >= 0');
  const maxLookahead = options.fullyCausal ? 0 : options.maxLookahead;
  const { readYamlConfigFile, resolveConfigSource } = await import('../../config/index.js');
  const { checkDiarizerConfig, isDiarizerTree } = await import('../check-diarizer-config.js');
  const tree = readYamlConfigFile(resolveConfigSource(source)).tree;
  const asr = asrFinetuneFamily(tree);
  if (asr) {
    throw new ArgError(
      `check-config: ${source} is a speech-recognition fine-tuning config (${asr}): its encoder and preprocessor come from ` +
        '`streamnest finetune --init MODEL.nemo`, which checks every key of it when it loads it. Check the pretraining config ' +
        'that MODEL.nemo was trained with (e.g. streamnest check-config streaming) for streaming safety.',
    );
  }
  if (isDiarizerTree(tree))
    return checkDiarizerConfig(
      source,
      overrides.map((o) => o.text),
      { json: options.json ?? false, maxLookahead },
    );
  const { checkStreamingSafety, formatSafetyReport, encoderFrameMs, lookaheadFrames } = await import('../../config/streaming-safety.js');
  const loaded = await loadConfigForCheck(
    source,
    overrides.map((o) => o.text),
  );
  const c = loaded.config;
  const problems = checkStreamingSafety(c, maxLookahead === undefined ? {} : { maxLookahead });
  const errors = problems.filter((p) => p.severity === 'error').length;
  const frameMs = encoderFrameMs(c);
  const pairs = c.model.encoder.att_context_size.map((p) => {
    const la = lookaheadFrames(c, p);
    return { att_context_size: [p[0], p[1]], lookahead_frames: Number.isFinite(la) ? la : null, lookahead_ms: Number.isFinite(la) ? la * frameMs : null };
  });
  if (options.json) {
    const report = {
      file: loaded.file,
      streaming: c.streaming,
      safe: errors === 0,
      errors,
      warnings: problems.length - errors,
      encoder_frame_ms: frameMs,
      att_context_style: c.model.encoder.att_context_style,
      att_context: pairs,
      targets: targetsReport(c),
      problems,
    };
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } else {
    const lines = [formatSafetyReport(loaded.file, problems)];
    const la = pairs
      .map(
        (p) =>
          `[${p.att_context_size.join(',')}] ${p.lookahead_frames === null ? 'unlimited' : `${p.lookahead_frames} frame(s) = ${+p.lookahead_ms!.toFixed(1)} ms`}`,
      )
      .join(', ');
    lines.push(`  attention (${c.model.encoder.att_context_style}, encoder frames of ${+frameMs.toFixed(2)} ms): look-ahead ${la}`);
    lines.push(`  targets: ${targetsReport(c).summary}`);
    if (c.streaming !== true)
      lines.push(
        `  note: the config does not declare streaming: true (${c.streaming === null ? 'no streaming key' : 'streaming: false'}); checked as if it did`,
      );
    process.stdout.write(lines.join('\n') + '\n');
  }
  return errors > 0 ? 1 : 0;
}

/** What the quantizer sees and why (the two normalisations: docs/streaming-nest.md, "Two normalisations"). */
function targetsReport(c: import('../../config/index.js').NestConfig): {
  encoder_normalize: unknown;
  target_normalize: string;
  target_alignment: string;
  summary: string;
} {
  const m = c.model;
  const n = m.preprocessor.normalize;
  const enc = n !== null && typeof n === 'object' ? 'fixed statistics' : String(n);
  const why: Record<string, string> = {
    none: "the quantizer sees exactly what the encoder sees (NeMo's behaviour)",
    per_utterance:
      'the quantizer sees the clean utterance normalised per feature over the whole utterance (training only, so streaming-safe; the shipped streaming presets use it: it gives the highest target perplexity on speech)',
    per_frame: 'the quantizer sees each clean frame normalised over its own features (training only; parameter-free)',
  };
  return {
    encoder_normalize: n,
    target_normalize: m.target_normalize,
    target_alignment: m.target_alignment,
    summary: `encoder features normalize ${enc}; target_normalize ${m.target_normalize}: ${why[m.target_normalize]}; target_alignment ${m.target_alignment}${m.encoder.causal_downsampling ? '' : ' (no effect without causal downsampling)'}`,
  };
}

/** 'CTC' or 'transducer' for a speech-recognition fine-tuning tree (a ConvASRDecoder, or a joint network), else null. */
function asrFinetuneFamily(tree: ConfigMap): string | null {
  const model = tree.model;
  if (!isConfigMap(model)) return null;
  if (finetuneFamilyOf(model) !== 'ctc') return 'transducer';
  const target = isConfigMap(model.decoder) ? model.decoder._target_ : undefined;
  return typeof target === 'string' && target.endsWith('ConvASRDecoder') ? 'CTC' : null;
}
