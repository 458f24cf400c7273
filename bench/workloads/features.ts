// features_b1 / features_b8: the NEST recipe's log-mel preprocessor (per_feature normalisation, eval mode: no
// dither) on 1 or 8 utterances of 16 s. Real-time factor = audio seconds / step time (see BENCHMARKS.md).
// The twin (bench/pytorch/features_b*.py -> features.py) uses torch.stft with the window and filterbank saved here.
import * as t from '../../src/torch/index.js';
import { AudioToMelSpectrogramPreprocessor } from '../../src/audio/preprocessor.js';
import type { Workload } from '../workload.js';
import { nestArgs, writeHandoff } from './nest-shapes.js';

const SECONDS = 16;
const SR = 16000;

function featuresWorkload(batch: number): Workload {
  return {
    name: `features_b${batch}`,
    description: `NEST log-mel preprocessor (per_feature), eval, ${batch} x ${SECONDS} s`,
    repeat: batch === 1 ? 30 : 10,
    warmup: 3,
    setup() {
      const cfg = nestArgs('nest_fast-conformer', 'small', 1).preprocessor;
      const pre = new AudioToMelSpectrogramPreprocessor(cfg as never);
      pre.eval();
      writeHandoff('features', { preprocessor: cfg, seconds: SECONDS }, (p) => t.saveStateDict(p, pre.stateDict('preprocessor')));
      const g = new t.Generator(11);
      const x = t.keep(t.randn([batch, SECONDS * SR], { generator: g }).mul(0.1));
      const len = t.keep(t.full([batch], SECONDS * SR, { dtype: 'int64' }));
      return {
        step() {
          t.tidy(() => {
            pre.forward(x, len).features.sum().item();
          });
        },
        dispose() {
          pre.dispose();
          x.dispose();
          len.dispose();
        },
      };
    },
  };
}

export const featuresB1 = featuresWorkload(1);
export const featuresB8 = featuresWorkload(8);
