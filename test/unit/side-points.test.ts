// The one comparison of sample sets (stats/sample-ratio.ts) and the side comparison of the model
// commands' points (suite/side-comparison.ts compareSidePoints) on data with a known answer.
import { describe, expect, it } from 'vitest';
import { compareSamples } from '../../src/stats/sample-ratio.js';
import { createRng } from '../../src/stats/random.js';
import { compareSidePoints, type SidePoint } from '../../src/suite/side-comparison.js';

const base = Array.from({ length: 30 }, (_, i) => 10 + (i % 7) * 0.05);

describe('compareSamples', () => {
  it('ratio of medians, an interval around it, a small p for a real difference and a large one for none', () => {
    const slow = base.map((x) => x * 1.5);
    const r = compareSamples(base, slow, createRng(1));
    expect(r.ratio).toBeCloseTo(1.5, 10);
    expect(r.ratioCi95[0]).toBeLessThanOrEqual(r.ratio);
    expect(r.ratioCi95[1]).toBeGreaterThanOrEqual(r.ratio);
    expect(r.ratioCi95[0]).toBeGreaterThan(1.4);
    expect(r.pValue).toBeLessThan(1e-6);
    expect(r.logReplicates).toHaveLength(2000);
    const same = compareSamples(base, [...base].reverse(), createRng(1));
    expect(same.ratio).toBe(1);
    expect(same.pValue).toBeGreaterThan(0.5);
    // seeded: the same seed gives the same interval
    expect(compareSamples(base, slow, createRng(1)).ratioCi95).toEqual(r.ratioCi95);
  });
});

describe('compareSidePoints', () => {
  const point = (
    device: 'cpu' | 'cuda',
    dtype: 'fp32' | 'bf16',
    length: number,
    scale: number,
    mem: number,
    measure = 'total',
  ): SidePoint => ({
    side: { device, dtype },
    name: 'kv-cache',
    length,
    params: { prompt: 'p1', measure },
    samplesMs: base.map((x) => x * scale * (length / 8)),
    peakMemoryBytes: mem,
    threads: 1,
  });

  it('each other side against the baseline, point by point: time and memory ratios, device or precision', () => {
    const points = [
      point('cpu', 'fp32', 8, 1, 1000),
      point('cpu', 'fp32', 16, 1, 2000),
      point('cpu', 'fp32', 8, 1, 1000, 'first-token'),
      point('cuda', 'fp32', 8, 0.25, 500),
      point('cuda', 'fp32', 16, 0.5, 1000),
      point('cuda', 'fp32', 8, 0.1, 500, 'first-token'),
      point('cuda', 'bf16', 8, 0.2, 250),
    ];
    const c = compareSidePoints(points, { device: 'cpu', dtype: 'fp32' });
    expect(c.map((x) => [x.kind, `${x.other.device}/${x.other.dtype}`])).toEqual([
      ['device', 'cuda/fp32'],
      ['device', 'cuda/bf16'],
    ]);
    const row = (i: number, length: number, measure: string) =>
      c[i]!.rows.find((r) => r.seqLen === length && r.params?.measure === measure)!;
    expect(row(0, 8, 'total').timeRatio).toBeCloseTo(0.25, 10);
    expect(row(0, 16, 'total').timeRatio).toBeCloseTo(0.5, 10);
    expect(row(0, 8, 'first-token').timeRatio).toBeCloseTo(0.1, 10);
    expect(row(0, 8, 'total').memoryRatio).toBeCloseTo(0.5, 10);
    expect(row(0, 8, 'total').verdict).toBe('faster');
    expect(row(1, 8, 'total').timeRatio).toBeCloseTo(0.2, 10);
    // cuda/bf16 has no 16-token point: not compared, and says why
    expect(row(1, 16, 'total').timeRatio).toBeNull();
    expect(row(1, 16, 'total').note).toMatch(/no cuda\/bf16 row/);
  });

  it('one side: nothing to compare', () => {
    expect(
      compareSidePoints([point('cpu', 'fp32', 8, 1, 1)], { device: 'cpu', dtype: 'fp32' }),
    ).toEqual([]);
  });
});
