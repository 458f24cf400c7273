// Initialising an ASR model's encoder and preprocessor from a pretrained model's state dict (NeMo's
// init_from_nemo_model with include: [preprocessor, encoder]): every encoder.* / preprocessor.* tensor of the model
// must be in the checkpoint with the same shape, and the checkpoint may hold nothing else under those prefixes.
import type * as t from '../torch/index.js';
import type { Tensor } from '../torch/index.js';

const isEncoderKey = (k: string): boolean => k.startsWith('encoder.') || k.startsWith('preprocessor.');

/** Copies the encoder and preprocessor weights of `sd` into `model`; returns how many tensors were copied. */
export function loadEncoderWeights(model: t.Module, sd: t.StateDict): number {
  const own = model.stateDict();
  const picked = new Map<string, Tensor>();
  for (const [k, v] of sd) {
    if (!isEncoderKey(k)) continue;
    const mine = own.get(k);
    if (!mine) throw new Error(`init checkpoint has ${k}, which this model's encoder/preprocessor does not have (different architecture?)`);
    if (mine.shape.join() !== v.shape.join()) throw new Error(`init checkpoint ${k} has shape [${v.shape}] but the model expects [${mine.shape}]`);
    picked.set(k, v);
  }
  for (const k of own.keys()) if (isEncoderKey(k) && !picked.has(k)) throw new Error(`init checkpoint lacks ${k}`);
  model.loadStateDict(picked, false);
  return picked.size;
}
