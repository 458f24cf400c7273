// Every benchmark workload, in the order `node dist/bench/run.js` runs them. Add one line per workload.
import type { Workload } from '../workload.js';
import { linear } from './linear.js';
import { transformerStep } from './transformer_step.js';
import { opOverhead } from './op_overhead.js';
import { encoderSmallFwd, encoderSmallFwdBwd, encoderMediumFwd, encoderMediumFwdBwd } from './encoder.js';
import { nestTrainSmall } from './nest_train.js';
import { featuresB1, featuresB8 } from './features.js';
import { smallProducts1, smallProducts8 } from './small_products.js';

export const WORKLOADS: readonly Workload[] = [
  linear,
  transformerStep,
  opOverhead,
  encoderSmallFwd,
  encoderSmallFwdBwd,
  encoderMediumFwd,
  encoderMediumFwdBwd,
  nestTrainSmall,
  featuresB1,
  featuresB8,
  smallProducts1,
  smallProducts8,
];
