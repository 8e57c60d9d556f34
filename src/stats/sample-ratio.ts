// How two sample sets of one point are compared wherever dilbench compares times (`dilbench
// compare`, the side comparisons of suites, inference and scaling, `dilbench frameworks`, `npm run
// bench`): the ratio of their medians, its bootstrap 95% interval (medians of resamples, seeded),
// and the two-sided Mann-Whitney U p-value. Verdicts are the callers'.
import { mannWhitneyU } from './mann-whitney.js';
import type { Rng } from './random.js';
import { bootstrapMedians, median, percentileInterval } from './summary.js';

export interface SampleRatio {
  baseMedian: number;
  otherMedian: number;
  /** median(other) / median(base) */
  ratio: number;
  ratioCi95: [number, number];
  /** two-sided Mann-Whitney U p-value of other against base */
  pValue: number;
  test: 'exact' | 'normal';
  /** log of each bootstrap ratio (for a summary over several points) */
  logReplicates: Float64Array;
}

export function compareSamples(
  base: readonly number[],
  other: readonly number[],
  rng: Rng,
  resamples = 2000,
): SampleRatio {
  const bRep = bootstrapMedians(base, resamples, rng);
  const oRep = bootstrapMedians(other, resamples, rng);
  const ratios = new Float64Array(resamples);
  const logReplicates = new Float64Array(resamples);
  for (let i = 0; i < resamples; i++) {
    const r = (oRep[i] as number) / (bRep[i] as number);
    ratios[i] = r;
    logReplicates[i] = Math.log(r);
  }
  const baseMedian = median(base);
  const otherMedian = median(other);
  const mw = mannWhitneyU(other, base);
  return {
    baseMedian,
    otherMedian,
    ratio: otherMedian / baseMedian,
    ratioCi95: percentileInterval(ratios, 0.95),
    pValue: mw.p,
    test: mw.method,
    logReplicates,
  };
}
