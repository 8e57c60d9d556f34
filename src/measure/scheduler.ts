// One sampling scheduler for every suite: cold start kept apart, adaptive warm-up, sampling until
// the relative standard error of the mean reaches its target (or a time / sample cap), batched
// native calls, seeded interleaving of several implementations, cancellation between calls.
import { median as medianOf, summarize, relativeStandardError } from '../stats/summary.js';
import { createRng, shuffled } from '../stats/random.js';
import { nowMs, sleepMs } from './clock.js';
import type { SmClockSummary } from '../results/types.js';
import {
  MeasurementCancelledError,
  type Measurement,
  type SampleClocks,
  type Sampler,
  type SamplingOptions,
  type StopReason,
} from './types.js';

export const DEFAULT_SAMPLING: Required<Omit<SamplingOptions, 'runs'>> = {
  warmup: 'adaptive',
  minWarmup: 3,
  warmupTolerance: 0.03,
  minSamples: 10,
  maxSamples: 1000,
  targetRse: 0.01,
  maxTimeSeconds: 10,
  cold: false,
  seed: 0x5eed,
  batchTargetMs: 25,
  settleMs: 0,
};

/** CV above which a point carries a warning */
export const CV_WARNING = 0.05;
/**
 * A sample whose SM clock reading is below this share of the rated maximum is flagged as
 * throttled. Flagged samples stay in the statistics: a power- or heat-limited clock is how the GPU
 * ran this kernel, dropping them would report a speed it did not sustain (and could leave too few
 * samples); the row carries the count, the clocks and a note so a reader can judge or re-filter.
 */
export const THROTTLE_FRACTION = 0.75;
/** share of the time budget adaptive warm-up may use */
const WARMUP_BUDGET_SHARE = 0.25;
/**
 * --max-time covers the whole point: cold call, warm-up and samples. Past it, sampling stops as
 * soon as this many samples exist (the one exception to the budget: a point with no timed sample
 * has no measurement). A point whose single iteration outlasts the budget therefore costs one cold
 * call and one sample, and its row says so.
 */
export const MIN_SAMPLES_ON_TIME = 1;
const MAX_WARMUP_ITERATIONS = 100_000;

interface Resolved extends Required<Omit<SamplingOptions, 'runs'>> {
  runs: number | undefined;
  maxTimeMs: number;
}

function resolve(options: SamplingOptions): Resolved {
  const o = { ...DEFAULT_SAMPLING, ...stripUndefined(options) } as Resolved;
  const positiveInt = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min)
      throw new RangeError(`sampling option ${name} must be an integer >= ${min}, got ${v}`);
  };
  if (o.warmup !== 'adaptive') positiveInt('warmup', o.warmup, 0);
  positiveInt('minWarmup', o.minWarmup, 0);
  positiveInt('minSamples', o.minSamples, 1);
  positiveInt('maxSamples', o.maxSamples, 1);
  if (options.runs !== undefined) positiveInt('runs', options.runs, 1);
  if (!(o.targetRse > 0))
    throw new RangeError(`sampling option targetRse must be > 0, got ${o.targetRse}`);
  if (!(o.maxTimeSeconds > 0))
    throw new RangeError(`sampling option maxTimeSeconds must be > 0, got ${o.maxTimeSeconds}`);
  if (!(o.batchTargetMs > 0))
    throw new RangeError(`sampling option batchTargetMs must be > 0, got ${o.batchTargetMs}`);
  if (!(o.settleMs >= 0))
    throw new RangeError(`sampling option settleMs must be >= 0, got ${o.settleMs}`);
  o.maxSamples = Math.max(o.maxSamples, o.minSamples);
  o.runs = options.runs;
  o.maxTimeMs = o.maxTimeSeconds * 1000;
  return o;
}

function stripUndefined<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * One reading per iteration (NaN where none was read), or null when the sampler reads no clock.
 * Throws on a malformed answer (wrong count, no positive maximum).
 */
