// Test helper: a small random character transducer (RnntModel, EncDecRNNTModel layout) on the serving tests' streaming
// encoder (./model.ts: fully causal [-1, 0] or chunked_limited [-1, 4], 80 ms frames). Random joints emit one label
// at every frame or none at all, and equal transcripts of that kind would prove little; so the joint is built from the
// sharpened CTC head of ./model.ts (joint_hidden = labels + 1: enc = the CTC head shifted into ReLU's linear range,
// joint_net's output layer the identity shifted back) plus the prediction network's projection scaled up, which makes
// the labels depend on the prediction state: frames emit zero to max_symbols labels, of several kinds.
import { stringify } from 'yaml';
import * as t from '../../src/torch/index.js';
import { writeNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { RNNT_TARGET, RnntModel, type RnntModelArgs } from '../../src/asr/index.js';
import { SERVING_PREPROCESSOR, servingEncoder, servingModel } from './model.js';

const PRED = 16;
const SHIFT = 100; // keeps the joint's ReLU inputs positive (its linear range)

export function servingRnntArgs(style: 'regular' | 'chunked_limited', seed: number, maxSymbols: number, labels: readonly string[]): RnntModelArgs {
  return {
    preprocessor: SERVING_PREPROCESSOR,
    encoder: servingEncoder(style) as unknown as RnntModelArgs['encoder'],
    labels,
    decoder: { prednet: { pred_hidden: PRED, pred_rnn_layers: 1, dropout: 0 } },
    joint: { jointnet: { joint_hidden: labels.length + 1, activation: 'relu', dropout: 0 } },
    loss: { reduction: 'mean_batch', fastemitLambda: 0, clamp: -1 },
    maxSymbols,
    specAugment: null,
    seed,
  };
}

/** The model (eval mode; the caller disposes it). `predScale` scales the prediction network's projection. */
export function servingRnntModel(
  style: 'regular' | 'chunked_limited' = 'regular',
  o: { seed?: number; maxSymbols?: number; predScale?: number; beam?: RnntModelArgs['beam'] } = {},
): RnntModel {
  const ctc = servingModel(style, o.seed ?? 7);
  const m = new RnntModel({ ...servingRnntArgs(style, o.seed ?? 7, o.maxSymbols ?? 3, ctc.vocab.labels), beam: o.beam ?? null });
  m.eval();
  m.loadEncoderFrom(ctc.stateDict());
  const conv = ctc.decoder.decoder_layers.items[0]!;
  const out = m.joint.joint_net.items.at(-1) as t.Linear;
  t.noGrad(() =>
    t.tidy(() => {
      m.joint.enc.weight.copy_(conv.weight.squeeze(2));
      m.joint.enc.bias!.copy_(conv.bias!.add(SHIFT));
      out.weight.copy_(t.eye(m.vocab.size + 1));
      out.bias!.fill_(-SHIFT);
      m.joint.pred.weight.mul_(o.predScale ?? 100);
    }),
  );
  ctc.dispose();
  return m;
}

/** The stored config of servingRnntModel (NeMo's EncDecRNNTModel layout, the sizes NeMo fills in written out). */
export function servingRnntConfig(m: RnntModel, style: 'regular' | 'chunked_limited', decoding?: Record<string, unknown>): Record<string, unknown> {
  const labels = [...m.vocab.labels];
  const J = labels.length + 1;
  return {
    target: RNNT_TARGET,
    sample_rate: 16000,
    labels,
    preprocessor: SERVING_PREPROCESSOR,
    encoder: servingEncoder(style),
    model_defaults: { enc_hidden: 32, pred_hidden: PRED, joint_hidden: J },
    decoder: { _target_: 'nemo.collections.asr.modules.RNNTDecoder', vocab_size: labels.length, prednet: { pred_hidden: PRED, pred_rnn_layers: 1 } },
    joint: {
      _target_: 'nemo.collections.asr.modules.RNNTJoint',
      num_classes: labels.length,
      vocabulary: labels,
      jointnet: { encoder_hidden: 32, pred_hidden: PRED, joint_hidden: J, activation: 'relu', dropout: 0 },
    },
    decoding: decoding ?? { strategy: 'greedy_batch', greedy: { max_symbols: m.args.maxSymbols } },
  };
}

/** Writes servingRnntModel to `path` as an EncDecRNNTModel .nemo and returns it (eval mode; the caller disposes it). */
export function writeServingRnntModel(path: string, style: 'regular' | 'chunked_limited' = 'regular', decoding?: Record<string, unknown>): RnntModel {
  const beam = decoding?.strategy === 'beam' ? { beamSize: Number((decoding.beam as { beam_size?: number } | undefined)?.beam_size ?? 4) } : null;
  const m = servingRnntModel(style, { beam });
  writeNemoArchive(path, { configYaml: stringify(servingRnntConfig(m, style, decoding)), stateDict: m.stateDict() });
  return m;
}
