// A .nemo's model_config.yaml -> what streamnest builds from it: the model family (from `target`), and for ASR models
// the validated encoder and preprocessor sections. Options streamnest does not implement are refused by key.
// Provenance: the `target` written by nemo.core.classes.modelPT.ModelPT.save_to (cfg.target = class path).
import { parse } from 'yaml';
import {
  ConfigError,
  readEncoderConfig,
  readPreprocessorConfig,
  resolveInterpolations,
  type ConfigMap,
  type EncoderConfig,
  type PreprocessorConfig,
} from '../config/index.js';
import { SectionReader, newValidationContext } from '../config/section-reader.js';

export type AsrFamily = 'ctc' | 'rnnt' | 'hybrid';
export type ModelFamily = { kind: 'nest' } | { kind: 'asr'; family: AsrFamily };

/** NeMo model classes streamnest loads, by class name (the last part of `target`). */
const NEST_CLASSES = ['EncDecDenoiseMaskedTokenPredModel', 'EncDecMaskedTokenPredModel'];
const ASR_CLASSES: Record<string, AsrFamily> = {
  EncDecCTCModel: 'ctc',
  EncDecCTCModelBPE: 'ctc',
  EncDecRNNTModel: 'rnnt',
  EncDecRNNTBPEModel: 'rnnt',
  EncDecHybridRNNTCTCModel: 'hybrid',
  EncDecHybridRNNTCTCBPEModel: 'hybrid',
};

/** Parses model_config.yaml (interpolations resolved); `file` names the archive in errors. */
export function parseModelConfig(yaml: string, file: string): ConfigMap {
  let raw: unknown;
  try {
    raw = parse(yaml);
  } catch (e) {
    throw new ConfigError(`${file}: model_config.yaml`, [{ path: '', message: `not valid YAML (${(e as Error).message})` }]);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError(`${file}: model_config.yaml`, [{ path: '', message: 'is not a mapping of keys' }]);
  return resolveInterpolations(raw as ConfigMap, { file: `${file}: model_config.yaml` });
}

const targetOf = (s: unknown): string =>
  s !== null && typeof s === 'object' && !Array.isArray(s) ? String((s as Record<string, unknown>)._target_ ?? '') : '';

/**
 * The model family from `target` (NeMo >= 1.0 always writes it); without one, from the sections present.
 * Throws naming the target for classes streamnest does not load.
 */
export function modelFamily(cfg: ConfigMap, file: string): { family: ModelFamily; target: string | null; guessed: boolean } {
  const target = typeof cfg.target === 'string' ? cfg.target : null;
  if (target !== null) {
    const cls = target.slice(target.lastIndexOf('.') + 1);
    if (NEST_CLASSES.includes(cls)) return { family: { kind: 'nest' }, target, guessed: false };
    const asr = ASR_CLASSES[cls];
    if (asr) return { family: { kind: 'asr', family: asr }, target, guessed: false };
    throw new ConfigError(`${file}: model_config.yaml`, [
      {
        path: 'target',
        message: `'${target}' is not a model streamnest loads (NEST SSL: ${NEST_CLASSES.join(', ')}; FastConformer ASR: ${Object.keys(ASR_CLASSES).join(', ')})`,
      },
    ]);
  }
  if (targetOf(cfg.decoder).endsWith('MultiSoftmaxDecoder') && cfg.quantizer !== undefined) return { family: { kind: 'nest' }, target, guessed: true };
  if (cfg.joint !== undefined) return { family: { kind: 'asr', family: cfg.aux_ctc !== undefined ? 'hybrid' : 'rnnt' }, target, guessed: true };
  if (targetOf(cfg.decoder).endsWith('ConvASRDecoder')) return { family: { kind: 'asr', family: 'ctc' }, target, guessed: true };
  throw new ConfigError(`${file}: model_config.yaml`, [
    { path: 'target', message: 'missing, and the sections do not identify a NEST or FastConformer CTC/RNNT/hybrid model' },
  ]);
}

export interface EncoderSections {
  encoder: EncoderConfig;
  preprocessor: PreprocessorConfig;
  /** Accepted-but-unused keys and other remarks. */
  warnings: string[];
}

/** Refuses encoder options whose NeMo behaviour streamnest does not implement (each named by its key path). */
function checkImplemented(raw: ConfigMap, e: EncoderConfig, r: SectionReader): void {
  const rawEnc = (raw.encoder ?? {}) as Record<string, unknown>;
  if (rawEnc.reduction !== undefined && rawEnc.reduction !== null)
    r.problem('reduction', `time reduction (${JSON.stringify(rawEnc.reduction)}) is not implemented; only null`);
  if (typeof rawEnc.global_tokens === 'number' && rawEnc.global_tokens > 0)
    r.problem('global_tokens', `global tokens (${rawEnc.global_tokens}) are not implemented; only 0`);
  if (e.self_attention_model === 'rel_pos_local_attn')
    r.problem('self_attention_model', "'rel_pos_local_attn' (Longformer-style local attention) is not implemented; use rel_pos or abs_pos");
  if (e.subsampling !== 'dw_striding' && e.subsampling !== 'striding')
    r.problem('subsampling', `'${e.subsampling}' is not implemented; FastConformer uses dw_striding (striding also works)`);
  if (!(e.conv_norm_type === 'batch_norm' || e.conv_norm_type === 'layer_norm' || /^group_norm\d+$/.test(e.conv_norm_type))) {
    r.problem('conv_norm_type', `'${e.conv_norm_type}' is not implemented; batch_norm, layer_norm or group_normN`);
  }
}

/**
 * Validates the `encoder` and `preprocessor` sections of any model's config (NEST or ASR) with streamnest's schema,
 * plus the checks for features streamnest does not implement. Throws a ConfigError listing every problem by key path.
 */
export function readEncoderSections(cfg: ConfigMap, file: string): EncoderSections {
  const ctx = newValidationContext(`${file}: model_config.yaml`);
  const encReader = SectionReader.open(ctx, ['encoder'], cfg.encoder, true);
  const encoder = readEncoderConfig(encReader);
  const preprocessor = readPreprocessorConfig(SectionReader.open(ctx, ['preprocessor'], cfg.preprocessor, true));
  if (ctx.issues.length === 0) {
    checkImplemented(cfg, encoder, encReader);
    const rawEnc = cfg.encoder as Record<string, unknown>;
    if (rawEnc.use_pytorch_sdpa === true) ctx.warnings.push('encoder.use_pytorch_sdpa: true; streamnest computes the same attention with its explicit path');
    const rawPre = cfg.preprocessor as Record<string, unknown>;
    if (rawPre.use_torchaudio === true)
      ctx.warnings.push("preprocessor.use_torchaudio: true; streamnest computes NeMo's own (non-torchaudio) filterbank, which may differ slightly");
    const splice = preprocessor.features * preprocessor.frame_splicing;
    if (encoder.feat_in !== splice)
      ctx.issues.push({ path: 'encoder.feat_in', message: `must equal preprocessor.features x frame_splicing (${splice}); got ${encoder.feat_in}` });
  }
  if (ctx.issues.length > 0) throw new ConfigError(ctx.file, ctx.issues);
  return { encoder, preprocessor, warnings: ctx.warnings };
}
