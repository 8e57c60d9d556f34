// Roofline placement of a measured point against the machine's measured peak
// (FP32 FMA GFLOP/s and stream GB/s from `dilbench peak`).
import type { ResultRow, RooflinePoint } from '../results/types.js';

export interface Peak {
  fmaGflops: number;
  streamGBps: number;
  threads?: number;
  simdLevel?: string;
}

export interface RooflineInput {
  /** floating-point operations per iteration, as the kernel reports them */
  flops: number;
  /** bytes moved per iteration, as the kernel reports them */
  bytes: number;
  /** time per iteration (median), ms */
  timeMs: number;
}

function checkPeak(peak: Peak): void {
  if (!(peak.fmaGflops > 0) || !(peak.streamGBps > 0)) {
    throw new RangeError(`roofline needs a positive peak, got ${peak.fmaGflops} GFLOP/s and ${peak.streamGBps} GB/s`);
  }
}

/** Intensity (FLOP/byte) where the memory roof meets the compute roof. */
export function ridgePoint(peak: Peak): number {
  checkPeak(peak);
  return peak.fmaGflops / peak.streamGBps;
}

/** Compute-bound when the arithmetic intensity is at or beyond the ridge point. */
export function classify(arithmeticIntensity: number, peak: Peak): 'compute' | 'memory' {
  return arithmeticIntensity >= ridgePoint(peak) ? 'compute' : 'memory';
}

/** Places one measurement on the roofline. Percentages are 0..100 (may exceed 100 if the peak is low). */
export function rooflinePoint(input: RooflineInput, peak: Peak): RooflinePoint {
  checkPeak(peak);
  const { flops, bytes, timeMs } = input;
  if (!(flops >= 0) || !(bytes > 0) || !(timeMs > 0)) {
    throw new RangeError(`roofline needs flops >= 0, bytes > 0 and time > 0, got ${flops}, ${bytes}, ${timeMs}`);
  }
  const seconds = timeMs / 1000;
  const achievedGflops = flops / seconds / 1e9;
  const achievedGBps = bytes / seconds / 1e9;
  const arithmeticIntensity = flops / bytes;
  const ridge = peak.fmaGflops / peak.streamGBps;
  const attainableGflops = Math.min(peak.fmaGflops, arithmeticIntensity * peak.streamGBps);
  return {
    arithmeticIntensity,
    ridgePoint: ridge,
    bound: arithmeticIntensity >= ridge ? 'compute' : 'memory',
    achievedGflops,
    achievedGBps,
    pctOfPeakCompute: (100 * achievedGflops) / peak.fmaGflops,
    pctOfPeakBandwidth: (100 * achievedGBps) / peak.streamGBps,
    attainableGflops,
    pctOfRoofline: attainableGflops > 0 ? (100 * achievedGflops) / attainableGflops : 0,
    peak: {
      fmaGflops: peak.fmaGflops,
      streamGBps: peak.streamGBps,
      ...(peak.threads !== undefined ? { threads: peak.threads } : {}),
      ...(peak.simdLevel !== undefined ? { simdLevel: peak.simdLevel } : {}),
    },
  };
}

/**
 * Returns a copy of `row` with `roofline` set from its median time and the kernel's own operation
 * and byte counts; rows that are not ok, lack a median, or report no bytes come back unchanged.
 */
export function attachRoofline(row: ResultRow, peak: Peak): ResultRow {
  const median = row.stats?.medianMs;
  if (row.status !== 'ok' || median === undefined || !(median > 0) || !(row.bytesPerIteration > 0)) return row;
  return { ...row, roofline: rooflinePoint({ flops: row.flopsPerIteration, bytes: row.bytesPerIteration, timeMs: median }, peak) };
}

export * from './peak-store.js';
