// The one result schema every suite writes (JSON; CSV and Markdown are views of it).
// Bump SCHEMA_VERSION on any breaking change and keep readers tolerant of added fields.
// A leaf: it imports nothing, so every layer can name the schema's types without an import cycle.
// The types the schema embeds live here too; the modules that produce them re-export them
// (native/binding, measure/interference, measure/drift, distributed/analysis, ...).

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
  peak: {
    fmaGflops: number;
    streamGBps: number;
    threads?: number;
    simdLevel?: string;
    device?: string;
    compute?: string;
  };
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
  distributed?: DistributedMeasurement;
  /** what else the machine did while this point sampled (src/measure/interference.ts); `flagged`: measured under contention */
  interference?: Interference;
  /**
   * --repetitions R: each independent repetition (a fresh worker process) with its own samples;
   * `samplesMs` and `stats` then pool them. `dilbench compare` resamples these (hierarchical bootstrap).
   */
  repetitions?: RepetitionResult[];
  /** the drift sentinel's checkpoints around this point (src/measure/drift.ts); `flagged`: the machine's speed had moved */
  drift?: PointDrift;
  /** `dilbench inference` / `dilbench scaling`: what a whole-model point measured beside its request times */
  model?: ModelPoint;
}

/**
 * A point of a command that times a whole model (ResultFile.command): one request shape on one
 * side. The row's samplesMs are the requests' total times; this holds the parts of each.
 */
export interface ModelPoint {
  /** inference: 'recompute' (no cache: the whole prefix recomputed each step) or 'kv-cache' */
  mode?: 'recompute' | 'kv-cache';
  /** inference: the prompt's label */
  prompt?: string;
  promptTokens: number;
  /** tokens generated per request (0: an encoder forward) */
  newTokens: number;
  /** per timed request, parallel to samplesMs: the prefill (prompt forward + first token), ms */
  prefillSamplesMs: number[];
  /** per timed request: the mean decode step, ms (0 without decode steps) */
  decodeMsPerTokenSamples: number[];
  /**
   * What the model reported (absent when it reports none: an encoder forward). inference: the
   * timed request with the highest peak; scaling: the highest of each over every request, warm-up
   * included.
   */
  memory?: {
    weightsBytes?: number;
    kvCacheBytes: number;
    workspaceBytes?: number;
    peakBytes: number;
  };
  /** scaling, encoder: no memory reported; the row's estimatedMemoryBytes is the estimate */
  memoryEstimated?: boolean;
  /** inference: the tokens the first timed request generated */
  tokens?: number[];
  /** inference: first generated position where a request of either mode differs from the first kv-cache one (null: none) */
  modesFirstMismatch?: number | null;
  /** inference, GPT-2 vocabulary: the generated tokens decoded */
  generatedText?: string | null;
}

/** The model a whole-model command ran (ResultFile.model). */
export interface ModelRun {
  /** the model config as run (src/models/config.ts) */
  config: { name: string; arch: string } & Record<string, unknown>;
  parameterCount: number;
  /** 'synthetic(seed=N)', or the checkpoint's absolute path */
  weightsSource: string;
  seed: number;
  /** CPU threads the model ran with */
  threads: number;
}

/** A device/dtype side a whole-model command was asked for (ResultFile.sides). */
export interface SideRecord extends RunSide {
  status: 'ok' | 'skipped';
  /** why a skipped side did not run (not runnable here, interrupted, or how it failed) */
  reason?: string;
  /** inference: the model's build time on this side, ms */
  setupMs?: number;
}

