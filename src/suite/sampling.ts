// The one seam between the suite runner and the measurement engine (src/measure/scheduler.ts).
// Default: adaptive warm-up, then sampling until the relative standard error reaches its target
// (or max-samples / max-time). `--warmup N --runs M` keep their fixed-count meaning.
import { measure } from '../measure/scheduler.js';
import type { Measurement, Sampler, SamplingOptions } from '../measure/types.js';
import { summarize } from '../stats/summary.js';
import type { SampleStats, SmClockSummary } from '../results/types.js';

/** Anything that can time `iterations` runs and return one duration (ns) per iteration (and, on a GPU, the SM clock of each). */
export type { Sampler } from '../measure/types.js';

export interface SamplingRequest {
  /** warm-up iterations or 'adaptive'; the first one is reported as the cold start */
  warmup: number | 'adaptive';
  /** fixed timed iterations (stop reason 'fixed-runs'); undefined: adaptive stopping rule */
  runs?: number;
  targetRse?: number;
  minSamples?: number;
  maxSamples?: number;
  /** seconds per point, warm-up included */
  maxTimeSeconds?: number;
  cold?: boolean;
  /** seed of the bootstrap interval */
  seed?: number;
}

/** The scheduler's options for a request. */
export function toSamplingOptions(req: SamplingRequest): SamplingOptions {
  return {
    warmup: req.warmup,
    runs: req.runs,
    targetRse: req.targetRse,
    minSamples: req.minSamples,
    maxSamples: req.maxSamples,
    maxTimeSeconds: req.maxTimeSeconds,
    cold: req.cold ?? false,
    seed: req.seed,
  };
}

/** A scheduler Measurement as the runner's outcome. */
export function toOutcome(m: Measurement): SamplingOutcome {
  return {
    samplesMs: m.samplesMs,
    ...(Number.isFinite(m.coldStartMs) ? { coldStartMs: m.coldStartMs } : {}),
    warmupIterations: m.warmupIterations,
    stopReason: m.stopReason,
    cacheMode: m.cacheMode,
    stats: m.stats,
    warnings: m.warnings,
    ...(m.smClock ? { smClock: m.smClock } : {}),
  };
}

export interface SamplingOutcome {
  samplesMs: number[];
  coldStartMs?: number;
  warmupIterations: number;
  stopReason: 'converged' | 'max-time' | 'max-samples' | 'fixed-runs';
  cacheMode: 'hot' | 'cold';
  stats: SampleStats;
  warnings?: string[];
  /** GPU: the SM clock of each kept sample and how many ran throttled */
  smClock?: SmClockSummary;
}

export class CancelledError extends Error {
  readonly code = 'ERR_DILBENCH_CANCELLED';
  constructor(message = 'run cancelled') {
    super(message);
    this.name = 'CancelledError';
  }
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new CancelledError();
}

/**
 * Measures one point with the shared scheduler (src/measure): adaptive unless `runs` is given
 * (then exactly `runs` samples); the first warm-up iteration is reported as the cold start.
 */
export async function takeSamples(
  sampler: Sampler,
  req: SamplingRequest,
  signal?: AbortSignal,
): Promise<SamplingOutcome> {
  throwIfAborted(signal);
  const m = await measure(sampler, toSamplingOptions(req), signal);
  return toOutcome(m);
}

/** Statistics of one point's samples (the measurement engine's summary). */
export function summarizeSamples(samplesMs: number[]): SampleStats {
  return summarize(samplesMs);
}
