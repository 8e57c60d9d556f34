// dilbench: attention-kernel benchmarks with a native core.
export { runBenchmark, computeAttention, listImplementations, getBinding, setBinding, suiteNames } from './api/index.js';
export type { RunBenchmarkOptions, ComputeAttentionOptions } from './api/index.js';
export { ConfigError, parseByteSize, parseLength, formatBytes, loadRanges, expandRange } from './config/index.js';
export { writeResultFiles, writeFileAtomic, type WrittenFiles } from './results/store.js';
export { toMarkdown } from './reports/markdown.js';
export { toCsv } from './reports/csv.js';
export { toJson, parseResultFile } from './reports/json.js';
export { collectEnvironment } from './env/environment.js';
export type { ProgressEvent, SuiteDefinition, SuitePoint } from './suite/types.js';
export * from './results/types.js';
export type {
  NativeBinding,
  NativeImplementationInfo,
  NativeInfo,
  NativePlan,
  NativeProblem,
  NativeSessionOptions,
  NativePeak,
  PoolStats,
} from './native/binding.js';
export { ErrorCodes } from './native/binding.js';
