// Model import from a .nemo archive (or a streamnest training checkpoint, which has the same layout); the one loader
// every command uses. The config is validated (family from `target`, encoder and preprocessor sections) before any
// module is built, and weights load strictly:
//   loadNemoModel: NEST SSL archives load whole (preprocessor buffers, encoder, quantizer, mask embedding, decoder);
//     FastConformer ASR archives (CTC / RNNT / hybrid) load their preprocessor and encoder, and list what was left
//     out (decoder / joint / CTC-head tensors by prefix, tokenizer and other files by name).
//   loadNemoCtcModel: a FastConformer CTC archive (EncDecCTCModel / EncDecCTCModelBPE) loads whole as a CtcModel,
//     with its SentencePiece tokenizer read from the archive (async: the WebAssembly module loads so); a hybrid
//     RNN-T/CTC archive loads as the CtcModel of its auxiliary CTC head (see loadHybridCtcWeights), the RNN-T parts left out.
//   loadNemoRnntModel: a FastConformer transducer archive (EncDecRNNTModel / EncDecRNNTBPEModel) loads whole as an
//     RnntModel; a hybrid archive loads as the RnntModel of its transducer head (decoder.*, joint.*), ctc_decoder.* left out.
//   loadNemoAsrModel: whichever of the two the archive's family calls for (transcribe, eval).
// Provenance: nemo.core.connectors.save_restore_connector.SaveRestoreConnector.restore_from (+ load_state_dict strict);
// the hybrid layout from nemo.collections.asr.models.hybrid_rnnt_ctc_models.EncDecHybridRNNTCTCModel (characters) and
// hybrid_rnnt_ctc_bpe_models.EncDecHybridRNNTCTCBPEModel (sub-words): config section aux_ctc.decoder (a ConvASRDecoder
// whose vocabulary NeMo's CTC decoding uses), module ctc_decoder (state-dict keys ctc_decoder.decoder_layers.0.*)
// beside the RNN-T decoder.* (RNNTDecoder) and joint.* (RNNTJoint).
import { basename } from 'node:path';
import { AudioToMelSpectrogramPreprocessor } from '../audio/preprocessor.js';
import { CtcModel, ctcModelArgsFromConfig } from '../asr/ctc-model.js';
import { rnntModelArgsFromConfig } from '../asr/rnnt-config.js';
import { RnntModel } from '../asr/rnnt-model.js';
import { readTokenizerSection, tokenizerFromArchive } from '../asr/tokenizer-config.js';
import { isConfigMap } from '../config/config-tree.js';
import { ConfigError, type ConfigMap } from '../config/index.js';
import type { EncoderConfig, NestModelConfig, PreprocessorConfig } from '../config/index.js';
import { ConformerEncoder } from '../model/index.js';
import { nestModelConfigFromYaml } from '../ssl/nest-config.js';
import { buildNestModel } from '../ssl/nest-factory.js';
import type { NestModel } from '../ssl/nest-model.js';
import { withDefaultDevice, type Tensor } from '../torch/index.js';
import { modelFamily, parseModelConfig, readEncoderSections, type AsrFamily, type EncoderSections, type ModelFamily } from './model-config.js';
import { conformerEncoderArgs } from '../model/encoder-config.js';
import { readNemoArchive, type NemoArchive, type ReadNemoOptions } from './nemo-archive.js';

/** A group of state-dict tensors (or archive files) that the import did not use. */
export interface IgnoredPart {
  /** `decoder.*`, `joint.*` for tensors; a member path for files. */
  what: string;
  kind: 'tensors' | 'file';
  /** Tensors in the group (1 for a file). */
  count: number;
  /** Values in the tensors; bytes for a file. */
  size: number;
}

interface Common {
  file: string;
  /** `target` from model_config.yaml (null when absent: the family was guessed from the sections). */
  target: string | null;
  configYaml: string;
  encoder: ConformerEncoder;
  preprocessor: AudioToMelSpectrogramPreprocessor;
  encoderConfig: EncoderConfig;
  preprocessorConfig: PreprocessorConfig;
  /** Every tensor of the archive's state dict: key, shape, dtype (the tensors themselves are released). */
  tensors: { key: string; shape: number[]; dtype: string }[];
  members: { name: string; size: number }[];
  ignored: IgnoredPart[];
  warnings: string[];
  /** Frees every tensor of the loaded model. */
  dispose(): void;
}

