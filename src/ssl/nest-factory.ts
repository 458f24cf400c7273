// The factory from a validated NeMo-layout config (model.*) to the NEST model's explicit constructor arguments.
import type { NestModelConfig } from '../config/schema.js';
import { conformerEncoderArgs } from '../model/encoder-config.js';
import type { ProcessGroup } from '../torch/index.js';
import { NestModel, type NestModelArgs } from './nest-model.js';

export function nestModelArgs(m: NestModelConfig, seed: number): NestModelArgs {
  if (m.mask_position !== 'pre_conv') {
    throw new Error(`model.mask_position: '${m.mask_position}' is not supported yet (use pre_conv, NeMo's default for NEST)`);
  }
  const e = m.encoder;
  if (e.self_attention_model === 'rel_pos_local_attn') {
    throw new Error("model.encoder.self_attention_model: 'rel_pos_local_attn' is not supported (use rel_pos or abs_pos)");
  }
  if (m.quantizer.dist_fn !== 'l2')
    throw new Error(`model.quantizer.dist_fn: '${m.quantizer.dist_fn}' is not supported (NeMo's cosine path fails at run time); use l2`);
  const encoder = conformerEncoderArgs(e);
  return {
    preprocessor: { ...m.preprocessor },
    encoder,
    masking: {
      featIn: m.masking.feat_in,
      maskProb: m.masking.mask_prob,
      blockSize: m.masking.block_size,
      blockSizes: m.masking.block_sizes,
      blockSizeProbs: m.masking.block_size_probs,
      maskValue: m.masking.mask_value,
      freeze: m.masking.freeze,
      allowOverlap: m.masking.allow_overlap,
      maxMaskRatio: m.masking.max_mask_ratio,
      causal: m.masking.causal,
      leftContextSize: m.masking.left_context_size,
    },
    quantizer: {
      featIn: m.quantizer.feat_in,
      codeDim: m.quantizer.code_dim,
      numClasses: m.quantizer.num_classes,
      numBooks: m.quantizer.num_books,
      distFn: 'l2',
      timeAhead: m.quantizer.time_ahead,
      freeze: m.quantizer.freeze,
      squeezeSingle: m.quantizer.squeeze_single,
      combineTimeSteps: m.quantizer.combine_time_steps,
    },
    decoder: {
      featIn: m.decoder.feat_in,
      numClasses: m.decoder.num_classes,
      numDecoders: m.decoder.num_decoders,
      initMode: m.decoder.init_mode,
      useBias: m.decoder.use_bias,
      squeezeSingle: m.decoder.squeeze_single,
    },
    loss: {
      combineTimeSteps: m.loss.combine_time_steps,
      maskThreshold: m.loss.mask_threshold,
      numDecoders: m.loss.num_decoders,
      squeezeSingle: m.loss.squeeze_single,
      causalDownsampling: e.causal_downsampling,
      alignment: m.target_alignment,
    },
    targetNormalize: m.target_normalize,
    seed,
  };
}

/** `syncBatchNorm`: the data-parallel group for trainer.sync_batchnorm (batch_norm statistics synchronised across ranks). */
export function buildNestModel(m: NestModelConfig, seed: number, runtime: { syncBatchNorm?: ProcessGroup | null } = {}): NestModel {
  return new NestModel({ ...nestModelArgs(m, seed), syncBatchNorm: runtime.syncBatchNorm ?? null });
}
