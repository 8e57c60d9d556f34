// The `optimization-impact` suite: each implementation at each length under four configurations
// (baseline = no pattern cache, no memory pool; pattern cache only; memory pool only; both).
// Speedup and memory reduction versus the baseline of the same implementation and length, cache
// hit rate and pool statistics per configuration go into row.params.optimization; the rows carry
// the memoryPool / patternCache flags the optimization-impact plot reads.
import { implParamsConfig } from '../config/impl-params.js';
import type { SequenceRangesOptions } from '../config/schema.js';
import type { ResultRow } from '../results/types.js';
import { lengthList, parseFamilyOptions } from '../suite/family-options.js';
import { ringProjectionHook } from '../suite/ring-projection.js';
import { gridPoints } from '../suite/problem.js';
import type { SuiteDefinition, SuitePoint } from '../suite/types.js';

export const OPTIMIZATION_LENGTHS = [1024, 4096];
export const CONFIGURATIONS = [
  { name: 'baseline', useMemoryPool: false, usePatternCache: false },
  { name: 'pattern cache only', useMemoryPool: false, usePatternCache: true },
  { name: 'memory pool only', useMemoryPool: true, usePatternCache: false },
  { name: 'both', useMemoryPool: true, usePatternCache: true },
] as const;

export interface OptimizationImpactOptions extends SequenceRangesOptions {
  sequenceLengths?: number[];
}

export interface OptimizationSummary {
  configuration: (typeof CONFIGURATIONS)[number]['name'];
  /** baseline median / this median (same implementation, length and batch) */
  speedupVsBaseline: number | null;
  /** 1 - this peak memory / baseline peak memory */
  memoryReductionVsBaseline: number | null;
  cacheHitRate: number | null;
  poolCacheHits: number | null;
  poolCacheMisses: number | null;
  poolPeakBytesReserved: number | null;
}

export function summarize(rows: ResultRow[]): ResultRow[] {
  const key = (r: ResultRow) => `${r.implementation}|${r.seqLen}|${r.batch}`;
  const base = new Map<string, ResultRow>();
  for (const r of rows)
    if (r.status === 'ok' && r.memoryPool === false && r.patternCache === false)
      base.set(key(r), r);
  for (const r of rows) {
    const b = base.get(key(r));
    const name = (r.params?.configuration as OptimizationSummary['configuration']) ?? 'both';
    const ok = r.status === 'ok' && r.stats;
    const summary: OptimizationSummary = {
      configuration: name,
      speedupVsBaseline: ok && b?.stats ? b.stats.medianMs / r.stats!.medianMs : null,
      memoryReductionVsBaseline:
        ok && b?.peakMemoryBytes && r.peakMemoryBytes !== null
          ? 1 - r.peakMemoryBytes / b.peakMemoryBytes
          : null,
      cacheHitRate: r.patternCacheStats ? r.patternCacheStats.hitRate : null,
      poolCacheHits: r.pool ? r.pool.cacheHits : null,
      poolCacheMisses: r.pool ? r.pool.cacheMisses : null,
      poolPeakBytesReserved: r.pool ? r.pool.peakBytesReserved : null,
    };
    r.params = { ...(r.params ?? {}), optimization: summary };
  }
  return rows;
}

export const optimizationImpact: SuiteDefinition<OptimizationImpactOptions> = {
  name: 'optimization-impact',
  description:
    'Each implementation under baseline, pattern cache only, memory pool only and both: speedup, memory, cache hit rate, pool statistics',
  parseOptions: (raw) =>
    parseFamilyOptions<{ sequenceLengths?: number[] }>(
      raw,
      {
        sequenceLengths: {
          schema: lengthList(1 << 27),
          allowed: 'one or more lengths >= 1 (K = 1024), e.g. 1K,4K',
        },
      },
      (own) => [...new Set((own.sequenceLengths as number[] | undefined) ?? OPTIMIZATION_LENGTHS)],
    ),
  points(o, ctx): SuitePoint[] {
    return gridPoints(o, ctx).flatMap(({ problem }) =>
      CONFIGURATIONS.map((c) => ({
        problem,
        params: { configuration: c.name },
        session: { useMemoryPool: c.useMemoryPool, usePatternCache: c.usePatternCache },
      })),
    );
  },
  config(o) {
    return {
      lengths: o.lengths,
      batchSize: o.batchSize,
      heads: o.heads,
      kvHeads: o.kvHeads,
      headDim: o.headDim,
      causal: o.causal,
      configurations: CONFIGURATIONS.map((c) => c.name),
      ...implParamsConfig(o),
    };
  },
  afterMeasure: ringProjectionHook,
  finalize: (rows) => summarize(rows),
};

export default optimizationImpact;
