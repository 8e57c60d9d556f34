// The terminal summary and the Markdown "best per length": validation results are printed per
// case, and only implementations of the same function (exact dense attention) are ranked.
import { describe, expect, it } from 'vitest';
import { summaryText } from '../../src/cli/summary.js';
import { bestPerLength, toMarkdown } from '../../src/reports/markdown.js';
import type { ResultFile, ResultRow } from '../../src/results/types.js';

function row(implementation: string, seqLen: number, tokensPerSecond: number, extra: Partial<ResultRow> = {}): ResultRow {
  const medianMs = (seqLen / tokensPerSecond) * 1000;
  return {
    implementation, device: 'cpu', dtype: 'fp32', batch: 1, heads: 8, kvHeads: 8, headDim: 64, seqLen,
    effectiveSeqLen: seqLen, causal: false, status: 'ok', reason: null, samplesMs: [medianMs],
    stats: { medianMs, meanMs: medianMs, stdMs: 0, minMs: medianMs, maxMs: medianMs, p10Ms: medianMs, p90Ms: medianMs },
    peakMemoryBytes: 1 << 20, estimatedMemoryBytes: 1 << 20, tokensPerSecond, gflops: 1,
    flopsPerIteration: 1, bytesPerIteration: 1, threads: 2, simdLevel: 'avx512', ...extra,
  };
}

function file(results: ResultRow[]): ResultFile {
  return {
    schemaVersion: 1, suite: 'quick-validation', runId: 'r', createdAt: '2026-11-22T00:00:00Z',
    environment: {
      cpuModel: 'test cpu', cpuCores: 2, simdLevel: 'avx512', totalMemoryBytes: 1, freeMemoryBytes: 1, os: 'linux',
      nodeVersion: 'v20', dilbenchVersion: '0.1.0', gitCommit: null, buildType: 'Release',
    },
    config: {}, results,
  };
}

const tol = { maxAbs: 1e-4, relL2: 1e-5 };

describe('summary and best-per-length', () => {
  it('prints every validated case with its errors and a pass/fail count', () => {
    const text = summaryText(file([
      row('flash', 1024, 1000, { validation: { against: 'float64-reference', maxAbsError: 4e-7, relL2Error: 6e-7, passed: true, tolerance: tol } }),
      row('dilated', 1024, 2000, { validation: { against: 'float64-reference', maxAbsError: 3e-3, relL2Error: 2e-4, passed: false, tolerance: tol } }),
    ]));
    expect(text).toMatch(/flash\s+float64-reference\s+4\.00e-7\s+6\.00e-7.*pass/);
    expect(text).toMatch(/dilated\s+float64-reference\s+3\.00e-3\s+2\.00e-4.*FAIL/);
    expect(text).toContain('validation: 1 passed, 1 failed');
  });

  it('never ranks a sparse or dilated implementation as the fastest dense one', () => {
    const rows = [row('block-sparse', 4096, 9e5), row('dilated', 4096, 5e5), row('naive', 4096, 6e4), row('flash', 4096, 9e4)];
    const best = bestPerLength(rows);
    expect(best).toHaveLength(1);
    expect(best[0].best.implementation).toBe('flash');
    expect(best[0].runnerUp?.implementation).toBe('naive');
    expect(toMarkdown(file(rows))).toMatch(/exact dense attention/i);
  });

  it('ranks kv-cache only when causal (non-causal kv-cache is prefix-LM attention)', () => {
    expect(bestPerLength([row('kv-cache', 1024, 1e6), row('flash', 1024, 1e3)])[0].best.implementation).toBe('flash');
    expect(bestPerLength([row('kv-cache', 1024, 1e6, { causal: true }), row('flash', 1024, 1e3, { causal: true })])[0].best.implementation).toBe('kv-cache');
  });
});