/** One independent repetition of a point (--repetitions). */
export interface RepetitionResult {
  /** 1-based, in the order the repetitions ran */
  index: number;
  samplesMs: number[];
  medianMs: number;
  stopReason?: ResultRow['stopReason'];
  interference?: Interference;
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
  gpuPeak?: StoredGpuPeak;
  /** plugins loaded for the run: path and content hash, so a result says exactly what was measured */
  plugins?: PluginRecord[];
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
  comparisons?: SideComparisons;
  /** --dry-run: nothing was measured; `plan` says what would run (results is empty) */
  dryRun?: true;
  plan?: PlanEntry[];
  /** other processes' CPU, steal, load and clock over the run, and how many points were flagged */
  interference?: RunInterference;
  /** the drift sentinel's series over the run and how many points it flagged */
  driftSentinel?: DriftSentinel;
  /** a command that times whole models wrote it (absent: a suite); its rows carry `model` */
  command?: 'inference' | 'scaling';
  /** inference, scaling: the model that ran */
  model?: ModelRun;
  /** inference, scaling: every side asked for, baseline first; skipped ones say why */
  sides?: SideRecord[];
  /** `dilbench bench`: its sections' figures (suite 'bench') */
  bench?: BenchSummary;
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

// embedded in the schema; produced by src/native/binding.ts (which re-exports them)
export type DeviceName = 'cpu' | 'cuda';

export type DTypeName = 'fp32' | 'fp16' | 'bf16';

export type SimdLevelName = 'generic' | 'avx2' | 'avx512' | 'neon';

export interface PoolStats {
  allocations: number;
  cacheHits: number;
  cacheMisses: number;
  deallocations: number;
  bytesInUse: number;
  peakBytesInUse: number;
  bytesReserved: number;
  peakBytesReserved: number;
  failedAllocations: number;
}

/** The session's dilated-pattern LRU cache (null from patternCacheStats() when the cache is off). */
export interface PatternCacheStats {
  hits: number;
  misses: number;
  evictions: number;
  /** hits / (hits + misses); 0 before any request */
  hitRate: number;
  entries: number;
  bytes: number;
  capacityBytes: number;
}

/** What a family kernel measured during its last run; only the fields of its family are present. */
export interface KernelTelemetry {
  /** ring / ring-dilated: P simulated ranks */
  ringSize?: number;
  /** [step][rank] measured compute nanoseconds */
  stepRankNs?: number[][];
  /** [step][rank] bytes rank p sends to p+1 after the step (0 at the last step) */
  stepRankBytesSent?: number[][];
  /** block-sparse */
  blocksTotal?: number;
  blocksComputed?: number;
  /** 1 - computed / total */
  sparsity?: number;
  /** kv-cache */
  prefillNs?: number;
  decodeNs?: number;
  decodeSteps?: number;
  decodeBytes?: number;
}

// embedded in the schema; produced by src/measure/interference.ts (which re-exports them)
/** Interference during one window (a point, or the whole run). */
export interface Interference {
  /** CPU time used by other processes, % of all CPUs' capacity over the window; null: not measurable */
  otherCpuPct: number | null;
  /** steal time, % of all CPUs' capacity; null: not measurable */
  stealPct: number | null;
  /** 1-minute load average at the end of the window (includes this process's threads; lags a minute) */
  loadAvg: number | null;
  /** mean current CPU clock at the end of the window, MHz, where readable */
  freqMHz?: number | null;
  /** maximum CPU clock, MHz, where the OS exposes it (cpufreq) */
  maxFreqMHz?: number | null;
  windowSeconds: number;
  /** CPUs the run's threads left idle, % of all (0 when it used them all); other CPU up to this is not contention */
  idleCpuPct?: number;
  /**
   * The most this interference can have slowed the point, as a factor: other processes' CPU
   * beyond the idle CPUs as a share f of the CPUs the run used, plus steal, take at most that
   * share of its time (1 / (1 - f), f capped at 0.95), times max clock / clock where both are read.
   */
  maxSlowdown?: number;
  flagged: boolean;
  /** why flagged (a sentence), or why not measurable; null when measured and quiet */
  reason: string | null;
}

/** The run-level summary of the per-point readings. */
export interface RunInterference {
  /** over the whole measuring part of the run */
  run: Interference;
  /** points (rows) measured, and those flagged */
  measuredPoints: number;
  flaggedPoints: number;
  thresholds: { otherCpuPct: number; stealPct: number; frequencyFraction: number };
  /** one sentence for terminal, Markdown and HTML */
  summary: string;
}

// embedded in the schema; produced by src/measure/drift.ts (which re-exports them)
export interface SentinelReading {
  /** 'start', 'end', or the number of point groups measured before this checkpoint */
  at: 'start' | 'end' | number;
  /** seconds since the first reading */
  seconds: number;
  gflops: number;
}

/** The run's sentinel series (ResultFile.driftSentinel). */
export interface DriftSentinel {
  iterationsPerThread: number;
  threads: number;
  readings: SentinelReading[];
  /** median of the start readings */
  referenceGflops: number;
  /** robust relative standard deviation of the start readings, % */
  noisePct: number;
  /** a checkpoint beyond this (% from the reference) flags the points next to it */
  thresholdPct: number;
  /** largest move of a checkpoint from the reference, % (signed) */
  maxMovePct: number;
  flaggedPoints: number;
  summary: string;
}

/** Per row (ResultRow.drift): the checkpoints around the point's group. */
export interface PointDrift {
  beforeGflops: number;
  afterGflops: number;
  /** the larger move of the two from the reference, %, signed */
  movePct: number;
  flagged: boolean;
}

// embedded in the schema; produced by src/distributed/analysis.ts (which re-exports them)
export interface StepMeasurement {
  step: number;
  /** per rank, ms */
  computeMs: number[];
  pollMs: number[];
  waitMs: number[];
  bytesSent: number[];
  /** max / mean of computeMs over ranks */
  loadImbalance: number;
}

export interface RankMeasurement {
  rank: number;
  computeMs: number;
  pollMs: number;
  waitMs: number;
  bytesSent: number;
  /** lower bound, GB/s; null when the rank sent nothing */
  achievedLinkGBps: number | null;
  overlapEfficiency: number | null;
}

export interface DistributedMeasurement {
  kind: 'measured';
  layout: 'plain' | 'zigzag';
  ranks: number;
  iterations: number;
  wallMs: number[];
  medianWallMs: number;
  perStep: StepMeasurement[];
  perRank: RankMeasurement[];
  pingPong: { bytes: number; oneWayMs: number[]; GBps: number[]; medianGBps: number | null };
  achievedLinkGBps: number | null;
  overlapEfficiency: number | null;
  loadImbalance: number;
  definitions: string;
}

// embedded in the schema; produced by src/roofline/peak-store.ts (which re-exports them)
/** `dilbench peak` on a CUDA device (each figure the median of `runs` timed launches). */
export interface StoredGpuPeak {
  /** the GPU's name; a result's CUDA rows use this peak only on a GPU of the same name */
  name: string;
  computeCapability?: string;
  /** mma.sync m16n8k16, fp16 inputs, fp32 accumulation, TFLOP/s */
  fp16TensorTflops: number;
  /** the same with bf16 inputs */
  bf16TensorTflops: number;
  /** SIMT fp32 FMA, TFLOP/s */
  fp32FmaTflops: number;
  /** device-to-device copy, read + write counted, GB/s */
  copyGBps: number;
  copyBytes: number;
  runs: number;
  durationSeconds: number;
  measuredAt: string;
}

// embedded in the schema; produced by src/plugins/types.ts (which re-exports them)
/** One loaded plugin, as the result file's environment records it (what exactly was measured). */
export interface PluginRecord {
  /** the --plugin argument as given */
  spec: string;
  kind: 'c-abi' | 'python';
  /** absolute path of the shared library or .py file (python modules: the file Python imported) */
  path: string;
  /** sha256 of that file's bytes */
  sha256: string;
  /** implementations it added */
  implementations: string[];
  /** C ABI: "major.minor" it was built against */
  abi?: string;
  /** C ABI: the plugin's own name */
  pluginName?: string;
  /** Python: the interpreter and torch versions the callables ran with */
  python?: { executable: string; version: string; torch: string };
}

// embedded in the schema; produced by src/compare/compare.ts (which re-exports them)
/** `unreliable`: it would be `slower` (`faster`), but the current run (the baseline) was measured under interference (retry: exit 75) */
export type Verdict = 'faster' | 'slower' | 'same' | 'uncertain' | 'unreliable';

export interface ComparisonSummary {
  rows: number;
  faster: number;
  slower: number;
  same: number;
  uncertain: number;
  unreliable: number;
  /** geometric mean of the per-row ratios (null when no row was compared) */
  geomeanRatio: number | null;
  /** bootstrap interval of the geometric mean (rows resampled jointly, replicate by replicate) */
  geomeanCi95: [number, number] | null;
  /** verdict of the geometric mean from its interval alone */
  geomeanVerdict: Verdict | null;
}

// embedded in the schema; produced by src/suite/sides.ts (which re-exports them)
export interface RunSide {
  device: DeviceName;
  dtype: DTypeName;
}

// embedded in the schema; produced by src/suite/side-comparison.ts (which re-exports them)
/** One side of a pair as the report shows it. */
export interface SideCell {
  status: RowStatus;
  /** why skipped or failed */
  reason: string | null;
  medianMs: number | null;
  medianCi95Ms: [number, number] | null;
  samples: number;
  batch: number;
  peakMemoryBytes: number | null;
}

export interface SideComparisonRow {
  implementation: string;
  seqLen: number;
  params?: Record<string, unknown>;
  baseline: SideCell;
  other: SideCell;
  /** other median / baseline median (< 1: the other side is faster); null when not compared */
  timeRatio: number | null;
  timeRatioCi95: [number, number] | null;
  /** two-sided Mann-Whitney U p-value of the two sample sets */
  pValue: number | null;
  /** p < alpha */
  significant: boolean | null;
  /** `dilbench compare`'s verdict for the other side: faster | slower | same | uncertain */
  verdict: Verdict | null;
  /** other peak memory / baseline peak memory */
  memoryRatio: number | null;
  /** why the times were not compared (a side skipped or failed, batches differ, ...) */
  note: string | null;
}

export interface SideComparison {
  kind: 'precision' | 'device';
  baseline: RunSide;
  other: RunSide;
  rows: SideComparisonRow[];
  /** verdict counts and the geometric mean of the time ratios with its bootstrap interval */
  summary: ComparisonSummary;
}

export interface SideComparisons {
  alpha: number;
  threshold: number;
  /** compareDtypes: each dtype against the first, per device */
  precision: SideComparison[];
  /** compareDevices: cuda against cpu, per dtype */
  device: SideComparison[];
}

// ---- `dilbench bench` (src/bench, which re-exports these): its sections' figures ----------------
// A bench file is a ResultFile (suite 'bench'): every sampled side of every point is a ResultRow
// (params.benchSection, params.side), environment.peak is the peak it measured, and `bench` holds
// what the printed tables show beyond the rows.

/** time ~ a * n^k fitted on log-log axes (src/stats/scaling.ts, which re-exports it) */
export interface PowerLawFit {
  a: number;
  k: number;
  /** 95% interval of k (t-distribution, n - 2 degrees of freedom); null below 3 points */
  kCi95: [number, number] | null;
  /** standard error of k on the log-log fit; null below 3 points */
  kStdError: number | null;
  /** coefficient of determination on the log-log fit */
  r2: number;
  points: number;
}

export type BenchSectionName =
  'kernels' | 'frameworks' | 'kv-cache' | 'dilated' | 'dilated-vs-torch' | 'dtypes' | 'compute-api';

/** A time ratio of two sides of one point (src/stats/sample-ratio.ts). */
export interface BenchSignificance {
  /** median(other) / median(base) */
  ratio: number;
  ratioCi95: [number, number];
  /** two-sided Mann-Whitney U p-value */
  p: number;
  method: 'exact' | 'normal';
}

/** One ratio a bench table shows, with its interval: other side's median / base side's median. */
export interface BenchRatioRow extends BenchSignificance {
  section: BenchSectionName;
  seqLen: number;
  base: string;
  other: string;
}

export interface BenchKernelRow {
  implementation: string;
  seqLen: number;
  medianMs: number;
  gflops: number;
  pctOfPeak: number;
  samples: number;
}

export interface FrameworkBenchRow {
  seqLen: number;
  flashMedianMs: number;
  flashGflops: number;
  ortMedianMs: number | null;
  ortGflops: number | null;
  /** ORT median time / flash median time (> 1: flash faster) */
  ratio: number | null;
  significance: BenchSignificance | null;
  maxAbsError: number | null;
  flashPctOfPeak: number;
  /** PyTorch scaled_dot_product_attention in its subprocess, interleaved with the other two; null when torch is absent */
  torchMedianMs: number | null;
  torchGflops: number | null;
  /** torch median time / flash median time (> 1: flash faster) */
  torchRatio: number | null;
  torchSignificance: BenchSignificance | null;
  torchMaxAbsError: number | null;
  note?: string;
}

export interface FrameworkBenchResult {
  rows: FrameworkBenchRow[];
  skipped?: string;
  version?: string;
  torchVersion?: string;
  torchSkipped?: string;
  /** the SIMD level flash ran at, and the best one this CPU has (DILBENCH_SIMD can force a lower one) */
  simdLevel?: string;
  detectedSimdLevel?: string;
  /** torch.backends.cpu.get_cpu_capability() of the PyTorch side (ATEN_CPU_CAPABILITY forces it) */
  torchCpuCapability?: string | null;
}

export interface KvBenchRow {
  cacheLen: number;
  newTokens: number;
  /** median over iterations of decodeBytes / decodeNs */
  decodeGBps: number;
  decodeGBpsMin: number;
  decodeGBpsMax: number;
  /** decodeGBps against streamGBps (the bracketing reading; older files: the run's stream) */
  pctOfStream: number;
  /** the stream bandwidth read right before and after this row, their mean (absent in older files) */
  streamGBps?: number;
  /** those two readings, low and high */
  streamGBpsRange?: [number, number];
  /** median decode time per generated token, ms */
  msPerToken: number;
  prefillMs: number;
  iterations: number;
  source: 'telemetry' | 'plan.bytesMoved';
  /** 'skip': the prompt only filled the cache, prefillMs is that copy (absent in older files) */
  prefill?: 'attend' | 'skip';
  /** fp32 K+V against the LLC the machine lists (absent in older files) */
  cacheVsLlc?: 'within-llc' | 'exceeds-llc' | null;
}

export interface DilatedBenchRow {
  seqLen: number;
  medianMs: number;
  gflops: number;
  samples: number;
}

export interface DilatedBenchResult {
  heads: number;
  segmentLengths: number[];
  dilationRates: number[];
  rows: DilatedBenchRow[];
  fit: PowerLawFit | null;
}

export interface DilatedTorchRow {
  implementation: string;
  medianMs: number;
  /** useful FLOPs (the native planner's count) / median time */
  gflops: number;
  /** % of flash's GFLOP/s in the same run */
  pctOfFlash: number;
  /** the PyTorch implementation of the same definition; null for flash or when torch is absent */
  torchMedianMs: number | null;
  torchGflops: number | null;
  /** torch median time / dilbench median time (> 1: dilbench faster) */
  torchRatio: number | null;
  torchSignificance: BenchSignificance | null;
  torchMaxAbsError: number | null;
}

export interface DilatedTorchResult {
  seqLen: number;
  heads: number;
  segmentLengths: number[];
  dilationRates: number[];
  rows: DilatedTorchRow[];
  /** dilbench's SIMD level and torch's ATen CPU capability (ATEN_CPU_CAPABILITY=avx2 matches an AVX2 run) */
  simdLevel: string;
  torchCpuCapability?: string | null;
  torchVersion?: string;
  torchSkipped?: string;
}

export interface DtypeBenchRow {
  kernel: 'flash' | 'kv-cache';
  /** flash: sequence length; kv-cache: cache (prompt) length */
  seqLen: number;
  dtype: DTypeName;
  /** flash: median forward time; kv-cache: median decode time per generated token */
  medianMs: number;
  /** flash: plan flops / median time */
  gflops: number | null;
  /** kv-cache: cache bytes a decode streams (storage dtype) / median decode time */
  gbps: number | null;
  /** kv-cache: the stream bandwidth read right before and after this length's rows, their mean
   * (its "% of stream"; absent in older files and on flash rows) */
  streamGBps?: number | null;
  /** fp32 median / this median: > 1 means faster than fp32 */
  speedupVsFp32: number | null;
  /** q, k, v bytes in the storage dtype */
  inputBytes: number;
  samples: number;
  /** kv-cache: 'telemetry' (decode phase only) or 'iteration' (whole iteration, prefill included) */
  timing: 'iteration' | 'telemetry';
  /** kv-cache: whether this row's K+V (in its storage dtype) fits the last-level cache the machine
   * lists (kv.llcBytes); null when that is unknown. Absent on flash rows and older files. */
  cacheVsLlc?: 'within-llc' | 'exceeds-llc' | null;
}

export interface DtypeBenchResult {
  dtypes: DTypeName[];
  kv: {
    /** the first of cacheLens */
    cacheLen: number;
    heads: number;
    kvHeads: number;
    headDim: number;
    newTokens: number;
    /** every cache length decoded (absent in older files: cacheLen alone) */
    cacheLens?: number[];
    /** the last-level cache the machine lists, in bytes (null: unknown) */
    llcBytes?: number | null;
    /** 'skip': the prompt only filled the cache (absent in older files: attended) */
    prefill?: 'attend' | 'skip';
  };
  rows: DtypeBenchRow[];
  /** dtypes the binding's CPU kernels do not store, with the reason */
  skipped: string[];
}

export interface ComputeApiRow {
  seqLen: number;
  /** the session's kernel time (its own timer around the kernel alone), median ms */
  sessionMedianMs: number;
  /** wall time of one awaited session.sample(1) call, median ms */
  sessionCallMedianMs: number;
  /** wall time of one awaited computeAttention() call, median ms */
  computeMedianMs: number;
  computeMinMs: number;
  computeMaxMs: number;
  /** computeMedianMs / sessionCallMedianMs: the API's own cost */
  ratio: number;
  /** computeMedianMs / sessionMedianMs: over the kernel alone (the call's round trip included) */
  ratioToKernel: number;
  /** the same calls writing into one caller-provided `out`, median ms, and its ratio to the session call */
  computeOutMedianMs: number;
  ratioOut: number;
  /** with `out` and copyInputs false (inputs read in place), median ms, and its ratio to the session call */
  computeInPlaceMedianMs: number;
  ratioInPlace: number;
  samples: number;
}

/** A bench run stopped by Ctrl-C / SIGTERM: where, and which sections never started. */
export interface BenchStop {
  /** the section whose point the stop cut short (its earlier points are kept); null: between sections */
  during: BenchSectionName | null;
  notRun: BenchSectionName[];
}

/** ResultFile.bench: the sections that ran and what their tables show beyond the rows. */
export interface BenchSummary {
  sections: BenchSectionName[];
  quick: boolean;
  elapsedSeconds: number;
  kernels?: BenchKernelRow[];
  frameworks?: FrameworkBenchResult;
  kvCache?: KvBenchRow[];
  dilated?: DilatedBenchResult;
  dilatedTorch?: DilatedTorchResult;
  dtypes?: DtypeBenchResult;
  computeApi?: ComputeApiRow[];
  /** present when the run was stopped before every section finished */
  interrupted?: BenchStop;
  /** every ratio the tables show, with its bootstrap interval and p-value */
  ratios: BenchRatioRow[];
}
