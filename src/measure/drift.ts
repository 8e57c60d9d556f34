// The drift sentinel: a fixed few-millisecond FMA workload (the peak measurement's loop) run at
// the start of a run, between its points and at the end. If the machine's speed moves (clock,
// thermal limits, a neighbour VM) the sentinel moves with it; points measured while it stood
// beyond its own start-up noise are flagged, with by how much.
import { median } from '../stats/summary.js';
import type { SentinelReading, DriftSentinel, PointDrift } from '../results/types.js';
export type { SentinelReading, DriftSentinel, PointDrift };
import { nowMs } from './clock.js';

/** FMA-loop iterations per thread per reading: a few ms of AVX2 work (6 ms per reading measured on the loaded 2-core EPYC) */
export const SENTINEL_ITERATIONS = 500_000;
/** readings at the start: their spread is the sentinel's own noise */
export const SENTINEL_START_READINGS = 7;
/** readings per checkpoint between points (their median is the checkpoint) */
export const SENTINEL_CHECKPOINT_READINGS = 3;
/**
 * A checkpoint is "moved" when it differs from the start median by more than this many robust
 * standard deviations of the start readings (1.4826 x MAD / median): beyond its own noise with
 * about 99.7% confidence for normal noise.
 */
export const SENTINEL_NOISE_MULTIPLE = 3;
/** ... and by at least this much, so a sentinel that happened to read very steadily at start does not flag 0.1% moves */
export const SENTINEL_MIN_MOVE_PCT = 2;

/** The one native call the sentinel needs (NativeBinding.fmaSentinel). */
export type SentinelRunner = (threads: number, iterationsPerThread: number) => number;

const round2 = (x: number) => Math.round(x * 100) / 100;

/** Records the series while a run goes; `flag` turns it into per-group verdicts at the end. */
export class DriftRecorder {
  private readonly t0 = nowMs();
  readonly readings: SentinelReading[] = [];
  private reference = Number.NaN;
  private noise = Number.NaN;

  constructor(
    private readonly run: SentinelRunner,
    readonly threads: number,
    readonly iterations = SENTINEL_ITERATIONS,
  ) {}

  private read(n: number): number[] {
    const out: number[] = [];
    for (let k = 0; k < n; k++) out.push(this.run(this.threads, this.iterations));
    return out;
  }

  start(): void {
    const xs = this.read(SENTINEL_START_READINGS);
    this.reference = median(xs);
    const mad = median(xs.map((x) => Math.abs(x - this.reference)));
    this.noise = this.reference > 0 ? (100 * 1.4826 * mad) / this.reference : 0;
    for (const g of xs)
      this.readings.push({ at: 'start', seconds: (nowMs() - this.t0) / 1000, gflops: g });
  }

  checkpoint(at: number | 'end'): number {
    const g = median(this.read(SENTINEL_CHECKPOINT_READINGS));
    this.readings.push({ at, seconds: (nowMs() - this.t0) / 1000, gflops: g });
    return g;
  }

  referenceGflops(): number {
    return this.reference;
  }

  get thresholdPct(): number {
    return Math.max(SENTINEL_MIN_MOVE_PCT, SENTINEL_NOISE_MULTIPLE * this.noise);
  }

  movePct(g: number): number {
    return (100 * (g - this.reference)) / this.reference;
  }

  /** The drift of a group measured between two checkpoints (GFLOP/s). */
  pointDrift(before: number, after: number): PointDrift {
    const mb = this.movePct(before);
    const ma = this.movePct(after);
    const move = Math.abs(mb) >= Math.abs(ma) ? mb : ma;
    return {
      beforeGflops: round2(before),
      afterGflops: round2(after),
      movePct: round2(move),
      flagged: Math.abs(move) > this.thresholdPct,
    };
  }

  finish(flaggedPoints: number, measuredPoints: number): DriftSentinel {
    const moves = this.readings.filter((r) => r.at !== 'start').map((r) => this.movePct(r.gflops));
    const maxMovePct = moves.length
      ? moves.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a), 0)
      : 0;
    const t = this.thresholdPct;
    const sign = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;
    const summary = flaggedPoints
      ? `the drift sentinel (FMA loop, ${this.reference.toFixed(1)} GFLOP/s at start, noise ${this.noise.toFixed(1)}%) moved by up to ${sign(maxMovePct)}, beyond its ${t.toFixed(1)}% band: ${flaggedPoints} of ${measuredPoints} points flagged`
      : `the drift sentinel (FMA loop, ${this.reference.toFixed(1)} GFLOP/s at start, noise ${this.noise.toFixed(1)}%) stayed within its ${t.toFixed(1)}% band (largest move ${sign(maxMovePct)})`;
    return {
      iterationsPerThread: this.iterations,
      threads: this.threads,
      readings: this.readings.map((r) => ({
        ...r,
        seconds: round2(r.seconds),
        gflops: round2(r.gflops),
      })),
      referenceGflops: round2(this.reference),
      noisePct: round2(this.noise),
      thresholdPct: round2(t),
      maxMovePct: round2(maxMovePct),
      flaggedPoints,
      summary,
    };
  }
}
