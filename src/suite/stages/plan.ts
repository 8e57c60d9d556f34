// Stage 3 of runSuite: the points on each side, their memory budgets and session options, the
// pre-flight check, calibration, and the planner's decision per point (run, skip or fail, at
// which batch, for how long).
import { ConfigError, INVALID_CONFIG } from '../../config/errors.js';
import { DEFAULTS } from '../../config/schema.js';
import { availableMemoryBytes } from '../../env/environment.js';
import { MIN_SAMPLES_ON_TIME } from '../../measure/scheduler.js';
import type {
  NativeBinding,
  NativeInfo,
  NativeProblem,
  NativeSessionOptions,
} from '../../native/binding.js';
import { calibrateRates } from '../../plan/calibrate.js';
import { planPoint, type PlannedPoint, type RateModel } from '../../plan/planner.js';
import type { PlanEntry } from '../../results/types.js';
import type { SamplingRequest } from '../sampling.js';
import { sideKey, type RunSide } from '../sides.js';
import type { CommonRunOptions, ProgressEvent, SuitePoint } from '../types.js';
import type { WhyNot } from './implementations.js';
import { codeOf, messageOf, UNSUPPORTED } from './errors.js';

/**
 * The run's points on its sides, with what each side may use. points, sideIndex and unavailable
 * hold one entry per point (index i); budgets and sideSessionOptions one per side, and there is
 * at least one side (runSides). Reads of them by such an index carry `!`.
 */
export interface PointLayout {
  /** every point once per side, the sides of a point next to each other */
  points: SuitePoint[];
  /** the side of each point (index into sides) */
  sideIndex: number[];
  /** why a point's side cannot run it (a skipped row), null when it can; planning may add more */
  unavailable: (string | null)[];
  /** memory budget per side */
  budgets: number[];
  /** the baseline side's session options */
  sessionOptions: NativeSessionOptions;
  /** each side's session options (its budget) */
  sideSessionOptions: NativeSessionOptions[];
}

/** The points of every side, their budgets (default: half the memory of the device) and session options. */
export function layOutPoints(
  basePoints: SuitePoint[],
  sides: RunSide[],
  options: CommonRunOptions,
  threads: number,
  whyNot: WhyNot,
  deviceMemory: (device: string) => number,
): PointLayout {
  const compareMode = sides.length > 1;
  const points: SuitePoint[] = compareMode
    ? basePoints.flatMap((pt) =>
        sides.map((s) => ({ ...pt, problem: { ...pt.problem, device: s.device, dtype: s.dtype } })),
      )
    : basePoints;
  const sideIndex = points.map((_, i) => (compareMode ? i % sides.length : 0));
  const unavailable: (string | null)[] = points.map((pt, i) =>
    compareMode ? whyNot(sides[sideIndex[i]!]!, pt.problem.implementation) : null,
  );
  const budgets = sides.map((s) => options.memoryBudget ?? Math.floor(deviceMemory(s.device) / 2));
  const sessionOptions: NativeSessionOptions = {
    threads,
    useMemoryPool: (options as { enableMemoryPool?: boolean }).enableMemoryPool !== false,
    usePatternCache: (options as { enablePatternCache?: boolean }).enablePatternCache !== false,
    memoryLimitBytes: budgets[0]!, // one per side, at least one
  };
  const sideSessionOptions = budgets.map((b) => ({ ...sessionOptions, memoryLimitBytes: b }));
  return { points, sideIndex, unavailable, budgets, sessionOptions, sideSessionOptions };
}

/** Memory of a device: the first GPU's for cuda, else what the OS says is available (read once). */
export function deviceMemoryReader(
  info: Pick<NativeInfo, 'cuda'>,
  injected?: number,
): (device: string) => number {
  let hostMemory: number | undefined;
  return (device) =>
    device === 'cuda'
      ? (info.cuda?.devices?.[0]?.totalMemoryBytes ?? 0)
      : (hostMemory ??= injected ?? availableMemoryBytes());
}

/** The session options of point i: its side's, with the point's own switches. */
export function sessionOptionsOf(layout: PointLayout, i: number): NativeSessionOptions {
  const so = layout.sideSessionOptions[layout.sideIndex[i]!]!;
  const own = layout.points[i]!.session;
  return own ? { ...so, ...own } : so;
}

/** The budget of a device's side (the baseline's when no side runs there). */
export function budgetOf(layout: PointLayout, sides: RunSide[], device: string): number {
  return layout.budgets[sides.findIndex((s) => s.device === device)] ?? layout.budgets[0]!;
}

