// A result row for a point that produced no samples (skipped, failed, or a placeholder the caller
// fills in): its shape and why, every measured field empty. Described once for the suites, the
// ring projection and the distributed ring.
import type { ResultRow } from './types.js';

export type RowShape = Pick<
  ResultRow,
  | 'implementation'
  | 'device'
  | 'dtype'
  | 'batch'
  | 'heads'
  | 'kvHeads'
  | 'headDim'
  | 'seqLen'
  | 'causal'
  | 'threads'
>;

export function unmeasuredRow(
  shape: RowShape,
  status: ResultRow['status'],
  reason: string | null,
  extra: Partial<ResultRow> = {},
): ResultRow {
  return {
    ...shape,
    effectiveSeqLen: shape.seqLen,
    status,
    reason,
    samplesMs: [],
    stats: null,
    peakMemoryBytes: null,
    estimatedMemoryBytes: 0,
    tokensPerSecond: null,
    gflops: null,
    flopsPerIteration: 0,
    bytesPerIteration: 0,
    simdLevel: null,
    ...extra,
  };
}

/**
 * Tokens one iteration of a row processes, for its tokens/s: the whole sequence of every batch
 * row, except a kv-cache run whose prefill is skipped, which attends only its decoded tokens (the
 * prompt merely fills the cache; 32K cached tokens decoded 4 at a time are not 32K tokens/s).
 */
export function tokensPerIteration(
  row: Pick<ResultRow, 'batch' | 'effectiveSeqLen' | 'params'>,
): number {
  const p = row.params;
  if (p?.prefill === 'skip' && typeof p.newTokens === 'number') return row.batch * p.newTokens;
  return row.batch * row.effectiveSeqLen;
}
