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
  /** `dilbench peak --repeats`: min and max of the repeats (the FMA roof is their best, the stream roof their median) */
  fmaGflopsRange?: [number, number];
  streamGBpsRange?: [number, number];
  repeats?: number;
}

export interface RooflineInput {
  /** floating-point operations per iteration, as the kernel reports them */
  flops: number;
  /** bytes moved per iteration, as the kernel reports them */
  bytes: number;
  /** time per iteration (median), ms */
  timeMs: number;
  /** the median's 95% interval, ms, when known */
  timeCi95Ms?: [number, number];
}

function checkPeak(peak: Peak): void {
  if (!(peak.fmaGflops > 0) || !(peak.streamGBps > 0)) {
    throw new RangeError(
      `roofline needs a positive peak, got ${peak.fmaGflops} GFLOP/s and ${peak.streamGBps} GB/s`,
    );
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

/**
 * Why a figure above 100% of peak is not nonsense, or null. Compute: the FMA peak is the best of
 * its repeats on whatever else the machine did then; a kernel's flops are its definition's count.
 * Bandwidth: the kernel counts the bytes its definition reads and writes, and what caches serve
 * never crosses the memory bus that the stream figure measures.
 */
export function overPeakNote(
  pctCompute: number,
  computeRange: [number, number],
  pctBandwidth: number,
  peak: Peak,
): string | null {
  const notes: string[] = [];
  if (pctCompute > 100) {
    const spread = peak.fmaGflopsRange
      ? `; its ${peak.repeats ?? ''} repeats spread ${peak.fmaGflopsRange[0].toFixed(1)}-${peak.fmaGflopsRange[1].toFixed(1)} GFLOP/s`
      : '';
    notes.push(
      computeRange[0] <= 100
        ? `${pctCompute.toFixed(0)}% of the FMA peak is within the uncertainty of the two (${computeRange[0].toFixed(0)}-${computeRange[1].toFixed(0)}%)`
        : `${pctCompute.toFixed(0)}% of the FMA peak: the peak (${peak.fmaGflops.toFixed(1)} GFLOP/s${spread}) was measured lower than this machine can do (other load, another clock or thread count; rerun \`dilbench peak\` on a quiet machine), or the kernel executes fewer flops than its definition counts`,
    );
  }
  if (pctBandwidth > 100) {
    notes.push(`${pctBandwidth.toFixed(0)}% of the stream bandwidth: ${BANDWIDTH_OVER_PEAK}`);
  }
  return notes.length ? notes.join('; ') : null;
}

/** Why a byte rate can exceed the stream bandwidth. */
export const BANDWIDTH_OVER_PEAK =
  "the bytes counted are every byte the definition reads and writes, and those served from caches never cross the memory bus the stream figure measures; a mostly-read stream also runs faster than the triad's read + write mix";

/**
 * A rate as a share of the stream bandwidth, with the spread of the peak's repeats where known;
 * above 100% with why (the bytes counted include what caches serve).
 */
export function streamShareText(
  gbps: number,
  peak: { streamGBps: number; streamGBpsRange?: [number, number]; repeats?: number },
): string {
  const pct = (100 * gbps) / peak.streamGBps;
  const range = peak.streamGBpsRange
    ? ` (${((100 * gbps) / peak.streamGBpsRange[1]).toFixed(0)}-${((100 * gbps) / peak.streamGBpsRange[0]).toFixed(0)}% over the peak's ${peak.repeats ?? ''} repeats)`
    : '';
  const over = pct > 100 ? `; over 100%: ${BANDWIDTH_OVER_PEAK}` : '';
  return `${pct.toFixed(0)}%${range} of the ${peak.streamGBps.toFixed(1)} GB/s stream bandwidth (dilbench peak)${over}`;
}

/** "% of peak" for tables: the figure, its interval when known, and a pointer to the note above 100%. */
export function pctOfPeakText(r: RooflinePoint): string {
  const range = r.pctOfPeakComputeRange
    ? ` (${r.pctOfPeakComputeRange[0].toFixed(0)}-${r.pctOfPeakComputeRange[1].toFixed(0)})`
    : '';
  return `${r.pctOfPeakCompute.toFixed(1)}%${range}${r.overPeakNote && r.pctOfPeakCompute > 100 ? ' over peak, see note' : ''}`;
}

/** Places one measurement on the roofline. Percentages are 0..100 (may exceed 100 if the peak is low: see overPeakNote). */
export function rooflinePoint(input: RooflineInput, peak: Peak): RooflinePoint {
  checkPeak(peak);
  const { flops, bytes, timeMs } = input;
  if (!(flops >= 0) || !(bytes > 0) || !(timeMs > 0)) {
    throw new RangeError(
      `roofline needs flops >= 0, bytes > 0 and time > 0, got ${flops}, ${bytes}, ${timeMs}`,
    );
  }
  const seconds = timeMs / 1000;
  const achievedGflops = flops / seconds / 1e9;
  const achievedGBps = bytes / seconds / 1e9;
  const arithmeticIntensity = flops / bytes;
  const ridge = peak.fmaGflops / peak.streamGBps;
  const attainableGflops = Math.min(peak.fmaGflops, arithmeticIntensity * peak.streamGBps);
  // uncertainty: the median's interval against the spread of the peak's repeats
  const [tLo, tHi] =
    input.timeCi95Ms && input.timeCi95Ms[0] > 0 ? input.timeCi95Ms : [timeMs, timeMs];
  const [fLo, fHi] = peak.fmaGflopsRange ?? [peak.fmaGflops, peak.fmaGflops];
  const [sLo, sHi] = peak.streamGBpsRange ?? [peak.streamGBps, peak.streamGBps];
  const pctRange = (work: number, roofLo: number, roofHi: number): [number, number] => [
    (100 * work) / (tHi / 1000) / 1e9 / roofHi,
    (100 * work) / (tLo / 1000) / 1e9 / roofLo,
  ];
  const pctOfPeakCompute = (100 * achievedGflops) / peak.fmaGflops;
  const pctOfPeakBandwidth = (100 * achievedGBps) / peak.streamGBps;
  const computeRange = pctRange(flops, fLo, fHi);
  const bandwidthRange = pctRange(bytes, sLo, sHi);
  const over = overPeakNote(pctOfPeakCompute, computeRange, pctOfPeakBandwidth, peak);
  return {
    arithmeticIntensity,
    ridgePoint: ridge,
    bound: arithmeticIntensity >= ridge ? 'compute' : 'memory',
    achievedGflops,
    achievedGBps,
    pctOfPeakCompute,
    pctOfPeakBandwidth,
    ...(input.timeCi95Ms || peak.fmaGflopsRange
      ? { pctOfPeakComputeRange: computeRange, pctOfPeakBandwidthRange: bandwidthRange }
      : {}),
    ...(over ? { overPeakNote: over } : {}),
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
  if (row.status !== 'ok' || median === undefined || !(median > 0) || !(row.bytesPerIteration > 0))
    return row;
  const ci = row.stats?.medianCi95Ms;
  return {
    ...row,
    roofline: rooflinePoint(
      {
        flops: row.flopsPerIteration,
        bytes: row.bytesPerIteration,
        timeMs: median,
        ...(ci ? { timeCi95Ms: ci } : {}),
      },
      peak,
    ),
  };
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
export function matchingGpuPeak(
  gpu: StoredGpuPeak | undefined,
  gpuName: string | undefined,
): StoredGpuPeak | undefined {
  return gpu && gpuName && gpu.name === gpuName ? gpu : undefined;
}

/**
 * Places every row on its device's roofline: CPU rows on `cpu` (the caller checks it was measured
 * on the same threads and SIMD level), CUDA rows on `gpu` at their dtype. Rows without a
 * matching peak come back unchanged.
 */
export function attachRooflines(
  rows: ResultRow[],
  peaks: { cpu?: Peak; gpu?: StoredGpuPeak },
): ResultRow[] {
  return rows.map((r) => {
    const peak =
      r.device === 'cuda'
        ? peaks.gpu
          ? gpuRooflinePeak(peaks.gpu, r.dtype)
          : undefined
        : peaks.cpu;
    return peak ? attachRoofline(r, peak) : r;
  });
}

export * from './peak-store.js';
