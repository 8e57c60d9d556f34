// benchmark_results/peak.json: the machine peak measured by `dilbench peak`, reused by reports.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeDirectory } from '../results/output-dir.js';
import type { StoredGpuPeak } from '../results/types.js';
export type { StoredGpuPeak };

export const PEAK_FILE = 'peak.json';

export interface StoredPeak {
  fmaGflops: number;
  streamGBps: number;
  threads: number;
  simdLevel: string;
  durationSeconds: number;
  measuredAt: string;
  cpuModel?: string;
  hostname?: string;
  dilbenchVersion?: string;
  /** the GPU peak, when `dilbench peak` ran with a CUDA device */
  gpu?: StoredGpuPeak;
  /** why the GPU peak was not measured (no CUDA build, no device, ...) */
  gpuNotMeasured?: string;
  /** repeats measured (fmaGflops: the best of them; streamGBps: their median) and each one's figures */
  repeats?: number;
  fmaGflopsRuns?: number[];
  streamGBpsRuns?: number[];
  fmaGflopsRange?: [number, number];
  streamGBpsRange?: [number, number];
  /** measured by a suite run that found no peak.json, not by `dilbench peak` */
  measuredBy?: string;
}

/** True for a GPU peak whose figures are all positive numbers. */
export function isGpuPeak(v: unknown): v is StoredGpuPeak {
  if (typeof v !== 'object' || v === null) return false;
  const g = v as Record<string, unknown>;
  const positive = (k: string) => typeof g[k] === 'number' && g[k] > 0 && Number.isFinite(g[k]);
  return (
    typeof g.name === 'string' &&
    g.name.length > 0 &&
    ['fp16TensorTflops', 'bf16TensorTflops', 'fp32FmaTflops', 'copyGBps'].every(positive)
  );
}

export function peakPath(outputDir = 'benchmark_results'): string {
  return path.join(outputDir, PEAK_FILE);
}

export async function savePeak(peak: StoredPeak, outputDir = 'benchmark_results'): Promise<string> {
  makeDirectory(outputDir);
  const file = peakPath(outputDir);
  await writeFile(file, JSON.stringify(peak, null, 2) + '\n');
  return file;
}

/** The stored peak, or null when there is none (or it does not parse as one). */
export async function loadPeak(outputDir = 'benchmark_results'): Promise<StoredPeak | null> {
  let text: string;
  try {
    text = await readFile(peakPath(outputDir), 'utf8');
  } catch {
    return null;
  }
  try {
    const v = JSON.parse(text) as Partial<StoredPeak>;
    if (
      typeof v.fmaGflops === 'number' &&
      v.fmaGflops > 0 &&
      typeof v.streamGBps === 'number' &&
      v.streamGBps > 0
    ) {
      const peak = v as StoredPeak;
      if (peak.gpu !== undefined && !isGpuPeak(peak.gpu)) delete peak.gpu; // keep the CPU figures
      return peak;
    }
  } catch {
    /* fall through */
  }
  return null;
}
