import { describe, expect, it } from 'vitest';
import { attachRoofline, classify, ridgePoint, rooflinePoint } from '../../src/roofline/index.js';
import type { ResultRow } from '../../src/results/types.js';

const peak = { fmaGflops: 400, streamGBps: 20 }; // ridge at 20 FLOP/byte

describe('roofline', () => {
  it('ridge point and classification', () => {
    expect(ridgePoint(peak)).toBe(20);
    expect(classify(100, peak)).toBe('compute');
    expect(classify(2, peak)).toBe('memory');
    expect(classify(20, peak)).toBe('compute');
  });
  it('compute-bound point: % of FMA peak', () => {
    // 2e9 flop in 10 ms = 200 GFLOP/s; 1e7 bytes -> 1 GB/s; intensity 200
    const r = rooflinePoint({ flops: 2e9, bytes: 1e7, timeMs: 10 }, peak);
    expect(r.achievedGflops).toBeCloseTo(200, 9);
    expect(r.achievedGBps).toBeCloseTo(1, 9);
    expect(r.arithmeticIntensity).toBe(200);
    expect(r.bound).toBe('compute');
    expect(r.pctOfPeakCompute).toBeCloseTo(50, 9);
    expect(r.attainableGflops).toBe(400);
    expect(r.pctOfRoofline).toBeCloseTo(50, 9);
  });
  it('memory-bound point: roof is intensity x bandwidth', () => {
    // 1e8 flop, 1e8 bytes, 10 ms: 10 GFLOP/s, 10 GB/s, intensity 1 -> roof 20 GFLOP/s
    const r = rooflinePoint({ flops: 1e8, bytes: 1e8, timeMs: 10 }, peak);
    expect(r.bound).toBe('memory');
    expect(r.pctOfPeakBandwidth).toBeCloseTo(50, 9);
    expect(r.attainableGflops).toBeCloseTo(20, 9);
    expect(r.pctOfRoofline).toBeCloseTo(50, 9);
  });
  it('attachRoofline uses the median and leaves non-ok rows alone', () => {
    const row = {
      implementation: 'flash',
      status: 'ok',
      stats: { medianMs: 10 },
      flopsPerIteration: 2e9,
      bytesPerIteration: 1e7,
    } as unknown as ResultRow;
    const out = attachRoofline(row, peak);
    expect(out.roofline?.pctOfPeakCompute).toBeCloseTo(50, 9);
    expect(row.roofline).toBeUndefined();
    const skipped = { ...row, status: 'skipped', stats: null } as unknown as ResultRow;
    expect(attachRoofline(skipped, peak)).toBe(skipped);
  });
  it('refuses a zero peak', () => {
    expect(() => ridgePoint({ fmaGflops: 0, streamGBps: 1 })).toThrow(/positive peak/);
  });
});
