// The measurement engine's contracts: one scheduler for every suite.
import type { SampleStats, SmClockSummary } from '../results/types.js';

/** SM clock readings of the iterations of one sample() call (GPU backends). */
export interface SampleClocks {
  /** one reading per iteration, MHz, taken right after its timed region; <= 0 or NaN: none read */
  smClockMHz: ArrayLike<number>;
  /** the device's rated maximum SM clock, MHz (> 0) */
  maxSmClockMHz: number;
}

/**
 * Anything that can run `iterations` timed iterations and report each one's duration in
 * nanoseconds (a native session, a fake in tests). `cold`: evict the last-level cache before each
 * iteration.
 */
export interface Sampler {
  sample(iterations: number, cold: boolean): Promise<Float64Array>;
  /**
   * The clocks of the iterations the last sample() returned; absent or null where the backend
   * reads none (the CPU). Called once after each sample() call.
   */
  lastClocks?(): SampleClocks | null;
}

export type StopReason = 'converged' | 'max-time' | 'max-samples' | 'fixed-runs';
export type CacheMode = 'hot' | 'cold';

export interface SamplingOptions {
  /**
   * 'adaptive' (default): at least `minWarmup` iterations, then until the medians of the last two
   * windows of warm-up samples agree within `warmupTolerance`. A number: exactly that many
   * discarded iterations. Either way the first (cold-start) iteration is discarded and reported
   * separately as `coldStartMs`; it counts as one of the warm-up iterations.
   */
  warmup?: 'adaptive' | number;
  /** minimum warm-up iterations in adaptive mode (default 3) */
  minWarmup?: number;
  /** relative agreement of consecutive warm-up window medians (default 0.03) */
  warmupTolerance?: number;
  /** at least this many samples before convergence may stop sampling (default 10) */
  minSamples?: number;
  /** hard cap on samples (default 1000) */
  maxSamples?: number;
  /** stop when the relative standard error of the mean is at or below this (default 0.01) */
  targetRse?: number;
  /** time budget per point in seconds, warm-up included (default 10) */
  maxTimeSeconds?: number;
  /** evict the last-level cache before each iteration (default false: hot) */
  cold?: boolean;
  /** fixed count: exactly `runs` samples after the warm-up; stop reason 'fixed-runs' */
  runs?: number;
  /** seed of the bootstrap interval (and of the interleaving order) (default 0x5eed) */
  seed?: number;
  /** target wall time of one native call in ms, used to batch short iterations (default 25) */
  batchTargetMs?: number;
  /**
   * Interleaved sampling only: idle milliseconds before a sampler takes its turn after another
   * one (default 0). Thread pools keep spinning after their call returns (onnxruntime-node about
   * 27 ms of CPU per call, PyTorch's OpenMP 5-9 ms, measured here), which the next side would
   * otherwise pay for; the pause lets them settle.
   */
  settleMs?: number;
}

export interface Measurement {
  /** every kept sample, in order, in milliseconds */
  samplesMs: number[];
  /** the first iteration of the point (cold start: allocation, first touch), in ms */
  coldStartMs: number;
  /** iterations discarded before sampling, cold-start iteration included */
  warmupIterations: number;
  stopReason: StopReason;
  stats: SampleStats;
  /** CV above 5%, not converged, warm-up not stabilised, fewer samples than asked */
  warnings: string[];
  cacheMode: CacheMode;
  /** number of calls into the sampler (batches), for overhead accounting */
  calls: number;
  /** wall time of the whole measurement (warm-up included), seconds */
  elapsedSeconds: number;
  /** the SM clock of every kept sample and the throttled count; only when the sampler reads clocks */
  smClock?: SmClockSummary;
}

/** Error thrown when the AbortSignal fires: code ERR_DILBENCH_CANCELLED, name AbortError. */
export class MeasurementCancelledError extends Error {
  readonly code = 'ERR_DILBENCH_CANCELLED';
  constructor(message = 'measurement cancelled', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}
