// The typed interface of the native addon (bindings/). Everything the TypeScript layer asks of
// native code goes through this one interface, so tests can stand in a fake binding.
import type {
  DeviceName,
  DTypeName,
  SimdLevelName,
  PoolStats,
  PatternCacheStats,
  KernelTelemetry,
} from '../results/types.js';
export type { DeviceName, DTypeName, SimdLevelName, PoolStats, PatternCacheStats, KernelTelemetry };

/** One attention problem, camelCase, named like the CLI flags. */
export interface NativeProblem {
  implementation: string;
  device: DeviceName;
  dtype: DTypeName;
  batch: number;
  heads: number;
  kvHeads: number;
  seqLen: number;
  headDim: number;
  causal: boolean;
  /** omitted or <= 0: 1/sqrt(headDim) */
  scale?: number;
  seed: number;
  segmentLengths?: number[];
  dilationRates?: number[];
  ringSize?: number;
  blockPattern?: 'local' | 'strided' | 'dilated' | 'random';
  blockSize?: number;
  window?: number;
  stride?: number;
  density?: number;
  promptLen?: number;
  newTokens?: number;
  /** kv-cache: 'attend' (default) or 'skip' (the prompt only fills the cache; its rows are 0) */
  prefill?: 'attend' | 'skip';
}

export interface NativeSessionOptions {
  threads: number;
  useMemoryPool: boolean;
  usePatternCache: boolean;
  /** 0 = no limit */
  memoryLimitBytes: number;
}

export interface NativePlan {
  effectiveSeqLen: number;
  inputBytes: number;
  outputBytes: number;
  workspaceBytes: number;
  totalBytes: number;
  flops: number;
  bytesMoved: number;
}

export interface NativeSampleClocks {
  smClockMHz: Float64Array;
  maxSmClockMHz: number;
}

/** Set from an AbortSignal listener; the native run stops at the next iteration boundary. */
export interface NativeCancelToken {
  cancel(): void;
  readonly cancelled: boolean;
}

export interface NativeSession {
  readonly plan: NativePlan;
  /** Timed iterations, nanoseconds each. Rejects with ERR_DILBENCH_CANCELLED when cancelled. */
  sample(iterations: number, cold: boolean, cancel?: NativeCancelToken): Promise<Float64Array>;
  output(cancel?: NativeCancelToken): Promise<Float32Array>;
  input(which: 'q' | 'k' | 'v'): Float32Array;
  poolStats(): PoolStats;
  /** null when the session runs without the pattern cache (optional: fake bindings may omit it) */
  patternCacheStats?(): PatternCacheStats | null;
  /** null for kernels without telemetry or before the first run; throws while a run is in flight */
  telemetry?(): KernelTelemetry | null;
  /**
   * The SM clock read right after each iteration of the last settled sample() (one reading per
   * iteration, MHz), with the device's rated maximum; null where the backend reads no clock (the
   * CPU; CUDA without NVML). Throws while a run is in flight. Optional: fake bindings may omit it.
   */
  sampleClocks?(): NativeSampleClocks | null;
  /** Frees every buffer now (also done by GC); further calls reject. */
  dispose(): void;
}

/** One implementation parameter as native/core/descriptor.cpp declares it (bounds inclusive unless minExclusive). */
export interface NativeParamSpec {
  name: string;
  type: 'int' | 'number' | 'enum' | 'int-list';
  min?: number;
  max?: number;
  minExclusive?: boolean;
  /** enum only */
  choices: string[];
  /** in words */
  default: string;
  /** what the value may be, in words (error messages say this) */
  allowed: string;
  help: string;
}

/** The functions dilbench validates against a float64 reference (attention-definitions.md). */
export type AttentionFunction =
  'dense' | 'kv-cache' | 'dilated' | 'dilated-grouped' | 'block-sparse';

export interface NativeImplementationInfo {
  name: string;
  device: DeviceName;
  dtypes: DTypeName[];
  description: string;
  // ---- the implementation's descriptor (native/core/descriptor.h); fake bindings may omit it ----
  /** the function it computes; null: unknown (a plugin that declares none; its rows are unvalidated) */
  function?: AttentionFunction | null;
  /** whether it computes exact dense attention (ranking): always, only with a causal mask, never */
  exactDense?: 'always' | 'when-causal' | 'never';
  /** the validated implementation of the same function it is compared with beyond the reference */
  partner?: string | null;
  params?: NativeParamSpec[];
  /** the KernelTelemetry keys it fills */
  telemetry?: string[];
  origin?: 'built-in' | 'plugin' | 'python';
  /** where flopsPerIteration / bytesPerIteration come from: the kernel, the plugin, `function:<name>` (dilbench's counts of the declared function) or none */
  countsSource?: string;
  /** plugins: the library (or .py) path and the plugin ABI ("1.0") */
  pluginPath?: string;
  pluginAbi?: string;
}

/** What loadPlugin() registered. */
export interface NativeLoadedPlugin {
  path: string;
  pluginName: string;
  /** "major.minor" the plugin was built against */
  abi: string;
  kernels: string[];
}

