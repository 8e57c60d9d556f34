// What a suite is: a name, its options, and the points it measures. The generic runner
// (runner.ts) does plan -> measure -> stats -> rows for every suite.
import type {
  DTypeName,
  NativeBinding,
  NativeCancelToken,
  NativeProblem,
  NativeSession,
} from '../native/binding.js';
import type { DeviceChoice } from '../config/schema.js';
import type { PlanEntry, ResultFile, ResultRow } from '../results/types.js';
import type { RateModel } from '../plan/planner.js';
import type { StoredPeak } from '../roofline/peak-store.js';
import type { Sampler, SamplingOutcome, SamplingRequest } from './sampling.js';

/** Options every suite shares (the suite's own options extend them). */
export interface CommonRunOptions {
  /** undefined: every implementation the device offers */
  implementations?: string[];
  /** 'auto': cuda when the binding reports a CUDA device, else cpu (resolved by the runner) */
  device: DeviceChoice;
  /** storage precision (default fp32) */
  dtype?: DTypeName;
  /** run the plan once per dtype; the first is the baseline of the precision comparison */
  compareDtypes?: DTypeName[];
  /** run the plan on cpu and on cuda; cpu is the baseline of the device comparison */
  compareDevices?: boolean;
  /** 0 = all hardware threads */
  threads: number;
  /** warm-up iterations or 'adaptive' (default: adaptive) */
  warmup?: number | 'adaptive';
  /** fixed timed iterations; undefined: sample until --target-rse, --max-samples or --max-time */
  runs?: number;
  /** relative standard error of the mean to stop at (default 0.01) */
  targetRse?: number;
  /** default 10 */
  minSamples?: number;
  /** default 1000 */
  maxSamples?: number;
  /** seconds per point, warm-up included (default 10) */
  maxTime?: number;
  /** evict the last-level cache before each sample (default false) */
  cold?: boolean;
  /** sample the implementations of one point in randomised round-robin (default true) */
  interleave?: boolean;
  /** refuse to start while other processes load the machine; the number: seconds to wait for quiet first */
  requireQuiet?: number;
  seed: number;
  /** undefined: half of the memory available */
  memoryBudget?: number;
  maxRunSeconds: number;
  outputDir: string | null;
}

export interface SuiteContext {
  implementations: string[];
  threads: number;
  /** the binding the run measures (its descriptors say what each implementation computes) */
  binding: NativeBinding;
}

export interface SuitePoint {
  /** the problem at the requested batch; the planner may lower the batch */
  problem: NativeProblem;
  /** implementation-specific parameters, copied into the row */
  params?: Record<string, unknown>;
  /** per-point session switches (optimization-impact); default: the run's options */
  session?: { useMemoryPool?: boolean; usePatternCache?: boolean };
}

/** What a suite's afterMeasure hook sees: the measured row with its session still alive. */
export interface MeasuredPoint<O> {
  row: ResultRow;
  session: NativeSession;
  binding: NativeBinding;
  point: SuitePoint;
  options: O;
  cancel?: NativeCancelToken;
}

export interface SuiteDefinition<O extends CommonRunOptions = CommonRunOptions> {
  name: string;
  description: string;
  /** validates raw options (CLI strings or API values); throws ConfigError */
  parseOptions(raw: Record<string, unknown>): O;
  points(options: O, ctx: SuiteContext): SuitePoint[];
  /** the config block of the result file */
  config(options: O, ctx: SuiteContext): Record<string, unknown>;
  /** after an ok measurement, before the session is disposed (validation, telemetry-derived fields) */
  afterMeasure?(m: MeasuredPoint<O>): Promise<void> | void;
  /** after every point: may add rows (projections) or annotate them */
  finalize?(rows: ResultRow[], options: O, ctx: SuiteContext): ResultRow[];
}

export type ProgressEvent =
  | {
      type: 'calibrate';
      implementations: string[];
      /** device/dtype, when the run has several sides */ side?: string;
    }
  /** one line worth telling the user before the run (how --device auto chose, a side that cannot run) */
  | { type: 'note'; message: string }
  | {
      type: 'plan';
      total: number;
      runnable: number;
      estimatedSeconds: number;
      /** each point as planned */ points: PlanEntry[];
    }
  | {
      type: 'point-start';
      index: number;
      total: number;
      implementation: string;
      seqLen: number;
      batch: number;
      estimatedSeconds: number;
      /** sum of the estimates of the points not yet finished (this one included) */
      remainingEstimatedSeconds: number;
    }
  | { type: 'point-end'; index: number; total: number; row: ResultRow; elapsedSeconds: number }
  | { type: 'done'; file: ResultFile };

export type SamplingFunction = (
  sampler: Sampler,
  request: SamplingRequest,
  signal?: AbortSignal,
) => Promise<SamplingOutcome>;

export interface RunDependencies {
  binding: NativeBinding;
  /** plan (calibration included) and return the plan without measuring: file.dryRun, file.plan */
  dryRun?: boolean;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
  /** injected rate model; default: calibrated by a short real run */
  rates?: RateModel;
  /** injected measurement; default: takeSamples (the adaptive scheduler of src/measure) */
  sampling?: SamplingFunction;
  /**
   * The machine peak (`dilbench peak`) to place rows on the roofline; used only when it was
   * measured on the run's thread count and SIMD level.
   */
  loadPeak?: () => Promise<StoredPeak | null>;
  /** reads other processes' CPU, steal, load and clock around each point; absent or null: none recorded (runBenchmark passes the system's) */
  interference?: import('../measure/interference.js').InterferenceProbe | null;
  /** --require-quiet: waits between probes (injectable so tests need not sleep) */
  sleep?: (ms: number) => Promise<void>;
  /** injected available memory (bytes); default: from the OS */
  availableMemoryBytes?: number;
  now?: () => Date;
  /** recorded in the result file's environment (the plugins of the run) */
  environment?: Partial<import('../results/types.js').Environment>;
}
