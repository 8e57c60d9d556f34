export * from './types.js';
export * from './scheduler.js';
