import { describe, expect, it } from 'vitest';
import {
  bestComplexity,
  complexitiesInInterval,
  complexityExponents,
  findAllCrossovers,
  findCrossovers,
  fitPowerLaw,
} from '../../src/stats/scaling.js';
import { createRng } from '../../src/stats/random.js';

const lengths = [1024, 2048, 4096, 8192, 12288, 16384];

function noisy(f: (n: number) => number, seed: number, noise = 0.03) {
  const rng = createRng(seed);
  return lengths.map((n) => ({ n, time: f(n) * (1 + noise * (rng() * 2 - 1)) }));
}

describe('power-law fit', () => {
  it('recovers k = 1 exactly from noiseless data', () => {
    const fit = fitPowerLaw(lengths.map((n) => ({ n, time: 0.002 * n })));
    expect(fit.k).toBeCloseTo(1, 10);
    expect(fit.a).toBeCloseTo(0.002, 10);
    expect(fit.r2).toBeCloseTo(1, 10);
  });
  it('recovers k = 1 and k = 2 from noisy data, inside the interval', () => {
    for (const [k, seed] of [
      [1, 1],
      [2, 2],
    ] as const) {
      const fit = fitPowerLaw(noisy((n) => 1e-6 * n ** k, seed));
      expect(Math.abs(fit.k - k)).toBeLessThan(0.05);
      expect(fit.kCi95![1] - fit.kCi95![0]).toBeLessThan(0.2);
    }
  });
  it('the 95% interval of k covers the true exponent about 95% of the time', () => {
    let covered = 0;
    const trials = 400;
    for (let t = 0; t < trials; t++) {
      const rng = createRng(1000 + t);
      // log-normal noise: the model's assumptions hold exactly
      const pts = lengths.map((n) => {
        const z = Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
        return { n, time: 1e-7 * n ** 2 * Math.exp(0.05 * z) };
      });
      const ci = fitPowerLaw(pts).kCi95!;
      if (ci[0] <= 2 && 2 <= ci[1]) covered++;
    }
    expect(covered / trials).toBeGreaterThan(0.91);
    expect(covered / trials).toBeLessThan(0.99);
  });
  it('interval uses the t distribution (df = points - 2)', () => {
    const pts = [
      { n: 1, time: 1 },
      { n: 2, time: 2.2 },
      { n: 4, time: 3.9 },
    ];
    const fit = fitPowerLaw(pts);
    // half-width / SE = t(0.975, 1) = 12.706
    expect((fit.kCi95![1] - fit.k) / fit.kStdError!).toBeCloseTo(12.7062, 3);
  });
  it('two points give no interval; fewer are refused', () => {
    expect(
      fitPowerLaw([
        { n: 1, time: 1 },
        { n: 2, time: 4 },
      ]).kCi95,
    ).toBeNull();
    expect(() => fitPowerLaw([{ n: 1, time: 1 }])).toThrow();
  });
});

describe('best complexity by normalised RMS', () => {
  it('picks N, N log N and N^2 for data generated from each', () => {
    expect(bestComplexity(noisy((n) => 3e-4 * n, 5, 0.01)).best).toBe('N');
    expect(bestComplexity(noisy((n) => 3e-5 * n * Math.log2(n), 6, 0.01)).best).toBe('N log N');
    expect(bestComplexity(noisy((n) => 1e-7 * n * n, 7, 0.01)).best).toBe('N^2');
  });
  it('reports the coefficient of the fitted model', () => {
    const fit = bestComplexity(lengths.map((n) => ({ n, time: 2e-7 * n * n })));
    expect(fit.models['N^2'].coefficient).toBeCloseTo(2e-7, 15);
    expect(fit.models['N^2'].nrms).toBeCloseTo(0, 10);
  });
});

