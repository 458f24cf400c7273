// encoder_{small,medium}_{fwd,fwdbwd}: the NEST encoder (bidirectional recipe: dw_striding x8, rel-pos MHA,
// batch_norm conv module, kernel 9) at the Small / Medium sizes on batch 8 x 16 s of features (1600 frames -> 200
// encoder frames).
//   fwd:    eval mode, no grad: encoder(features, lengths)
//   fwdbwd: train mode (dropout 0.1, batch-norm batch statistics): loss = mean(encoded^2); backward; grads set to none
// The weights are made here (seed 1234) and handed to the twin (bench/pytorch/encoder_*.py -> fastconformer.py)
// through exp/bench/<name>.pt/.json. The batch can be lowered with STREAMNEST_BENCH_ENCODER_BATCH (the twin follows).
import * as t from '../../src/torch/index.js';
import { ConformerEncoder } from '../../src/model/conformer-encoder.js';
import type { Workload } from '../workload.js';
import { nestArgs, writeHandoff, type NestSize } from './nest-shapes.js';

const FRAMES = 1600;
const batchSize = (): number => Number(process.env.STREAMNEST_BENCH_ENCODER_BATCH ?? 8);

function encoderWorkload(size: NestSize, mode: 'fwd' | 'fwdbwd', repeat: number): Workload {
  const name = `encoder_${size}_${mode}`;
  return {
    name,
    description: `NEST ${size} encoder ${mode === 'fwd' ? 'forward (eval, no grad)' : 'forward + backward (train mode)'}, B=8 x 1600 frames`,
    repeat,
    warmup: 1,
    setup() {
      const B = batchSize();
      const cfg = nestArgs('nest_fast-conformer', size, 1234).encoder;
      const enc = new ConformerEncoder(cfg, { init: { generator: new t.Generator(1234) }, dropoutGenerator: new t.Generator(7) });
      writeHandoff(`encoder_${size}`, { encoder: cfg, batch: B, frames: FRAMES, seed: 1234 }, (p) => t.saveStateDict(p, enc.stateDict()));
      const g = new t.Generator(99);
      const x = t.keep(t.randn([B, cfg.feat_in, FRAMES], { generator: g }));
      const len = t.keep(t.full([B], FRAMES, { dtype: 'int64' }));
      if (mode === 'fwd') enc.eval();
      else enc.train();
      return {
        step() {
          t.tidy(() => {
            if (mode === 'fwd') {
              t.noGrad(() => enc.forward(x, len).encoded.sum().item());
            } else {
              const loss = enc.forward(x, len).encoded.pow(2).mean();
              loss.backward();
              enc.zeroGrad();
            }
          });
        },
        dispose() {
          enc.dispose();
          x.dispose();
          len.dispose();
        },
      };
    },
  };
}

export const encoderSmallFwd = encoderWorkload('small', 'fwd', 5);
export const encoderSmallFwdBwd = encoderWorkload('small', 'fwdbwd', 3);
export const encoderMediumFwd = encoderWorkload('medium', 'fwd', 3);
export const encoderMediumFwdBwd = encoderWorkload('medium', 'fwdbwd', 3);
