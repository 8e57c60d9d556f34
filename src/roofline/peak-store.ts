// benchmark_results/peak.json: the machine peak measured by `dilbench peak`, reused by reports.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

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
}

export function peakPath(outputDir = 'benchmark_results'): string {
  return path.join(outputDir, PEAK_FILE);
}

export async function savePeak(peak: StoredPeak, outputDir = 'benchmark_results'): Promise<string> {
  await mkdir(outputDir, { recursive: true });
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
    if (typeof v.fmaGflops === 'number' && v.fmaGflops > 0 && typeof v.streamGBps === 'number' && v.streamGBps > 0) {
      return v as StoredPeak;
    }
  } catch {
    /* fall through */
  }
  return null;
}