export type LoadedNemoModel = (Common & { kind: 'nest'; model: NestModel; nestConfig: NestModelConfig }) | (Common & { kind: 'asr'; family: AsrFamily });

/**
 * A CTC model loaded by loadNemoCtcModel: encoder and preprocessor are the CtcModel's own. `source` is the archive's
 * family: 'ctc' (loaded whole) or 'hybrid' (a hybrid RNN-T/CTC archive: its auxiliary CTC head is the decoder; the
 * RNN-T decoder.* and joint.* are in `ignored`, and `warnings` says so).
 */
export type LoadedNemoCtcModel = Common & { kind: 'ctc'; family: 'ctc'; source: 'ctc' | 'hybrid'; model: CtcModel };

/**
 * A transducer model loaded by loadNemoRnntModel. `source` 'rnnt' (loaded whole) or 'hybrid' (a hybrid RNN-T/CTC
 * archive's transducer head; its ctc_decoder.* is in `ignored`).
 */
export type LoadedNemoRnntModel = Common & { kind: 'rnnt'; family: 'rnnt'; source: 'rnnt' | 'hybrid'; model: RnntModel };

export class NemoModelError extends Error {
  constructor(msg: string, options?: { cause?: unknown }) {
    super(msg, options);
    this.name = 'NemoModelError';
  }
}

const disposeAll = (sd: Map<string, Tensor>): void => {
  for (const x of sd.values()) x.dispose();
};

/** Tensors under `prefix.` with the prefix removed (the same tensor objects). */
function subDict(sd: Map<string, Tensor>, prefix: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, v] of sd) if (k.startsWith(`${prefix}.`)) out.set(k.slice(prefix.length + 1), v);
  return out;
}

/** Groups the keys outside `used` by their first component (`decoder.*`), in first-seen order. */
function ignoredTensors(sd: Map<string, Tensor>, used: readonly string[]): IgnoredPart[] {
  const groups = new Map<string, IgnoredPart>();
  for (const [k, v] of sd) {
    const head = k.split('.')[0]!;
    if (used.includes(head)) continue;
    const what = k.includes('.') ? `${head}.*` : head;
    const g = groups.get(what) ?? { what, kind: 'tensors' as const, count: 0, size: 0 };
    g.count += 1;
    g.size += v.numel;
    groups.set(what, g);
  }
  return [...groups.values()];
}

function ignoredFiles(a: NemoArchive): IgnoredPart[] {
  return [...a.extraSizes].map(([name, size]) => ({ what: name, kind: 'file' as const, count: 1, size }));
}

/** What the loaders need of a module: strict loading with assign (see onMeta). */
interface Loadable {
  loadStateDict(sd: Map<string, Tensor>, strict?: boolean, o?: { assign?: boolean }): unknown;
}

/**
 * Builds a model on the 'meta' device (shapes only: no memory, no random init) for the loaded weights to be assigned
 * to it (loadStateDict's assign): the weights are then held once, not twice (the model's own initial values and the
 * loaded copy) — about half the peak memory of loading a large archive.
 */
function onMeta<T>(build: () => T): T {
  return withDefaultDevice('meta', build);
}

/** Loads `prefix.*` of `sd` into `module` strictly (assigned, not copied), naming the archive and the prefix in errors. */
function loadPart(module: Loadable, sd: Map<string, Tensor>, prefix: string, file: string): void {
  try {
    module.loadStateDict(subDict(sd, prefix), true, { assign: true });
  } catch (e) {
    throw new NemoModelError(`${file}: the '${prefix}.*' weights do not fit the configured ${prefix}: ${(e as Error).message}`, { cause: e });
  }
}

/** A read archive with its validated config: what every loader builds from. */
interface CheckedArchive {
  archive: NemoArchive;
  cfg: ConfigMap;
  family: ModelFamily;
  sections: EncoderSections;
  base: Omit<Common, 'encoder' | 'preprocessor' | 'ignored' | 'dispose'>;
}

const notCtc = (path: string): string =>
  `${path}: not a CTC model (no labels or tokenizer, or no decoder, in model_config.yaml); fine-tune it first with streamnest finetune --init ${path}`;

/**
 * Reads the archive and validates its config; on a bad config the state dict is released before the error.
 * `wanted` 'ctc': an archive whose family cannot be told (no target, no decoder) is refused as not a CTC model.
 */