/** native problem field -> option name */
const NATIVE_FIELDS: Record<string, string> = {
  batch: 'batchSize',
  seqLen: 'customLengths',
  implementation: 'implementations',
};

const FIELD_HINTS: [RegExp, string][] = [
  [/head[_ -]?dim/i, 'headDim'],
  [/kv[_ -]?heads/i, 'kvHeads'],
  [/\bheads\b/i, 'heads'],
  [/seq[_ -]?len|length/i, 'customLengths'],
  [/batch/i, 'batchSize'],
  [/thread/i, 'threads'],
  [/implementation/i, 'implementations'],
];

/** Maps a native INVALID_CONFIG (which carries `field`) to a ConfigError naming the option. */
export function nativeConfigError(
  e: unknown,
  problem: NativeProblem,
  sessionOptions: NativeSessionOptions,
): ConfigError {
  const msg = messageOf(e);
  const nativeField = (e as { field?: unknown })?.field;
  let field: string;
  let valueKey: string;
  if (typeof nativeField === 'string' && nativeField) {
    field = NATIVE_FIELDS[nativeField] ?? nativeField;
    valueKey = nativeField;
  } else {
    field = FIELD_HINTS.find(([re]) => re.test(msg))?.[1] ?? 'implementations';
    valueKey =
      field === 'batchSize'
        ? 'batch'
        : field === 'customLengths'
          ? 'seqLen'
          : field === 'implementations'
            ? 'implementation'
            : field;
  }
  // The binding's argument errors carry what the field allows; the value is the problem's or,
  // for options such as threads, the session's.
  const allowed = (e as { allowed?: unknown })?.allowed;
  // the native field names are the problem's and the session options' keys
  const inProblem: Record<string, unknown> = { ...problem };
  const inSession: Record<string, unknown> = { ...sessionOptions };
  const value = inProblem[valueKey] ?? inSession[valueKey];
  return new ConfigError(
    field,
    value,
    typeof allowed === 'string' ? allowed : `what ${problem.implementation} supports`,
    msg,
  );
}

/**
 * Pre-flight: a problem the native side rejects as invalid at batch 1 is a config error (exit 2),
 * not a row per length. When the implementations were not named by the user, one that rejects
 * the shape while others accept it just gets its failed rows. With several sides, one side
 * rejecting a named implementation gives failed rows there.
 */
export function preflight(
  binding: NativeBinding,
  layout: PointLayout,
  namedImplementations: boolean,
  compareMode: boolean,
): void {
  const rejected: ConfigError[] = [];
  const checked = new Set<string>();
  for (const [i, pt] of layout.points.entries()) {
    if (layout.unavailable[i] !== null) continue;
    const key = `${pt.problem.implementation}|${sideKey(pt.problem)}`;
    if (checked.has(key)) continue;
    checked.add(key);
    const so = layout.sideSessionOptions[layout.sideIndex[i]!]!;
    try {
      binding.plan({ ...pt.problem, batch: 1 }, so);
    } catch (e) {
      if (codeOf(e) !== INVALID_CONFIG) continue;
      const ce = nativeConfigError(e, pt.problem, so);
      if (namedImplementations && !compareMode) throw ce;
      rejected.push(ce);
    }
  }
  if (rejected.length > 0 && rejected.length === checked.size) throw rejected[0];
}

/** The sampling request of a run: adaptive unless `runs` is given. */
export function samplingRequest(options: CommonRunOptions): SamplingRequest {
  const minSamples = options.minSamples ?? DEFAULTS.minSamples;
  return {
    warmup: options.warmup ?? DEFAULTS.warmup,
    runs: options.runs,
    targetRse: options.targetRse ?? DEFAULTS.targetRse,
    minSamples,
    maxSamples: options.maxSamples ?? Math.max(DEFAULTS.maxSamples, minSamples),
    maxTimeSeconds: options.maxTime ?? DEFAULTS.maxTime,
    cold: options.cold ?? DEFAULTS.cold,
    seed: options.seed,
  };
}

/** adaptive warm-up: the scheduler's minimum (6 after the cold start), for the estimate */
const ADAPTIVE_WARMUP_ESTIMATE = 7;

/**
 * What the planner's time estimate assumes. Fixed runs: warm-up + runs iterations. Adaptive: at
 * most warm-up + max-samples iterations, bounded by --max-time per point (the scheduler stops
 * there), but never below the cold start and the few samples it always takes.
 */
