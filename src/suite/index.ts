export * from './types.js';
export * from './sampling.js';
export * from './runner.js';
