// The figures derived from a ring's raw timings (src/distributed/analysis.ts), on hand-made input
// whose answers follow from the definitions.
import { describe, expect, it } from 'vitest';
import { analyzeLayout, type RawRingRun } from '../../src/distributed/analysis.js';

function raw(): RawRingRun {
  // 2 ranks, 2 steps, one iteration; 1e6 bytes per message; ping-pong one-way 1 ms => 1 GB/s
  return {
    format: 'dilbench-ring-rank/1',
    ranks: 2,
    batch: 1,
    heads: 1,
    kvHeads: 1,
    seqLen: 8,
    headDim: 4,
    causal: false,
    seed: 1,
    iterations: 1,
    warmup: 0,
    progressPolls: true,
    threadsPerRank: 1,
    simdLevel: 'avx2',
    mpiLibrary: 'x',
    rank0Host: 'h',
    layouts: [
      {
        layout: 'plain',
        chunks: [[[0, 4]], [[4, 8]]],
        pingPong: { bytes: 1e6, oneWayNs: [1e6] },
        iterations: [
          {
            ranks: [
              {
                computeNs: [3e6, 1e6],
                pollNs: [0, 0],
                waitNs: [0, 0],
                bytesSent: [1e6, 0],
                wallNs: 4e6,
              },
              {
                computeNs: [0.75e6, 1e6],
                pollNs: [0.25e6, 0],
                waitNs: [0.25e6, 0],
                bytesSent: [1e6, 0],
                wallNs: 5e6,
              },
            ],
          },
        ],
        check: { against: 'none', reason: '', maxAbsError: 0, relL2Error: 0, finite: true },
      },
    ],
  };
}

describe('analyzeLayout', () => {
  const r = raw();
  const m = analyzeLayout(r, r.layouts[0]!);
  it('ring wall is the slowest rank', () => expect(m.wallMs).toEqual([5]));
  it('ping-pong bandwidth is bytes / one-way time', () =>
    expect(m.pingPong.medianGBps).toBeCloseTo(1, 12));
  it('overlap efficiency: rank 1 waited 0.25 of 1 ms of communication, rank 0 none', () => {
    expect(m.perRank[0]!.overlapEfficiency).toBeCloseTo(1, 12);
    expect(m.perRank[1]!.overlapEfficiency).toBeCloseTo(0.75, 12);
    expect(m.overlapEfficiency).toBeCloseTo(1 - 0.25 / 2, 12);
  });
  it('achieved bandwidth is bytes / (compute + polls + wait) of the communicating steps', () => {
    expect(m.perRank[0]!.achievedLinkGBps).toBeCloseTo(1e6 / 3e6, 12);
    expect(m.perRank[1]!.achievedLinkGBps).toBeCloseTo(1e6 / 1.25e6, 12);
  });
  it('load imbalance is max / mean of total compute', () => {
    expect(m.loadImbalance).toBeCloseTo(4 / ((4 + 1.75) / 2), 12);
    expect(m.perStep[0]!.loadImbalance).toBeCloseTo(3 / ((3 + 0.75) / 2), 12);
    expect(m.perStep[1]!.loadImbalance).toBeCloseTo(1, 12);
  });
});
