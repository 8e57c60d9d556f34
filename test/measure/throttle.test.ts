// SM-clock throttle flagging, fed with injected clock readings (no GPU needed): the scheduler keeps
// one reading per kept sample, flags readings below 75% of the rated maximum, keeps flagged
// samples in the statistics, and notes them; the runner carries it into rows and the Markdown.
import { describe, expect, it } from 'vitest';
import { sequenceRanges } from '../../src/suites/sequence-ranges.js';
import {
  measure,
  measureInterleaved,
  summarizeClocks,
  THROTTLE_FRACTION,
  throttleNote,
} from '../../src/measure/scheduler.js';
import type { SampleClocks, Sampler } from '../../src/measure/types.js';
import type { NativeBinding, NativeSession } from '../../src/native/binding.js';
import { constantRate } from '../../src/plan/calibrate.js';
import { toMarkdown } from '../../src/reports/markdown.js';
import type { StoredPeak } from '../../src/roofline/peak-store.js';
import { runSuite } from '../../src/suite/runner.js';
import { createFakeBinding } from '../helpers/fake-binding.js';

const MAX = 2000; // MHz
const GiB = 1024 ** 3;

/**
 * Replays a script of (ms, MHz) per iteration, in order over all calls; `clocks: false` makes it a
 * sampler without clock readings (the CPU).
 */
function scripted(
  script: { ms: number; mhz: number }[],
  opts: { clocks?: boolean; max?: number } = {},
): Sampler & { calls: number[] } {
  let at = 0;
  let last: SampleClocks | null = null;
  const calls: number[] = [];
  const s: Sampler & { calls: number[] } = {
    calls,
    async sample(n: number) {
      calls.push(n);
      const ns = new Float64Array(n);
      const mhz = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const step = script[Math.min(at++, script.length - 1)]!;
        ns[i] = step.ms * 1e6;
        mhz[i] = step.mhz;
      }
      last = { smClockMHz: mhz, maxSmClockMHz: opts.max ?? MAX };
      return ns;
    },
  };
  if (opts.clocks !== false) s.lastClocks = () => last;
  return s;
}

