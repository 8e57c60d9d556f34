// An asynchronous call as the scheduler's Sampler: each iteration is one call, timed by what the
// call reports (a model's native prefill and step timings) or, where it reports nothing, by the
// engine's clock around it (ONNX Runtime, an encoder forward). Every call's result is kept so the
// caller can read what the timed iterations produced (tokens, memory).
import { nowMs } from './clock.js';
import { measure } from './scheduler.js';
import { MeasurementCancelledError, type Measurement, type Sampler } from './types.js';

export interface CallSampler<R> extends Sampler {
  /** the result of every call so far, warm-up included, in order */
  readonly results: R[];
  /** the results of the timed samples of `m` (the last m.samplesMs.length calls) */
  timedResults(m: Pick<Measurement, 'samplesMs'>): R[];
}

/**
 * `durationNs`: the call's own duration reading; absent: the wall time around the call.
 * `after`: run after each call outside the timed region (releasing an output, a memory reading).
 * `keepResults` false: results stay empty (large outputs nobody reads).
 */
export function callSampler<R>(
  call: () => Promise<R>,
  opts: { durationNs?: (r: R) => number; after?: (r: R) => void; keepResults?: boolean } = {},
): CallSampler<R> {
  const results: R[] = [];
  return {
    results,
    async sample(iterations: number): Promise<Float64Array> {
      const out = new Float64Array(iterations);
      for (let i = 0; i < iterations; i++) {
        const t0 = nowMs();
        const r = await call();
        const wallMs = nowMs() - t0;
        out[i] = opts.durationNs ? opts.durationNs(r) : wallMs * 1e6;
        if (opts.keepResults !== false) results.push(r);
        opts.after?.(r);
      }
      return out;
    },
    timedResults: (m) => (m.samplesMs.length ? results.slice(-m.samplesMs.length) : []),
  };
}

/**
 * Sampling options for a fixed count of whole calls: `warmup` discarded calls (the first of them
 * reported as the cold start), then exactly `runs` timed ones, one call per sampler call so that a
 * cancellation stops after the current call.
 */
export function fixedCallSampling(
  warmup: number,
  runs: number,
): { warmup: number; runs: number; batchTargetMs: number } {
  return { warmup, runs, batchTargetMs: Number.MIN_VALUE };
}

/** The duration of one model generation as the native core timed it: prefill plus every decode step, ns. */
export function generationNs(r: { prefillNs: number; stepNs: ArrayLike<number> }): number {
  let ns = r.prefillNs;
  for (let i = 0; i < r.stepNs.length; i++) ns += r.stepNs[i]!;
  return ns;
}

/**
 * The engine's fixed-count sampling of whole calls (see fixedCallSampling): the measurement and
 * the results of the timed calls, or null when `signal` stopped it (a call that ends after the
 * signal is discarded, as every engine measurement's).
 */
export async function measureCalls<R>(
  call: () => Promise<R>,
  o: {
    warmup: number;
    runs: number;
    durationNs?: (r: R) => number;
    keepResults?: boolean;
    signal?: AbortSignal;
  },
): Promise<{ measurement: Measurement; results: R[]; all: R[] } | null> {
  const sampler = callSampler(call, { durationNs: o.durationNs, keepResults: o.keepResults });
  try {
    const measurement = await measure(sampler, fixedCallSampling(o.warmup, o.runs), o.signal);
    return { measurement, results: sampler.timedResults(measurement), all: sampler.results };
  } catch (e) {
    if (e instanceof MeasurementCancelledError) return null;
    throw e;
  }
}
