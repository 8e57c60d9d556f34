// The terminal summary and the Markdown answer: validation results are printed per case, only
// implementations of the same function (exact dense attention) are ranked, by the one rule of
// src/results/ranking.ts, and the terminal stays compact with a pointer to the Markdown.
import { describe, expect, it } from 'vitest';
import { summaryText } from '../../src/cli/summary.js';
import { formatDuration } from '../../src/reports/format.js';
import { toMarkdown } from '../../src/reports/markdown.js';
import { rankLengths } from '../../src/results/ranking.js';
import { summarize } from '../../src/stats/summary.js';
import type { ResultFile, ResultRow } from '../../src/results/types.js';

function row(
  implementation: string,
  seqLen: number,
  tokensPerSecond: number,
  extra: Partial<ResultRow> = {},
): ResultRow {
  const medianMs = (seqLen / tokensPerSecond) * 1000;
  // 10 samples within +-0.5%: enough for an interval, and far apart from a 2x different row
  const samplesMs = Array.from({ length: 10 }, (_, i) => medianMs * (1 + (i - 4.5) / 900));
  return {
    implementation,
    device: 'cpu',
    dtype: 'fp32',
    batch: 1,
    heads: 8,
    kvHeads: 8,
    headDim: 64,
    seqLen,
    effectiveSeqLen: seqLen,
    causal: false,
    status: 'ok',
    reason: null,
    samplesMs,
    stats: summarize(samplesMs),
    peakMemoryBytes: 1 << 20,
    estimatedMemoryBytes: 1 << 20,
    tokensPerSecond,
    gflops: 1,
    flopsPerIteration: 1,
    bytesPerIteration: 1,
    threads: 2,
    simdLevel: 'avx512',
    ...extra,
  };
}

function file(results: ResultRow[]): ResultFile {
  return {
    schemaVersion: 1,
    suite: 'quick-validation',
    runId: 'r',
    createdAt: '2026-11-22T00:00:00Z',
    environment: {
      cpuModel: 'test cpu',
      cpuCores: 2,
      simdLevel: 'avx512',
      totalMemoryBytes: 1,
      freeMemoryBytes: 1,
      os: 'linux',
      nodeVersion: 'v20',
      dilbenchVersion: '0.1.0',
      gitCommit: null,
      buildType: 'Release',
    },
    config: {},
    results,
  };
}

const tol = { maxAbs: 1e-4, relL2: 1e-5 };