describe('throttle flagging in the scheduler', () => {
  // cold start + 2 warm-up iterations at a low (idle) clock, then 10 samples: 6 throttled ones
  // (1400 MHz < 1500 = 75% of 2000) that are slow (3 ms) and 4 at full clock (1 ms).
  const warm = [
    { ms: 5, mhz: 300 },
    { ms: 2, mhz: 600 },
    { ms: 2, mhz: 900 },
  ];
  const samples = [
    ...Array.from({ length: 6 }, () => ({ ms: 3, mhz: 1400 })),
    ...Array.from({ length: 4 }, () => ({ ms: 1, mhz: 1980 })),
  ];

  it('keeps one reading per kept sample, flags those below 75% of the maximum, and notes it', async () => {
    const m = await measure(scripted([...warm, ...samples]), {
      warmup: 3,
      runs: 10,
      maxTimeSeconds: 60,
    });
    expect(m.samplesMs).toHaveLength(10);
    const c = m.smClock!;
    expect(c).toBeDefined();
    // warm-up and cold-start readings (all below the threshold) are not counted
    expect(c.samplesMHz).toEqual(samples.map((s) => s.mhz));
    expect(c.maxMHz).toBe(MAX);
    expect(c.thresholdMHz).toBe(THROTTLE_FRACTION * MAX);
    expect(c.throttledSamples).toBe(6);
    expect(c.readSamples).toBe(10);
    expect(c.minMHz).toBe(1400);
    expect(c.medianMHz).toBe(1400);
    const note = m.warnings.find((w) => w.startsWith('GPU throttled'));
    expect(note).toBe(
      'GPU throttled: SM clock below 75% of its 2000 MHz maximum during 6 of 10 samples (min 1400 MHz, median 1400 MHz); flagged, kept in the statistics',
    );
  });

  it('keeps flagged samples in the statistics (median and mean over all samples)', async () => {
    const m = await measure(scripted([...warm, ...samples]), {
      warmup: 3,
      runs: 10,
      maxTimeSeconds: 60,
    });
    // with the throttled samples dropped the median would be 1 ms; kept, it is 3 ms
    expect(m.stats.medianMs).toBeCloseTo(3, 12);
    expect(m.stats.meanMs).toBeCloseTo((6 * 3 + 4 * 1) / 10, 12);
    expect(m.samplesMs.filter((v) => v === 3)).toHaveLength(6);
  });

  it('a reading at exactly 75% is not flagged; one just below is', () => {
    const c = summarizeClocks([1500, 1499.9, 2000], MAX);
    expect(c.throttledSamples).toBe(1);
    expect(c.minMHz).toBe(1499.9);
    expect(c.medianMHz).toBe(1500);
  });

  it('no flagged sample: summary present, no note', async () => {
    const full = Array.from({ length: 8 }, () => ({ ms: 1, mhz: 1900 }));
    const m = await measure(scripted(full), { warmup: 1, runs: 5 });
    expect(m.smClock?.throttledSamples).toBe(0);
    expect(m.smClock?.samplesMHz).toHaveLength(5);
    expect(m.warnings.some((w) => w.includes('throttled'))).toBe(false);
    expect(throttleNote(m.smClock!, 5)).toBeNull();
  });

  it('the cold-start iteration counts as a sample when there is no warm-up, with its clock', async () => {
    const m = await measure(
      scripted([
        { ms: 2, mhz: 500 },
        { ms: 1, mhz: 1900 },
        { ms: 1, mhz: 1900 },
      ]),
      { warmup: 0, runs: 3 },
    );
    expect(m.smClock?.samplesMHz).toEqual([500, 1900, 1900]);
    expect(m.smClock?.throttledSamples).toBe(1);
  });

  it('readings of 0 or NaN are "none read": null in the row, not flagged', async () => {
    const m = await measure(
      scripted([
        { ms: 1, mhz: 1900 },
        { ms: 1, mhz: 0 },
        { ms: 1, mhz: Number.NaN },
        { ms: 1, mhz: 1000 },
      ]),
      { warmup: 1, runs: 3 },
    );
    expect(m.smClock?.samplesMHz).toEqual([null, null, 1000]);
    expect(m.smClock?.readSamples).toBe(1);
    expect(m.smClock?.throttledSamples).toBe(1);
    expect(m.smClock?.minMHz).toBe(1000);
  });

  it('a sampler without clocks (the CPU) gives no clock summary and no note', async () => {
    const m = await measure(scripted([...warm, ...samples], { clocks: false }), {
      warmup: 3,
      runs: 10,
    });
    expect(m.smClock).toBeUndefined();
    expect(m.warnings.some((w) => w.includes('throttled'))).toBe(false);
    const nullClocks: Sampler = {
      sample: async (n) => new Float64Array(n).fill(1e6),
      lastClocks: () => null,
    };
    expect((await measure(nullClocks, { warmup: 1, runs: 3 })).smClock).toBeUndefined();
  });

  it('rejects a malformed clock answer with a message saying what is wrong', async () => {
    let asked = 0;
    const extra: Sampler = {
      sample: async (n) => new Float64Array((asked = n)).fill(1e6),
      lastClocks: () => ({ smClockMHz: new Array(asked + 1).fill(1900), maxSmClockMHz: MAX }),
    };
    await expect(measure(extra, { warmup: 0, runs: 3 })).rejects.toThrow(
      /sampler returned 2 clock readings for 1 iterations/,
    );
    const noMax: Sampler = {
      sample: async (n) => new Float64Array(n).fill(1e6),
      lastClocks: () => ({ smClockMHz: [1900], maxSmClockMHz: 0 }),
    };
    await expect(measure(noMax, { warmup: 0, runs: 1 })).rejects.toThrow(
      /invalid maximum SM clock \(0 MHz\)/,
    );
  });

  it('interleaved sampling keeps each sampler its own clocks', async () => {
    const hot = scripted(Array.from({ length: 20 }, () => ({ ms: 2, mhz: 1000 })));
    const cool = scripted(Array.from({ length: 20 }, () => ({ ms: 1, mhz: 1950 })));
    const res = await measureInterleaved(
      new Map([
        ['hot', hot],
        ['cool', cool],
      ]),
      { warmup: 1, runs: 6, seed: 3 },
    );
    expect(res.get('hot')?.smClock?.throttledSamples).toBe(6);
    expect(res.get('hot')?.smClock?.samplesMHz).toEqual(Array(6).fill(1000));
    expect(res.get('cool')?.smClock?.throttledSamples).toBe(0);
    expect(res.get('hot')?.warnings.some((w) => w.startsWith('GPU throttled'))).toBe(true);
  });
});

/** The fake binding with a CUDA device whose sessions report SM clocks (every 3rd read throttled). */
function clockedFake(): NativeBinding {
  const base = createFakeBinding({ cudaMemoryBytes: 16 * GiB });
  return {
    ...base,
    async createSession(problem, options): Promise<NativeSession> {
      const s = await base.createSession(problem, options);
      if (problem.device !== 'cuda') return s;
      let n = 0;
      let last: Float64Array | null = null;
      return {
        ...s,
        plan: s.plan,
        async sample(iterations, cold, cancel) {
          const ns = await s.sample(iterations, cold, cancel);
          last = Float64Array.from({ length: iterations }, () => (n++ % 3 === 2 ? 900 : 1800));
          return ns;
        },
        sampleClocks: () => (last ? { smClockMHz: last, maxSmClockMHz: MAX } : null),
      };
    },
  };
}

