import { describe, expect, it } from 'vitest';
import {
  bootstrapMedianCi,
  bootstrapMedians,
  summarize,
  tukeyOutliers,
  relativeStandardError,
} from '../../src/stats/summary.js';
import { createRng, shuffled } from '../../src/stats/random.js';

describe('summarize on a hand-computed sample', () => {
  // [1, 2, 3, 4, 100]: type-7 quantiles (linear interpolation on (n-1)p)
  const s = summarize([4, 100, 1, 3, 2]);
  it('centre and spread', () => {
    expect(s.meanMs).toBe(22);
    expect(s.medianMs).toBe(3);
    expect(s.stdMs).toBeCloseTo(Math.sqrt(7610 / 4), 12);
    expect(s.cv).toBeCloseTo(Math.sqrt(7610 / 4) / 22, 12);
    expect(s.rse).toBeCloseTo(Math.sqrt(7610 / 4) / 22 / Math.sqrt(5), 12);
    expect(s.minMs).toBe(1);
    expect(s.maxMs).toBe(100);
    expect(s.madMs).toBe(1);
  });
  it('quantiles', () => {
    expect(s.q1Ms).toBe(2);
    expect(s.q3Ms).toBe(4);
    expect(s.iqrMs).toBe(2);
    expect(s.p10Ms).toBeCloseTo(1.4, 12);
    expect(s.p90Ms).toBeCloseTo(61.6, 12);
    expect(s.p95Ms).toBeCloseTo(80.8, 12);
    expect(s.p99Ms).toBeCloseTo(96.16, 12);
  });
  it('outliers are classified and kept', () => {
    // fences: mild > 4 + 1.5*2 = 7, severe > 4 + 3*2 = 10
    expect(s.outliers).toEqual({ mildLow: 0, mildHigh: 0, severeLow: 0, severeHigh: 1 });
    expect(s.maxMs).toBe(100);
  });
});

describe('Tukey fences', () => {
  it('separates mild from severe on both sides', () => {
    // q1 = 10, q3 = 11 (type 7 over 13 values), IQR 1
    const data = [10, 10, 10, 10, 10, 10.5, 10.5, 11, 11, 11, 11, 11, 12, 14.5, 8.4, 6];
    const sorted = [...data].sort((a, b) => a - b);
    const c = tukeyOutliers(sorted);
    // recompute fences independently
    const q = (p: number) => {
      const i = (sorted.length - 1) * p;
      const lo = Math.floor(i);
      return sorted[lo]! + (i - lo) * (sorted[Math.ceil(i)]! - sorted[lo]!);
    };
    const q1 = q(0.25);
    const q3 = q(0.75);
    const iqr = q3 - q1;
    const expectCount = (f: (v: number) => boolean) => data.filter(f).length;
    expect(c.severeHigh).toBe(expectCount((v) => v > q3 + 3 * iqr));
    expect(c.mildHigh).toBe(expectCount((v) => v > q3 + 1.5 * iqr && v <= q3 + 3 * iqr));
    expect(c.severeLow).toBe(expectCount((v) => v < q1 - 3 * iqr));
    expect(c.mildLow).toBe(expectCount((v) => v < q1 - 1.5 * iqr && v >= q1 - 3 * iqr));
    expect(c.severeHigh + c.mildHigh + c.severeLow + c.mildLow).toBeGreaterThan(1);
  });
});

