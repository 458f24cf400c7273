// model.masking — NeMo's RandomBlockMasking plus streamnest's causal extension (spec 02 §1–2) and multi-scale block
// sizes (issue 17 item 5).

import { ConfigError } from '../config-error.js';
import { formatPath, isConfigMap, type ConfigMap } from '../config-tree.js';
import type { KeyTable } from '../key-status.js';
import type { SectionReader } from '../section-reader.js';
import { REQUIRED, describeValue } from '../section-reader.js';

export interface MaskingConfig {
  readonly feat_in: number;
  /** Overlap mode: per-position block-start probability; otherwise the target masked fraction. */
  readonly mask_prob: number;
  /** NeMo's single block length; ignored (with a warning when set) when block_sizes is set. */
  readonly block_size: number;
  /** Multi-scale extension (not in NeMo): each block's length is drawn from these; null = block_size alone. */
  readonly block_sizes: readonly number[] | null;
  /** Multi-scale extension: one probability per block_sizes entry, summing to 1; null = uniform. */
  readonly block_size_probs: readonly number[] | null;
  /** null → a random (frozen) embedding; a number → a constant vector. */
  readonly mask_value: number | null;
  readonly freeze: boolean;
  readonly allow_overlap: boolean;
  readonly max_mask_ratio: number;
  /** Causal extension (not in NeMo): only mask frames at or before the current frame. */
  readonly causal: boolean;
  /** Causal extension: how far back masking may reach, in mask frames; -1 = unlimited. */
  readonly left_context_size: number;
}

/** model.masking keys: every key is read. */
export const MASKING_KEYS: KeyTable = {
  paths: ['model.masking'],
  trainingOnly: false,
  honoured: [
    '_target_',
    'feat_in',
    'mask_prob',
    'block_size',
    'block_sizes',
    'block_size_probs',
    'mask_value',
    'freeze',
    'allow_overlap',
    'max_mask_ratio',
    'causal',
    'left_context_size',
  ],
  refused: {},
  noEffect: {},
};

export function readMaskingConfig(r: SectionReader): MaskingConfig {
  r.classify(MASKING_KEYS);
  r.target('RandomBlockMasking');
  const config: MaskingConfig = {
    feat_in: r.int('feat_in', REQUIRED, { min: 1 }),
    mask_prob: r.number('mask_prob', 0.5, { min: 0, max: 1 }),
    block_size: r.int('block_size', 48, { min: 1 }),
    ...readBlockSizes(r),
    mask_value: r.nullableNumber('mask_value', null),
    freeze: r.bool('freeze', true),
    allow_overlap: r.bool('allow_overlap', false),
    max_mask_ratio: r.number('max_mask_ratio', 0.8, { min: 0, max: 1, minExclusive: true }),
    causal: r.bool('causal', false),
    left_context_size: r.int('left_context_size', -1, { min: -1 }),
  };
  if (config.block_sizes !== null && r.has('block_size')) {
    const at = (key: string): string => formatPath(r.keyPath(key));
    r.ctx.warnings.push(
      `${at('block_size')} (${config.block_size}) is ignored: ${at('block_sizes')} [${config.block_sizes.join(', ')}] sets the block lengths`,
    );
  }
  r.finish();
  return config;
}

