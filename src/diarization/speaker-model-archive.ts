// A speaker-embedding model as a .nemo: model_config.yaml in NeMo's EncDecSpeakerLabelModel layout (preprocessor,
// encoder, decoder: SpeakerDecoder, loss: AngularSoftmaxLoss) and model_weights.ckpt with NeMo's key names; and
// loadEmbedderModel, which gives `embed` / `eval-embed` an embedder for either a speaker .nemo (its trained embedding
// layer) or a NEST / FastConformer ASR .nemo (pooled statistics).
// Provenance: nemo.collections.asr.models.label_models.EncDecSpeakerLabelModel config
// (examples/speaker_tasks/recognition/conf/titanet-small.yaml: decoder, loss scale 30 margin 0.2).
// NeMo restores these archives only with a FastConformer encoder class in its speaker model (its configs use
// ConvASREncoder / ECAPA); the layout and names follow NeMo's so the decoder weights carry over.
import { parse, stringify } from 'yaml';
import { AudioToMelSpectrogramPreprocessor } from '../audio/index.js';
import { parseModelConfig, readEncoderSections } from '../checkpoint/model-config.js';
import { readNemoArchive, writeNemoArchive } from '../checkpoint/nemo-archive.js';
import { loadNemoModel } from '../checkpoint/nemo-model.js';
import { ConfigError, type ConfigMap } from '../config/index.js';
import { isConfigMap } from '../config/config-tree.js';
import type { KeyTable } from '../config/key-status.js';
import { SectionReader, newValidationContext } from '../config/section-reader.js';
import { conformerEncoderArgs } from '../model/encoder-config.js';
import { ConformerEncoder } from '../model/index.js';
import type { SpeakerDecoderConfig } from './speaker-decoder.js';
import { SpeakerLabelModel } from './speaker-label-model.js';
import { SpeakerEmbedder } from './speaker-embedding.js';

export const SPEAKER_TARGET = 'nemo.collections.asr.models.label_models.EncDecSpeakerLabelModel';

const DECODER_KEYS: KeyTable = {
  paths: ['decoder'],
  trainingOnly: false,
  honoured: ['_target_', 'feat_in', 'num_classes', 'emb_sizes', 'pool_mode', 'angular'],
  refused: {},
  noEffect: {
    init_mode: { reason: 'initialisation only; the weights come from the archive' },
    attention_channels: { reason: "used by pool_mode 'attention' only" },
  },
};

/** The loss section keys (training only: read for the record). */
export interface AngularLossConfig {
  scale: number;
  margin: number;
}

/** model_config.yaml of a speaker model: the encoder and preprocessor sections as given, NeMo's decoder and loss sections. */
export function speakerModelConfigYaml(o: {
  encoder: ConfigMap;
  preprocessor: ConfigMap;
  decoder: SpeakerDecoderConfig;
  labels: readonly string[];
  loss: AngularLossConfig;
  trainManifest?: string;
}): string {
  return stringify({
    target: SPEAKER_TARGET,
    sample_rate: o.preprocessor.sample_rate ?? 16000,
    train_ds: { manifest_filepath: o.trainManifest ?? null, labels: [...o.labels] },
    preprocessor: o.preprocessor,
    encoder: o.encoder,
    decoder: {
      _target_: 'nemo.collections.asr.modules.SpeakerDecoder',
      // NeMo's feat_in is the encoder's width; StatsPoolLayer('xvector') doubles it
      feat_in: o.decoder.feat_in / 2,
      num_classes: o.decoder.num_classes,
      pool_mode: 'xvector',
      emb_sizes: o.decoder.emb_size,
      angular: true,
    },
    loss: { _target_: 'nemo.collections.asr.losses.angularloss.AngularSoftmaxLoss', scale: o.loss.scale, margin: o.loss.margin },
  });
}

/** Reads model.decoder; problems go to the reader's context. */
function readDecoder(r: SectionReader, encoderWidth: number): SpeakerDecoderConfig {
  r.classify(DECODER_KEYS);
  r.target('SpeakerDecoder');
  const featIn = r.int('feat_in', encoderWidth, { min: 1 });
  if (featIn !== encoderWidth) r.problem('feat_in', `must equal the encoder's output width ${encoderWidth}; got ${featIn}`);
  const numClasses = r.int('num_classes', 2, { min: 1 });
  const sizes = r.value('emb_sizes');
  const list = Array.isArray(sizes) ? sizes : [sizes ?? 256];
  if (list.length !== 1 || typeof list[0] !== 'number' || !Number.isInteger(list[0]) || list[0] < 1)
    r.problem('emb_sizes', `streamnest implements one embedding layer (a positive integer or a one-element list); got ${JSON.stringify(sizes)}`);
  const pool = r.string('pool_mode', 'xvector');
  if (pool.toLowerCase() !== 'xvector') r.problem('pool_mode', `streamnest implements 'xvector' statistics pooling (mean and std); got '${pool}'`);
  if (!r.bool('angular', false)) r.problem('angular', 'streamnest implements the angular decoder (final without bias, AngularSoftmaxLoss); got false');
  r.finish();
  return { feat_in: 2 * encoderWidth, num_classes: numClasses, emb_size: Number(list[0]) };
}

