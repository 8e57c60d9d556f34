// The stages runSuite runs in order (src/suite/stages/), each on its own: resolve sides -> choose
// implementations -> plan -> sample -> summarise -> compare sides -> assemble.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { constantRate } from '../../src/plan/calibrate.js';
import type { NativeProblem } from '../../src/native/binding.js';
import type { ResultRow } from '../../src/results/types.js';
import type { StoredPeak } from '../../src/roofline/peak-store.js';
import { sequenceRanges } from '../../src/suites/sequence-ranges.js';
import { takeSamples } from '../../src/suite/sampling.js';
import type { ProgressEvent, SuitePoint } from '../../src/suite/types.js';
import { resolveSides } from '../../src/suite/stages/resolve-sides.js';
import {
  chooseImplementations,
  chooseRunImplementations,
} from '../../src/suite/stages/implementations.js';
import {
  budgetOf,
  layOutPoints,
  planEntryOf,
  planPoints,
  preflight,
  samplingRequest,
  sessionOptionsOf,
} from '../../src/suite/stages/plan.js';
import { groupByPoint, samplePoints } from '../../src/suite/stages/sample.js';
import { matchingPeaks, summariseRows } from '../../src/suite/stages/summarise.js';
import { compareSides } from '../../src/suite/stages/compare-sides.js';
import { assembleResultFile, runConfigOf } from '../../src/suite/stages/assemble.js';
import { CodedError, createFakeBinding } from '../helpers/fake-binding.js';

const GiB = 1024 ** 3;
const options = (raw: Record<string, unknown> = {}) =>
  sequenceRanges.parseOptions({
    range: 'custom',
    customLengths: '128,256',
    warmup: 1,
    runs: 3,
    ...raw,
  });
const point = (
  implementation: string,
  seqLen: number,
  extra: Partial<NativeProblem> = {},
): SuitePoint => ({
  problem: {
    implementation,
    device: 'cpu',
    dtype: 'fp32',
    batch: 1,
    heads: 2,
    kvHeads: 2,
    seqLen,
    headDim: 32,
    causal: false,
    seed: 1,
    ...extra,
  },
});
const noWhy = () => null;

