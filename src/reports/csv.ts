// CSV view: one row per result, statistics flattened into columns.
import { createObjectCsvStringifier } from 'csv-writer';
import type { ResultFile, ResultRow } from '../results/types.js';

export const CSV_COLUMNS = [
  'suite',
  'runId',
  'implementation',
  'device',
  'dtype',
  'batch',
  'requestedBatch',
  'heads',
  'kvHeads',
  'headDim',
  'seqLen',
  'effectiveSeqLen',
  'causal',
  'status',
  'reason',
  'errorCode',
  'medianMs',
  'meanMs',
  'stdMs',
  'minMs',
  'maxMs',
  'p10Ms',
  'p90Ms',
  'q1Ms',
  'q3Ms',
  'p95Ms',
  'p99Ms',
  'madMs',
  'iqrMs',
  'cv',
  'rse',
  'outliersMild',
  'outliersSevere',
  'medianCi95LowMs',
  'medianCi95HighMs',
  'samples',
  'coldStartMs',
  'warmupIterations',
  'stopReason',
  'cacheMode',
  'peakMemoryBytes',
  'estimatedMemoryBytes',
  'estimatedSeconds',
  'tokensPerSecond',
  'gflops',
  'gbps',
  'flopsPerIteration',
  'bytesPerIteration',
  'threads',
  'simdLevel',
  'memoryPool',
  'warnings',
  'samplesMs',
  // issue 3 (appended so earlier column positions stay): validation, pattern cache, ring projection
  'patternCache',
  'patternCacheHitRate',
  'validationAgainst',
  'validationPassed',
  'maxAbsError',
  'relL2Error',
  'ringSize',
  'projectedMaxStepComputeMs',
  'projectedWallMsByLink',
  // issue 15 (appended): plugin rows say where they come from and what they compute
  'origin',
  'function',
  'exactDense',
  'unvalidated',
  'countsSource',
] as const;

type CsvRecord = Record<(typeof CSV_COLUMNS)[number], string | number | boolean | null | undefined>;

export function flattenRow(file: Pick<ResultFile, 'suite' | 'runId'>, r: ResultRow): CsvRecord {
  const s = r.stats;
  return {
    suite: file.suite,
    runId: file.runId,
    implementation: r.implementation,
    device: r.device,
    dtype: r.dtype,
    batch: r.batch,
    requestedBatch: r.requestedBatch ?? r.batch,
    heads: r.heads,
    kvHeads: r.kvHeads,
    headDim: r.headDim,
    seqLen: r.seqLen,
    effectiveSeqLen: r.effectiveSeqLen,
    causal: r.causal,
    status: r.status,
    reason: r.reason ?? '',
    errorCode: r.errorCode ?? '',
    medianMs: s?.medianMs,
    meanMs: s?.meanMs,
    stdMs: s?.stdMs,
    minMs: s?.minMs,
    maxMs: s?.maxMs,
    p10Ms: s?.p10Ms,
    p90Ms: s?.p90Ms,
    q1Ms: s?.q1Ms,
    q3Ms: s?.q3Ms,
    p95Ms: s?.p95Ms,
    p99Ms: s?.p99Ms,
    madMs: s?.madMs,
    iqrMs: s?.iqrMs,
    cv: s?.cv,
    rse: s?.rse,
    outliersMild: s?.outliers ? s.outliers.mildLow + s.outliers.mildHigh : undefined,
    outliersSevere: s?.outliers ? s.outliers.severeLow + s.outliers.severeHigh : undefined,
    medianCi95LowMs: s?.medianCi95Ms?.[0],
    medianCi95HighMs: s?.medianCi95Ms?.[1],
    samples: r.samplesMs.length,
    coldStartMs: r.coldStartMs,
    warmupIterations: r.warmupIterations,
    stopReason: r.stopReason,
    cacheMode: r.cacheMode,
    peakMemoryBytes: r.peakMemoryBytes,
    estimatedMemoryBytes: r.estimatedMemoryBytes,
    estimatedSeconds: r.estimatedSeconds,
    tokensPerSecond: r.tokensPerSecond,
    gflops: r.gflops,
    gbps: r.gbps,
    flopsPerIteration: r.flopsPerIteration,
    bytesPerIteration: r.bytesPerIteration,
    threads: r.threads,
    simdLevel: r.simdLevel,
    memoryPool: r.memoryPool,
    warnings: (r.warnings ?? []).join(' | '),
    samplesMs: r.samplesMs.join(' '),
    patternCache: r.patternCache,
    patternCacheHitRate: r.patternCacheStats?.hitRate,
    validationAgainst: r.validation?.against,
    validationPassed: r.validation?.passed,
    maxAbsError: r.validation?.maxAbsError,
    relL2Error: r.validation?.relL2Error,
    ringSize: typeof r.params?.ringSize === 'number' ? r.params.ringSize : r.telemetry?.ringSize,
    ...projectedColumns(r),
    origin: r.origin,
    function: r.function,
    exactDense: r.exactDense,
    unvalidated: r.unvalidated,
    countsSource: r.countsSource,
  };
}

/** Ring projections (labelled projected in the column names): "link=ms" pairs. */
function projectedColumns(r: ResultRow): {
  projectedMaxStepComputeMs: number | undefined;
  projectedWallMsByLink: string | undefined;
} {
  const p = r.projected as
    | {
        kind?: string;
        maxStepComputeMs?: number;
        links?: { name: string; projectedWallMs?: number }[];
      }
    | undefined;
  if (p?.kind !== 'projected' || !Array.isArray(p.links))
    return { projectedMaxStepComputeMs: undefined, projectedWallMsByLink: undefined };
  return {
    projectedMaxStepComputeMs: p.maxStepComputeMs,
    projectedWallMsByLink: p.links.map((l) => `${l.name}=${l.projectedWallMs}`).join(' '),
  };
}

/**
 * The one CSV writer (csv-writer, RFC 4180 quoting) of every table dilbench writes: a header of
 * `columns`, then one line per row; null/undefined cells are empty, objects are written as JSON.
 */
export function toCsvText(rows: readonly object[], columns: readonly string[]): string {
  const stringifier = createObjectCsvStringifier({
    header: columns.map((id) => ({ id, title: id })),
  });
  const records = rows.map((r) => {
    const out: Record<string, string | number | boolean> = {};
    for (const k of columns) {
      const v = (r as Record<string, unknown>)[k];
      out[k] =
        v === null || v === undefined
          ? ''
          : typeof v === 'object'
            ? JSON.stringify(v)
            : (v as string | number | boolean);
    }
    return out;
  });
  return stringifier.getHeaderString()! + stringifier.stringifyRecords(records);
}

export function toCsv(file: ResultFile): string {
  return toCsvText(
    file.results.map((r) => flattenRow(file, r)),
    CSV_COLUMNS,
  );
}
