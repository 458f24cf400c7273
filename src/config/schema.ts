// The typed configuration sections (one file per section under schema/).

export * from './schema/dataset.js';
export * from './schema/decoder.js';
export * from './schema/encoder.js';
export * from './schema/exp-manager.js';
export * from './schema/loss.js';
export * from './schema/masking.js';
export * from './schema/nest.js';
export * from './schema/optim.js';
export * from './schema/preprocessor.js';
export * from './schema/quantizer.js';
export * from './schema/sortformer.js';
export * from './schema/trainer.js';
export * from './schema/transducer.js';
export * from './schema/aux-ctc.js';
export * from './schema/finetune.js';