/** block_sizes (null or a non-empty list of positive integers) and block_size_probs (needs block_sizes). */
function readBlockSizes(r: SectionReader): Pick<MaskingConfig, 'block_sizes' | 'block_size_probs'> {
  const v = r.value('block_sizes');
  const pv = r.value('block_size_probs');
  let block_sizes: number[] | null = null;
  if (v !== undefined && v !== null) {
    if (!Array.isArray(v) || v.length === 0) {
      r.problem('block_sizes', `expected a non-empty list of block lengths (positive integers) or null; got ${describeValue(v)}`);
    } else {
      const sizes = v.map((x, i) => r.checkNumber(r.keyPath('block_sizes', i), x, true, { min: 1 }));
      if (sizes.every((k) => k !== undefined)) block_sizes = sizes;
    }
  }
  if (pv === undefined || pv === null) return { block_sizes, block_size_probs: null };
  if (v === undefined || v === null) {
    r.problem('block_size_probs', 'needs model.masking.block_sizes (one probability per block size); block_sizes is not set');
    return { block_sizes, block_size_probs: null };
  }
  if (!Array.isArray(pv) || !pv.every((x) => typeof x === 'number' && x >= 0 && x <= 1)) {
    r.problem('block_size_probs', `expected a list of probabilities (numbers in [0, 1]); got ${describeValue(pv)}`);
    return { block_sizes, block_size_probs: null };
  }
  const probs = pv as number[];
  if (block_sizes === null) return { block_sizes, block_size_probs: null }; // block_sizes is reported already
  if (probs.length !== block_sizes.length) {
    r.problem('block_size_probs', `needs one probability per block_sizes entry (${block_sizes.length}); got ${probs.length}`);
  } else if (Math.abs(probs.reduce((a, b) => a + b, 0) - 1) > 1e-6) {
    r.problem('block_size_probs', `must sum to 1; got ${JSON.stringify(probs)}`);
  }
  return { block_sizes, block_size_probs: probs };
}

/** The masking keys NeMo's RandomBlockMasking does not take (its constructor fails on them). */
export const STREAMNEST_MASKING_KEYS = ['causal', 'left_context_size', 'block_sizes', 'block_size_probs'] as const;

/**
 * The model-level key a written model_config.yaml keeps streamnest's masking keys under: NeMo instantiates
 * `masking` as RandomBlockMasking(**masking) and fails on keys it does not know, but ignores unknown model-level keys.
 */
export const STREAMNEST_MASKING_SECTION = 'streamnest_masking';

/**
 * A NEST `model:` section as NeMo loads it: streamnest's masking keys moved from `masking` to `streamnest_masking`
 * (withMaskingExtensions moves them back). A section without them is returned as it is.
 */
export function nemoMaskingSplit(model: ConfigMap): ConfigMap {
  const masking = model.masking;
  if (!isConfigMap(masking)) return model;
  const nemo: ConfigMap = {};
  const ours: ConfigMap = {};
  for (const [k, v] of Object.entries(masking)) {
    if ((STREAMNEST_MASKING_KEYS as readonly string[]).includes(k)) ours[k] = v;
    else nemo[k] = v;
  }
  if (Object.keys(ours).length === 0) return model;
  return { ...model, masking: nemo, [STREAMNEST_MASKING_SECTION]: ours };
}

/**
 * The inverse of nemoMaskingSplit when reading a stored model: `streamnest_masking`'s keys back into `masking`.
 * Throws (naming the key) when both hold the same key or streamnest_masking holds another one.
 */
export function withMaskingExtensions(model: ConfigMap, file: string): ConfigMap {
  const ours = model[STREAMNEST_MASKING_SECTION];
  if (ours === undefined) return model;
  const where = `${file}: model_config.yaml ${STREAMNEST_MASKING_SECTION}`;
  if (!isConfigMap(ours)) throw new ConfigError(where, [{ path: STREAMNEST_MASKING_SECTION, message: 'must be a mapping of masking keys' }]);
  const masking = isConfigMap(model.masking) ? model.masking : {};
  for (const k of Object.keys(ours)) {
    if (!(STREAMNEST_MASKING_KEYS as readonly string[]).includes(k))
      throw new ConfigError(where, [
        { path: `${STREAMNEST_MASKING_SECTION}.${k}`, message: `is not one of streamnest's masking keys (${STREAMNEST_MASKING_KEYS.join(', ')})` },
      ]);
    if (Object.hasOwn(masking, k)) throw new ConfigError(where, [{ path: `${STREAMNEST_MASKING_SECTION}.${k}`, message: 'is also set in masking' }]);
  }
  const { [STREAMNEST_MASKING_SECTION]: _, ...rest } = model;
  return { ...rest, masking: { ...masking, ...ours } };
}