function clockReadings(
  clocks: SampleClocks | null | undefined,
  iterations: number,
): { mhz: number[]; maxMHz: number } | null {
  if (clocks === null || clocks === undefined) return null;
  const n = clocks.smClockMHz?.length;
  if (n !== iterations) {
    throw new Error(`sampler returned ${String(n)} clock readings for ${iterations} iterations`);
  }
  if (!(Number.isFinite(clocks.maxSmClockMHz) && clocks.maxSmClockMHz > 0)) {
    throw new Error(`sampler returned an invalid maximum SM clock (${clocks.maxSmClockMHz} MHz)`);
  }
  const mhz = Array.from(clocks.smClockMHz, (v) => (Number.isFinite(v) && v > 0 ? v : Number.NaN));
  return { mhz, maxMHz: clocks.maxSmClockMHz };
}

/** The SM clock summary of the kept samples (readings NaN where none). */
export function summarizeClocks(readingsMHz: readonly number[], maxMHz: number): SmClockSummary {
  const thresholdMHz = THROTTLE_FRACTION * maxMHz;
  const read = readingsMHz.filter((v) => Number.isFinite(v));
  return {
    samplesMHz: readingsMHz.map((v) => (Number.isFinite(v) ? v : null)),
    maxMHz,
    thresholdMHz,
    throttledSamples: read.filter((v) => v < thresholdMHz).length,
    readSamples: read.length,
    minMHz: read.length ? Math.min(...read) : null,
    medianMHz: read.length ? medianOf(read) : null,
  };
}

/** The row note for throttled samples, or null when none was flagged. */
export function throttleNote(c: SmClockSummary, samples: number): string | null {
  if (c.throttledSamples === 0) return null;
  const mhz = (v: number | null) => (v === null ? '?' : `${Math.round(v)} MHz`);
  return (
    `GPU throttled: SM clock below ${Math.round(THROTTLE_FRACTION * 100)}% of its ${mhz(c.maxMHz)} maximum during ` +
    `${c.throttledSamples} of ${samples} samples (min ${mhz(c.minMHz)}, median ${mhz(c.medianMHz)}); flagged, kept in the statistics`
  );
}

type Phase = 'cold' | 'warmup' | 'sample' | 'done';

/** The state of one sampler through cold start, warm-up and sampling. */
class PointState {
  phase: Phase = 'cold';
  coldStartMs = Number.NaN;
  warmupMs: number[] = [];
  samples: number[] = [];
  /** SM clock after each kept sample (NaN: none read), parallel to samples */
  sampleClocksMHz: number[] = [];
  /** rated maximum SM clock, once the sampler has reported clocks */
  maxClockMHz: number | null = null;
  calls = 0;
  /** sum of every measured iteration (cold, warm-up, samples), ms */
  sampledMs = 0;
  stopReason: StopReason | null = null;
  warmupNote: string | null = null;
  private estimateMs = Number.NaN;
  private warmupLeft = 0;

  constructor(
    readonly o: Resolved,
    private readonly interleaved: boolean,
  ) {}

  /** iterations to ask for in the next call */
  nextBatch(remainingMs: number): number {
    if (this.phase === 'cold') return 1;
    const byTime =
      Number.isFinite(this.estimateMs) && this.estimateMs > 0
        ? Math.max(1, Math.floor(this.o.batchTargetMs / this.estimateMs))
        : 1;
    if (this.phase === 'warmup') {
      if (this.o.warmup !== 'adaptive') return Math.max(1, Math.min(this.warmupLeft, byTime));
      // adaptive: small steps so the stability check stays fine-grained
      return Math.max(1, Math.min(byTime, Math.max(1, this.warmupMs.length)));
    }
    const n = this.samples.length;
    if (this.o.runs !== undefined) {
      const left = this.o.runs - n;
      const cap = this.interleaved ? Math.max(1, Math.ceil(this.o.runs / 10)) : left;
      return Math.max(1, Math.min(left, byTime, cap));
    }
    const geometric = Math.max(this.o.minSamples - n, n, 1);
    const byRemaining =
      Number.isFinite(this.estimateMs) && this.estimateMs > 0
        ? Math.max(1, Math.floor(remainingMs / this.estimateMs))
        : 1;
    return Math.max(1, Math.min(byTime, geometric, byRemaining, this.o.maxSamples - n));
  }

