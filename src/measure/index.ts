export * from './types.js';
export * from './scheduler.js';
export * from './options.js';
export * from './session-sampler.js';
export * from './clock.js';
export * from './call-sampler.js';