describe('summary and best-per-length', () => {
  it('prints every validated case with its errors and a pass/fail count', () => {
    const text = summaryText(
      file([
        row('flash', 1024, 1000, {
          validation: {
            against: 'float64-reference',
            maxAbsError: 4e-7,
            relL2Error: 6e-7,
            passed: true,
            tolerance: tol,
          },
        }),
        row('dilated', 1024, 2000, {
          validation: {
            against: 'float64-reference',
            maxAbsError: 3e-3,
            relL2Error: 2e-4,
            passed: false,
            tolerance: tol,
          },
        }),
      ]),
    );
    expect(text).toMatch(/flash\s+float64-reference\s+4\.00e-7\s+6\.00e-7.*pass/);
    expect(text).toMatch(/dilated\s+float64-reference\s+3\.00e-3\s+2\.00e-4.*FAIL/);
    expect(text).toContain('validation: 1 passed, 1 failed');
  });

  it('never ranks a sparse or dilated implementation as the fastest dense one', () => {
    const rows = [
      row('block-sparse', 4096, 9e5),
      row('dilated', 4096, 5e5),
      row('naive', 4096, 6e4),
      row('flash', 4096, 9e4),
    ];
    const best = rankLengths(rows);
    expect(best).toHaveLength(1);
    expect(best[0]!.leaders.map((e) => e.label)).toEqual(['flash']);
    expect(best[0]!.next?.label).toBe('naive');
    const md = toMarkdown(file(rows));
    expect(md).toMatch(
      /\| 4K \| flash \| [\d.]+ \[[\d.]+, [\d.]+\] \| 1\.0 \| - \| 1\.50x \[1\.\d\d, 1\.\d\d\] faster than naive \|/,
    );
    expect(md).toContain('## Sparse, dilated and other variants vs dense attention');
    expect(md).toContain('| Implementation | 4K (vs flash) |');
    expect(md).toMatch(/\| block-sparse \| 10\.0x, 100% work \|/);
  });

  it('ranks kv-cache only when causal (non-causal kv-cache is prefix-LM attention)', () => {
    expect(
      rankLengths([row('kv-cache', 1024, 1e6), row('flash', 1024, 1e3)])[0]!.leaders[0]!.label,
    ).toBe('flash');
    expect(
      rankLengths([
        row('kv-cache', 1024, 1e6, { causal: true }),
        row('flash', 1024, 1e3, { causal: true }),
      ])[0]!.leaders[0]!.label,
    ).toBe('kv-cache');
  });

  it('prints the answer and at most a few notes, with a pointer to the Markdown', () => {
    const rows = [
      row('naive', 1024, 1e4),
      row('flash', 1024, 3e4),
      row('flash', 2048, 3e4),
      row('ring', 2048, 3e4),
    ];
    for (const r of rows)
      r.warnings = [`CV ${(Math.random() * 10 + 5).toFixed(1)}% exceeds 5%: noisy point`];
    const text = summaryText(file(rows), { markdownPath: '/tmp/x/sequence-ranges.md' });
    expect(text).toMatch(/^\s+1K: flash, 3\.00x faster than naive$/m);
    expect(text).toMatch(/^\s+2K: tie: (flash, ring|ring, flash)$/m);
    expect(
      summaryText(
        file([row('naive', 1024, 1e4, { samplesMs: [1, 2, 3] }), row('flash', 1024, 3e4)]),
      ),
    ).toMatch(
      /1 length\(s\) not ranked for too few samples: give points more time, --max-time, or a fixed --runs 6 or more/,
    );
    expect(text).toContain('* 4 point(s) with notes, most often 4x "CV');
    expect(text).toContain('details, every note and reason: /tmp/x/sequence-ranges.md');
    // one line per point plus a header, the answer, and two lines of notes: no footnote per warning
    expect(text.split('\n').filter((l) => /^\[\d+\]/.test(l))).toEqual([]);
    expect(text).toMatch(/^\s*1K\s+flash\s+1\s+[\d.]+ \[[\d.]+, [\d.]+\]\s+30\.0K\s+1\.0\s+ok\*$/m);
  });

  it('says interrupted for a point stopped by Ctrl-C and names the lengths left incomplete', () => {
    const cancelled = {
      ...row('naive', 2048, 1e4),
      status: 'failed' as const,
      samplesMs: [],
      stats: null,
      tokensPerSecond: null,
      gflops: null,
      reason: 'cancelled',
      errorCode: 'ERR_DILBENCH_CANCELLED',
    };
    const f = {
      ...file([
        row('naive', 1024, 1e4),
        row('flash', 1024, 3e4),
        row('flash', 2048, 3e4),
        cancelled,
      ]),
      interrupted: true,
      config: { implementations: ['naive', 'flash'], lengths: [1024, 2048] },
    };
    const text = summaryText(f);
    expect(text).toMatch(/^\s*2K\s+naive\s+.*interrupted$/m);
    expect(text).toMatch(/^\s+2K: incomplete \(interrupted: naive\)$/m);
    expect(text).not.toMatch(/failed/);
    const md = toMarkdown(f);
    expect(md).toContain('**Interrupted:** 2K is incomplete and not ranked.');
    expect(md).toMatch(
      /\| 2K \(2048\) \| naive \| 1 \| - \| - \| - \| [^|]+ \| - \| - \| interrupted \|/,
    );
  });

  it('ring: a P column, projected times in hours, days or years, long lengths readable, projections never ranked', () => {
    const measured = [1, 2].map((P) =>
      row('ring', 1024, 2e4 * P, { params: { ringSize: P, measured: true } }),
    );
    const projected = (P: number, seqLen: number, wallMs: number): ResultRow => ({
      ...row('ring', seqLen, 1),
      status: 'skipped',
      samplesMs: [],
      stats: null,
      tokensPerSecond: null,
      gflops: null,
      reason: 'not run; PROJECTED',
      params: { ringSize: P, measured: false },
      projected: { kind: 'projected', links: [{ name: 'nvlink', projectedWallMs: wallMs }] },
    });
    const text = summaryText(
      file([...measured, projected(2, 1048576, 16574970), projected(2, 1e9, 2.5e13)]),
    );
    expect(text).toMatch(/^\s*length\s+implementation\s+P\s+batch/m);
    expect(text).toMatch(/^\s*1K\s+ring\s+1\s+1\s/m);
    expect(text).toMatch(/^\s*1K\s+ring\s+2\s+1\s/m);
    expect(text).toMatch(
      /^\s*1M\s+ring\s+2\s+1\s+~4\.6 h on nvlink \(projected\)\s+-\s+-\s+projected$/m,
    );
    expect(text).toMatch(/^\s*1e9\s+ring\s+2\s+1\s+~792 years on nvlink \(projected\)/m);
    expect(text).toMatch(/^\s+1K: ring \(P=2\), 2\.00x faster than ring \(P=1\)$/m);
    expect(text).not.toMatch(/1M: not ranked/);
    expect([850, 12_300, 276_000, 16_574_970, 3 * 86_400_000, 2.5e13].map(formatDuration)).toEqual([
      '850 ms',
      '12.3 s',
      '4.6 min',
      '4.6 h',
      '3.0 days',
      '792 years',
    ]);
  });
});

describe('scaling section', () => {
  it('claims a crossover only where both intervals are apart, and says how many crossings are noise', async () => {
    const { scalingSection } = await import('../../src/reports/markdown.js');
    // flash: 1x, 2x, 4x; naive: 0.5x, 2.4x, 8x of a unit; ring: within 1% of flash, swapping at every length
    const mk = (impl: string, seqLen: number, ms: number, spread = 0.002) => {
      const samplesMs = Array.from({ length: 12 }, (_, i) => ms * (1 + spread * (i - 5.5)));
      return { ...row(impl, seqLen, (seqLen * 1000) / ms), samplesMs, stats: summarize(samplesMs) };
    };
    const rows = [
      mk('flash', 1024, 10),
      mk('flash', 2048, 20),
      mk('flash', 4096, 40),
      mk('naive', 1024, 5),
      mk('naive', 2048, 24),
      mk('naive', 4096, 80),
      mk('ring', 1024, 10.05, 0.02),
      mk('ring', 2048, 19.9, 0.02),
      mk('ring', 4096, 40.1, 0.02),
    ];
    const md = scalingSection(rows).join('\n');
    // naive is clearly faster at 1K and clearly slower at 2K: claimed
    expect(md).toMatch(
      /- flash overtakes naive at N ~ \d+ \(between 1K \(1024\) and 2K \(2048\); 95% intervals apart at both\)/,
    );
    // ring and flash cross twice within their noise: not claimed
    expect(md).not.toMatch(/ring overtakes flash|flash overtakes ring/);
    expect(md).toMatch(/2 apparent crossovers of the medians are not claimed/);
    expect(md).toContain('| Implementation | Lengths | k [95% CI] | R^2 | Complexity |');
  });
});