  record(ns: Float64Array, requested: number, clocks: SampleClocks | null = null): void {
    if (ns.length !== requested) {
      throw new Error(`sampler returned ${ns.length} samples for ${requested} iterations`);
    }
    const readings = clockReadings(clocks, requested);
    if (readings) this.maxClockMHz = readings.maxMHz;
    let restClocks = readings ? readings.mhz : new Array<number>(requested).fill(Number.NaN);
    const ms = Array.from(ns, (v) => v / 1e6);
    for (const v of ms) {
      if (!Number.isFinite(v) || v < 0)
        throw new Error(`sampler returned an invalid duration (${v} ms)`);
      this.sampledMs += v;
    }
    this.calls++;
    if (ms.length > 0) this.estimateMs = medianOf(ms.slice(-Math.min(ms.length, 9)));
    let rest = ms;
    if (this.phase === 'cold') {
      this.coldStartMs = rest[0] as number;
      if (this.o.warmup === 0) {
        // no warm-up asked: the cold iteration is also the first sample
        this.phase = 'sample';
      } else {
        rest = rest.slice(1);
        restClocks = restClocks.slice(1);
        const timeBound = this.o.warmup === 'adaptive' || this.o.runs === undefined;
        if (timeBound && this.coldStartMs >= WARMUP_BUDGET_SHARE * this.o.maxTimeMs) {
          // one iteration is already a large share of the budget: it was the warm-up
          this.warmupNote = `warm-up limited to the cold-start iteration (it took ${formatMs(this.coldStartMs)}, over ${Math.round(WARMUP_BUDGET_SHARE * 100)}% of the ${formatMs(this.o.maxTimeMs)} max-time)`;
          this.phase = 'sample';
        } else if (this.o.warmup === 'adaptive') {
          this.phase = 'warmup';
        } else {
          this.warmupLeft = this.o.warmup - 1;
          this.phase = this.warmupLeft > 0 ? 'warmup' : 'sample';
        }
      }
    }
    if (this.phase === 'warmup' && rest.length > 0) {
      this.warmupMs.push(...rest);
      if (this.o.warmup === 'adaptive') {
        if (this.adaptiveWarmupDone()) this.phase = 'sample';
      } else {
        this.warmupLeft -= rest.length;
        const spent = this.coldStartMs + this.warmupMs.reduce((a, v) => a + v, 0);
        if (
          this.warmupLeft > 0 &&
          this.o.runs === undefined &&
          spent >= WARMUP_BUDGET_SHARE * this.o.maxTimeMs
        ) {
          // adaptive sampling: the warm-up asked for shares the --max-time budget
          this.warmupNote = `warm-up cut to ${this.warmupIterations} of ${this.o.warmup} iterations by its share of max-time (${Math.round(WARMUP_BUDGET_SHARE * 100)}% of ${formatMs(this.o.maxTimeMs)})`;
          this.warmupLeft = 0;
        }
        if (this.warmupLeft <= 0) this.phase = 'sample';
      }
      return;
    }
    if (this.phase === 'sample') {
      this.samples.push(...rest);
      this.sampleClocksMHz.push(...restClocks);
      if (this.o.runs !== undefined && this.samples.length >= this.o.runs) {
        this.samples.length = this.o.runs;
        this.sampleClocksMHz.length = this.o.runs;
        this.finish('fixed-runs');
      } else if (this.o.runs === undefined && this.samples.length >= this.o.maxSamples) {
        this.samples.length = this.o.maxSamples;
        this.sampleClocksMHz.length = this.o.maxSamples;
        // converged wins when both hold
        this.finish(this.converged() ? 'converged' : 'max-samples');
      }
    }
  }

  private adaptiveWarmupDone(): boolean {
    const w = this.warmupMs;
    const count = w.length;
    const minCount = Math.max(this.o.minWarmup, 6);
    if (count >= minCount) {
      const win = Math.min(50, Math.max(3, Math.floor(count / 2)));
      const last = medianOf(w.slice(count - win));
      const prev = medianOf(w.slice(count - 2 * win, count - win));
      if (last > 0 && Math.abs(last - prev) / last <= this.o.warmupTolerance) return true;
    }
    const warmupSpent = this.coldStartMs + w.reduce((s, v) => s + v, 0);
    if (warmupSpent >= WARMUP_BUDGET_SHARE * this.o.maxTimeMs || count >= MAX_WARMUP_ITERATIONS) {
      this.warmupNote =
        count >= minCount
          ? `warm-up did not stabilise within its budget (${count} iterations); first samples may still carry warm-up effects`
          : `warm-up cut to ${count} iteration(s) by its time budget (${Math.round(WARMUP_BUDGET_SHARE * 100)}% of max-time)`;
      return true;
    }
    return false;
  }

