// Roofline placement of a measured point against the machine's measured peak (`dilbench peak`):
// CPU rows against the FP32 FMA GFLOP/s and stream GB/s; CUDA rows against the GPU's compute rate
// for their dtype (tensor cores for fp16/bf16, FMA for fp32) and its copy bandwidth.
import type { DTypeName } from '../native/binding.js';
import type { ResultRow, RooflinePoint } from '../results/types.js';
import type { StoredGpuPeak } from './peak-store.js';

export interface Peak {
  /** the compute roof, GFLOP/s (the name stays from the CPU's FMA peak) */
  fmaGflops: number;
  streamGBps: number;
  threads?: number;
  simdLevel?: string;
  /** GPU peaks: the GPU's name */
  device?: string;
  /** GPU peaks: which rate the compute roof is */
  compute?: string;
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
      ...(peak.device !== undefined ? { device: peak.device } : {}),
      ...(peak.compute !== undefined ? { compute: peak.compute } : {}),
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

/** The roofline of a CUDA row of `dtype` on the GPU of `gpu`. */
export function gpuRooflinePeak(gpu: StoredGpuPeak, dtype: DTypeName): Peak {
  const [tflops, compute] =
    dtype === 'fp16'
      ? [gpu.fp16TensorTflops, 'fp16 tensor cores (mma.sync)']
      : dtype === 'bf16'
        ? [gpu.bf16TensorTflops, 'bf16 tensor cores (mma.sync)']
        : [gpu.fp32FmaTflops, 'fp32 FMA'];
  return { fmaGflops: tflops * 1000, streamGBps: gpu.copyGBps, device: gpu.name, compute };
}

/** One line for reports: the GPU peak's figures. */
export function describeGpuPeak(g: StoredGpuPeak): string {
  return (
    `${g.name}: ${g.fp16TensorTflops.toFixed(1)} / ${g.bf16TensorTflops.toFixed(1)} TFLOP/s fp16 / bf16 tensor cores (mma.sync), ` +
    `${g.fp32FmaTflops.toFixed(1)} TFLOP/s fp32 FMA, ${g.copyGBps.toFixed(1)} GB/s device memory (copy)`
  );
}

/** The stored GPU peak when it was measured on a GPU named `gpuName` (the one the rows ran on). */
export function matchingGpuPeak(gpu: StoredGpuPeak | undefined, gpuName: string | undefined): StoredGpuPeak | undefined {
  return gpu && gpuName && gpu.name === gpuName ? gpu : undefined;
}

/**
 * Places every row on its device's roofline: CPU rows on `cpu` (the caller checks it was measured
 * on the same threads and SIMD level), CUDA rows on `gpu` at their dtype. Rows without a
 * matching peak come back unchanged.
 */
export function attachRooflines(rows: ResultRow[], peaks: { cpu?: Peak; gpu?: StoredGpuPeak }): ResultRow[] {
  return rows.map((r) => {
    const peak = r.device === 'cuda' ? (peaks.gpu ? gpuRooflinePeak(peaks.gpu, r.dtype) : undefined) : peaks.cpu;
    return peak ? attachRoofline(r, peak) : r;
  });
}

export * from './peak-store.js';
