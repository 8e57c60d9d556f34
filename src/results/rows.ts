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
