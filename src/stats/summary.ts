// Robust summary of one point's raw samples: the SampleStats of the result schema.
// Basic statistics come from simple-statistics (quantiles are type 7, linear interpolation, as
// numpy/R default); only the seeded bootstrap and the Tukey classification are written here.
import {
  mean as ssMean,
  medianAbsoluteDeviation,
  quantileSorted,
  sampleStandardDeviation,
} from 'simple-statistics';
import type { SampleStats } from '../results/types.js';
import { createRng, type Rng } from './random.js';

export const DEFAULT_BOOTSTRAP_SEED = 0x5eed;
export const DEFAULT_BOOTSTRAP_RESAMPLES = 2000;

export interface BootstrapOptions {
  /** seed of the resampling PRNG; same seed + same data = same interval */
  seed?: number;
  /** number of bootstrap resamples (default 2000) */
  resamples?: number;
  /** confidence level (default 0.95) */
  confidence?: number;
}

export interface OutlierCounts {
  mildLow: number;
  mildHigh: number;
  severeLow: number;
  severeHigh: number;
}

function toSortedArray(samples: ArrayLike<number>): number[] {
  const arr = Float64Array.from(samples);
  arr.sort();
  return Array.from(arr);
}

function checkSamples(samples: ArrayLike<number>, what: string): void {
  if (samples.length === 0) throw new RangeError(`${what}: no samples`);
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i] as number;
    if (!Number.isFinite(v))
      throw new RangeError(`${what}: sample ${i} is not a finite number (${v})`);
  }
}

/** Median of a sorted Float64Array (type 7, same as simple-statistics). */
function medianOfSortedTyped(x: Float64Array): number {
  const n = x.length;
  const mid = (n - 1) / 2;
  const lo = Math.floor(mid);
  const hi = Math.ceil(mid);
  return lo === hi ? (x[lo] as number) : ((x[lo] as number) + (x[hi] as number)) / 2;
}

/** Median (type 7: the mean of the two middle values for an even count); NaN for no values. */
export function median(values: ArrayLike<number>): number {
  return medianOfSortedTyped(Float64Array.from(values).sort());
}

/**
 * Bootstrap replicates of the median: `resamples` medians of resamples drawn with replacement,
 * driven by `rng`. Returned unsorted, in draw order (callers pairing replicates rely on it).
 */
export function bootstrapMedians(
  samples: ArrayLike<number>,
  resamples: number,
  rng: Rng,
): Float64Array {
  const n = samples.length;
  // sorted first, so the replicates depend on the multiset of samples, not on their order
  const src = Float64Array.from(samples).sort();
  const buf = new Float64Array(n);
  const out = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < n; i++) buf[i] = src[Math.min(n - 1, Math.floor(rng() * n))] as number;
    buf.sort();
    out[b] = medianOfSortedTyped(buf);
  }
  return out;
}

/** Percentile interval of bootstrap replicates (type 7 quantiles of the replicates). */
export function percentileInterval(
  replicates: ArrayLike<number>,
  confidence = 0.95,
): [number, number] {
  const sorted = toSortedArray(replicates);
  const alpha = (1 - confidence) / 2;
  return [quantileSorted(sorted, alpha), quantileSorted(sorted, 1 - alpha)];
}

/** Seeded percentile-bootstrap confidence interval of the median. Reproducible for a given seed. */
export function bootstrapMedianCi(
  samples: ArrayLike<number>,
  options: BootstrapOptions = {},
): [number, number] {
  checkSamples(samples, 'bootstrapMedianCi');
  const resamples = options.resamples ?? DEFAULT_BOOTSTRAP_RESAMPLES;
  const rng = createRng(options.seed ?? DEFAULT_BOOTSTRAP_SEED);
  if (samples.length === 1) return [samples[0] as number, samples[0] as number];
  return percentileInterval(bootstrapMedians(samples, resamples, rng), options.confidence ?? 0.95);
}

/**
 * Tukey fences on the quartiles: mild outliers lie beyond 1.5 IQR (but within 3 IQR), severe
 * ones beyond 3 IQR. Outliers are counted, never removed.
 */
export function tukeyOutliers(samples: ArrayLike<number>): OutlierCounts {
  const sorted = toSortedArray(samples);
  const q1 = quantileSorted(sorted, 0.25);
  const q3 = quantileSorted(sorted, 0.75);
  const iqr = q3 - q1;
  const counts: OutlierCounts = { mildLow: 0, mildHigh: 0, severeLow: 0, severeHigh: 0 };
  for (const v of sorted) {
    if (v < q1 - 3 * iqr) counts.severeLow++;
    else if (v < q1 - 1.5 * iqr) counts.mildLow++;
    else if (v > q3 + 3 * iqr) counts.severeHigh++;
    else if (v > q3 + 1.5 * iqr) counts.mildHigh++;
  }
  return counts;
}

/**
 * Full summary of raw samples (ms). `std` is the sample standard deviation (n - 1); `cv` is
 * std / mean; `rse` is the relative standard error of the mean, std / sqrt(n) / mean; `madMs` is
 * the raw median absolute deviation (not scaled by 1.4826). All samples are kept: outliers are
 * only counted.
 */
export function summarize(
  samplesMs: ArrayLike<number>,
  options: BootstrapOptions = {},
): SampleStats {
  checkSamples(samplesMs, 'summarize');
  const sorted = toSortedArray(samplesMs);
  const n = sorted.length;
  const meanMs = ssMean(sorted);
  const stdMs = n > 1 ? sampleStandardDeviation(sorted) : 0;
  const q = (p: number) => quantileSorted(sorted, p);
  const q1Ms = q(0.25);
  const q3Ms = q(0.75);
  const cv = meanMs !== 0 ? stdMs / meanMs : 0;
  return {
    medianMs: q(0.5),
    meanMs,
    stdMs,
    minMs: sorted[0] as number,
    maxMs: sorted[n - 1] as number,
    p10Ms: q(0.1),
    p90Ms: q(0.9),
    q1Ms,
    q3Ms,
    iqrMs: q3Ms - q1Ms,
    p95Ms: q(0.95),
    p99Ms: q(0.99),
    madMs: medianAbsoluteDeviation(sorted),
    cv,
    // undefined below 2 samples (no spread to estimate; JSON has no Infinity)
    ...(n > 1 ? { rse: cv / Math.sqrt(n) } : {}),
    medianCi95Ms: bootstrapMedianCi(sorted, { ...options, confidence: 0.95 }),
    outliers: tukeyOutliers(sorted),
  };
}

/** Relative standard error of the mean (std / sqrt(n) / mean); Infinity below 2 samples. */
export function relativeStandardError(samples: ArrayLike<number>): number {
  const n = samples.length;
  if (n < 2) return Number.POSITIVE_INFINITY;
  const arr = Array.from(samples);
  const m = ssMean(arr);
  return m !== 0
    ? sampleStandardDeviation(arr) / Math.sqrt(n) / Math.abs(m)
    : Number.POSITIVE_INFINITY;
}
