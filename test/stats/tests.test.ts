import { describe, expect, it } from 'vitest';
import { mannWhitneyU } from '../../src/stats/mann-whitney.js';
import { studentTCdf, studentTQuantile, normalCdf } from '../../src/stats/distributions.js';
import { createRng } from '../../src/stats/random.js';

describe('Mann-Whitney U', () => {
  it('exact p for complete separation (3 vs 3): 2/20', () => {
    const r = mannWhitneyU([1, 2, 3], [4, 5, 6]);
    expect(r.method).toBe('exact');
    expect(r.u).toBe(0);
    expect(r.p).toBeCloseTo(0.1, 12);
  });
  it('exact p for 4 vs 4 separation: 2/70', () => {
    expect(mannWhitneyU([5, 6, 7, 8], [1, 2, 3, 4]).p).toBeCloseTo(2 / 70, 12);
  });
  it('matches scipy exact on a textbook sample', () => {
    // scipy.stats.mannwhitneyu([19,22,16,29,24],[20,11,17,12], method='exact') -> U=17, p=0.11111
    const r = mannWhitneyU([19, 22, 16, 29, 24], [20, 11, 17, 12]);
    expect(r.u).toBe(17);
    expect(r.p).toBeCloseTo(1 / 9, 10);
  });
  it('normal approximation with ties and continuity matches scipy', () => {
    // scipy asymptotic, use_continuity=True -> U=7.5, p=0.006373133838
    const r = mannWhitneyU([1, 2, 2, 3, 3, 3, 4, 5], [3, 4, 4, 5, 5, 6, 7, 7, 8]);
    expect(r.method).toBe('normal');
    expect(r.u).toBe(7.5);
    expect(r.p).toBeCloseTo(0.006373133838, 5);
  });
  it('all values tied gives p = 1', () => {
    expect(mannWhitneyU([2, 2, 2], [2, 2, 2, 2]).p).toBe(1);
  });
  it('is symmetric in its arguments', () => {
    const rng = createRng(4);
    const a = Array.from({ length: 40 }, () => rng());
    const b = Array.from({ length: 35 }, () => rng() + 0.2);
    const ab = mannWhitneyU(a, b);
    const ba = mannWhitneyU(b, a);
    expect(ab.p).toBeCloseTo(ba.p, 12);
    expect(ab.u).toBeCloseTo(ba.uOther, 12);
  });
  it('rejects under the null rarely (about alpha)', () => {
    const rng = createRng(99);
    let rejections = 0;
    const trials = 400;
    for (let t = 0; t < trials; t++) {
      const a = Array.from({ length: 30 }, () => rng());
      const b = Array.from({ length: 30 }, () => rng());
      if (mannWhitneyU(a, b).p < 0.05) rejections++;
    }
    expect(rejections / trials).toBeLessThan(0.09);
  });
});

describe('distributions', () => {
  it('t quantiles match tables', () => {
    expect(studentTQuantile(0.975, 3)).toBeCloseTo(3.182446305, 7);
    expect(studentTQuantile(0.975, 10)).toBeCloseTo(2.228138852, 7);
    expect(studentTQuantile(0.025, 10)).toBeCloseTo(-2.228138852, 7);
    expect(studentTCdf(1.5, 4)).toBeCloseTo(0.896, 3);
  });
  it('normal cdf', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959963985)).toBeCloseTo(0.975, 6);
  });
});

describe('normal tails', () => {
  it('two-sided p keeps relative precision far in the tail', async () => {
    const { normalTwoSidedP } = await import('../../src/stats/distributions.js');
    // scipy: 2 * norm.sf(z)
    expect(normalTwoSidedP(1.96)).toBeCloseTo(0.04999579029644097, 6);
    expect(normalTwoSidedP(6.5) / 8.032001167718176e-11).toBeCloseTo(1, 5);
    expect(normalTwoSidedP(10) / 1.523970604832105e-23).toBeCloseTo(1, 5);
    expect(normalTwoSidedP(0)).toBeCloseTo(1, 6);
  });
});
