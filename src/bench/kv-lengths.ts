// Which kv-cache lengths the bench decodes beyond the CPU caches, and whether a cache fits the
// last-level cache the machine lists: shared by the kv-cache and dtypes sections.
import type { NativeBinding } from '../native/binding.js';
import type { DtypeBenchResult, DtypeBenchRow } from '../results/types.js';

export type KvShape = Pick<DtypeBenchResult['kv'], 'kvHeads' | 'headDim'>;

/** Bytes of a cache's K and V (batch 1) in a storage dtype of `elementBytes` bytes. */
export function kvCacheBytes(cacheLen: number, shape: KvShape, elementBytes: number): number {
  return 2 * shape.kvHeads * cacheLen * shape.headDim * elementBytes;
}

/**
 * The kv-cache lengths a section decodes by default: `first` and the smallest
 * `first` x 2^k whose fp32 K+V exceeds twice `llcBytes`, so that the half-precision cache
 * (half the bytes) does not fit either and both stream from memory; capped at `maxCache`. Only
 * `first` when the LLC is unknown.
 */
export function kvCacheLengths(
  llcBytes: number | null,
  shape: KvShape,
  first: number,
  maxCache: number,
): number[] {
  if (llcBytes === null || !(llcBytes > 0)) return [first];
  let len = first;
  while (kvCacheBytes(len, shape, 4) <= 2 * llcBytes && len < maxCache) len *= 2;
  len = Math.min(len, maxCache);
  return len > first ? [first, len] : [first];
}

/** Whether `bytes` of cache fit the LLC the machine lists (null: unknown). */
export function cacheVsLlc(bytes: number, llcBytes: number | null): DtypeBenchRow['cacheVsLlc'] {
  if (llcBytes === null || !(llcBytes > 0)) return null;
  return bytes <= llcBytes ? 'within-llc' : 'exceeds-llc';
}

/** The share of the free memory a long cache's sessions may take before the bench skips it. */
export const FREE_MEMORY_SHARE = 0.5;

/** Why sessions needing `needBytes` are skipped with `freeBytes` free, or null when they fit. */
export function memoryShortfall(needBytes: number, freeBytes: number): string | null {
  if (needBytes <= FREE_MEMORY_SHARE * freeBytes) return null;
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  return `need ${gib(needBytes)}, more than ${FREE_MEMORY_SHARE * 100}% of the ${gib(freeBytes)} free`;
}

/** Seconds of binding.measurePeak read right before and right after each decode point. */
export const STREAM_BRACKET_SECONDS = 0.4;

/**
 * `run`, with the stream bandwidth read (binding.measurePeak on `threads`) right before and right
 * after it: a decode's "% of stream" against the bandwidth of that minute, not of the run's start
 * (a shared machine's stream moved 16-25 GB/s within minutes here). `streamGBps` is the mean of
 * the two readings.
 */
export async function withStreamBracket<T>(
  binding: Pick<NativeBinding, 'measurePeak'>,
  threads: number,
  run: () => Promise<T>,
): Promise<{ result: T; streamGBps: number; streamRange: [number, number] }> {
  const read = async () => (await binding.measurePeak(threads, STREAM_BRACKET_SECONDS)).streamGBps;
  const before = await read();
  const result = await run();
  const after = await read();
  return {
    result,
    streamGBps: (before + after) / 2,
    streamRange: [Math.min(before, after), Math.max(before, after)],
  };
}
