// The one result schema every suite writes (JSON; CSV and Markdown are views of it).
// Bump SCHEMA_VERSION on any breaking change and keep readers tolerant of added fields.
import type { DTypeName, DeviceName, KernelTelemetry, PatternCacheStats, PoolStats, SimdLevelName } from '../native/binding.js';

export const SCHEMA_VERSION = 1;

export type RowStatus = 'ok' | 'skipped' | 'failed';

export interface SampleStats {
  medianMs: number;
  meanMs: number;
  stdMs: number;
  minMs: number;
  maxMs: number;
  p10Ms: number;
  p90Ms: number;
  /** added by the measurement engine (issue 4); optional so readers tolerate older files */
  q1Ms?: number;
  q3Ms?: number;
  iqrMs?: number;
  p95Ms?: number;
  p99Ms?: number;
  madMs?: number;
  cv?: number;
  rse?: number;
  medianCi95Ms?: [number, number];
  outliers?: { mildLow: number; mildHigh: number; severeLow: number; severeHigh: number };
}

/** A row placed on the roofline of the peak it was measured against. */
export interface RooflinePoint {
  /** FLOPs per byte moved */
  arithmeticIntensity: number;
  /** intensity where the memory and compute roofs meet (peak GFLOP/s / peak GB/s) */
  ridgePoint: number;
  bound: 'compute' | 'memory';
  achievedGflops: number;
  achievedGBps: number;
  /** achieved GFLOP/s as % of the FMA peak */
  pctOfPeakCompute: number;
  /** achieved GB/s as % of the stream peak */
  pctOfPeakBandwidth: number;
  /** roof at this intensity: min(peak GFLOP/s, intensity x peak GB/s) */
  attainableGflops: number;
  /** achieved GFLOP/s as % of the attainable roof */
  pctOfRoofline: number;
  /** % of peak from the median's 95% interval against the spread of the peak's repeats */
  pctOfPeakComputeRange?: [number, number];
  pctOfPeakBandwidthRange?: [number, number];
  /** why a figure is above 100% (never printed bare) */
  overPeakNote?: string;
  /** device and compute: GPU peaks (the GPU's name, which rate the compute roof is) */
  peak: { fmaGflops: number; streamGBps: number; threads?: number; simdLevel?: string; device?: string; compute?: string };
}

/**
 * The SM clock of a GPU row, read right after each timed sample (src/measure). Samples read below
 * `thresholdMHz` (75% of the rated maximum) are flagged as throttled; they stay in `samplesMs` and
 * in the statistics.
 */
export interface SmClockSummary {
  /** one reading per kept sample, parallel to samplesMs, MHz; null where none was read */
  samplesMHz: (number | null)[];
  /** the device's rated maximum SM clock, MHz */
  maxMHz: number;
  thresholdMHz: number;
  /** kept samples read below thresholdMHz */
  throttledSamples: number;
  /** kept samples with a reading */
  readSamples: number;
  minMHz: number | null;
  medianMHz: number | null;
}

export interface Validation {
  /** what the output was compared with: 'float64-reference' or another implementation's name */
  against: string;
  maxAbsError: number;
  relL2Error: number;
  /** fp16/bf16: max of |out - ref| / max(1, |ref|), the quantity their max-abs bound applies to */
  maxScaledError?: number;
  passed: boolean;
  /** plugins: the small problem of the same shape family the output was checked on before timing */
  checkedAt?: { seqLen: number; batch: number };
  /** maxAbsPerUnitOutput: the maxAbs bound applies to maxScaledError (fp16, bf16) */
  tolerance: { maxAbs: number; relL2: number; maxAbsPerUnitOutput?: boolean };
}

