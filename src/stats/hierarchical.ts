// Hierarchical (two-level) bootstrap of a row measured in independent repetitions: the
// repetitions are resampled, then the samples within each chosen repetition, so the variance
// between runs (memory layout, frequency, what else ran) counts as well as the variance within
// one. The statistic is the geometric mean of the repetitions' medians.
import { bootstrapMedians, median } from './summary.js';
import type { Rng } from './random.js';

/**
 * Inner bootstrap medians kept per repetition. Drawing one of them uniformly is drawing the
 * median of a fresh within-repetition resample from its bootstrap distribution, at a fraction
 * of the cost of resampling every repetition again in every outer replicate.
 */
export const INNER_RESAMPLES = 200;

/** The point estimate: geometric mean of the repetitions' medians. */
export function repetitionEstimate(repetitions: readonly (readonly number[])[]): number {
  const logs = repetitions.map((r) => Math.log(median(r)));
  return Math.exp(logs.reduce((a, b) => a + b, 0) / logs.length);
}

/**
 * `resamples` replicates of log(repetitionEstimate): each draws as many repetitions as there are,
 * with replacement, and for each drawn one a within-repetition bootstrap median.
 */
export function hierarchicalLogReplicates(
  repetitions: readonly (readonly number[])[],
  resamples: number,
  rng: Rng,
): Float64Array {
  const r = repetitions.length;
  if (r === 0) throw new RangeError('hierarchical bootstrap needs at least one repetition');
  for (const rep of repetitions)
    if (rep.length === 0)
      throw new RangeError('hierarchical bootstrap: a repetition has no samples');
  const inner = repetitions.map((rep) => {
    const meds = bootstrapMedians(rep, INNER_RESAMPLES, rng);
    return meds.map(Math.log);
  });
  const out = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let sum = 0;
    for (let k = 0; k < r; k++) {
      const pick = inner[Math.min(r - 1, Math.floor(rng() * r))] as Float64Array;
      sum += pick[Math.min(INNER_RESAMPLES - 1, Math.floor(rng() * INNER_RESAMPLES))] as number;
    }
    out[b] = sum / r;
  }
  return out;
}

/** Two-sided bootstrap p-value of "log ratio = 0" from its replicates (at least 1 / resamples). */
export function bootstrapPValue(logRatios: ArrayLike<number>): number {
  const n = logRatios.length;
  let below = 0;
  let above = 0;
  for (let i = 0; i < n; i++) {
    const v = logRatios[i] as number;
    if (v <= 0) below++;
    if (v >= 0) above++;
  }
  return Math.min(1, Math.max(1 / n, (2 * Math.min(below, above)) / n));
}
