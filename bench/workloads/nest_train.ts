// nest_train_small: one NEST-Small training step of the streaming recipe (configs/nest_fast-conformer_streaming.yaml
// with d_model 176, 4 heads, 16 layers: causal subsampling, att_context [-1, 0], causal layer_norm conv module,
// causal masking, no feature normalisation) on a batch of 8 x 16 s of audio:
//   preprocessor(clean) + preprocessor(noisy) (train mode: dither), quantizer tokens (no grad), causal block masking,
//   encoder (train mode: dropout), decoder (8192 classes), masked-token NLL, backward, AdamW step, grads set to none.
// Throughput = 8 x 16 s of audio / step time. The twin (bench/pytorch/nest_train_small.py -> nest_model.py) loads the
// whole model state dict made here (exp/bench/nest_small_streaming.pt/.json).
import * as t from '../../src/torch/index.js';
import { NestModel } from '../../src/ssl/nest-model.js';
import type { Workload } from '../workload.js';
import { nestArgs, writeHandoff } from './nest-shapes.js';

export const NEST_BATCH = 8;
export const NEST_SECONDS = 16;
const SR = 16000;

export const nestTrainSmall: Workload = {
  name: 'nest_train_small',
  description: `NEST Small streaming training step (2x preprocessor, quantizer, masking, encoder, decoder, loss, backward, AdamW), B=${NEST_BATCH} x ${NEST_SECONDS} s`,
  repeat: 5,
  warmup: 1,
  setup() {
    const args = nestArgs('streaming', 'small', 4321);
    const model = new NestModel(args);
    const optim = { lr: 1e-4, betas: [0.9, 0.98] as [number, number], eps: 1e-8, weightDecay: 1e-3 };
    writeHandoff('nest_small_streaming', { ...args, optim, batch: NEST_BATCH, samples: NEST_SECONDS * SR }, (p) => t.saveStateDict(p, model.stateDict()));
    model.train();
    const g = new t.Generator(5);
    const N = NEST_SECONDS * SR;
    const audio = t.keep(t.randn([NEST_BATCH, N], { generator: g }).mul(0.1));
    const noisy = t.keep(audio.add(t.randn([NEST_BATCH, N], { generator: g }).mul(0.05)));
    const len = t.keep(t.full([NEST_BATCH], N, { dtype: 'int64' }));
    const opt = new t.AdamW(model.trainableParameters(), optim);
    return {
      step() {
        t.tidy(() => {
          const f = model.forward({ audio, audioLen: len, noisy, noisyLen: len });
          const loss = model.lossOf(f);
          loss.backward();
          opt.step();
          model.zeroGrad();
        });
      },
      dispose() {
        opt.dispose();
        model.dispose();
        for (const x of [audio, noisy, len]) x.dispose();
      },
    };
  },
};