function checkArchive(path: string, wanted: 'any' | 'ctc' = 'any', read: ReadNemoOptions = {}): CheckedArchive {
  const archive = readNemoArchive(path, read);
  try {
    const cfg = parseModelConfig(archive.configYaml, path);
    let identified: ReturnType<typeof modelFamily>;
    try {
      identified = modelFamily(cfg, path);
    } catch (e) {
      if (wanted === 'ctc' && typeof cfg.target !== 'string') throw new NemoModelError(notCtc(path), { cause: e });
      throw e;
    }
    const { family, target, guessed } = identified;
    const sections = readEncoderSections(cfg, path);
    const warnings = [...archive.warnings, ...sections.warnings];
    if (guessed)
      warnings.push(`model_config.yaml has no 'target'; read as a ${family.kind === 'nest' ? 'NEST SSL' : `${family.family} ASR`} model from its sections`);
    const base = {
      file: path,
      target,
      configYaml: archive.configYaml,
      encoderConfig: sections.encoder,
      preprocessorConfig: sections.preprocessor,
      tensors: [...archive.stateDict].map(([key, v]) => ({ key, shape: v.shape, dtype: v.dtype })),
      members: archive.members,
      warnings,
    };
    return { archive, cfg, family, sections, base };
  } catch (e) {
    disposeAll(archive.stateDict);
    throw e;
  }
}

/**
 * Reads a .nemo (tar or tar.gz; a streamnest training checkpoint too) and builds the model it holds, in eval mode.
 * Nothing in the file is executed (restricted unpickler). The result's tensors belong to the caller: call dispose().
 * `weights: 'meta'` checks the archive as strictly (config, keys, shapes) without reading the weights' data: the model
 * and its tensors are on the 'meta' device (shapes only, no memory); what `inspect` shows.
 */
export function loadNemoModel(path: string, o: { weights?: 'load' | 'meta' } = {}): LoadedNemoModel {
  const meta = o.weights === 'meta';
  const { archive, family, sections, base } = checkArchive(path, 'any', { tensors: meta ? 'meta' : 'load', extra: 'none' });
  const build = onMeta; // 'load': the archive's tensors are assigned to the model's
  const sd = archive.stateDict;
  const warnings = base.warnings;
  try {
    if (family.kind === 'nest') {
      const { model: nestConfig, warnings: w } = nestModelConfigFromYaml(archive.configYaml, path);
      const model = build(() => buildNestModel(nestConfig, 0));
      try {
        model.loadStateDict(sd, true, { assign: true });
      } catch (e) {
        model.dispose();
        throw new NemoModelError(`${path}: the weights do not fit the NEST model its config describes: ${(e as Error).message}`, { cause: e });
      }
      model.eval();
      return {
        ...base,
        kind: 'nest',
        model,
        nestConfig,
        encoder: model.encoder,
        preprocessor: model.preprocessor,
        ignored: ignoredFiles(archive),
        warnings: [...warnings, ...w.filter((x) => !warnings.includes(x))],
        dispose: () => model.dispose(),
      };
    }
    const preprocessor = build(() => new AudioToMelSpectrogramPreprocessor({ ...sections.preprocessor }));
    const encoder = build(() => new ConformerEncoder(conformerEncoderArgs(sections.encoder)));
    try {
      loadPart(preprocessor, sd, 'preprocessor', path);
      loadPart(encoder, sd, 'encoder', path);
    } catch (e) {
      preprocessor.dispose();
      encoder.dispose();
      throw e;
    }
    preprocessor.eval();
    encoder.eval();
    return {
      ...base,
      kind: 'asr',
      family: family.family,
      encoder,
      preprocessor,
      ignored: [...ignoredTensors(sd, ['preprocessor', 'encoder']), ...ignoredFiles(archive)],
      dispose: () => {
        preprocessor.dispose();
        encoder.dispose();
      },
    };
  } finally {
    disposeAll(sd);
  }
}

/** The parts of a hybrid RNN-T/CTC state dict that make its CTC model, and the RNN-T parts left out. */
const HYBRID_CTC_PARTS = ['preprocessor', 'encoder', 'ctc_decoder'];
const RNNT_PARTS = ['decoder', 'joint'];

/** The CTC model's config read from a hybrid's, and what the reading noted. */
interface HybridCtcConfig {
  /** The CTC model's sections in a CTC archive's layout (decoder = aux_ctc.decoder). */
  cfg: ConfigMap;
  /** Where the CTC labels come from: 'model.labels', or 'model.aux_ctc.decoder.vocabulary' (character hybrids). */
  labelsKey: string;
  warnings: string[];
}

