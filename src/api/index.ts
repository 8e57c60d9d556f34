export {
  runBenchmark,
  RunCancelledError,
  fallbackResultsDir,
  type RunBenchmarkOptions,
  type FilesWritten,
} from './run.js';
export { computeAttention, type ComputeAttentionOptions } from './compute.js';
export { listImplementations } from './implementations.js';
export { getBinding, setBinding } from './binding.js';
export { getSuite, suiteNames, registerSuite } from './suites.js';
