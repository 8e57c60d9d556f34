// The one seam between the suite runner and the measurement engine.
// Issue 2 semantics: `--warmup N --runs M` are fixed counts. The adaptive scheduler of issue 4
// (src/measure/scheduler.ts) plugs in here, behind `takeSamples`, without touching the runner.
import { measure } from '../measure/scheduler.js';
import { summarize } from '../stats/summary.js';
import type { SampleStats } from '../results/types.js';

/** Anything that can time `iterations` runs and return one duration (ns) per iteration. */
export interface Sampler {
  sample(iterations: number, cold: boolean): Promise<Float64Array>;
}

export interface SamplingRequest {
  /** fixed warm-up iterations; the first one is reported as the cold start */
  warmup: number;
  /** fixed timed iterations */
  runs: number;
  cold?: boolean;
}

export interface SamplingOutcome {
  samplesMs: number[];
  coldStartMs?: number;
  warmupIterations: number;
  stopReason: 'converged' | 'max-time' | 'max-samples' | 'fixed-runs';
  cacheMode: 'hot' | 'cold';
  stats: SampleStats;
  warnings?: string[];
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
 * Measures one point with the shared scheduler (src/measure). Issue 2 semantics: `warmup` and
 * `runs` are fixed counts (the first warm-up iteration is reported as the cold start).
 */
export async function takeSamples(
  sampler: Sampler,
  req: SamplingRequest,
  signal?: AbortSignal,
): Promise<SamplingOutcome> {
  throwIfAborted(signal);
  const m = await measure(sampler, { warmup: req.warmup, runs: req.runs, cold: req.cold ?? false }, signal);
  return {
    samplesMs: m.samplesMs,
    ...(Number.isFinite(m.coldStartMs) ? { coldStartMs: m.coldStartMs } : {}),
    warmupIterations: m.warmupIterations,
    stopReason: m.stopReason,
    cacheMode: m.cacheMode,
    stats: m.stats,
    warnings: m.warnings,
  };
}

/** Statistics of one point's samples (the measurement engine's summary). */
export function summarizeSamples(samplesMs: number[]): SampleStats {
  return summarize(samplesMs);
}