/**
 * The CTC model a hybrid RNN-T/CTC config describes, in a CTC config's layout: the encoder and preprocessor with the
 * auxiliary CTC head (aux_ctc.decoder) as `decoder`. Sub-word hybrids: labels dropped (NeMo writes the tokenizer's
 * pieces there for the RNN-T joint; the CTC labels are the tokenizer's, as in a CTC-BPE config). Character hybrids:
 * aux_ctc.decoder.vocabulary, which NeMo's CTC decoding uses (EncDecHybridRNNTCTCModel: CTCDecoding(vocabulary =
 * ctc_decoder.vocabulary)), else labels.
 */
function hybridCtcConfig(cfg: ConfigMap, path: string, bpe: boolean): HybridCtcConfig {
  const aux = isConfigMap(cfg.aux_ctc) ? cfg.aux_ctc : null;
  const dec = isConfigMap(aux?.decoder) ? aux.decoder : null;
  if (!dec) {
    throw new NemoModelError(
      `${path}: model_config.yaml: aux_ctc.decoder: missing; a hybrid RNN-T/CTC model${typeof cfg.target === 'string' ? ` (${cfg.target})` : ''} is decoded ` +
        'with its auxiliary CTC head by loadNemoCtcModel, which this section describes (loadNemoRnntModel decodes its transducer head)',
    );
  }
  const target = dec._target_;
  if (target !== undefined && target !== null && !String(target).endsWith('ConvASRDecoder'))
    throw new NemoModelError(`${path}: model_config.yaml: aux_ctc.decoder._target_: streamnest implements ConvASRDecoder here; got ${JSON.stringify(target)}`);
  if (!bpe && typeof cfg.target === 'string' && cfg.target.endsWith('BPEModel'))
    throw new NemoModelError(`${path}: model_config.yaml: tokenizer: missing; ${cfg.target} is a sub-word model and needs its SentencePiece tokenizer`);
  const decoder = dec;
  if (bpe) return { cfg: { ...cfg, labels: null, decoder }, labelsKey: 'model.labels', warnings: [] };
  const v = dec.vocabulary;
  if (!Array.isArray(v) || v.length === 0) return { cfg: { ...cfg, decoder }, labelsKey: 'model.labels', warnings: [] };
  const differ = Array.isArray(cfg.labels) && JSON.stringify(cfg.labels) !== JSON.stringify(v);
  return {
    cfg: { ...cfg, labels: v, decoder },
    labelsKey: 'model.aux_ctc.decoder.vocabulary',
    warnings: differ ? ['labels differ from aux_ctc.decoder.vocabulary; the CTC head decodes with aux_ctc.decoder.vocabulary, as NeMo does'] : [],
  };
}

/**
 * Loads a hybrid archive's CTC parts into `model`, each strictly: preprocessor.*, encoder.*, and the auxiliary CTC head
 * ctc_decoder.* as the CtcModel's decoder.* (the same ConvASRDecoder). The RNN-T parts (decoder.*, joint.*) are left
 * out; any other key is refused, as the strict load of a CTC archive refuses it.
 */
function loadHybridCtcWeights(model: CtcModel, sd: Map<string, Tensor>, path: string): void {
  const unexpected = [...sd.keys()].filter((k) => ![...HYBRID_CTC_PARTS, ...RNNT_PARTS].includes(k.split('.')[0]!));
  if (unexpected.length > 0) {
    throw new NemoModelError(
      `${path}: unexpected tensors for a hybrid RNN-T/CTC model (expected ${[...HYBRID_CTC_PARTS, ...RNNT_PARTS].map((p) => `${p}.*`).join(', ')}): ${unexpected.join(', ')}`,
    );
  }
  loadPart(model.preprocessor, sd, 'preprocessor', path);
  loadPart(model.encoder, sd, 'encoder', path);
  loadPart(model.decoder, sd, 'ctc_decoder', path);
}

/**
 * Loads a fine-tuned FastConformer CTC .nemo whole, in eval mode: EncDecCTCModel (model.labels) or EncDecCTCModelBPE
 * (tokenizer.model_path 'nemo:NAME' read from the archive's member NAME). A hybrid RNN-T/CTC archive
 * (EncDecHybridRNNTCTCModel / EncDecHybridRNNTCTCBPEModel) loads as the CtcModel of its auxiliary CTC head (aux_ctc,
 * ctc_decoder.*), its tokenizer read the same way; its RNN-T decoder and joint are listed in `ignored`. The config is
 * validated as loadNemoModel validates it; other model families are refused by name. `seed` seeds the model's
 * generators (dither, dropout).
 */