export interface ResultRow {
  implementation: string;
  device: DeviceName;
  dtype: DTypeName;
  batch: number;
  /** batch the user asked for, when the planner lowered it to fit */
  requestedBatch?: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  seqLen: number;
  effectiveSeqLen: number;
  causal: boolean;
  status: RowStatus;
  /** why skipped or failed (human sentence); null when ok */
  reason: string | null;
  /** error code for failed rows (ERR_DILBENCH_*) */
  errorCode?: string;
  samplesMs: number[];
  stats: SampleStats | null;
  coldStartMs?: number;
  warmupIterations?: number;
  stopReason?: 'converged' | 'max-time' | 'max-samples' | 'fixed-runs';
  cacheMode?: 'hot' | 'cold';
  /** GPU rows: the SM clock during sampling and how many samples ran throttled */
  smClock?: SmClockSummary;
  warnings?: string[];
  peakMemoryBytes: number | null;
  /** planner's estimate, always present (also for skipped rows) */
  estimatedMemoryBytes: number;
  estimatedSeconds?: number;
  tokensPerSecond: number | null;
  gflops: number | null;
  gbps?: number | null;
  flopsPerIteration: number;
  bytesPerIteration: number;
  threads: number;
  simdLevel: SimdLevelName | null;
  memoryPool?: boolean;
  patternCache?: boolean;
  pool?: PoolStats;
  /** the session's pattern cache statistics after the measurement (absent when the cache is off) */
  patternCacheStats?: PatternCacheStats;
  /** what the kernel measured beyond the timings (ring per-step times, sparsity, kv-cache phases) */
  telemetry?: KernelTelemetry;
  validation?: Validation;
  /** a plugin implementation that declares no function dilbench knows: measured, never validated nor ranked */
  unvalidated?: true;
  /** plugin rows: where the implementation comes from (environment.plugins has the file and its hash) */
  origin?: 'plugin' | 'python';
  /** plugin rows: the function the plugin declares (null: unknown), so a report can rank from the file alone */
  function?: string | null;
  /** plugin rows: whether this row computes exact dense attention (computesExactDense), i.e. may be ranked against naive and flash */
  exactDense?: boolean;
  /** where flopsPerIteration / bytesPerIteration come from when not the kernel's own: 'plugin', 'function:<name>' or 'none' */
  countsSource?: string;
  /** implementation-specific parameters actually used (segment lengths, ring size, ...) */
  params?: Record<string, unknown>;
  /** achieved rates against the measured machine peak (issue 4, src/roofline) */
  roofline?: RooflinePoint;
  /** anything projected (never measured) lives under here and is labelled so in reports */
  projected?: Record<string, unknown>;
  /** `ring --distributed`: what the real MPI ring measured per rank and step (src/distributed) */
  distributed?: import('../distributed/analysis.js').DistributedMeasurement;
  /** what else the machine did while this point sampled (src/measure/interference.ts); `flagged`: measured under contention */
  interference?: import('../measure/interference.js').Interference;
  /**
   * --repetitions R: each independent repetition (a fresh worker process) with its own samples;
   * `samplesMs` and `stats` then pool them. `dilbench compare` resamples these (hierarchical bootstrap).
   */
  repetitions?: RepetitionResult[];
  /** the drift sentinel's checkpoints around this point (src/measure/drift.ts); `flagged`: the machine's speed had moved */
  drift?: import('../measure/drift.js').PointDrift;
}

/** One independent repetition of a point (--repetitions). */
export interface RepetitionResult {
  /** 1-based, in the order the repetitions ran */
  index: number;
  samplesMs: number[];
  medianMs: number;
  stopReason?: ResultRow['stopReason'];
  interference?: import('../measure/interference.js').Interference;
}

export interface Environment {
  cpuModel: string;
  cpuCores: number;
  cpuFlags?: string[];
  simdLevel: SimdLevelName;
  totalMemoryBytes: number;
  freeMemoryBytes: number;
  os: string;
  nodeVersion: string;
  dilbenchVersion: string;
  gitCommit: string | null;
  buildType: string;
  hostname?: string;
  gpu?: unknown;
  peak?: {
    fmaGflops: number;
    streamGBps: number;
    threads: number;
    simdLevel: SimdLevelName;
    /** `dilbench peak --repeats`: min-max of the repeats and how many */
    fmaGflopsRange?: [number, number];
    streamGBpsRange?: [number, number];
    repeats?: number;
    /** measured by this run (no peak.json), not by `dilbench peak` */
    measuredBy?: string;
  };
  /** the GPU peak (`dilbench peak`) the CUDA rows were placed against */
  gpuPeak?: import('../roofline/peak-store.js').StoredGpuPeak;
  /** plugins loaded for the run: path and content hash, so a result says exactly what was measured */
  plugins?: import('../plugins/types.js').PluginRecord[];
}

export interface ResultFile {
  schemaVersion: number;
  suite: string;
  runId: string;
  createdAt: string;
  /** true when the run was stopped by a signal before all points ran */
  interrupted?: boolean;
  environment: Environment;
  config: Record<string, unknown>;
  results: ResultRow[];
  /** --compare-dtypes / --compare-devices: each side against its baseline side (src/suite/side-comparison.ts) */
  comparisons?: import('../suite/side-comparison.js').SideComparisons;
  /** --dry-run: nothing was measured; `plan` says what would run (results is empty) */
  dryRun?: true;
  plan?: PlanEntry[];
  /** other processes' CPU, steal, load and clock over the run, and how many points were flagged */
  interference?: import('../measure/interference.js').RunInterference;
  /** the drift sentinel's series over the run and how many points it flagged */
  driftSentinel?: import('../measure/drift.js').DriftSentinel;
}

/** One point as the planner sees it before anything runs (--dry-run, and the plan event). */
export interface PlanEntry {
  implementation: string;
  seqLen: number;
  device: string;
  dtype: string;
  batch: number;
  requestedBatch: number;
  action: 'run' | 'skip' | 'fail';
  /** the planner's estimate for the whole point (cold call, warm-up, samples, setup) */
  estimatedSeconds: number;
  /** bytes the point would allocate, when planned */
  memoryBytes: number | null;
  /** why it is skipped or fails, or why its batch was lowered */
  reason?: string;
}