describe('bootstrap interval of the median', () => {
  const rng = createRng(7);
  const data = Array.from({ length: 60 }, () => 5 + rng() * 2 + (rng() < 0.1 ? 3 : 0));
  it('contains the median and is ordered', () => {
    const s = summarize(data);
    const [lo, hi] = s.medianCi95Ms!;
    expect(lo).toBeLessThanOrEqual(s.medianMs);
    expect(hi).toBeGreaterThanOrEqual(s.medianMs);
    expect(lo).toBeLessThan(hi);
    expect(lo).toBeGreaterThanOrEqual(s.minMs);
    expect(hi).toBeLessThanOrEqual(s.maxMs);
  });
  it('is reproducible with a seed and changes with another', () => {
    expect(bootstrapMedianCi(data, { seed: 1 })).toEqual(bootstrapMedianCi(data, { seed: 1 }));
    // the interval sits on discrete order statistics, so compare the replicates themselves
    const r1 = bootstrapMedians(data, 200, createRng(1));
    expect(bootstrapMedians(data, 200, createRng(1))).toEqual(r1);
    expect(bootstrapMedians(data, 200, createRng(2))).not.toEqual(r1);
  });
  it('narrows with more data', () => {
    const r = createRng(3);
    const small = Array.from({ length: 20 }, () => 10 + r());
    const big = Array.from({ length: 2000 }, () => 10 + r());
    const w = (ci: [number, number]) => ci[1] - ci[0];
    expect(w(bootstrapMedianCi(big))).toBeLessThan(w(bootstrapMedianCi(small)));
  });
  it('single sample gives a degenerate interval', () => {
    expect(summarize([2.5]).medianCi95Ms).toEqual([2.5, 2.5]);
  });
});

describe('properties', () => {
  it('summary is invariant under permutation of the samples (CI included)', () => {
    const rng = createRng(11);
    for (let trial = 0; trial < 20; trial++) {
      const n = 5 + Math.floor(rng() * 50);
      const data = Array.from({ length: n }, () => Math.exp(rng() * 3));
      const a = summarize(data, { seed: 9 });
      const b = summarize(shuffled(data, createRng(trial)), { seed: 9 });
      expect(b.medianCi95Ms).toEqual(a.medianCi95Ms);
      expect(b.outliers).toEqual(a.outliers);
      for (const k of [
        'medianMs',
        'minMs',
        'maxMs',
        'p10Ms',
        'p90Ms',
        'q1Ms',
        'q3Ms',
        'madMs',
      ] as const) {
        expect(b[k]).toBe(a[k]);
      }
      expect(b.meanMs).toBeCloseTo(a.meanMs, 10);
      expect(b.stdMs).toBeCloseTo(a.stdMs, 10);
    }
  });
  it('quantiles are ordered', () => {
    const rng = createRng(5);
    const s = summarize(Array.from({ length: 101 }, () => rng()));
    const seq = [
      s.minMs,
      s.p10Ms,
      s.q1Ms!,
      s.medianMs,
      s.q3Ms!,
      s.p90Ms,
      s.p95Ms!,
      s.p99Ms!,
      s.maxMs,
    ];
    for (let i = 1; i < seq.length; i++) expect(seq[i]).toBeGreaterThanOrEqual(seq[i - 1]!);
  });
  it('scaling the data scales location and spread; CV is unchanged', () => {
    const data = [3, 5, 4, 4.5, 6, 3.3, 4.1];
    const a = summarize(data);
    const b = summarize(data.map((v) => v * 10));
    expect(b.medianMs).toBeCloseTo(a.medianMs * 10, 10);
    expect(b.stdMs).toBeCloseTo(a.stdMs * 10, 10);
    expect(b.cv).toBeCloseTo(a.cv!, 12);
  });
  it('rejects empty and non-finite input', () => {
    expect(() => summarize([])).toThrow(/no samples/);
    expect(() => summarize([1, Number.NaN])).toThrow(/not a finite/);
  });
  it('relative standard error matches its definition', () => {
    expect(relativeStandardError([1])).toBe(Infinity);
    expect(relativeStandardError([1, 3])).toBeCloseTo(Math.SQRT2 / Math.SQRT2 / 2, 12);
  });
});

describe('degenerate input', () => {
  it('one sample: no RSE (JSON-safe), zero spread', () => {
    const s = summarize([4]);
    expect(s.rse).toBeUndefined();
    expect(s.stdMs).toBe(0);
    expect(JSON.parse(JSON.stringify(s)).medianMs).toBe(4);
  });
});