  converged(): boolean {
    return (
      this.samples.length >= this.o.minSamples &&
      relativeStandardError(this.samples) <= this.o.targetRse
    );
  }

  /** enough samples to stop once the time budget is spent */
  canStopOnTime(): boolean {
    return this.phase === 'sample' && this.samples.length >= MIN_SAMPLES_ON_TIME;
  }

  finish(reason: StopReason): void {
    this.phase = 'done';
    this.stopReason = reason;
  }

  get warmupIterations(): number {
    if (Number.isNaN(this.coldStartMs) || this.o.warmup === 0) return 0;
    return 1 + this.warmupMs.length;
  }

  toMeasurement(elapsedSeconds: number): Measurement {
    const stats = summarize(this.samples, { seed: this.o.seed });
    const reason = this.stopReason ?? 'max-time';
    const warnings: string[] = [];
    if (this.warmupNote) warnings.push(this.warmupNote);
    const cv = stats.cv ?? 0;
    if (cv > CV_WARNING)
      warnings.push(`CV ${(cv * 100).toFixed(1)}% exceeds ${CV_WARNING * 100}%: noisy point`);
    if (reason === 'max-time' || reason === 'max-samples') {
      const rse = stats.rse ?? Number.POSITIVE_INFINITY;
      const n = this.samples.length;
      if (reason === 'max-time' && n < this.o.minSamples) {
        // say what the time went on, and what a full point would need
        const sampleMs = medianOf(this.samples);
        const warmMs = this.warmupMs.reduce((a, v) => a + v, 0);
        const need = (this.coldStartMs + warmMs + this.o.minSamples * sampleMs) / 1000;
        warnings.push(
          `stopped by max-time after ${n} sample${n === 1 ? '' : 's'} (min-samples ${this.o.minSamples}): ` +
            `the ${formatMs(this.o.maxTimeMs)} budget covers the cold call (${formatMs(this.coldStartMs)})` +
            (this.warmupMs.length
              ? `, ${this.warmupMs.length} warm-up iteration${this.warmupMs.length === 1 ? '' : 's'} (${formatMs(warmMs)})`
              : '') +
            ` and samples of ${formatMs(sampleMs)}; the point took ${formatMs(elapsedSeconds * 1000)} in all` +
            (n === 1 ? ', one timed sample always being taken: no interval' : ': a wide interval') +
            `; --max-time ${Math.ceil(need)} would allow ${this.o.minSamples} samples`,
        );
      } else if (n < this.o.minSamples) {
        warnings.push(
          `did not converge: only ${n} samples (min-samples ${this.o.minSamples}) within the ${reason} limit`,
        );
      } else {
        warnings.push(
          `did not converge: RSE ${(rse * 100).toFixed(2)}% above target ${(this.o.targetRse * 100).toFixed(2)}% after ${this.samples.length} samples (stopped by ${reason})`,
        );
      }
    }
    const smClock =
      this.maxClockMHz === null
        ? undefined
        : summarizeClocks(this.sampleClocksMHz, this.maxClockMHz);
    const throttled = smClock ? throttleNote(smClock, this.samples.length) : null;
    if (throttled) warnings.push(throttled);
    return {
      samplesMs: this.samples.slice(),
      coldStartMs: this.coldStartMs,
      warmupIterations: this.warmupIterations,
      stopReason: reason,
      stats,
      warnings,
      cacheMode: this.o.cold ? 'cold' : 'hot',
      calls: this.calls,
      elapsedSeconds,
      ...(smClock ? { smClock } : {}),
    };
  }
}

