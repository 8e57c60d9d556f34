export * from './summary.js';
export * from './mann-whitney.js';
export * from './scaling.js';
export * from './distributions.js';
export * from './random.js';
