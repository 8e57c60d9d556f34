// Measuring the CPU peak several times and keeping the spread (`dilbench peak`, and suites that
// find no peak.json): the FMA peak is the best of the repeats (the hardware's ceiling; a lower
// repeat lost time to something else), the stream bandwidth the median (one lucky repeat can read
// partly from cache or catch a quiet memory bus; the median is what a kernel can count on).
import type { NativeBinding } from '../native/binding.js';
import { median } from '../stats/summary.js';

export interface RepeatedPeak {
  fmaGflops: number;
  streamGBps: number;
  threads: number;
  simdLevel: string;
  repeats: number;
  fmaGflopsRuns: number[];
  streamGBpsRuns: number[];
  /** min and max over the repeats */
  fmaGflopsRange: [number, number];
  streamGBpsRange: [number, number];
}

export async function measureRepeatedPeak(
  binding: NativeBinding,
  threads: number,
  secondsEach: number,
  repeats: number,
): Promise<RepeatedPeak> {
  const fma: number[] = [];
  const stream: number[] = [];
  let simdLevel = '';
  for (let k = 0; k < repeats; k++) {
    const p = await binding.measurePeak(threads, secondsEach);
    if (!(p.fmaGflops > 0) || !(p.streamGBps > 0)) {
      throw new Error(
        `peak measurement returned implausible numbers: ${p.fmaGflops} GFLOP/s, ${p.streamGBps} GB/s`,
      );
    }
    fma.push(p.fmaGflops);
    stream.push(p.streamGBps);
    simdLevel = p.simdLevel;
  }
  return {
    fmaGflops: Math.max(...fma),
    streamGBps: median(stream),
    threads,
    simdLevel,
    repeats,
    fmaGflopsRuns: fma,
    streamGBpsRuns: stream,
    fmaGflopsRange: [Math.min(...fma), Math.max(...fma)],
    streamGBpsRange: [Math.min(...stream), Math.max(...stream)],
  };
}
