// The one ranking rule (src/results/ranking.ts): dense attention against itself, a winner only
// when the intervals separate, ties listed, no ranking from too few samples, interrupted lengths
// named, optimization-impact configurations never ranked, sparse variants compared separately.
import { describe, expect, it } from 'vitest';
import {
  MIN_SAMPLES_TO_RANK,
  computesExactDense,
  displayStatus,
  incompleteLengths,
  rankFile,
  rankLengths,
  sparseVsDense,
  verdictText,
} from '../../src/results/ranking.js';
import type { ResultRow } from '../../src/results/types.js';
import { summarize } from '../../src/stats/summary.js';
import { createRng } from '../../src/stats/random.js';
import { at } from '../helpers/at.js';

// The ranking of the one sequence length the rows share.
const rankOneLength = (rows: ResultRow[]) => at(rankLengths(rows), 0, 'ranked length');

/** A row whose samples are `medianMs` times (1 + noise * N(0,1)-ish uniform jitter), with real statistics. */
function row(
  implementation: string,
  seqLen: number,
  medianMs: number,
  extra: Partial<ResultRow> & { n?: number; noise?: number; seed?: number } = {},
): ResultRow {
  const { n = 30, noise = 0.01, seed = 1, ...rest } = extra;
  const rng = createRng(seed + seqLen + implementation.length * 97);
  const samplesMs = Array.from({ length: n }, () => medianMs * (1 + noise * (rng() * 2 - 1)));
  const stats = summarize(samplesMs);
  const batch = rest.batch ?? 1;
  return {
    implementation,
    device: 'cpu',
    dtype: 'fp32',
    batch,
    heads: 8,
    kvHeads: 8,
    headDim: 64,
    seqLen,
    effectiveSeqLen: seqLen,
    causal: false,
    status: 'ok',
    reason: null,
    samplesMs,
    stats,
    peakMemoryBytes: 1 << 20,
    estimatedMemoryBytes: 1 << 20,
    tokensPerSecond: (batch * seqLen * 1000) / stats.medianMs,
    gflops: 1,
    flopsPerIteration: 4 * seqLen * seqLen * 64 * 8 * batch,
    bytesPerIteration: 1,
    threads: 2,
    simdLevel: 'avx2',
    ...rest,
  };
}

describe('computesExactDense', () => {
  it('knows the dense implementations of the definitions doc and nothing else', () => {
    for (const n of ['naive', 'flash', 'ring', 'dilbench:flash', 'pytorch', 'onnxruntime-mha'])
      expect(computesExactDense(n), n).toBe(true);
    for (const n of ['dilated', 'dilated-grouped', 'ring-dilated', 'block-sparse', 'something-new'])
      expect(computesExactDense(n), n).toBe(false);
    expect(computesExactDense('kv-cache', true)).toBe(true);
    expect(computesExactDense('kv-cache-recompute', true)).toBe(true);
    expect(computesExactDense('kv-cache', false)).toBe(false);
  });
});