function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 100_000 ? 0 : 1)} s`;
  return `${ms.toFixed(ms >= 10 ? 0 : 2)} ms`;
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new MeasurementCancelledError('measurement cancelled', { cause: signal.reason });
  }
}

async function step(
  state: PointState,
  sampler: Sampler,
  remainingMs: number,
  signal?: AbortSignal,
): Promise<void> {
  checkAbort(signal);
  const iterations = state.nextBatch(remainingMs);
  const ns = await sampler.sample(iterations, state.o.cold);
  checkAbort(signal);
  const clocks = typeof sampler.lastClocks === 'function' ? sampler.lastClocks() : null;
  state.record(ns, iterations, clocks);
}

/**
 * Measures one point: cold-start iteration, warm-up, then samples until converged (RSE of the
 * mean <= targetRse with >= minSamples), maxSamples, or maxTimeSeconds (warm-up included); or
 * exactly `runs` samples when given. Throws MeasurementCancelledError (code
 * ERR_DILBENCH_CANCELLED) when `signal` aborts; the check runs before and after each call.
 */
export async function measure(
  sampler: Sampler,
  options: SamplingOptions = {},
  signal?: AbortSignal,
): Promise<Measurement> {
  const o = resolve(options);
  const state = new PointState(o, false);
  const start = nowMs();
  const elapsedMs = () => Math.max(nowMs() - start, state.sampledMs);
  while (state.phase !== 'done') {
    await step(state, sampler, o.maxTimeMs - elapsedMs(), signal);
    if (state.phase !== 'sample') continue;
    if (o.runs !== undefined) continue;
    if (state.converged()) state.finish('converged');
    else if (elapsedMs() >= o.maxTimeMs && state.canStopOnTime()) state.finish('max-time');
  }
  return state.toMeasurement(elapsedMs() / 1000);
}

/**
 * Measures several implementations of one point in seeded, randomised round-robin: every round
 * visits each sampler once in a fresh random order, so a drift of machine speed hits all alike.
 * All keep sampling until every one has converged (or its own maxSamples, or the shared budget of
 * maxTimeSeconds x number of samplers runs out). Same seed, same order.
 */
export async function measureInterleaved(
  samplers: ReadonlyMap<string, Sampler>,
  options: SamplingOptions = {},
  signal?: AbortSignal,
  seed = options.seed ?? DEFAULT_SAMPLING.seed,
): Promise<Map<string, Measurement>> {
  const o = resolve(options);
  const names = [...samplers.keys()];
  const states = new Map(names.map((n) => [n, new PointState(o, true)]));
  const rng = createRng(seed);
  const budgetMs = o.maxTimeMs * Math.max(1, names.length);
  const start = nowMs();
  // the settle pauses are not the point's time: they do not eat its budget
  let settledMs = 0;
  const elapsedMs = () => {
    let sampled = 0;
    for (const s of states.values()) sampled += s.sampledMs;
    return Math.max(nowMs() - start - settledMs, sampled);
  };
  const active = () => names.filter((n) => (states.get(n) as PointState).phase !== 'done');

  let previous: string | undefined;
  while (active().length > 0) {
    for (const name of shuffled(active(), rng)) {
      const state = states.get(name) as PointState;
      if (o.settleMs > 0 && previous !== undefined && previous !== name) {
        const t0 = nowMs();
        await sleepMs(o.settleMs);
        settledMs += nowMs() - t0;
      }
      previous = name;
      // share of the remaining budget for this sampler
      const remaining = (budgetMs - elapsedMs()) / Math.max(1, active().length);
      await step(state, samplers.get(name) as Sampler, remaining, signal);
    }
    if (o.runs !== undefined) continue;
    const live = active().map((n) => states.get(n) as PointState);
    if (live.length === 0) break;
    if (live.every((s) => s.phase === 'sample')) {
      const all = names.map((n) => states.get(n) as PointState);
      if (all.every((s) => s.stopReason === 'max-samples' || s.converged())) {
        for (const s of live) s.finish('converged');
      } else if (elapsedMs() >= budgetMs && live.every((s) => s.canStopOnTime())) {
        for (const s of live) s.finish(s.converged() ? 'converged' : 'max-time');
      }
    }
  }
  const elapsed = elapsedMs() / 1000;
  return new Map(names.map((n) => [n, (states.get(n) as PointState).toMeasurement(elapsed)]));
}