export interface NativeInfo {
  version: string;
  buildType: string;
  simdLevel: SimdLevelName;
  detectedSimdLevel: SimdLevelName;
  hardwareThreads: number;
  /** the CPU's last-level cache in bytes as the OS lists it (sysfs; 32 MiB when it lists none).
   * A VM may list the host's whole cache, more than its share: NOTES.md, "Where the LLC ends".
   * Absent from builds before it was added and from fake bindings. */
  lastLevelCacheBytes?: number;
  cuda: {
    compiled: boolean;
    deviceCount: number;
    devices: CudaDeviceInfo[];
    /** why no device is usable, when compiled in and deviceCount is 0 */
    error?: string;
  };
}

export interface CudaDeviceInfo {
  index: number;
  name: string;
  computeCapability: string;
  totalMemoryBytes: number;
  /** current SM clock (NVML) when clockSource is 'nvml', else the rated clock */
  smClockMHz: number;
  /** rated (maximum boost) SM clock; absent from builds before it was added */
  maxSmClockMHz?: number;
  clockSource?: 'nvml' | 'rated';
  multiProcessors?: number;
  l2CacheBytes?: number;
  driverVersion: string;
  runtimeVersion: string;
}

export interface NativePeak {
  fmaGflops: number;
  streamGBps: number;
  threads: number;
  simdLevel: SimdLevelName;
}

/** `dilbench peak` on a GPU: each figure the median of `runs` timed launches. */
export interface NativeDevicePeak {
  device: DeviceName;
  /** the GPU's name */
  name: string;
  /** mma.sync m16n8k16 with fp16 inputs and fp32 accumulation, dense TFLOP/s */
  fp16TensorTflops: number;
  /** the same with bf16 inputs */
  bf16TensorTflops: number;
  /** SIMT fp32 FMA, TFLOP/s */
  fp32FmaTflops: number;
  /** device-to-device copy, read + write bytes counted, GB/s */
  copyGBps: number;
  /** bytes of the copied buffer */
  copyBytes: number;
  runs: number;
}

export interface NativeBinding {
  info(): NativeInfo;
  listImplementations(): NativeImplementationInfo[];
  /** Every implementation parameter's spec (names, bounds, defaults, help). Optional: fake bindings may omit it. */
  paramSpecs?(): NativeParamSpec[];
  /**
   * dlopens a C ABI plugin (include/dilbench_plugin.h) and registers its kernels; throws
   * ERR_DILBENCH_INVALID_CONFIG (field "plugin") naming the file and what is wrong. Optional.
   */
  loadPlugin?(path: string): NativeLoadedPlugin;
  /**
   * The parameters of `fn` (default: the problem's implementation's function) resolved as the
   * kernels resolve them: dilated pairs (by length, shrunk), the kv-cache split, block-sparse
   * settings. Optional.
   */
  resolvedParams?(
    problem: NativeProblem,
    fn?: string,
  ): Partial<
    Pick<
      NativeProblem,
      | 'segmentLengths'
      | 'dilationRates'
      | 'promptLen'
      | 'newTokens'
      | 'prefill'
      | 'blockPattern'
      | 'blockSize'
      | 'window'
      | 'stride'
      | 'density'
    >
  >;
  /** Validates and sizes; throws (synchronously) ERR_DILBENCH_INVALID_CONFIG. */
  plan(problem: NativeProblem, options: NativeSessionOptions): NativePlan;
  /** Allocates and fills seeded inputs off the event loop. */
  createSession(problem: NativeProblem, options: NativeSessionOptions): Promise<NativeSession>;
  /**
   * q, k, v are copied at the call (copyInputs false: read in place until the promise settles);
   * the output goes to `out` when given (resolving to it), else to a new array.
   */
  compute(
    problem: NativeProblem,
    options: NativeSessionOptions,
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    cancel?: NativeCancelToken,
    out?: Float32Array,
    copyInputs?: boolean,
  ): Promise<Float32Array>;
  /** Float64 reference of the same definition. */
  reference(
    problem: NativeProblem,
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    cancel?: NativeCancelToken,
  ): Promise<Float64Array>;
  measurePeak(threads: number, durationSeconds: number): Promise<NativePeak>;
  /** the drift sentinel: GFLOP/s of a fixed FMA workload on `threads` workers, each timing its own loop (synchronous, a few ms); absent in older builds */
  fmaSentinel?(threads: number, iterationsPerThread: number): number;
  /**
   * The GPU's peak (about durationSeconds per figure). Rejects with ERR_DILBENCH_UNSUPPORTED where
   * there is no usable CUDA device. Optional: fake bindings may omit it.
   */
  measureDevicePeak?(device: 'cuda', durationSeconds: number): Promise<NativeDevicePeak>;
  setSimdLevel(level: SimdLevelName): void;
  CancelToken: new () => NativeCancelToken;
}

/**
 * Error codes carried in `error.code` by every error the binding throws or rejects with. Argument
 * errors also carry `field` (the camelCase parameter) and `allowed` (what it accepts, in words).
 */
export const ErrorCodes = {
  INVALID_CONFIG: 'ERR_DILBENCH_INVALID_CONFIG',
  OUT_OF_MEMORY: 'ERR_DILBENCH_OUT_OF_MEMORY',
  CANCELLED: 'ERR_DILBENCH_CANCELLED',
  UNSUPPORTED: 'ERR_DILBENCH_UNSUPPORTED',
  INTERNAL: 'ERR_DILBENCH_INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];