describe('resolve sides', () => {
  it('--device auto without a CUDA device runs on cpu and says why', () => {
    const events: ProgressEvent[] = [];
    const r = resolveSides(options({ device: 'auto' }), createFakeBinding().info(), (e) =>
      events.push(e),
    );
    expect(r.sides).toEqual([{ device: 'cpu', dtype: 'fp32' }]);
    expect(r.compareMode).toBe(false);
    expect(r.options.device).toBe('cpu');
    expect(r.cuda.available).toBe(false);
    expect(events).toEqual([
      { type: 'note', message: expect.stringMatching(/^--device auto chose cpu: /) },
    ]);
  });

  it('--device cuda without a CUDA device is a ConfigError naming device', () => {
    const e = (() => {
      try {
        resolveSides(options({ device: 'cuda' }), createFakeBinding().info(), () => {});
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).field).toBe('device');
  });

  it('--compare-dtypes gives one side per dtype, the options carrying the baseline', () => {
    const r = resolveSides(
      options({ compareDtypes: 'fp32,bf16' }),
      createFakeBinding().info(),
      () => {},
    );
    expect(r.sides).toEqual([
      { device: 'cpu', dtype: 'fp32' },
      { device: 'cpu', dtype: 'bf16' },
    ]);
    expect(r.compareMode).toBe(true);
    expect(r.options.dtype).toBe('fp32');
  });
});

describe('choose implementations', () => {
  const binding = createFakeBinding({ implementations: ['naive', 'flash'] });
  const catalogue = binding.listImplementations();
  const cpu32 = { device: 'cpu' as const, dtype: 'fp32' as const };

  it('one side: the named ones, or every one that runs there', () => {
    expect(chooseImplementations(['flash'], [cpu32], catalogue, noWhy)).toEqual(['flash']);
    expect(
      chooseImplementations(undefined, [cpu32], catalogue, (_, name) =>
        name === 'naive' ? 'not here' : null,
      ),
    ).toEqual(['flash']);
  });

  it('one side: a named one the side cannot run is a ConfigError naming dtype, with the reason', () => {
    expect(() =>
      chooseImplementations(['naive'], [cpu32], catalogue, () => 'no fp32 here'),
    ).toThrow(/no fp32 here/);
    expect(() => chooseImplementations(['nope'], [cpu32], catalogue, noWhy)).toThrow(ConfigError);
  });

  it('several sides: every one that runs on some side', () => {
    const sides = [cpu32, { device: 'cpu' as const, dtype: 'bf16' as const }];
    const whyNot = (side: { dtype: string }, name: string) =>
      side.dtype === 'fp32' && name === 'naive' ? 'x' : null;
    expect(chooseImplementations(undefined, sides, catalogue, whyNot).sort()).toEqual([
      'flash',
      'naive',
    ]);
  });

  it('reads the catalogue from the binding and keeps the side rule', () => {
    const choice = chooseRunImplementations(binding, undefined, [cpu32], {
      available: false,
      reason: 'none',
    });
    expect(choice.catalogue).toEqual(catalogue);
    expect(choice.implementations.sort()).toEqual(['flash', 'naive']);
    expect(choice.whyNot({ device: 'cuda', dtype: 'fp32' }, 'flash')).toMatch(/none|cuda/i);
  });
});

describe('plan', () => {
  const sides = [
    { device: 'cpu' as const, dtype: 'fp32' as const },
    { device: 'cpu' as const, dtype: 'bf16' as const },
  ];

  it('lays every point out once per side, the sides of a point together, with budgets and session options', () => {
    const base = [
      point('flash', 128),
      { ...point('naive', 256), session: { useMemoryPool: false } },
    ];
    const layout = layOutPoints(
      base,
      sides,
      options(),
      2,
      (s, name) => (s.dtype === 'bf16' && name === 'naive' ? 'no bf16' : null),
      () => 8 * GiB,
    );
    expect(layout.points.map((p) => [p.problem.implementation, p.problem.dtype])).toEqual([
      ['flash', 'fp32'],
      ['flash', 'bf16'],
      ['naive', 'fp32'],
      ['naive', 'bf16'],
    ]);
    expect(layout.sideIndex).toEqual([0, 1, 0, 1]);
    expect(layout.unavailable).toEqual([null, null, null, 'no bf16']);
    expect(layout.budgets).toEqual([4 * GiB, 4 * GiB]);
    expect(budgetOf(layout, sides, 'cpu')).toBe(4 * GiB);
    expect(sessionOptionsOf(layout, 0)).toEqual({
      threads: 2,
      useMemoryPool: true,
      usePatternCache: true,
      memoryLimitBytes: 4 * GiB,
    });
    expect(sessionOptionsOf(layout, 2).useMemoryPool).toBe(false);
    const fixed = layOutPoints(
      base,
      sides.slice(0, 1),
      options({ memoryBudget: '1GiB' }),
      2,
      noWhy,
      () => 8 * GiB,
    );
    expect(fixed.points).toHaveLength(2);
    expect(fixed.budgets).toEqual([GiB]);
  });

  it('pre-flight: a shape the native side rejects for named implementations is a ConfigError naming the field', () => {
    const binding = createFakeBinding();
    const layout = layOutPoints(
      [point('flash', 128, { headDim: 48 })],
      sides.slice(0, 1),
      options(),
      2,
      noWhy,
      () => 8 * GiB,
    );
    expect(() => preflight(binding, layout, true, false)).toThrow(ConfigError);
    try {
      preflight(binding, layout, true, false);
    } catch (e) {
      expect((e as ConfigError).field).toBe('headDim');
    }
  });

  it('pre-flight: unnamed implementations of which only some reject the shape get failed rows, not an error', () => {
    const binding = createFakeBinding({
      rejectPlan: (p) =>
        p.implementation === 'naive'
          ? new CodedError('ERR_DILBENCH_INVALID_CONFIG', 'naive: no', 'implementation')
          : undefined,
    });
    const layout = layOutPoints(
      [point('naive', 128), point('flash', 128)],
      sides.slice(0, 1),
      options(),
      2,
      noWhy,
      () => 8 * GiB,
    );
    expect(() => preflight(binding, layout, false, false)).not.toThrow();
    const all = layOutPoints(
      [point('naive', 128)],
      sides.slice(0, 1),
      options(),
      2,
      noWhy,
      () => 8 * GiB,
    );
    expect(() => preflight(binding, all, false, false)).toThrow(/naive: no/);
  });

  it('plans runnable points and skips those a side cannot run, with the reason', () => {
    const binding = createFakeBinding();
    const layout = layOutPoints(
      [point('flash', 128), point('naive', 256)],
      sides,
      options(),
      2,
      (s, n) => (s.dtype === 'bf16' && n === 'naive' ? 'no bf16 naive' : null),
      () => 8 * GiB,
    );
    const planned = planPoints(
      binding,
      layout,
      [constantRate(1e10), constantRate(1e10)],
      samplingRequest(options()),
      60,
      true,
    );
    expect(planned.map((p) => p.action)).toEqual(['run', 'run', 'run', 'skip']);
    const entries = planned.map(planEntryOf);
    expect(entries[3]).toMatchObject({
      implementation: 'naive',
      dtype: 'bf16',
      action: 'skip',
      reason: 'no bf16 naive',
      memoryBytes: null,
    });
    expect(entries[0]!.estimatedSeconds).toBeGreaterThan(0);
    expect(entries[0]!.memoryBytes).toBeGreaterThan(0);
  });
});

describe('sample', () => {
  it('groups points that differ only by implementation (and by side when asked)', () => {
    const pts = [
      point('naive', 128),
      point('flash', 128),
      point('naive', 256),
      {
        ...point('flash', 128),
        problem: { ...point('flash', 128).problem, dtype: 'bf16' as const },
      },
    ];
    expect(groupByPoint(pts, { implementations: true, sides: false })).toEqual([[0, 1], [2], [3]]);
    expect(groupByPoint(pts, { implementations: true, sides: true })).toEqual([[0, 1, 3], [2]]);
    expect(groupByPoint(pts, { implementations: false, sides: true })).toEqual([[0], [1, 3], [2]]);
  });

  const setup = (signal?: AbortSignal) => {
    const binding = createFakeBinding();
    const sides = [{ device: 'cpu' as const, dtype: 'fp32' as const }];
    const layout = layOutPoints(
      [point('naive', 128), point('flash', 128)],
      sides,
      options(),
      2,
      noWhy,
      () => 8 * GiB,
    );
    const request = samplingRequest(options());
    const planned = planPoints(binding, layout, [constantRate(1e10)], request, 60, false);
    const events: ProgressEvent[] = [];
    const run = (interleave: boolean) =>
      samplePoints({
        binding,
        layout,
        sides,
        planned,
        request,
        interleave,
        threads: 2,
        simdLevel: 'avx2',
        causal: false,
        sampling: takeSamples,
        probe: null,
        emit: (e) => events.push(e),
        signal,
      });
    return { run, events };
  };

  it('measures each planned point into an ok row, with a start and an end event per point', async () => {
    const { run, events } = setup();
    const out = await run(false);
    expect(out.interrupted).toBe(false);
    expect(out.drift).toBeNull();
    expect(out.rows.map((r) => [r.implementation, r.status, r.samplesMs.length])).toEqual([
      ['naive', 'ok', 3],
      ['flash', 'ok', 3],
    ]);
    expect(events.map((e) => e.type)).toEqual([
      'point-start',
      'point-end',
      'point-start',
      'point-end',
    ]);
    const interleaved = await setup().run(true);
    expect(interleaved.rows.every((r) => r.status === 'ok' && r.samplesMs.length === 3)).toBe(true);
  });

  it('stops before the first group when already aborted, and says the run was interrupted', async () => {
    const ac = new AbortController();
    ac.abort();
    const out = await setup(ac.signal).run(false);
    expect(out.interrupted).toBe(true);
    expect(out.rows).toEqual([]);
  });
});

describe('summarise', () => {
  const stored: StoredPeak = {
    fmaGflops: 100,
    streamGBps: 10,
    threads: 2,
    simdLevel: 'avx2',
    measuredAt: '2026-01-01T00:00:00Z',
  } as StoredPeak;

  it('uses a stored peak only when measured on the same threads and SIMD level; an unreadable one gives none', async () => {
    expect((await matchingPeaks(async () => stored, 2, 'avx2', undefined)).peak).toMatchObject({
      fmaGflops: 100,
      streamGBps: 10,
      threads: 2,
    });
    expect((await matchingPeaks(async () => stored, 4, 'avx2', undefined)).peak).toBeUndefined();
    expect((await matchingPeaks(async () => stored, 2, 'avx512', undefined)).peak).toBeUndefined();
    expect(
      await matchingPeaks(async () => Promise.reject(new Error('corrupt')), 2, 'avx2', undefined),
    ).toEqual({});
    expect(await matchingPeaks(undefined, 2, 'avx2', undefined)).toEqual({
      peak: undefined,
      gpuPeak: undefined,
    });
  });

  it('finalizes each side on its own and places ok rows on the roofline', () => {
    const binding = createFakeBinding();
    const row = (dtype: 'fp32' | 'bf16', status: ResultRow['status']): ResultRow =>
      ({
        implementation: 'flash',
        device: 'cpu',
        dtype,
        seqLen: 128,
        batch: 1,
        status,
        stats: status === 'ok' ? { medianMs: 1 } : null,
        gflops: 5,
        gbps: 1,
        flopsPerIteration: 5e6,
        bytesPerIteration: 1e6,
        causal: false,
      }) as ResultRow;
    const calls: string[][] = [];
    const sides = [
      { device: 'cpu' as const, dtype: 'fp32' as const },
      { device: 'cpu' as const, dtype: 'bf16' as const },
    ];
    const { rows, measuredRows } = summariseRows(
      [row('fp32', 'ok'), row('bf16', 'ok'), row('fp32', 'skipped')],
      {
        binding,
        catalogue: binding.listImplementations(),
        sides,
        peaks: { peak: { fmaGflops: 100, streamGBps: 10, threads: 2, simdLevel: 'avx2' } },
        finalize: (rs) => {
          calls.push(rs.map((r) => `${r.dtype}:${r.status}`));
          return rs;
        },
      },
    );
    expect(calls).toEqual([['fp32:ok', 'fp32:skipped'], ['bf16:ok']]);
    expect(rows.map((r) => r.dtype)).toEqual(['fp32', 'fp32', 'bf16']);
    expect(measuredRows[0]!.roofline?.pctOfPeakCompute).toBeCloseTo(5, 6);
    expect(measuredRows[2]!.roofline).toBeUndefined();
  });
});

describe('compare sides and assemble', () => {
  it('one side has nothing to compare', () => {
    expect(compareSides([], [{ device: 'cpu', dtype: 'fp32' }], 1)).toBeNull();
  });

  it('two sides compare each pair of rows', () => {
    const row = (dtype: 'fp32' | 'bf16', ms: number): ResultRow =>
      ({
        implementation: 'flash',
        device: 'cpu',
        dtype,
        seqLen: 128,
        batch: 1,
        heads: 2,
        kvHeads: 2,
        headDim: 32,
        causal: false,
        status: 'ok',
        reason: null,
        samplesMs: [ms, ms * 1.01, ms * 0.99, ms, ms * 1.02],
        stats: { medianMs: ms },
        peakMemoryBytes: 100,
      }) as ResultRow;
    const c = compareSides(
      [row('fp32', 2), row('bf16', 1)],
      [
        { device: 'cpu', dtype: 'fp32' },
        { device: 'cpu', dtype: 'bf16' },
      ],
      1,
    );
    expect(c?.precision).toHaveLength(1);
    expect(c?.precision[0]!.rows[0]!.timeRatio).toBeCloseTo(0.5, 2);
  });

  it('the config says how the run sampled: fixed runs, or adaptive with its limits, and each side with its budget', () => {
    const fixed = resolveSides(options(), createFakeBinding().info(), () => {});
    const cfg = runConfigOf({ range: 'custom' }, fixed, {
      implementations: ['flash'],
      threads: 2,
      budgets: [GiB],
      request: samplingRequest(fixed.options),
      interleave: true,
    });
    expect(cfg).toMatchObject({
      range: 'custom',
      implementations: ['flash'],
      threads: 2,
      memoryBudgetBytes: GiB,
      runs: 3,
      sampling: 'fixed',
      device: 'cpu',
      dtype: 'fp32',
      interleave: true,
    });
    expect(cfg).not.toHaveProperty('targetRse');
    expect(cfg).not.toHaveProperty('sides');
    const two = resolveSides(
      options({ runs: undefined, compareDtypes: 'fp32,bf16' }),
      createFakeBinding().info(),
      () => {},
    );
    const cfg2 = runConfigOf({}, two, {
      implementations: ['flash'],
      threads: 2,
      budgets: [GiB, 2 * GiB],
      request: samplingRequest(two.options),
      interleave: false,
    });
    expect(cfg2).toMatchObject({
      sampling: 'adaptive',
      dtype: 'fp32,bf16',
      sidesInterleaved: true,
      compareDtypes: ['fp32', 'bf16'],
    });
    expect(cfg2.targetRse).toBeGreaterThan(0);
    expect((cfg2.sides as { memoryBudgetBytes: number }[]).map((s) => s.memoryBudgetBytes)).toEqual(
      [GiB, 2 * GiB],
    );
  });

  it('the file records interruption, the peak, and the GPU peak only when a row ran on cuda', () => {
    const binding = createFakeBinding();
    const gpuPeak = {
      name: 'Fake GPU',
      fp16TensorTflops: 1,
      bf16TensorTflops: 1,
      fp32FmaTflops: 1,
      copyGBps: 1,
      copyBytes: 1,
      runs: 1,
      durationSeconds: 1,
      measuredAt: 'x',
    };
    const base = {
      suite: 'sequence-ranges',
      createdAt: '2026-01-01T00:00:00.000Z',
      binding,
      peaks: {
        peak: { fmaGflops: 100, streamGBps: 10, threads: 2, simdLevel: 'avx2' as const },
        gpuPeak,
      },
      config: { a: 1 },
      comparisons: null,
      interference: null,
      drift: null,
    };
    const cpuRow = { device: 'cpu' } as ResultRow;
    const f = assembleResultFile({
      ...base,
      interrupted: true,
      measuredRows: [cpuRow],
      rows: [cpuRow],
    });
    expect(f).toMatchObject({
      schemaVersion: 1,
      suite: 'sequence-ranges',
      createdAt: base.createdAt,
      interrupted: true,
      config: { a: 1 },
      results: [cpuRow],
    });
    expect(f.environment.peak?.fmaGflops).toBe(100);
    expect(f.environment.gpuPeak).toBeUndefined();
    expect(f).not.toHaveProperty('comparisons');
    const cudaRow = { device: 'cuda' } as ResultRow;
    const g = assembleResultFile({
      ...base,
      interrupted: false,
      measuredRows: [cudaRow],
      rows: [cudaRow],
    });
    expect(g.environment.gpuPeak?.name).toBe('Fake GPU');
    expect(g).not.toHaveProperty('interrupted');
  });
});