export async function loadNemoCtcModel(path: string, o: { seed?: number } = {}): Promise<LoadedNemoCtcModel> {
  const { archive, cfg, family, sections, base } = checkArchive(path, 'ctc');
  const sd = archive.stateDict;
  try {
    if (family.kind !== 'asr' || family.family === 'rnnt') {
      const what = family.kind === 'nest' ? 'a NEST SSL model' : 'a FastConformer RNNT model';
      throw new NemoModelError(
        `${path}: ${what}${base.target ? ` (${base.target})` : ''}, not a CTC model; CTC decoding needs EncDecCTCModel or EncDecCTCModelBPE` +
          (family.kind === 'nest'
            ? ` (fine-tune it first with streamnest finetune --init ${path})`
            : ', or a hybrid RNN-T/CTC model (EncDecHybridRNNTCTCModel / EncDecHybridRNNTCTCBPEModel: its auxiliary CTC head); a transducer loads with loadNemoRnntModel'),
      );
    }
    const source = family.family;
    const tokSection = readTokenizerSection(cfg.tokenizer, `${path}: model_config.yaml tokenizer`);
    const hybrid = source === 'hybrid' ? hybridCtcConfig(cfg, path, tokSection !== null) : null;
    const ctcCfg = hybrid?.cfg ?? cfg;
    if ((!Array.isArray(ctcCfg.labels) && !tokSection) || !ctcCfg.decoder) {
      throw new NemoModelError(
        hybrid ? `${path}: model_config.yaml: a character hybrid model needs aux_ctc.decoder.vocabulary or labels (its CTC labels)` : notCtc(path),
      );
    }
    const tokenizer = tokSection ? await tokenizerFromArchive(tokSection, archive.extra, path, 'tokenizer') : null;
    let model: CtcModel;
    try {
      const keys = hybrid ? { decoder: 'model.aux_ctc.decoder', labels: hybrid.labelsKey } : undefined;
      const args = ctcModelArgsFromConfig(ctcCfg, o.seed ?? 0, tokenizer, { file: 'model_config.yaml', path: [], training: false, keys });
      model = onMeta(() => new CtcModel({ ...args, preprocessor: { ...sections.preprocessor }, encoder: conformerEncoderArgs(sections.encoder) }));
    } catch (e) {
      throw new NemoModelError(`${path}: model_config.yaml: ${(e as Error).message}`, { cause: e });
    }
    try {
      if (hybrid) loadHybridCtcWeights(model, sd, path);
      else model.loadStateDict(sd, true, { assign: true });
    } catch (e) {
      model.dispose();
      if (e instanceof NemoModelError) throw e;
      throw new NemoModelError(`${path}: the weights do not fit the CTC model its config describes: ${(e as Error).message}`, { cause: e });
    }
    model.eval();
    // the member tokenizerFromArchive read (it is part of the model, not ignored)
    const mp = tokSection?.modelPath ?? 'tokenizer.model';
    const tokenizerMember = !tokSection ? null : mp.startsWith('nemo:') ? mp.slice('nemo:'.length).replace(/^(\.\/)+/, '') : basename(mp);
    const files = ignoredFiles(archive).filter((f) => f.what !== tokenizerMember);
    const warnings = [...base.warnings];
    if (hybrid) {
      warnings.push(
        ...hybrid.warnings,
        'hybrid RNN-T/CTC model: decoding uses its auxiliary CTC head (aux_ctc.decoder, ctc_decoder.*); the RNN-T decoder and joint ' +
          "(decoder.*, joint.*) are not loaded, and NeMo's transcribe() decodes with RNN-T by default, so transcripts can differ from NeMo's",
      );
    }
    return {
      ...base,
      kind: 'ctc',
      family: 'ctc',
      source,
      model,
      encoder: model.encoder,
      preprocessor: model.preprocessor,
      ignored: hybrid ? [...ignoredTensors(sd, HYBRID_CTC_PARTS), ...files] : files,
      warnings,
      dispose: () => model.dispose(),
    };
  } finally {
    disposeAll(sd);
  }
}

/** Top-level keys of a hybrid's config that belong to its CTC head (left out when its transducer head is loaded). */
const HYBRID_CTC_KEYS = ['aux_ctc', 'interctc'];

