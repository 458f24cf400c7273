// The inputs of the CLI streaming benchmark, made once: a NEST-Small streaming-recipe .nemo (random weights, seed
// 1234, written as `pretrain` writes its archives: writeNemoArchive + modelConfigYaml), a WAV of pink noise, and the
// encoder's weights handed to the PyTorch twin (exp/bench/stream_<name>.{pt,json}, read by streaming_latency.py).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeWav } from '../../src/audio/index.js';
import { writeNemoArchive } from '../../src/checkpoint/nemo-archive.js';
import { loadConfig } from '../../src/config/index.js';
import { buildNestModel } from '../../src/ssl/nest-factory.js';
import * as t from '../../src/torch/index.js';
import { modelConfigYaml } from '../../src/train/nest-pretraining.js';
import { HANDOFF_DIR, SIZES, writeHandoff } from '../workloads/nest-shapes.js';

export const SAMPLE_RATE = 16000;
const SEED = 1234;

export interface StreamingInputs {
  /** The NEST-Small streaming .nemo (`streamnest stream --model`). */
  nemo: string;
  /** Pink noise, 16 kHz mono (`--audio`). */
  wav: string;
  seconds: number;
  /** The twin's hand-off name: streaming_latency.py --size <this> reads exp/bench/stream_<this>.{pt,json}. */
  handoff: string;
}

/** Paul Kellet's economy pink-noise filter over a seeded uniform generator (mulberry32); peak about 0.3. */
export function pinkNoise(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  for (let i = 0; i < n; i++) {
    const w = uniform() * 2 - 1;
    b0 = 0.99765 * b0 + w * 0.099046;
    b1 = 0.963 * b1 + w * 0.2965164;
    b2 = 0.57 * b2 + w * 1.0526913;
    out[i] = 0.05 * (b0 + b1 + b2 + w * 0.1848);
  }
  return out;
}

/** Makes (or finds) the .nemo, the WAV of `seconds` and the twin's hand-off. */
export function ensureStreamingInputs(seconds: number): StreamingInputs {
  mkdirSync(HANDOFF_DIR, { recursive: true });
  const name = 'small_cli';
  const nemo = join(HANDOFF_DIR, `nest_small_streaming_cli.nemo`);
  const wav = join(HANDOFF_DIR, `pink_${seconds}s.wav`);
  if (!existsSync(wav)) writeWav(wav, pinkNoise(seconds * SAMPLE_RATE, 7), SAMPLE_RATE);
  const s = SIZES.small;
  const { config, raw } = loadConfig('streaming', [
    'model.train_ds.manifest_filepath=train.json',
    'model.validation_ds.manifest_filepath=val.json',
    `model.encoder.d_model=${s.d_model}`,
    `model.encoder.n_heads=${s.n_heads}`,
    `model.encoder.n_layers=${s.n_layers}`,
  ]);
  const handoffPt = join(HANDOFF_DIR, `stream_${name}.pt`);
  if (existsSync(nemo) && existsSync(handoffPt)) return { nemo, wav, seconds, handoff: name };
  const model = buildNestModel(config.model, SEED).eval();
  try {
    writeNemoArchive(nemo, { configYaml: modelConfigYaml(raw), stateDict: model.stateDict() });
    writeHandoff(`stream_${name}`, { encoder: model.encoder.config, seed: SEED }, (p) => t.saveStateDict(p, model.encoder.stateDict()));
  } finally {
    model.dispose();
  }
  return { nemo, wav, seconds, handoff: name };
}
