import { describe, expect, it } from 'vitest';
import { measure, measureInterleaved } from '../../src/measure/scheduler.js';
import type { Sampler } from '../../src/measure/types.js';
import { createRng } from '../../src/stats/random.js';

/** Synthetic sampler: `f(i)` gives the ms of the i-th iteration overall. Records calls. */
function synthetic(f: (i: number) => number) {
  let i = 0;
  const calls: Array<{ iterations: number; cold: boolean }> = [];
  const sampler: Sampler & { calls: typeof calls } = {
    calls,
    async sample(iterations: number, cold: boolean) {
      calls.push({ iterations, cold });
      const out = new Float64Array(iterations);
      for (let k = 0; k < iterations; k++) out[k] = f(i++) * 1e6;
      return out;
    },
  };
  return sampler;
}

function gaussian(rng: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

describe('measure: stopping rule', () => {
  it('a steady sampler converges with few samples', async () => {
    const rng = createRng(1);
    const s = synthetic(() => 2 * (1 + 0.002 * gaussian(rng)));
    const m = await measure(s, { maxTimeSeconds: 10 });
    expect(m.stopReason).toBe('converged');
    expect(m.samplesMs.length).toBeGreaterThanOrEqual(10);
    expect(m.samplesMs.length).toBeLessThanOrEqual(20);
    expect(m.stats.rse!).toBeLessThanOrEqual(0.01);
    expect(m.warnings).toEqual([]);
    expect(m.stats.medianMs).toBeCloseTo(2, 1);
  });

  it('a noisy sampler stops at max-time with warnings', async () => {
    const rng = createRng(2);
    const s = synthetic(() => 10 * Math.exp(0.5 * gaussian(rng)));
    const m = await measure(s, { maxTimeSeconds: 1, targetRse: 0.01 });
    expect(m.stopReason).toBe('max-time');
    // the budget (1 s of measured time) bounds the number of iterations
    const total = m.coldStartMs + m.samplesMs.reduce((a, b) => a + b, 0);
    expect(total).toBeLessThan(1000 + 200);
    expect(m.warnings.some((w) => /CV .* exceeds 5%/.test(w))).toBe(true);
    expect(m.warnings.some((w) => /did not converge/.test(w))).toBe(true);
  });

  it('stops at max-samples when the cap comes first', async () => {
    const rng = createRng(3);
    const s = synthetic(() => 0.001 * Math.exp(0.5 * gaussian(rng)));
    const m = await measure(s, { maxSamples: 50, warmup: 2 });
    expect(m.stopReason).toBe('max-samples');
    expect(m.samplesMs).toHaveLength(50);
  });

  it('fixed runs: exactly `runs` samples after `warmup` iterations', async () => {
    const s = synthetic((i) => 1 + i);
    const m = await measure(s, { warmup: 4, runs: 7 });
    expect(m.stopReason).toBe('fixed-runs');
    expect(m.samplesMs).toEqual([5, 6, 7, 8, 9, 10, 11]);
    expect(m.coldStartMs).toBe(1);
    expect(m.warmupIterations).toBe(4);
    const asked = s.calls.reduce((a, c) => a + c.iterations, 0);
    expect(asked).toBe(11);
  });

  it('warmup 0: the cold iteration is the first sample', async () => {
    const s = synthetic((i) => 1 + i);
    const m = await measure(s, { warmup: 0, runs: 3 });
    expect(m.samplesMs).toEqual([1, 2, 3]);
    expect(m.coldStartMs).toBe(1);
    expect(m.warmupIterations).toBe(0);
  });
});

describe('measure: warm-up and cold start', () => {
  it('adaptive warm-up discards the slow first iterations; cold start kept apart', async () => {
    // cold start 50 ms, then 8 slow iterations (page faults), then steady 1 ms
    const s = synthetic((i) => (i === 0 ? 50 : i <= 8 ? 5 : 1));
    const m = await measure(s, {});
    expect(m.coldStartMs).toBe(50);
    expect(m.warmupIterations).toBeGreaterThanOrEqual(9);
    expect(Math.max(...m.samplesMs)).toBe(1);
    expect(m.stopReason).toBe('converged');
  });

  it('a never-settling warm-up is cut by its budget, with a warning', async () => {
    const s = synthetic((i) => 1 + i); // always slower
    const m = await measure(s, { maxTimeSeconds: 0.5, minSamples: 3 });
    expect(m.warnings.some((w) => /warm-up/.test(w))).toBe(true);
  });

  it('records cache mode and passes cold to the sampler', async () => {
    const s = synthetic(() => 1);
    const m = await measure(s, { cold: true, runs: 3, warmup: 1 });
    expect(m.cacheMode).toBe('cold');
    expect(s.calls.every((c) => c.cold)).toBe(true);
    expect(
      (
        await measure(
          synthetic(() => 1),
          { runs: 2 },
        )
      ).cacheMode,
    ).toBe('hot');
  });
});

describe('measure: batching', () => {
  it('short iterations are batched (few calls, every sample kept)', async () => {
    const rng = createRng(4);
    const s = synthetic(() => 0.01 * (1 + 0.3 * rng())); // 10 us, noisy enough to need many samples
    const m = await measure(s, { targetRse: 0.002, maxSamples: 5000 });
    expect(m.samplesMs.length).toBeGreaterThan(200);
    expect(m.calls).toBeLessThan(m.samplesMs.length / 10);
    expect(Math.max(...s.calls.map((c) => c.iterations))).toBeGreaterThan(10);
  });
  it('long iterations go one per call near the budget', async () => {
    const s = synthetic(() => 400);
    const m = await measure(s, { maxTimeSeconds: 2, minSamples: 10 });
    expect(m.stopReason).toBe('max-time');
    expect(m.samplesMs.length).toBeGreaterThanOrEqual(3);
    // the budget covers the cold call and warm-up; it is overrun by at most the sample in flight
    expect(m.elapsedSeconds).toBeLessThanOrEqual(2 + 0.4 + 1e-9);
    expect(
      m.warnings.some((w) => /stopped by max-time after \d+ samples \(min-samples 10\)/.test(w)),
    ).toBe(true);
  });
  it('--max-time covers the cold call: an iteration longer than the budget costs the cold call and one sample', async () => {
    const s = synthetic(() => 5000);
    const m = await measure(s, { maxTimeSeconds: 2, minSamples: 10 });
    expect(m.stopReason).toBe('max-time');
    expect(m.samplesMs).toHaveLength(1);
    expect(s.calls.reduce((n, c) => n + c.iterations, 0)).toBe(2);
    const note = m.warnings.find((w) => w.startsWith('stopped by max-time'));
    expect(note).toMatch(/cold call \(5\.0 s\)/);
    expect(note).toMatch(/one timed sample always being taken: no interval/);
    // cold 5 s + 10 samples of 5 s
    expect(note).toMatch(/--max-time 55 would allow 10 samples/);
    expect(m.warnings.some((w) => /warm-up limited to the cold-start iteration/.test(w))).toBe(
      true,
    );
  });
  it('a fixed warm-up under adaptive sampling is cut by its share of --max-time', async () => {
    const s = synthetic(() => 300);
    const m = await measure(s, { maxTimeSeconds: 2, warmup: 20, minSamples: 3 });
    expect(m.warmupIterations).toBeLessThan(20);
    expect(m.warnings.some((w) => /warm-up cut to \d+ of 20 iterations/.test(w))).toBe(true);
    // with --runs the warm-up asked for is honoured
    const fixed = await measure(
      synthetic(() => 300),
      { maxTimeSeconds: 2, warmup: 5, runs: 2 },
    );
    expect(fixed.warmupIterations).toBe(5);
  });
});

describe('measure: cancellation and bad samplers', () => {
  it('an aborted signal stops between calls with ERR_DILBENCH_CANCELLED', async () => {
    const ac = new AbortController();
    let calls = 0;
    const s: Sampler = {
      async sample(n) {
        if (++calls === 3) ac.abort();
        return new Float64Array(n).fill(1e6 * (1 + Math.random()));
      },
    };
    await expect(measure(s, { maxTimeSeconds: 5 }, ac.signal)).rejects.toMatchObject({
      code: 'ERR_DILBENCH_CANCELLED',
      name: 'AbortError',
    });
    expect(calls).toBe(3);
  });
  it('an already-aborted signal makes no call', async () => {
    const s = synthetic(() => 1);
    await expect(measure(s, {}, AbortSignal.abort())).rejects.toMatchObject({
      code: 'ERR_DILBENCH_CANCELLED',
    });
    expect(s.calls).toHaveLength(0);
  });
  it('sampler errors pass through', async () => {
    const s: Sampler = {
      async sample() {
        throw Object.assign(new Error('oom'), { code: 'ERR_DILBENCH_OUT_OF_MEMORY' });
      },
    };
    await expect(measure(s)).rejects.toMatchObject({ code: 'ERR_DILBENCH_OUT_OF_MEMORY' });
  });
  it('a sampler returning the wrong count is an error', async () => {
    const s: Sampler = { sample: async () => new Float64Array(0) };
    await expect(measure(s)).rejects.toThrow(/returned 0 samples/);
  });
  it('bad options are refused', async () => {
    await expect(
      measure(
        synthetic(() => 1),
        { runs: 0 },
      ),
    ).rejects.toThrow(/runs/);
    await expect(
      measure(
        synthetic(() => 1),
        { targetRse: -1 },
      ),
    ).rejects.toThrow(/targetRse/);
  });
});

describe('measureInterleaved', () => {
  it('randomised round-robin, reproducible with a seed', async () => {
    const order = async (seed: number) => {
      const log: string[] = [];
      const mk = (name: string): Sampler => ({
        async sample(n) {
          log.push(name);
          return new Float64Array(n).fill(1e6);
        },
      });
      await measureInterleaved(
        new Map([
          ['a', mk('a')],
          ['b', mk('b')],
          ['c', mk('c')],
        ]),
        { warmup: 1, runs: 10 },
        undefined,
        seed,
      );
      return log.join('');
    };
    const o1 = await order(1);
    expect(await order(1)).toBe(o1);
    expect(await order(2)).not.toBe(o1);
    // every round visits each once
    for (let r = 0; r < o1.length; r += 3)
      expect([...o1.slice(r, r + 3)].sort().join('')).toBe('abc');
  });

  it('a drift of machine speed hits all implementations alike', async () => {
    // shared clock: the machine slows down 0.5% per iteration, for whoever runs
    let tick = 0;
    const mk = (base: number): Sampler => ({
      async sample(n) {
        const out = new Float64Array(n);
        for (let k = 0; k < n; k++) out[k] = base * (1 + 0.005 * tick++) * 1e6;
        return out;
      },
    });
    const res = await measureInterleaved(
      new Map([
        ['x', mk(1)],
        ['y', mk(1)],
      ]),
      { warmup: 1, runs: 40 },
      undefined,
      7,
    );
    const x = res.get('x')!.stats.medianMs;
    const y = res.get('y')!.stats.medianMs;
    expect(Math.abs(x / y - 1)).toBeLessThan(0.05);
    // sequential measurement of the same pair is biased by the drift
    tick = 0;
    const mx = await measure(mk(1), { warmup: 1, runs: 40 });
    const my = await measure(mk(1), { warmup: 1, runs: 40 });
    expect(my.stats.medianMs / mx.stats.medianMs).toBeGreaterThan(1.1);
  });

  it('adaptive interleaving stops when all converge', async () => {
    const rng = createRng(8);
    const mk = (base: number) => synthetic(() => base * (1 + 0.002 * gaussian(rng)));
    const res = await measureInterleaved(
      new Map([
        ['a', mk(1)],
        ['b', mk(3)],
      ]),
      {},
    );
    for (const m of res.values()) {
      expect(m.stopReason).toBe('converged');
      expect(m.samplesMs.length).toBeGreaterThanOrEqual(10);
    }
    expect(res.get('b')!.stats.medianMs).toBeCloseTo(3, 1);
  });

  it('settleMs: a side is not charged for the previous side still spinning after its call', async () => {
    // 'spinner' keeps a core busy for 30 ms after each call (as a thread pool spinning down);
    // 'victim' takes 5 ms plus whatever of that busy time is left when its turn starts
    let busyUntil = 0;
    const spinner: Sampler = {
      async sample(n) {
        busyUntil = performance.now() + 30;
        return new Float64Array(n).fill(5e6);
      },
    };
    const victim: Sampler = {
      async sample(n) {
        const lost = Math.max(0, busyUntil - performance.now());
        return new Float64Array(n).fill((5 + lost) * 1e6);
      },
    };
    const run = (settleMs?: number) =>
      measureInterleaved(
        new Map([
          ['spinner', spinner],
          ['victim', victim],
        ]),
        { warmup: 1, runs: 8, settleMs },
        undefined,
        3,
      );
    const charged = (await run()).get('victim')!.stats.medianMs;
    const settled = (await run(40)).get('victim')!.stats.medianMs;
    expect(charged).toBeGreaterThan(20);
    expect(settled).toBe(5);
    await expect(run(-1)).rejects.toThrow(/settleMs must be >= 0/);
  });

  it('honours the abort signal', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(
      measureInterleaved(new Map([['a', synthetic(() => 1)]]), {}, ac.signal),
    ).rejects.toMatchObject({
      code: 'ERR_DILBENCH_CANCELLED',
    });
  });
});

describe('measure: very slow iterations', () => {
  it('a cold start over a quarter of the budget is the whole warm-up; at least 3 samples', async () => {
    const s = synthetic(() => 3000);
    const m = await measure(s, { maxTimeSeconds: 10 });
    expect(m.warmupIterations).toBe(1);
    expect(m.samplesMs).toHaveLength(3);
    expect(m.stopReason).toBe('max-time');
    expect(m.warnings.some((w) => /limited to the cold-start/.test(w))).toBe(true);
  });
});