/**
 * Loads a FastConformer transducer .nemo whole, in eval mode: EncDecRNNTModel (model.labels) or EncDecRNNTBPEModel
 * (its SentencePiece tokenizer read from the archive). A hybrid RNN-T/CTC archive loads as the RnntModel of its
 * transducer head (preprocessor.*, encoder.*, decoder.*, joint.*; ctc_decoder.* listed in `ignored`). The config goes
 * through the transducer schema (rnntModelArgsFromConfig); other families are refused by name.
 */
export async function loadNemoRnntModel(path: string, o: { seed?: number } = {}): Promise<LoadedNemoRnntModel> {
  const { archive, cfg, family, sections, base } = checkArchive(path);
  const sd = archive.stateDict;
  try {
    if (family.kind !== 'asr' || family.family === 'ctc') {
      const what = family.kind === 'nest' ? 'a NEST SSL model' : 'a FastConformer CTC model';
      throw new NemoModelError(
        `${path}: ${what}${base.target ? ` (${base.target})` : ''}, not a transducer model (EncDecRNNTModel, EncDecRNNTBPEModel or a hybrid RNN-T/CTC model)`,
      );
    }
    const source = family.family;
    const tokSection = readTokenizerSection(cfg.tokenizer, `${path}: model_config.yaml tokenizer`);
    const tokenizer = tokSection ? await tokenizerFromArchive(tokSection, archive.extra, path, 'tokenizer') : null;
    const rnntCfg: ConfigMap = { ...cfg };
    if (source === 'hybrid') for (const k of HYBRID_CTC_KEYS) delete rnntCfg[k];
    const warnings: string[] = [...base.warnings];
    let model: RnntModel;
    try {
      const args = rnntModelArgsFromConfig(rnntCfg, o.seed ?? 0, tokenizer, { file: `${path}: model_config.yaml`, path: [], training: false, warnings });
      model = onMeta(() => new RnntModel({ ...args, preprocessor: { ...sections.preprocessor }, encoder: conformerEncoderArgs(sections.encoder) }));
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      throw new NemoModelError(`${path}: model_config.yaml: ${(e as Error).message}`, { cause: e });
    }
    const parts = ['preprocessor', 'encoder', 'decoder', 'joint'];
    try {
      const unexpected = [...sd.keys()].filter((k) => !parts.includes(k.split('.')[0]!) && !(source === 'hybrid' && k.startsWith('ctc_decoder.')));
      if (unexpected.length > 0)
        throw new NemoModelError(
          `${path}: unexpected tensors for a transducer model (expected ${parts.map((p) => `${p}.*`).join(', ')}): ${unexpected.join(', ')}`,
        );
      for (const p of parts) loadPart((model as unknown as Record<string, Loadable>)[p]!, sd, p, path);
    } catch (e) {
      model.dispose();
      throw e;
    }
    model.eval();
    const mp = tokSection?.modelPath ?? 'tokenizer.model';
    const tokenizerMember = !tokSection ? null : mp.startsWith('nemo:') ? mp.slice('nemo:'.length).replace(/^(\.\/)+/, '') : basename(mp);
    if (source === 'hybrid')
      warnings.push(
        "hybrid RNN-T/CTC model: decoding uses its transducer head (decoder.*, joint.*), as NeMo's transcribe() does by default; the CTC head (ctc_decoder.*) is not loaded",
      );
    return {
      ...base,
      kind: 'rnnt',
      family: 'rnnt',
      source,
      model,
      encoder: model.encoder,
      preprocessor: model.preprocessor,
      ignored: [...ignoredTensors(sd, parts), ...ignoredFiles(archive).filter((f) => f.what !== tokenizerMember)],
      warnings,
      dispose: () => model.dispose(),
    };
  } finally {
    disposeAll(sd);
  }
}

/**
 * The ASR model `transcribe` and `eval` decode: a transducer archive (EncDecRNNTModel / EncDecRNNTBPEModel) loads as
 * an RnntModel, anything else goes to loadNemoCtcModel (CTC archives, hybrids by their CTC head, and its refusals).
 */
export async function loadNemoAsrModel(path: string, o: { seed?: number } = {}): Promise<LoadedNemoCtcModel | LoadedNemoRnntModel> {
  const { archive, family } = checkArchive(path, 'ctc', { tensors: 'meta', extra: 'none' });
  disposeAll(archive.stateDict);
  if (family.kind === 'asr' && family.family === 'rnnt') return loadNemoRnntModel(path, o);
  return loadNemoCtcModel(path, o);
}
