export * from './creation.js';
export * from './elementwise.js';
export * from './reduction.js';
export * from './shape.js';
export * from './nn.js';
export * from './loss.js';
export * from './signal.js';