describe('rankLengths', () => {
  it('names a winner when the intervals separate, with its margin over the next', () => {
    const r = rankOneLength([
      row('naive', 1024, 20),
      row('flash', 1024, 10),
      row('block-sparse', 1024, 1),
    ]);
    expect(r.verdict).toBe('winner');
    expect(r.leaders.map((e) => e.label)).toEqual(['flash']);
    expect(r.next?.label).toBe('naive');
    expect(r.margin!.ratio).toBeCloseTo(2, 1);
    expect(r.margin!.ci95[0]).toBeLessThanOrEqual(r.margin!.ratio);
    expect(r.margin!.ci95[1]).toBeGreaterThanOrEqual(r.margin!.ratio);
    // block-sparse computes another function: never a candidate
    expect(r.entries.map((e) => e.label)).toEqual(['flash', 'naive']);
    expect(verdictText(r)).toBe('flash');
  });

  it("says tie, and lists the tied ones, when the leaders' intervals overlap", () => {
    // 10.0 vs 10.1 ms with 10% noise: the intervals overlap; naive at 30 ms is clearly slower
    const rows = [
      row('flash', 2048, 10, { noise: 0.1 }),
      row('ring', 2048, 10.1, { noise: 0.1, seed: 7 }),
      row('naive', 2048, 30),
    ];
    const r = rankOneLength(rows);
    expect(r.verdict).toBe('tie');
    expect(r.leaders.map((e) => e.label).sort()).toEqual(['flash', 'ring']);
    expect(r.next?.label).toBe('naive');
    expect(verdictText(r)).toMatch(/^tie: (flash, ring|ring, flash)$/);
  });

  it('does not rank from fewer samples than a 95% interval of the median needs', () => {
    const r = rankOneLength([row('flash', 4096, 10, { n: 1 }), row('naive', 4096, 50, { n: 1 })]);
    expect(r.verdict).toBe('not-ranked');
    expect(r.leaders).toEqual([]);
    expect(r.reason).toBe(
      `too few samples (flash 1, naive 1; ${MIN_SAMPLES_TO_RANK} needed for a 95% interval)`,
    );
    const ok = rankOneLength([
      row('flash', 4096, 10, { n: MIN_SAMPLES_TO_RANK }),
      row('naive', 4096, 50, { n: MIN_SAMPLES_TO_RANK }),
    ]);
    expect(ok.verdict).toBe('winner');
  });

  it('marks a length incomplete when its point was interrupted or never ran, and never names a winner there', () => {
    const cancelled: ResultRow = {
      ...row('naive', 2048, 40),
      status: 'failed',
      samplesMs: [],
      stats: null,
      reason: 'cancelled',
      errorCode: 'ERR_DILBENCH_CANCELLED',
    };
    const file = {
      results: [row('flash', 1024, 10), row('naive', 1024, 20), row('flash', 2048, 20), cancelled],
      config: { implementations: ['flash', 'naive'], lengths: [1024, 2048, 4096] },
      interrupted: true,
    };
    const ranks = rankFile(file);
    expect(ranks.map((r) => [r.seqLen, r.verdict])).toEqual([
      [1024, 'winner'],
      [2048, 'incomplete'],
      [4096, 'incomplete'],
    ]);
    expect(ranks[1]!.reason).toContain('naive');
    expect(incompleteLengths(ranks)).toEqual([2048, 4096]);
    expect(displayStatus(cancelled)).toBe('interrupted');
  });

  it('never ranks optimization-impact configurations', () => {
    const rows = [
      row('flash', 1024, 10, {
        memoryPool: false,
        patternCache: false,
        params: { optimization: { configuration: 'baseline' } },
      }),
      row('flash', 1024, 5, { memoryPool: true, patternCache: false }),
      row('naive', 1024, 20),
    ];
    const r = rankOneLength(rows);
    expect(r.verdict).toBe('only');
    expect(r.leaders[0]!.label).toBe('naive');
    // an optimization-impact run: even its 'both' configuration (pool and cache on) is not ranked
    expect(
      rankFile({
        suite: 'optimization-impact',
        results: [
          row('flash', 1024, 10, { memoryPool: true, patternCache: true }),
          row('naive', 1024, 20),
        ],
        config: {},
      }),
    ).toEqual([]);
  });

  it('ranks per tokens/s, so a lowered batch is compared fairly', () => {
    // naive ran batch 1 in 6 ms (170K tokens/s), flash batch 4 in 20 ms (204K tokens/s)
    const r = rankOneLength([row('naive', 1024, 6), row('flash', 1024, 20, { batch: 4 })]);
    expect(r.leaders[0]!.label).toBe('flash');
  });

  it('labels ring by P when several ring sizes ran at one length', () => {
    const r = rankOneLength([
      row('ring', 4096, 10, { params: { ringSize: 1 } }),
      row('ring', 4096, 14, { params: { ringSize: 4 } }),
    ]);
    expect(r.entries.map((e) => e.label)).toEqual(['ring (P=1)', 'ring (P=4)']);
  });

  it('bootstraps the interval from the raw samples of files written before it was recorded', () => {
    const old = (r: ResultRow): ResultRow => ({
      ...r,
      stats: { ...r.stats!, medianCi95Ms: undefined },
    });
    const r = rankOneLength([old(row('naive', 1024, 20)), old(row('flash', 1024, 10))]);
    expect(r.verdict).toBe('winner');
    expect(r.leaders[0]!.rateCi95[0]).toBeLessThan(r.leaders[0]!.rate);
  });

  it('ranks each device and dtype on its own', () => {
    const ranks = rankLengths([
      row('flash', 1024, 10),
      row('flash', 1024, 5, { dtype: 'bf16' }),
      row('naive', 1024, 20, { dtype: 'bf16' }),
    ]);
    expect(ranks.map((r) => [r.dtype, r.verdict])).toEqual([
      ['bf16', 'winner'],
      ['fp32', 'only'],
    ]);
  });
});

describe('sparseVsDense', () => {
  it('compares each sparse or dilated row with the fastest dense row at its length, with its share of the work', () => {
    const bs = row('block-sparse', 4096, 2, { telemetry: { sparsity: 0.75 } });
    bs.flopsPerIteration = row('flash', 4096, 1).flopsPerIteration / 4;
    const out = sparseVsDense([
      row('naive', 4096, 20),
      row('flash', 4096, 10),
      bs,
      row('dilated', 8192, 1),
    ]);
    expect(out).toHaveLength(1); // dilated at 8K has no dense row to compare with
    expect(out[0]!.dense.implementation).toBe('flash');
    expect(out[0]!.speedup).toBeCloseTo(5, 1);
    expect(out[0]!.workFraction).toBeCloseTo(0.25, 6);
    expect(out[0]!.sparsity).toBe(0.75);
  });
});

describe('rows computed with another mask than the run asked for', () => {
  it('kv-cache decodes causally in a non-causal run: in the rows, not in that run ranking', () => {
    const results = [
      row('flash', 1024, 10),
      row('naive', 1024, 20),
      row('kv-cache', 1024, 5, { causal: true }),
    ];
    const ranked = rankFile({ results, config: { causal: false } });
    expect(ranked).toHaveLength(1);
    expect(ranked[0]).toMatchObject({ causal: false, verdict: 'winner' });
    expect(ranked[0]!.entries.map((e) => e.row.implementation)).not.toContain('kv-cache');
    // a causal run ranks kv-cache with the dense implementations
    const causal = [
      row('flash', 1024, 10, { causal: true }),
      row('kv-cache', 1024, 5, { causal: true }),
    ];
    expect(
      rankFile({ results: causal, config: { causal: true } })[0]!.entries.map(
        (e) => e.row.implementation,
      ),
    ).toContain('kv-cache');
  });
});