describe('crossovers', () => {
  it('finds where a quadratic overtakes a linear implementation (log-log interpolation)', () => {
    // naive: 1e-6 n^2, linearish: 4e-3 n -> equal at n = 4000
    const quad = lengths.map((n) => ({ n, time: 1e-6 * n * n }));
    const lin = lengths.map((n) => ({ n, time: 4e-3 * n }));
    const xs = findCrossovers('naive', quad, 'flash', lin);
    expect(xs).toHaveLength(1);
    expect(xs[0]!.n).toBeCloseTo(4000, 6); // power laws are straight on log-log: exact
    expect(xs[0]!.between).toEqual([2048, 4096]);
    expect(xs[0]!.fasterBelow).toBe('naive');
    expect(xs[0]!.fasterAbove).toBe('flash');
  });
  it('finds none when one is always faster, and uses only common lengths', () => {
    const a = lengths.map((n) => ({ n, time: n }));
    const b = [1024, 4096].map((n) => ({ n, time: 2 * n }));
    expect(findCrossovers('a', a, 'b', b)).toEqual([]);
  });
  it('all pairs', () => {
    const series = new Map([
      ['x', lengths.map((n) => ({ n, time: 1e-6 * n * n }))],
      ['y', lengths.map((n) => ({ n, time: 4e-3 * n }))],
      ['z', lengths.map((n) => ({ n, time: 100 }))],
    ]);
    const all = findAllCrossovers(series);
    // z (constant 100) crosses x (quadratic) but never y (at most 65.5)
    expect(all.length).toBe(2);
    expect(all.some((c) => c.a === 'x' && c.b === 'y')).toBe(true);
    expect(all.some((c) => c.a === 'x' && c.b === 'z')).toBe(true);
    for (let i = 1; i < all.length; i++) expect(all[i]!.n).toBeGreaterThanOrEqual(all[i - 1]!.n);
  });
});

describe('analyzeScaling on result rows', () => {
  it('fits each implementation per group and finds crossovers within a group', async () => {
    const { analyzeScaling } = await import('../../src/stats/scaling.js');
    const mk = (implementation: string, seqLen: number, medianMs: number, heads = 8) => ({
      implementation,
      status: 'ok',
      seqLen,
      effectiveSeqLen: seqLen,
      device: 'cpu',
      dtype: 'fp32',
      batch: 1,
      heads,
      kvHeads: heads,
      headDim: 64,
      causal: false,
      stats: { medianMs },
    });
    const rows = [
      ...lengths.map((n) => mk('naive', n, 1e-6 * n * n)),
      ...lengths.map((n) => mk('flash', n, 4e-3 * n)),
      ...lengths.map((n) => mk('flash', n, 1e-3 * n, 16)),
      { ...mk('naive', 99999, 1), status: 'skipped', stats: null },
    ];
    const a = analyzeScaling(rows);
    expect(a.series).toHaveLength(3);
    const naive = a.series.find((s) => s.implementation === 'naive')!;
    expect(naive.powerLaw!.k).toBeCloseTo(2, 10);
    expect(naive.complexity!.best).toBe('N^2');
    expect(a.crossovers).toHaveLength(1);
    expect(a.crossovers[0]!.n).toBeCloseTo(4000, 6);
    expect(a.crossovers[0]!.group).toMatch(/h8/);
  });
});

describe('complexity named only where the interval of k allows', () => {
  it('gives N log N an exponent of about 1.1 over 1K-16K and N, N^2 exactly 1 and 2', () => {
    const ex = complexityExponents(1024, 16384);
    expect(ex.N).toBe(1);
    expect(ex['N^2']).toBe(2);
    // (16384 log 16384) / (1024 log 1024) = 16 * 1.4 -> exponent 1 + log(1.4) / log(16)
    expect(ex['N log N']).toBeCloseTo(1 + Math.log(1.4) / Math.log(16), 12);
  });

  it('names N^2 for k near 2 with a tight interval, nothing for k = 1.45, and several when the interval is wide', () => {
    const fit = (k: number, ci: [number, number]) => ({
      a: 1,
      k,
      kCi95: ci,
      kStdError: 0.01,
      r2: 1,
      points: 6,
    });
    expect(complexitiesInInterval(fit(1.97, [1.93, 2.01]), 1024, 16384)).toEqual(['N^2']);
    expect(complexitiesInInterval(fit(1.14, [1.1, 1.18]), 1024, 16384)).toEqual(['N log N']);
    expect(complexitiesInInterval(fit(1.45, [1.4, 1.5]), 1024, 16384)).toEqual([]);
    expect(complexitiesInInterval(fit(1.05, [0.9, 1.2]), 1024, 16384)).toEqual(['N', 'N log N']);
    expect(complexitiesInInterval({ ...fit(2, [2, 2]), kCi95: null }, 1024, 16384)).toEqual([]);
    // a real fit: time ~ n^2 with 3% noise singles out N^2
    const quad = fitPowerLaw(noisy((n) => 1e-6 * n * n, 5));
    expect(complexitiesInInterval(quad, 1024, 16384)).toEqual(['N^2']);
  });
});
