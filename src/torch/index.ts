// streamnest's tensor library: libtorch through the addon, with a typed TypeScript surface.
export { Tensor, type Operand } from './tensor.js';
export type { DType } from './dtype.js';
export { tidy, keep, Scope, liveTensorCount, derivedTensorCount } from './scope.js';
export { noGrad, enableGrad, isGradEnabled, grad, type GradOptions } from './autograd.js';
export { autocast, autocastOff, autocastState, type AutocastOptions, type AutocastDevice, type AutocastDtype } from './autocast.js';
export { Generator, manualSeed, defaultGeneratorState, setDefaultGeneratorState } from './random.js';
export {
  setNumThreads,
  getNumThreads,
  blasReport,
  checkBlas,
  cudaAvailable,
  libtorchVersion,
  applyThreadSetting,
  cpuAllocatorStats,
  cpuAllocatorTrim,
} from './runtime.js';
export { op, call, callMany, Op } from './dispatch.js';
export * from './ops/index.js';
export { Module, StateDictError, type StateDict } from './nn/module.js';
export * from './nn/layers.js';
export { Lstm, type LstmState } from './nn/lstm.js';
export { SyncBatchNorm1d } from './nn/sync-batch-norm.js';
export * as init from './nn/init.js';
export { AdamW, type AdamWOptions, type AdamWState } from './optim/adamw.js';
export { SGD, type SgdOptions } from './optim/sgd.js';
export { clipGradNorm } from './optim/clip.js';
export { ProcessGroup, type ProcessGroupOptions } from './distributed.js';
export * from './serialize/index.js';
