// The drift sentinel (issue 14 item 2): a fixed FMA workload at the start, between points and at
// the end; points next to a reading beyond its own noise are flagged, with by how much.
import { describe, expect, it } from 'vitest';
import { sequenceRanges } from '../../src/suites/sequence-ranges.js';
import {
  DriftRecorder,
  SENTINEL_CHECKPOINT_READINGS,
  SENTINEL_MIN_MOVE_PCT,
  SENTINEL_START_READINGS,
} from '../../src/measure/drift.js';
import type { InterferenceProbe } from '../../src/measure/interference.js';
import { constantRate } from '../../src/plan/calibrate.js';
import { runSuite } from '../../src/suite/runner.js';
import { toMarkdown } from '../../src/reports/markdown.js';
import { summaryText } from '../../src/cli/summary.js';
import { buildSuiteSpecs } from '../../src/reports/plots/specs.js';
import { createFakeBinding } from '../helpers/fake-binding.js';

const GiB = 1024 ** 3;
const quietProbe = (): InterferenceProbe => {
  let t = 0;
  return {
    snapshot: () => ({
      atMs: (t += 1000),
      stat: { busy: 0, idle: t / 5, steal: 0, total: t / 5 },
      ownCpuUs: 0,
      cpus: 2,
    }),
    extras: () => ({ loadAvg: 0.1, freqMHz: null, maxFreqMHz: null }),
  };
};

describe('DriftRecorder', () => {
  it('takes its noise from the start readings and flags moves beyond 3 robust sd (at least 2%)', () => {
    // start readings around 100 with ~1% spread
    const start = [99, 100, 101, 100, 99.5, 100.5, 100];
    let i = 0;
    const rec = new DriftRecorder(() => start[i++] ?? 100, 2, 1000);
    rec.start();
    expect(rec.referenceGflops()).toBe(100);
    expect(rec.thresholdPct).toBeGreaterThanOrEqual(SENTINEL_MIN_MOVE_PCT);
    expect(rec.pointDrift(100, 99).flagged).toBe(false);
    const d = rec.pointDrift(100, 90);
    expect(d).toMatchObject({ beforeGflops: 100, afterGflops: 90, movePct: -10, flagged: true });
    // a noisy start widens the band: a 10% move is then within it
    const noisy = [80, 100, 120, 90, 110, 100, 100];
    let j = 0;
    const wide = new DriftRecorder(() => noisy[j++] ?? 100, 2, 1000);
    wide.start();
    expect(wide.thresholdPct).toBeGreaterThan(10);
    expect(wide.pointDrift(100, 90).flagged).toBe(false);
  });
});

describe('the runner with a sentinel', () => {
  it('flags exactly the points measured after the machine slowed, says by how much, stores and plots the series', async () => {
    const binding = createFakeBinding();
    let calls = 0;
    let groups = 0;
    // the machine loses 20% of its speed once two groups (lengths) have been measured
    binding.fmaSentinel = () => {
      calls++;
      return groups >= 2 ? 80 : 100;
    };
    const options = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128,256,512,1024',
      runs: 3,
      warmup: 1,
    });
    const file = await runSuite(sequenceRanges, options, {
      binding,
      rates: constantRate(1e10),
      availableMemoryBytes: 8 * GiB,
      interference: quietProbe(),
      onProgress: (e) => {
        // both implementations of a length form one group
        if (e.type === 'point-end' && e.row.implementation === 'flash') groups++;
      },
    });
    expect(calls).toBe(SENTINEL_START_READINGS + 4 * SENTINEL_CHECKPOINT_READINGS);
    // the checkpoint after group 2 still reads 100; the one after group 3 reads 80: group 3 and on
    expect(file.results.map((r) => [r.seqLen, r.drift?.flagged])).toEqual([
      [128, false],
      [128, false],
      [256, false],
      [256, false],
      [512, true],
      [512, true],
      [1024, true],
      [1024, true],
    ]);
    expect(file.results[4]!.drift).toMatchObject({
      beforeGflops: 100,
      afterGflops: 80,
      movePct: -20,
    });
    expect(file.results[6]!.drift).toMatchObject({
      beforeGflops: 80,
      afterGflops: 80,
      movePct: -20,
    });
    const s = file.driftSentinel!;
    expect(s.referenceGflops).toBe(100);
    expect(s.readings).toHaveLength(SENTINEL_START_READINGS + 4);
    expect(s.maxMovePct).toBe(-20);
    expect(s.flaggedPoints).toBe(4);
    expect(s.summary).toMatch(/moved by up to -20\.0%.*4 of 8 points flagged/);
    expect(summaryText(file)).toMatch(/drift: the drift sentinel/);
    expect(toMarkdown(file)).toMatch(/\| 512 \| flash \|.*drift -20%/);
    const spec = buildSuiteSpecs(file)['drift-sentinel'] as {
      layer: { data?: unknown }[];
      data: { values: unknown[] };
    };
    expect(spec.data.values).toHaveLength(SENTINEL_START_READINGS + 4);
    const band = (spec.layer[0]!.data as { values: { lo: number; hi: number }[] }).values[0]!;
    expect(band).toEqual({
      lo: 100 * (1 - s.thresholdPct / 100),
      hi: 100 * (1 + s.thresholdPct / 100),
    });
    // a start so noisy that the band would reach below zero: the band stops at 0 GFLOP/s
    const noisy = { ...file, driftSentinel: { ...s, thresholdPct: 185 } };
    const noisySpec = buildSuiteSpecs(noisy)['drift-sentinel'] as typeof spec;
    expect(noisySpec.layer[0]!.data).toEqual({ values: [{ lo: 0, hi: 285 }] });
  });

  it('stays out of the way where the build has no sentinel or no probe is given', async () => {
    const options = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128',
      runs: 2,
      warmup: 1,
    });
    const file = await runSuite(sequenceRanges, options, {
      binding: createFakeBinding(),
      rates: constantRate(1e10),
      availableMemoryBytes: 8 * GiB,
      interference: quietProbe(),
    });
    expect(file.driftSentinel).toBeUndefined();
    expect(file.results[0]!.drift).toBeUndefined();
  });
});

describe('the native sentinel', async () => {
  const loader = await import('../../src/native/dilbench.js');
  let binding: import('../../src/native/binding.js').NativeBinding | undefined;
  let why = '';
  try {
    binding = loader.loadBinding();
  } catch (e) {
    why = ((e as Error).message ?? String(e)).replace(/\s*\n\s*/g, ' | ').slice(0, 400);
  }
  if (!binding) console.log(`[skip] native sentinel test: the addon cannot load (${why})`);

  it.skipIf(!binding)(
    'fmaSentinel returns a positive rate and rejects bad arguments naming them',
    () => {
      const g = binding!.fmaSentinel!(1, 100_000);
      expect(g).toBeGreaterThan(0.1);
      expect(g).toBeLessThan(1e5);
      expect(() => binding!.fmaSentinel!(0, 10)).toThrow(/threads/);
      expect(() => binding!.fmaSentinel!(1, 0)).toThrow(/iterationsPerThread/);
    },
  );
});
