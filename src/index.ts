// dilbench: attention-kernel benchmarks with a native core.
export {
  runBenchmark,
  RunCancelledError,
  computeAttention,
  listImplementations,
  loadPlugins,
  suiteNames,
} from './api/index.js';
export {
  Dilbench,
  getDilbench,
  type CudaAvailability,
  type LoadedBinary,
} from './native/dilbench.js';
export type { BackendDiagnosis } from './native/select-backend.js';
export type { RunBenchmarkOptions, ComputeAttentionOptions } from './api/index.js';
export {
  ConfigError,
  parseByteSize,
  parseLength,
  formatBytes,
  loadRanges,
  expandRange,
} from './config/index.js';
export { writeFileAtomic } from './results/store.js';
export { writeResultFiles, type WrittenFiles } from './reports/write.js';
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
export type { NativeParamSpec, AttentionFunction, NativeLoadedPlugin } from './native/binding.js';
// one descriptor per implementation, and plugins (issue 15)
export {
  computesExactDense,
  implementationFunction,
  partnerOf,
  implementationDescriptor,
} from './implementations/descriptors.js';
export type { PluginRecord } from './plugins/index.js';
// transformer models, `dilbench inference` and `dilbench scaling` (issue 7)
export {
  loadModelConfig,
  validateModelConfig,
  modelPresetNames,
  parameterCount,
  readSafetensors,
  writeSafetensors,
  encodeSafetensors,
  loadGpt2Checkpoint,
  SafetensorsError,
  encodeGpt2,
  decodeGpt2,
} from './models/index.js';
export {
  runInferenceBenchmark,
  type InferenceOptions,
  type InferenceResult,
  type InferenceRecord,
  type InferenceSideComparison,
} from './inference/benchmark.js';
export {
  runScaling,
  loadScalingConfig,
  validateScalingConfig,
  type ScalingConfig,
  type ScalingOptions,
  type ScalingResultFile,
  type ScalingSideComparison,
} from './scaling/index.js';
export type {
  ModelConfig,
  ModelWeights,
  ModelRunOptions,
  NativeModel,
  ModelBinding,
  GenerationResult,
  ModelMemory,
  ModelDevice,
  ModelDType,
  ModelPlacement,
} from './native/model-binding.js';
