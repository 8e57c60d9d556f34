// Calibration of the planner's rate model: a short real run of each implementation at a small
// size gives its sustained flop/s on this machine and thread count.
import type { NativeBinding, NativeProblem, NativeSessionOptions } from '../native/binding.js';
import type { RateModel } from './planner.js';

/** Used when an implementation cannot be calibrated (its real runs will report why). */
export const FALLBACK_FLOPS_PER_SECOND = 10e9;
export const CALIBRATION_MAX_SEQ_LEN = 1024;

export class MapRateModel implements RateModel {
  constructor(
    readonly rates: Map<string, number>,
    readonly fallback = FALLBACK_FLOPS_PER_SECOND,
  ) {}
  flopsPerSecond(implementation: string): number {
    return this.rates.get(implementation) ?? this.fallback;
  }
}

/** A model with one rate for every implementation (tests, or a measured peak). */
export function constantRate(flopsPerSecond: number): RateModel {
  return { flopsPerSecond: () => flopsPerSecond };
}

const cache = new Map<string, number>();

/**
 * Runs each implementation briefly (batch 1, seqLen min(1024, longest requested), 1 warm-up +
 * 3 timed iterations) and takes flops / fastest iteration as its rate.
 */
export async function calibrateRates(
  binding: Pick<NativeBinding, 'plan' | 'createSession'>,
  base: NativeProblem,
  implementations: string[],
  options: NativeSessionOptions,
  longestLength: number,
  signal?: AbortSignal,
): Promise<MapRateModel> {
  const rates = new Map<string, number>();
  const seqLen = Math.max(1, Math.min(CALIBRATION_MAX_SEQ_LEN, longestLength));
  for (const implementation of implementations) {
    if (signal?.aborted) break;
    const problem: NativeProblem = { ...base, implementation, batch: 1, seqLen };
    const key = JSON.stringify([problem, options.threads]);
    const cached = cache.get(key);
    if (cached !== undefined) {
      rates.set(implementation, cached);
      continue;
    }
    try {
      const session = await binding.createSession(problem, options);
      try {
        await session.sample(1, false);
        const ns = await session.sample(3, false);
        const best = Math.min(...Array.from(ns));
        if (best > 0 && session.plan.flops > 0) {
          const rate = session.plan.flops / (best / 1e9);
          rates.set(implementation, rate);
          cache.set(key, rate);
        }
      } finally {
        session.dispose();
      }
    } catch {
      // leave it to the fallback; the real run records the error
    }
  }
  return new MapRateModel(rates);
}
