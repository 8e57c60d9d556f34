// `dilbench bench`: the sections, the whole run, its tables and its result file.
export * from './record.js';
export * from './kernels.js';
export * from './frameworks.js';
export * from './dtypes.js';
export * from './compute-api.js';
export * from './tables.js';
export * from './run.js';
