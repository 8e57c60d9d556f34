// The engine's sampling of whole calls (inference generations, scaling requests, ONNX Runtime
// runs): how many calls a fixed warm-up and run count make, which results are the timed ones,
// whose duration is used, and where a cancellation stops.
import { describe, expect, it } from 'vitest';
import {
  callSampler,
  fixedCallSampling,
  generationNs,
  measureCalls,
} from '../../src/measure/call-sampler.js';
import { timeCall } from '../../src/measure/clock.js';
import { measure } from '../../src/measure/scheduler.js';
import { MeasurementCancelledError } from '../../src/measure/types.js';

/** A call that reports its own duration: call i takes (i + 1) ms. */
function countingCall() {
  let i = 0;
  return () => Promise.resolve({ index: i, ns: ++i * 1e6 });
}

describe('callSampler with fixedCallSampling', () => {
  it.each([
    [0, 3],
    [1, 3],
    [4, 2],
  ])(
    'warm-up %i, runs %i: warm-up + runs calls, the last runs timed by their own readings',
    async (warmup, runs) => {
      const sampler = callSampler(countingCall(), { durationNs: (r) => r.ns });
      const m = await measure(sampler, fixedCallSampling(warmup, runs));
      expect(sampler.results).toHaveLength(warmup + runs);
      expect(m.stopReason).toBe('fixed-runs');
      const timed = sampler.timedResults(m);
      expect(timed.map((r) => r.index)).toEqual(Array.from({ length: runs }, (_, k) => warmup + k));
      expect(m.samplesMs).toEqual(timed.map((r) => r.ns / 1e6));
      expect(m.stats.medianMs).toBeCloseTo(warmup + (runs + 1) / 2, 10);
      // one call per sampler call, so a cancellation waits for one call only
      expect(m.calls).toBe(warmup + runs);
    },
  );

  it('without a reading, the engine clock times the call; after() runs and keepResults false keeps none', async () => {
    const seen: number[] = [];
    const sampler = callSampler(() => new Promise<number>((r) => setTimeout(() => r(7), 5)), {
      keepResults: false,
      after: (v) => seen.push(v),
    });
    const m = await measure(sampler, fixedCallSampling(1, 2));
    expect(seen).toEqual([7, 7, 7]);
    expect(sampler.results).toEqual([]);
    expect(sampler.timedResults(m)).toEqual([]);
    for (const ms of m.samplesMs) expect(ms).toBeGreaterThanOrEqual(4);
  });

  it('a signal stops after the current call with MeasurementCancelledError', async () => {
    const controller = new AbortController();
    let calls = 0;
    const sampler = callSampler(
      async () => {
        if (++calls === 3) controller.abort();
        return calls;
      },
      { durationNs: () => 1e6 },
    );
    await expect(
      measure(sampler, fixedCallSampling(1, 10), controller.signal),
    ).rejects.toBeInstanceOf(MeasurementCancelledError);
    expect(calls).toBe(3);
  });

  it('measureCalls: the timed results and every result, or null once the signal stopped it', async () => {
    const m = await measureCalls(countingCall(), { warmup: 2, runs: 3, durationNs: (r) => r.ns });
    expect(m!.results.map((r) => r.index)).toEqual([2, 3, 4]);
    expect(m!.all).toHaveLength(5);
    expect(m!.measurement.samplesMs).toEqual([3, 4, 5]);
    const controller = new AbortController();
    controller.abort();
    expect(
      await measureCalls(countingCall(), { warmup: 0, runs: 2, signal: controller.signal }),
    ).toBeNull();
    await expect(
      measureCalls(() => Promise.reject(new Error('device lost')), { warmup: 0, runs: 1 }),
    ).rejects.toThrow('device lost');
  });
});

describe('engine clock helpers', () => {
  it('generationNs is prefill plus every step', () => {
    expect(generationNs({ prefillNs: 100, stepNs: new Float64Array([1, 2, 3]) })).toBe(106);
    expect(generationNs({ prefillNs: 5, stepNs: [] })).toBe(5);
  });

  it('timeCall returns the value and a wall time that covers the call', async () => {
    const r = await timeCall(
      () => new Promise<string>((res) => setTimeout(() => res('built'), 20)),
    );
    expect(r.value).toBe('built');
    expect(r.ms).toBeGreaterThanOrEqual(15);
  });
});
