// A loaded .nemo summarised for people and scripts: model class, encoder shape, contexts, parameters,
// tensors, what the import ignored, and the streaming-safety verdict (for ASR configs too).
import { createHash } from 'node:crypto';
import { checkStreamingSafety, convContextOf, type NestConfig, type SafetyProblem } from '../config/index.js';
import { tidy } from '../torch/index.js';
import { readNemoArchive, readNemoMember } from './nemo-archive.js';
import type { IgnoredPart, LoadedNemoModel } from './nemo-model.js';

export interface ModelDescription {
  file: string;
  kind: 'nest' | 'asr';
  family: string;
  target: string | null;
  nemoVersion: string | null;
  /** trainer_state.json's global_step for a streamnest training checkpoint; null for a plain .nemo. */
  trainingStep: number | null;
  encoder: {
    nLayers: number;
    dModel: number;
    nHeads: number;
    ffExpansionFactor: number;
    featIn: number;
    featOut: number;
    subsampling: string;
    subsamplingFactor: number;
    causalDownsampling: boolean;
    selfAttentionModel: string;
    convKernelSize: number;
    convNormType: string;
    convContextSize: [number, number];
    attContextStyle: string;
    attContextSize: [number, number][];
    defaultAttContextSize: [number, number];
  };
  preprocessor: { sampleRate: number; features: number; windowSize: number | null; windowStride: number | null; normalize: string | null };
  parameters: { total: number; encoder: number };
  tensors: { key: string; shape: number[]; dtype: string }[];
  ignored: IgnoredPart[];
  warnings: string[];
  streamingSafety: { safe: boolean; problems: SafetyProblem[]; note: string | null };
}

/** The safety check's input: the whole NEST config, or (ASR) the encoder and preprocessor with no masking to check. */
function safetyInput(m: LoadedNemoModel): NestConfig {
  if (m.kind === 'nest') return { name: 'model', streaming: null, model: m.nestConfig, trainer: {}, exp_manager: {} } as unknown as NestConfig;
  return {
    name: 'model',
    streaming: null,
    model: { encoder: m.encoderConfig, preprocessor: m.preprocessorConfig, masking: { causal: true, left_context_size: -1 } },
  } as unknown as NestConfig;
}

export function describeModel(m: LoadedNemoModel): ModelDescription {
  const e = m.encoderConfig;
  const p = m.preprocessorConfig;
  const cfgLine = (key: string): string | null => new RegExp(`^${key}:\\s*(.+)$`, 'm').exec(m.configYaml)?.[1]?.trim() ?? null;
  const stateFile = m.members.find((x) => x.name.replace(/^\.\//, '') === 'trainer_state.json');
  let trainingStep: number | null = null;
  if (stateFile) {
    const json = readNemoMember(m.file, 'trainer_state.json', { maxBytes: 16 << 20 }); // the rest of the archive is skipped
    let j: { global_step?: unknown } = {};
    try {
      j = JSON.parse(new TextDecoder().decode(json ?? new Uint8Array(0))) as { global_step?: unknown };
    } catch {
      // not JSON: no step to show
    }
    trainingStep = typeof j.global_step === 'number' ? j.global_step : null;
  }
  const problems = checkStreamingSafety(safetyInput(m));
  const total = m.kind === 'nest' ? m.model.numParameters() : m.encoder.numParameters() + m.preprocessor.numParameters();
  return {
    file: m.file,
    kind: m.kind,
    family: m.kind === 'nest' ? 'NEST SSL (BEST-RQ masked token prediction)' : { ctc: 'CTC ASR', rnnt: 'RNN-T ASR', hybrid: 'hybrid RNN-T/CTC ASR' }[m.family],
    target: m.target,
    nemoVersion: cfgLine('nemo_version'),
    trainingStep,
    encoder: {
      nLayers: e.n_layers,
      dModel: e.d_model,
      nHeads: e.n_heads,
      ffExpansionFactor: e.ff_expansion_factor,
      featIn: e.feat_in,
      featOut: m.encoder.featOut,
      subsampling: e.subsampling,
      subsamplingFactor: e.subsampling_factor,
      causalDownsampling: e.causal_downsampling,
      selfAttentionModel: e.self_attention_model,
      convKernelSize: e.conv_kernel_size,
      convNormType: e.conv_norm_type,
      convContextSize: convContextOf(e),
      attContextStyle: e.att_context_style,
      attContextSize: e.att_context_size.map((x) => [x[0], x[1]]),
      defaultAttContextSize: [...m.encoder.context.default] as [number, number],
    },
    preprocessor: {
      sampleRate: p.sample_rate,
      features: p.features,
      windowSize: p.window_size,
      windowStride: p.window_stride,
      normalize: describeNormalize(p.normalize),
    },
    parameters: { total, encoder: m.encoder.numParameters() },
    tensors: m.tensors,
    ignored: m.ignored,
    warnings: m.warnings,
    streamingSafety: {
      safe: !problems.some((x) => x.severity === 'error'),
      problems,
      note: m.kind === 'asr' ? 'checked from the encoder and preprocessor sections (block masking applies to NEST pretraining only)' : null,
    },
  };
}

/** Per-tensor shape, dtype and SHA-256 of the raw little-endian bytes, as streamnest reads the archive (for tools/verify_nemo_export.py). */
export function tensorDigests(path: string): Record<string, { shape: number[]; dtype: string; sha256: string; sum: number }> {
  const a = readNemoArchive(path, { extra: 'none' });
  const out: Record<string, { shape: number[]; dtype: string; sha256: string; sum: number }> = {};
  try {
    for (const [k, v] of a.stateDict) {
      out[k] = tidy(() => {
        const bytes = new Uint8Array(v.contiguous().toBuffer());
        const sum = v.dtype === 'bool' ? 0 : v.to({ dtype: 'float64' }).sum().item();
        return { shape: v.shape, dtype: v.dtype, sha256: createHash('sha256').update(bytes).digest('hex'), sum };
      });
    }
  } finally {
    for (const x of a.stateDict.values()) x.dispose();
  }
  return out;
}

/** 'fixed statistics (80 features)' for NeMo's {fixed_mean, fixed_std}; the text itself otherwise. */
function describeNormalize(n: unknown): string | null {
  if (n !== null && typeof n === 'object') {
    const m = (n as { fixed_mean?: unknown }).fixed_mean;
    return Array.isArray(m) ? `fixed statistics (${m.length} features)` : 'fixed statistics (not yet estimated)';
  }
  return n === undefined ? null : String(n);
}
