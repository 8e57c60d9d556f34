// The planner: before anything runs, it sizes every (implementation, length, batch) point with
// binding.plan() and estimates its time from flops / a calibrated rate. A point over the memory
// budget or over --max-run-seconds runs at a lower batch when one fits, else it is skipped with
// the reason ("needs 34.4 GiB, budget 11.5 GiB").
import type {
  NativeBinding,
  NativePlan,
  NativeProblem,
  NativeSessionOptions,
} from '../native/binding.js';
import { formatBytes, formatSeconds } from '../config/units.js';

/** Sustained rate (flop/s) of each implementation, measured or given. */
export interface RateModel {
  flopsPerSecond(implementation: string): number;
}

export interface PlanLimits {
  memoryBudgetBytes: number;
  /** per point, all iterations included */
  maxRunSeconds: number;
  /** iterations one point will run (warm-up + timed), for the time estimate; with adaptive
   * sampling the most it may run (warm-up + max-samples) */
  iterations: number;
  /**
   * Adaptive sampling: the scheduler stops a point at this many seconds (--max-time), so the
   * iterations term never exceeds it, except for the few iterations it always takes
   * (`minIterations`: cold start and a minimum of samples).
   */
  timeCapSeconds?: number;
  minIterations?: number;
}

/** Bytes per second at which inputs are allocated and filled (a setup-cost term of the estimate). */
export const SETUP_BYTES_PER_SECOND = 2e9;

export interface PlannedRun {
  action: 'run';
  problem: NativeProblem;
  plan: NativePlan;
  requestedBatch: number;
  estimatedSeconds: number;
  /** set when the batch was lowered to fit */
  note?: string;
}

export interface PlannedSkip {
  action: 'skip';
  problem: NativeProblem;
  /** none for a side that cannot run the point at all */
  plan?: NativePlan;
  requestedBatch: number;
  estimatedSeconds: number;
  reason: string;
}

export interface PlannedFailure {
  action: 'fail';
  problem: NativeProblem;
  requestedBatch: number;
  reason: string;
  errorCode: string;
}

export type PlannedPoint = PlannedRun | PlannedSkip | PlannedFailure;

export function estimateSeconds(
  plan: NativePlan,
  flopsPerSecond: number,
  iterations: number,
  cap?: { timeCapSeconds?: number; minIterations?: number },
): number {
  const rate = flopsPerSecond > 0 && Number.isFinite(flopsPerSecond) ? flopsPerSecond : 1e9;
  const perIteration = plan.flops / rate;
  let sampling = iterations * perIteration;
  if (cap?.timeCapSeconds !== undefined) {
    sampling = Math.max(
      Math.min(sampling, cap.timeCapSeconds),
      (cap.minIterations ?? 0) * perIteration,
    );
  }
  return sampling + plan.totalBytes / SETUP_BYTES_PER_SECOND;
}

function errorCodeOf(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'ERR_DILBENCH_INTERNAL';
}

function errorMessageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function overBy(plan: NativePlan, seconds: number, limits: PlanLimits): string[] {
  const why: string[] = [];
  if (plan.totalBytes > limits.memoryBudgetBytes) {
    why.push(
      `needs ${formatBytes(plan.totalBytes)}, budget ${formatBytes(limits.memoryBudgetBytes)}`,
    );
  }
  if (seconds > limits.maxRunSeconds) {
    why.push(
      `estimated ${formatSeconds(seconds)}, limit ${formatSeconds(limits.maxRunSeconds)} (--max-run-seconds)`,
    );
  }
  return why;
}

/** Plans one point: the requested batch if it fits, else the largest lower batch that fits, else skip. */
export function planPoint(
  binding: Pick<NativeBinding, 'plan'>,
  problem: NativeProblem,
  options: NativeSessionOptions,
  limits: PlanLimits,
  rates: RateModel,
): PlannedPoint {
  const requestedBatch = problem.batch;
  const rate = rates.flopsPerSecond(problem.implementation);
  const at = (batch: number) => {
    const p = { ...problem, batch };
    const plan = binding.plan(p, options);
    const seconds = estimateSeconds(plan, rate, limits.iterations, limits);
    return { problem: p, plan, seconds, why: overBy(plan, seconds, limits) };
  };

  let first;
  try {
    first = at(requestedBatch);
  } catch (e) {
    return {
      action: 'fail',
      problem,
      requestedBatch,
      reason: errorMessageOf(e),
      errorCode: errorCodeOf(e),
    };
  }
  if (first.why.length === 0) {
    return {
      action: 'run',
      problem,
      plan: first.plan,
      requestedBatch,
      estimatedSeconds: first.seconds,
    };
  }

  // Largest batch in [1, requested) that fits; bytes and time grow with batch, so bisect.
  let best: ReturnType<typeof at> | undefined;
  let lowest = first;
  try {
    let lo = 1;
    let hi = requestedBatch - 1;
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      const cand = at(mid);
      if (cand.why.length === 0) {
        best = cand;
        lo = mid + 1;
      } else {
        if (mid < lowest.problem.batch) lowest = cand;
        hi = mid - 1;
      }
    }
    if (!best && requestedBatch > 1 && lowest.problem.batch !== 1) lowest = at(1);
  } catch (e) {
    return {
      action: 'fail',
      problem,
      requestedBatch,
      reason: errorMessageOf(e),
      errorCode: errorCodeOf(e),
    };
  }

  if (best) {
    return {
      action: 'run',
      problem: best.problem,
      plan: best.plan,
      requestedBatch,
      estimatedSeconds: best.seconds,
      note: `batch lowered from ${requestedBatch} to ${best.problem.batch}: at batch ${requestedBatch} ${first.why.join('; ')}`,
    };
  }
  const suffix = requestedBatch > 1 ? ' (at batch 1)' : '';
  return {
    action: 'skip',
    problem: lowest.problem,
    plan: lowest.plan,
    requestedBatch,
    estimatedSeconds: lowest.seconds,
    reason: lowest.why.join('; ') + suffix,
  };
}

export function planPoints(
  binding: Pick<NativeBinding, 'plan'>,
  problems: NativeProblem[],
  options: NativeSessionOptions,
  limits: PlanLimits,
  rates: RateModel,
): PlannedPoint[] {
  return problems.map((p) => planPoint(binding, p, options, limits, rates));
}