describe('throttle flagging through the suite runner', () => {
  const gpuPeak = {
    name: 'Fake GPU',
    fp16TensorTflops: 500,
    bf16TensorTflops: 480,
    fp32FmaTflops: 50,
    copyGBps: 3000,
    copyBytes: 1 << 28,
    runs: 9,
    durationSeconds: 1,
    measuredAt: '2025-01-01T00:00:00.000Z',
  };
  const stored: StoredPeak = {
    fmaGflops: 100,
    streamGBps: 20,
    threads: 2,
    simdLevel: 'avx2',
    durationSeconds: 1,
    measuredAt: '2025-01-01T00:00:00.000Z',
    gpu: gpuPeak,
  };

  it('cuda rows carry the clocks, the flagged count and a note in the Markdown; the GPU peak places them', async () => {
    const options = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128',
      device: 'cuda',
      warmup: 0,
      runs: 6,
    });
    const file = await runSuite(sequenceRanges, options, {
      binding: clockedFake(),
      rates: constantRate(1e10),
      availableMemoryBytes: 100 * GiB,
      loadPeak: async () => stored,
    });
    const rows = file.results.filter((r) => r.status === 'ok');
    expect(rows.length).toBe(2);
    for (const r of rows) {
      expect(r.device).toBe('cuda');
      expect(r.smClock?.samplesMHz).toEqual([1800, 1800, 900, 1800, 1800, 900]);
      expect(r.smClock?.samplesMHz).toHaveLength(r.samplesMs.length);
      expect(r.smClock?.throttledSamples).toBe(2);
      expect(r.smClock?.minMHz).toBe(900);
      expect(r.smClock?.medianMHz).toBe(1800);
      expect(r.warnings).toContain(
        'GPU throttled: SM clock below 75% of its 2000 MHz maximum during 2 of 6 samples (min 900 MHz, median 1800 MHz); flagged, kept in the statistics',
      );
      // fp32 cuda rows against the GPU's fp32 FMA rate and copy bandwidth, not the CPU peak
      expect(r.roofline?.peak).toMatchObject({
        fmaGflops: 50_000,
        streamGBps: 3000,
        device: 'Fake GPU',
        compute: 'fp32 FMA',
      });
      expect(r.roofline?.pctOfPeakCompute).toBeCloseTo((100 * r.gflops!) / 50_000, 9);
    }
    expect(file.environment.gpuPeak).toEqual(gpuPeak);
    const md = toMarkdown(file);
    expect(md).toMatch(
      /## Warnings and notes[\s\S]*GPU throttled: SM clock below 75% of its 2000 MHz maximum during 2 of 6 samples/,
    );
    expect(md).toContain('% of peak (cuda rows): achieved GFLOP/s against the GPU peak');
    expect(md).toContain('Fake GPU: 500.0 / 480.0 TFLOP/s fp16 / bf16 tensor cores (mma.sync)');
    // the file round-trips through JSON with the clock summary intact
    expect(JSON.parse(JSON.stringify(file)).results[0].smClock.throttledSamples).toBe(2);
  });

  it('cpu rows have no clock summary; a GPU peak of another GPU is not used', async () => {
    const cpu = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128',
      warmup: 0,
      runs: 3,
    });
    const other: StoredPeak = { ...stored, gpu: { ...gpuPeak, name: 'Another GPU' } };
    const cpuFile = await runSuite(sequenceRanges, cpu, {
      binding: clockedFake(),
      rates: constantRate(1e10),
      availableMemoryBytes: 8 * GiB,
      loadPeak: async () => other,
    });
    for (const r of cpuFile.results) {
      expect(r.smClock).toBeUndefined();
      expect(r.roofline?.peak).toMatchObject({ fmaGflops: 100, streamGBps: 20, threads: 2 });
    }
    expect(cpuFile.environment.gpuPeak).toBeUndefined();
    const cuda = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128',
      device: 'cuda',
      warmup: 0,
      runs: 3,
    });
    const cudaFile = await runSuite(sequenceRanges, cuda, {
      binding: clockedFake(),
      rates: constantRate(1e10),
      availableMemoryBytes: 100 * GiB,
      loadPeak: async () => other,
    });
    for (const r of cudaFile.results) expect(r.roofline).toBeUndefined();
  });
});