/** Is this config a speaker-embedding model's? */
export function isSpeakerConfig(cfg: ConfigMap): boolean {
  return typeof cfg.target === 'string' && cfg.target.slice(cfg.target.lastIndexOf('.') + 1) === 'EncDecSpeakerLabelModel';
}

export function saveSpeakerModel(path: string, model: SpeakerLabelModel, configYaml: string): void {
  writeNemoArchive(path, { configYaml, stateDict: model.stateDict() });
}

/** Loads a speaker .nemo (eval mode); config problems throw a ConfigError naming each key, bad weights name the archive. */
export function loadSpeakerModel(path: string): { model: SpeakerLabelModel; labels: string[]; warnings: string[] } {
  const a = readNemoArchive(path, { extra: 'none' });
  try {
    const cfg = parse(a.configYaml) as ConfigMap;
    const file = `${path}: model_config.yaml`;
    if (!isConfigMap(cfg) || !isSpeakerConfig(cfg))
      throw new ConfigError(file, [{ path: 'target', message: `expected an EncDecSpeakerLabelModel, got ${JSON.stringify(cfg?.target ?? null)}` }]);
    const sections = readEncoderSections(cfg, path);
    const ctx = newValidationContext(file);
    const width = sections.encoder.d_model;
    const decoder = readDecoder(SectionReader.open(ctx, ['decoder'], cfg.decoder, true), width);
    if (ctx.issues.length > 0) throw new ConfigError(file, ctx.issues);
    const model = new SpeakerLabelModel({
      preprocessor: new AudioToMelSpectrogramPreprocessor({ ...sections.preprocessor }),
      encoder: new ConformerEncoder(conformerEncoderArgs(sections.encoder)),
      decoder,
      seed: 0,
    });
    try {
      model.loadStateDict(a.stateDict);
    } catch (e) {
      model.dispose();
      throw new Error(`${path}: the weights do not fit the speaker model its config describes: ${(e as Error).message}`, { cause: e });
    }
    const ds = isConfigMap(cfg.train_ds) ? cfg.train_ds : {};
    const labels = Array.isArray(ds.labels) ? ds.labels.map(String) : [];
    return { model: model.eval(), labels, warnings: [...sections.warnings, ...ctx.warnings] };
  } finally {
    for (const x of a.stateDict.values()) x.dispose();
  }
}

/** An embedder from any .nemo streamnest reads, and what it embeds with (for the commands' output lines). */
export interface LoadedEmbedder {
  embedder: SpeakerEmbedder;
  preprocessor: AudioToMelSpectrogramPreprocessor;
  encoder: ConformerEncoder;
  /** 'projection': a speaker model's trained embedding layer; 'pooled': [mean, std] of the encoder frames. */
  kind: 'projection' | 'pooled';
  describe: string;
  dispose(): void;
}

/**
 * A speaker .nemo gives its trained embedding layer (or, with `pooledOnly`, its pooled statistics); a NEST or
 * FastConformer ASR .nemo (or training checkpoint) gives pooled statistics. Eval mode.
 */
export function loadEmbedderModel(path: string, o: { pooledOnly?: boolean } = {}): LoadedEmbedder {
  const a = readNemoArchive(path, { tensors: 'meta', extra: 'none' });
  for (const x of a.stateDict.values()) x.dispose();
  const cfg = parseModelConfig(a.configYaml, path);
  if (isSpeakerConfig(cfg)) {
    const { model } = loadSpeakerModel(path);
    const pooled = o.pooledOnly ?? false;
    const d = model.decoder.cfg;
    return {
      embedder: model.embedder({ pooledOnly: pooled }),
      preprocessor: model.preprocessor,
      encoder: model.encoder,
      kind: pooled ? 'pooled' : 'projection',
      describe: pooled ? `pooled statistics [${d.feat_in}] (--no-projection)` : `trained embedding layer ${d.feat_in} -> ${d.emb_size}`,
      dispose: () => model.dispose(),
    };
  }
  const m = loadNemoModel(path);
  const embedder = new SpeakerEmbedder(m.preprocessor.eval(), m.encoder.eval());
  return {
    embedder,
    preprocessor: m.preprocessor,
    encoder: m.encoder,
    kind: 'pooled',
    describe: `pooled statistics [${embedder.dim}] (no trained embedding layer in a ${m.kind === 'nest' ? 'NEST' : 'ASR'} model)`,
    dispose: () => m.dispose(),
  };
}
