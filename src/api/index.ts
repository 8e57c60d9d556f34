export {
  runBenchmark,
  RunCancelledError,
  fallbackResultsDir,
  type RunBenchmarkOptions,
  type FilesWritten,
} from './run.js';
export { computeAttention, type ComputeAttentionOptions } from './compute.js';
export { listImplementations, loadPlugins } from './implementations.js';
export { getSuite, suiteNames, registerSuite } from './suites.js';