export function planIterations(req: SamplingRequest): {
  iterations: number;
  timeCapSeconds?: number;
  minIterations?: number;
} {
  const warmup = req.warmup === 'adaptive' ? ADAPTIVE_WARMUP_ESTIMATE : Math.max(1, req.warmup);
  if (req.runs !== undefined) return { iterations: warmup + req.runs };
  const minSamples = req.minSamples ?? DEFAULTS.minSamples;
  return {
    iterations: warmup + (req.maxSamples ?? DEFAULTS.maxSamples),
    timeCapSeconds: req.maxTimeSeconds ?? DEFAULTS.maxTime,
    // the cold call and the sample(s) the scheduler always takes, even past --max-time
    minIterations: 1 + Math.min(minSamples, MIN_SAMPLES_ON_TIME),
  };
}

/** One rate model per side (a cuda or bf16 side runs at other rates), calibrated by short real runs unless injected. */
export async function calibrateSides(
  binding: NativeBinding,
  layout: PointLayout,
  sides: RunSide[],
  implementations: string[],
  emit: (e: ProgressEvent) => void,
  injected?: RateModel,
  signal?: AbortSignal,
): Promise<RateModel[]> {
  const compareMode = sides.length > 1;
  const ratesBySide: RateModel[] = [];
  for (const [s, side] of sides.entries()) {
    if (injected) {
      ratesBySide.push(injected);
      continue;
    }
    const mine = layout.points.filter(
      (_, i) => layout.sideIndex[i] === s && layout.unavailable[i] === null,
    );
    const impls = compareMode
      ? [...new Set(mine.map((p) => p.problem.implementation))]
      : implementations;
    if (compareMode && impls.length === 0) {
      ratesBySide.push({ flopsPerSecond: () => 10e9 });
      continue;
    }
    emit({
      type: 'calibrate',
      implementations: impls,
      ...(compareMode ? { side: sideKey(side) } : {}),
    });
    const longest = Math.max(1, ...mine.map((p) => p.problem.seqLen));
    const base = mine[0]?.problem;
    ratesBySide.push(
      base
        ? await calibrateRates(binding, base, impls, layout.sideSessionOptions[s]!, longest, signal)
        : { flopsPerSecond: () => 10e9 },
    );
  }
  return ratesBySide;
}

/**
 * The planner's decision per point. A point its side cannot run is skipped with the reason; with
 * several sides, one the native core refuses (dtype or device unsupported there) is skipped in
 * its words (and recorded in layout.unavailable).
 */
export function planPoints(
  binding: NativeBinding,
  layout: PointLayout,
  ratesBySide: RateModel[],
  request: SamplingRequest,
  maxRunSeconds: number,
  compareMode: boolean,
): PlannedPoint[] {
  return layout.points.map((pt, i) => {
    const s = layout.sideIndex[i]!;
    const why = layout.unavailable[i];
    if (why !== null) {
      return {
        action: 'skip',
        problem: pt.problem,
        requestedBatch: pt.problem.batch,
        estimatedSeconds: 0,
        reason: why!,
      };
    }
    const limits = {
      memoryBudgetBytes: layout.budgets[s]!,
      maxRunSeconds,
      ...planIterations(request),
    };
    const p = planPoint(
      binding,
      pt.problem,
      layout.sideSessionOptions[s]!,
      limits,
      ratesBySide[s]!,
    );
    if (compareMode && p.action === 'fail' && p.errorCode === UNSUPPORTED) {
      layout.unavailable[i] = p.reason;
      return {
        action: 'skip',
        problem: p.problem,
        requestedBatch: p.requestedBatch,
        estimatedSeconds: 0,
        reason: p.reason,
      };
    }
    return p;
  });
}

/** A planned point as the plan event and a dry run's file show it. */
export function planEntryOf(p: PlannedPoint): PlanEntry {
  const pr = p.problem;
  return {
    implementation: pr.implementation,
    seqLen: pr.seqLen,
    device: pr.device ?? 'cpu',
    dtype: pr.dtype ?? 'fp32',
    batch: pr.batch,
    requestedBatch: p.requestedBatch,
    action: p.action,
    estimatedSeconds: p.action === 'fail' ? 0 : p.estimatedSeconds,
    memoryBytes: p.action !== 'fail' && p.plan ? p.plan.totalBytes : null,
    ...(p.action === 'run' ? (p.note ? { reason: p.note } : {}) : { reason: p.reason }),
  };
}
