export * from './types.js';
export * from './scheduler.js';
export * from './options.js';
export * from './session-sampler.js';
