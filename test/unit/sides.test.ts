// --device auto, --dtype, --compare-dtypes and --compare-devices: option validation, how sides
// are resolved from what the binding reports, the runner's rows per side (skipped with the reason
// where a side cannot run), and the comparison maths against hand-checked inputs.
import { describe, expect, it } from 'vitest';
import { sequenceRanges } from '../../src/suites/sequence-ranges.js';
import { optimizationImpact } from '../../src/suites/optimization-impact.js';
import { quickValidation, toleranceFor } from '../../src/suites/quick-validation.js';
import { configError } from '../helpers/config-error.js';
import type {
  DTypeName,
  NativeBinding,
  NativeProblem,
  NativeSession,
} from '../../src/native/binding.js';
import { constantRate } from '../../src/plan/calibrate.js';
import type { ResultRow } from '../../src/results/types.js';
import { toMarkdown } from '../../src/reports/markdown.js';
import { toCsv } from '../../src/reports/csv.js';
import { runSuite } from '../../src/suite/runner.js';
import { buildSideComparisons, compareSides } from '../../src/suite/side-comparison.js';
import {
  cudaAvailability,
  resolveDevice,
  runSides,
  sideUnavailableReason,
} from '../../src/suite/sides.js';
import type { ProgressEvent } from '../../src/suite/types.js';
import { summaryText } from '../../src/cli/summary.js';
import { sideComparisonSpec } from '../../src/reports/plots/side-comparison.js';
import { renderSvg } from '../../src/reports/plots/render.js';
import { generateReport } from '../../src/reports/report/index.js';
import { writeResultFiles } from '../../src/reports/write.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CodedError, createFakeBinding, type FakeOptions } from '../helpers/fake-binding.js';
import { firstItems } from '../helpers/at.js';
import { runBenchmark } from '../../src/api/run.js';

const GiB = 1024 ** 3;

/**
 * The fake binding with per-implementation dtypes on the cpu, and per-dtype factors on the time
 * and peak memory of its sessions (so the comparisons have known answers).
 */
function fakeWithDtypes(
  dtypes: Record<string, DTypeName[]>,
  factors: Partial<Record<DTypeName, { time: number; memory: number }>> = {},
  opts: FakeOptions = {},
): NativeBinding & { sessions: NativeProblem[] } {
  const fake = createFakeBinding(opts);
  return {
    ...fake,
    sessions: fake.sessions,
    listImplementations: () =>
      fake
        .listImplementations()
        .map((i) => (i.device === 'cpu' && dtypes[i.name] ? { ...i, dtypes: dtypes[i.name]! } : i)),
    async createSession(problem, options): Promise<NativeSession> {
      const s = await fake.createSession(problem, options);
      const f = factors[problem.dtype] ?? { time: 1, memory: 1 };
      return {
        ...s,
        plan: s.plan,
        sample: async (n, cold, cancel) => (await s.sample(n, cold, cancel)).map((x) => x * f.time),
        poolStats: () => {
          const p = s.poolStats();
          return { ...p, peakBytesInUse: Math.round(p.peakBytesInUse * f.memory) };
        },
        dispose: () => s.dispose(),
      };
    },
  };
}

function okRow(
  implementation: string,
  dtype: DTypeName,
  samplesMs: number[],
  peak: number,
  extra: Partial<ResultRow> = {},
): ResultRow {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!; // rows without samples replace stats
  return {
    implementation,
    device: 'cpu',
    dtype,
    batch: 1,
    heads: 2,
    kvHeads: 2,
    headDim: 64,
    seqLen: 1024,
    effectiveSeqLen: 1024,
    causal: false,
    status: 'ok',
    reason: null,
    samplesMs,
    stats: {
      medianMs: median,
      meanMs: median,
      stdMs: 0,
      minMs: sorted[0]!,
      maxMs: sorted.at(-1)!,
      p10Ms: sorted[0]!,
      p90Ms: sorted.at(-1)!,
    },
    peakMemoryBytes: peak,
    estimatedMemoryBytes: peak,
    tokensPerSecond: 1,
    gflops: 1,
    flopsPerIteration: 1,
    bytesPerIteration: 1,
    threads: 2,
    simdLevel: 'avx2',
    ...extra,
  };
}

describe('dtype and device options', () => {
  const parse = (raw: Record<string, unknown>) =>
    sequenceRanges.parseOptions({ range: 'custom', customLengths: '128', ...raw });

  it('accepts fp32, fp16, bf16 and auto; compare lists keep their order', () => {
    expect(parse({}).dtype).toBe('fp32');
    expect(parse({ dtype: 'bf16' }).dtype).toBe('bf16');
    expect(parse({ device: 'auto' }).device).toBe('auto');
    const o = parse({ compareDtypes: 'bf16, fp32,fp16' });
    expect(o.compareDtypes).toEqual(['bf16', 'fp32', 'fp16']);
    expect(o.dtype).toBe('bf16'); // the baseline
    expect(parse({ compareDevices: true }).compareDevices).toBe(true);
  });

  it('bad values name the field and list what is allowed', () => {
    const dtype = configError(() => parse({ dtype: 'fp64' }));
    expect(dtype.field).toBe('dtype');
    expect(dtype.allowed).toBe('fp32, fp16, bf16');
    const device = configError(() => parse({ device: 'tpu' }));
    expect(device.field).toBe('device');
    expect(device.allowed).toMatch(/^cpu, cuda, auto/);
    for (const bad of ['fp32', 'fp32,int8', '', 'fp32,fp32']) {
      const e = configError(() => parse({ compareDtypes: bad }));
      expect(e.field, bad).toBe('compareDtypes');
      expect(e.allowed).toContain('fp32, fp16, bf16');
    }
    expect(configError(() => parse({ compareDtypes: 'fp32,fp32' })).detail).toBe(
      'a dtype is listed twice',
    );
    expect(configError(() => parse({ compareDtypes: 'fp32,bf16', dtype: 'fp16' })).field).toBe(
      'compareDtypes',
    );
    expect(configError(() => parse({ compareDevices: true, device: 'cpu' })).field).toBe(
      'compareDevices',
    );
    expect(configError(() => parse({ compareDevices: 'maybe' })).field).toBe('compareDevices');
  });

  it('suites built on the family options take them too', () => {
    expect(optimizationImpact.parseOptions({ compareDtypes: 'fp32,bf16' }).compareDtypes).toEqual([
      'fp32',
      'bf16',
    ]);
    expect(configError(() => quickValidation.parseOptions({ dtype: 'int8' })).field).toBe('dtype');
  });
});

describe('sides', () => {
  const none = { cuda: { compiled: false, deviceCount: 0, devices: [] } };
  const zero = { cuda: { compiled: true, deviceCount: 0, devices: [] } };
  const gpu = {
    cuda: {
      compiled: true,
      deviceCount: 1,
      devices: [
        {
          index: 0,
          name: 'H100',
          computeCapability: '9.0',
          totalMemoryBytes: 80 * GiB,
          smClockMHz: 1980,
          driverVersion: '1',
          runtimeVersion: '1',
        },
      ],
    },
  };

  it('--device auto: cuda when the binding reports a device, else cpu, with the reason', () => {
    expect(resolveDevice('auto', gpu)).toMatchObject({ requested: 'auto', device: 'cuda' });
    expect(resolveDevice('auto', gpu).reason).toContain('H100 (compute capability 9.0, 80.0 GiB)');
    expect(resolveDevice('auto', none)).toMatchObject({ device: 'cpu' });
    expect(resolveDevice('auto', none).reason).toMatch(
      /no CUDA device: the loaded dilbench build has no CUDA backend/,
    );
    expect(resolveDevice('auto', zero).reason).toBe(
      'auto: no CUDA device: the CUDA backend is built but no device is usable',
    );
    expect(
      cudaAvailability({
        cuda: { ...zero.cuda, error: 'cudaGetDeviceCount: no CUDA-capable device is detected' },
      }).reason,
    ).toBe(
      'no CUDA device: the CUDA backend is built but no device is usable (cudaGetDeviceCount: no CUDA-capable device is detected)',
    );
    expect(resolveDevice('cpu', gpu)).toMatchObject({ device: 'cpu', reason: '--device cpu' });
  });

  it('sides are devices x dtypes, baseline first', () => {
    expect(runSides({ dtype: 'fp16' }, 'cpu')).toEqual([{ device: 'cpu', dtype: 'fp16' }]);
    expect(runSides({ compareDtypes: ['fp32', 'bf16'], compareDevices: true }, 'cpu')).toEqual([
      { device: 'cpu', dtype: 'fp32' },
      { device: 'cpu', dtype: 'bf16' },
      { device: 'cuda', dtype: 'fp32' },
      { device: 'cuda', dtype: 'bf16' },
    ]);
  });

  it('what a side cannot run comes from the listed dtypes and devices', () => {
    const list = [
      {
        name: 'flash',
        device: 'cpu' as const,
        dtypes: ['fp32' as const, 'bf16' as const],
        description: '',
      },
      { name: 'dilated', device: 'cpu' as const, dtypes: ['fp32' as const], description: '' },
    ];
    const cpuOnly = cudaAvailability(none);
    expect(
      sideUnavailableReason({ device: 'cpu', dtype: 'bf16' }, 'flash', list, cpuOnly),
    ).toBeNull();
    expect(sideUnavailableReason({ device: 'cpu', dtype: 'bf16' }, 'dilated', list, cpuOnly)).toBe(
      'dilated does not support bf16 on cpu (supported: fp32)',
    );
    expect(sideUnavailableReason({ device: 'cuda', dtype: 'fp32' }, 'flash', list, cpuOnly)).toBe(
      cpuOnly.reason,
    );
    expect(
      sideUnavailableReason(
        { device: 'cuda', dtype: 'fp32' },
        'flash',
        list,
        cudaAvailability(gpu),
      ),
    ).toBe('flash is not available on cuda in this build (available on: cpu)');
  });
});

describe('comparison maths (hand-checked)', () => {
  it('time ratio, its interval, the Mann-Whitney p and the memory ratio', () => {
    const base = [10, 10.2, 9.8, 10.1, 9.9];
    const rows = [
      okRow('flash', 'fp32', base, 4000),
      okRow(
        'flash',
        'bf16',
        base.map((x) => x / 2),
        1000,
      ),
    ];
    const c = compareSides(
      rows,
      { device: 'cpu', dtype: 'fp32' },
      { device: 'cpu', dtype: 'bf16' },
      'precision',
    );
    expect(c.rows).toHaveLength(1);
    const r = c.rows[0]!;
    // medians 10 and 5
    expect(r.timeRatio).toBeCloseTo(0.5, 12);
    expect(r.timeRatioCi95![0]).toBeLessThanOrEqual(0.5);
    expect(r.timeRatioCi95![1]).toBeGreaterThanOrEqual(0.5);
    // every bf16 sample below every fp32 one, n = m = 5: exact two-sided p = 2 / C(10, 5) = 2/252
    expect(r.pValue).toBeCloseTo(2 / 252, 10);
    expect(r.significant).toBe(true);
    expect(r.verdict).toBe('faster');
    expect(r.memoryRatio).toBe(0.25);
    expect(r.baseline).toMatchObject({ medianMs: 10, peakMemoryBytes: 4000, samples: 5 });
    expect(r.other).toMatchObject({ medianMs: 5, peakMemoryBytes: 1000 });
    expect(c.summary).toMatchObject({ rows: 1, faster: 1, slower: 0 });
    expect(c.summary.geomeanRatio).toBeCloseTo(0.5, 12);
  });

  it('equal samples are the same (p = 1), a skipped or re-batched side is not compared and says why', () => {
    const s = [3, 3.1, 2.9, 3, 3.05, 2.95];
    const rows: ResultRow[] = [
      okRow('flash', 'fp32', s, 100),
      okRow('flash', 'bf16', s, 100),
      okRow('naive', 'fp32', s, 100),
      {
        ...okRow('naive', 'bf16', [], 0),
        status: 'skipped',
        reason: 'naive does not support bf16 on cpu (supported: fp32)',
        stats: null,
        peakMemoryBytes: null,
      },
      okRow('ring', 'fp32', s, 100, { batch: 4 }),
      okRow('ring', 'bf16', s, 100, { batch: 2 }),
    ];
    const all = buildSideComparisons(rows, [
      { device: 'cpu', dtype: 'fp32' },
      { device: 'cpu', dtype: 'bf16' },
    ])!;
    expect(all.device).toEqual([]);
    expect(all.precision).toHaveLength(1);
    const [flash, naive, ring] = firstItems(all.precision[0]!.rows, 3, 'rows');
    expect(flash.timeRatio).toBe(1);
    expect(flash.pValue).toBeCloseTo(1, 10);
    expect(flash.significant).toBe(false);
    expect(flash.verdict).toBe('same');
    expect(naive).toMatchObject({ timeRatio: null, significant: null, memoryRatio: null });
    expect(naive.note).toBe(
      'cpu/bf16 skipped: naive does not support bf16 on cpu (supported: fp32)',
    );
    expect(ring.timeRatio).toBeNull();
    expect(ring.note).toMatch(/^batch 4 on cpu\/fp32 but 2 on cpu\/bf16/);
    expect(ring.memoryRatio).toBeNull();
    expect(all.precision[0]!.summary.rows).toBe(1);
  });

  it('pairs by the point parameters, not by what a suite derived per side', () => {
    const s = [2, 2.1, 1.9, 2, 2.05];
    const rows: ResultRow[] = [
      okRow('flash', 'fp32', s, 100, {
        params: { configuration: 'both', optimization: { speedupVsBaseline: 1.1 } },
      }),
      okRow('flash', 'fp32', s, 100, {
        params: { configuration: 'baseline', optimization: { speedupVsBaseline: 1 } },
      }),
      okRow(
        'flash',
        'bf16',
        s.map((x) => x * 2),
        100,
        { params: { configuration: 'baseline', optimization: { speedupVsBaseline: 1 } } },
      ),
      okRow(
        'flash',
        'bf16',
        s.map((x) => x / 2),
        100,
        { params: { configuration: 'both', optimization: { speedupVsBaseline: 0.9 } } },
      ),
      okRow('ring', 'fp32', s, 100, { params: { ringSize: 2, measured: true } }),
      {
        ...okRow('ring', 'bf16', [], 0, { params: { ringSize: 2 } }),
        status: 'skipped',
        reason: 'ring does not support bf16 on cpu (supported: fp32)',
        stats: null,
      },
    ];
    const c = compareSides(
      rows,
      { device: 'cpu', dtype: 'fp32' },
      { device: 'cpu', dtype: 'bf16' },
      'precision',
    );
    expect(c.rows.map((r) => [r.params, r.timeRatio])).toEqual([
      [{ configuration: 'both' }, 0.5],
      [{ configuration: 'baseline' }, 2],
      [{ ringSize: 2 }, null],
    ]);
    expect(c.rows[2]!.note).toBe(
      'cpu/bf16 skipped: ring does not support bf16 on cpu (supported: fp32)',
    );
  });

  it('a one-side run has no comparisons', () => {
    expect(
      buildSideComparisons(
        [okRow('flash', 'fp32', [1, 2, 3], 1)],
        [{ device: 'cpu', dtype: 'fp32' }],
      ),
    ).toBeNull();
  });
});

describe('runner with several sides (fake binding)', () => {
  const base = { range: 'custom', customLengths: '128,256', warmup: 1, runs: 5 };

  it('--compare-dtypes fp32,bf16: real rows where listed, skipped rows with the reason elsewhere, one file with the comparison', async () => {
    const calls: string[] = [];
    const binding = fakeWithDtypes(
      { flash: ['fp32', 'bf16'] },
      { bf16: { time: 0.5, memory: 0.5 } },
      { onSample: (p) => calls.push(`${p.implementation}@${p.seqLen}/${p.dtype}`) },
    );
    const events: ProgressEvent[] = [];
    const options = sequenceRanges.parseOptions({ ...base, compareDtypes: 'fp32,bf16' });
    const file = await runSuite(sequenceRanges, options, {
      binding,
      rates: constantRate(1e10),
      availableMemoryBytes: 8 * GiB,
      onProgress: (e) => events.push(e),
    });
    // each side's rows in point order (the suite finalizes a side at a time), the baseline first
    expect(file.results.map((r) => [r.implementation, r.seqLen, r.dtype, r.status])).toEqual([
      ['naive', 128, 'fp32', 'ok'],
      ['flash', 128, 'fp32', 'ok'],
      ['naive', 256, 'fp32', 'ok'],
      ['flash', 256, 'fp32', 'ok'],
      ['naive', 128, 'bf16', 'skipped'],
      ['flash', 128, 'bf16', 'ok'],
      ['naive', 256, 'bf16', 'skipped'],
      ['flash', 256, 'bf16', 'ok'],
    ]);
    const skipped = file.results.filter((r) => r.status === 'skipped');
    for (const r of skipped) {
      expect(r.reason).toBe('naive does not support bf16 on cpu (supported: fp32)');
      expect(r.estimatedSeconds).toBeUndefined();
    }
    // the native side saw bf16 problems only for flash
    expect(binding.sessions.filter((p) => p.dtype === 'bf16').map((p) => p.implementation)).toEqual(
      ['flash', 'flash'],
    );
    // the two sides of a point were sampled interleaved
    const flashBf16 = file.results.find((r) => r.implementation === 'flash' && r.dtype === 'bf16')!;
    expect(flashBf16.warnings ?? []).toEqual([]);
    expect(file.config.sidesInterleaved).toBe(true);
    const flash128 = calls.filter((c) => c.startsWith('flash@128/'));
    const switches = flash128.filter((c, k) => k > 0 && c !== flash128[k - 1]).length;
    expect(switches).toBeGreaterThanOrEqual(3); // fp32 and bf16 samples alternate, not one block after the other
    expect(flashBf16.peakMemoryBytes).toBe(
      Math.round(
        file.results.find((r) => r.implementation === 'flash' && r.dtype === 'fp32')!
          .peakMemoryBytes! * 0.5,
      ),
    );

    expect(file.config).toMatchObject({
      dtype: 'fp32,bf16',
      device: 'cpu',
      compareDtypes: ['fp32', 'bf16'],
    });
    expect((file.config.sides as unknown[]).length).toBe(2);
    const prec = file.comparisons!.precision;
    expect(prec).toHaveLength(1);
    expect(prec[0]).toMatchObject({
      kind: 'precision',
      baseline: { device: 'cpu', dtype: 'fp32' },
      other: { device: 'cpu', dtype: 'bf16' },
    });
    const flash = prec[0]!.rows.filter((r) => r.implementation === 'flash');
    expect(flash).toHaveLength(2);
    for (const r of flash) {
      expect(r.timeRatio).toBeCloseTo(0.5, 9);
      expect(r.memoryRatio).toBeCloseTo(0.5, 3);
      expect(r.significant).toBe(true);
      expect(r.verdict).toBe('faster');
    }
    const naive = prec[0]!.rows.filter((r) => r.implementation === 'naive');
    expect(naive.map((r) => r.note)).toEqual([
      'cpu/bf16 skipped: naive does not support bf16 on cpu (supported: fp32)',
      'cpu/bf16 skipped: naive does not support bf16 on cpu (supported: fp32)',
    ]);
    expect(events.filter((e) => e.type === 'calibrate')).toHaveLength(0); // rates injected

    const md = toMarkdown(file);
    expect(md).toContain('## Precision comparison');
    expect(md).toContain('### bf16 vs fp32 on cpu');
    expect(md).toMatch(/\| 128 \| flash \| [\d.]+ .*\| 0\.500 \[/);
    expect(md).toContain('skipped: naive does not support bf16 on cpu (supported: fp32)');
    expect(md).toContain('| flash (bf16) |');
    expect(md).not.toContain('## Device comparison');
    const csv = toCsv(file).trim().split('\n');
    expect(csv).toHaveLength(1 + file.results.length);
    expect(summaryText(file)).toMatch(
      /precision comparison bf16 vs fp32 on cpu: time ratio bf16\/fp32 geometric mean 0\.500 .* over 2 pair\(s\): 2 faster/,
    );
  });

  it('the grouped time-ratio chart: one bar per compared pair with its interval; none without a compared pair', async () => {
    const binding = fakeWithDtypes(
      { flash: ['fp32', 'bf16'] },
      { bf16: { time: 0.5, memory: 0.5 } },
    );
    const file = await runSuite(
      sequenceRanges,
      sequenceRanges.parseOptions({ ...base, compareDtypes: 'fp32,bf16' }),
      { binding, rates: constantRate(1e10) },
    );
    const spec = sideComparisonSpec(file)!;
    const values = spec.data.values as {
      implementation: string;
      seqLen: number;
      ratio: number;
      low: number;
      high: number;
    }[];
    expect(values.map((v) => [v.implementation, v.seqLen])).toEqual([
      ['flash', 128],
      ['flash', 256],
    ]);
    for (const v of values) {
      expect(v.ratio).toBeCloseTo(0.5, 9);
      expect(v.low).toBeLessThanOrEqual(v.ratio);
      expect(v.high).toBeGreaterThanOrEqual(v.ratio);
    }
    const svg = await renderSvg(spec);
    expect(svg).toContain('<svg');
    expect(svg).toContain('Time ratio bf16/fp32');
    const cpuOnly = await runSuite(
      sequenceRanges,
      sequenceRanges.parseOptions({ ...base, compareDevices: true }),
      { binding, rates: constantRate(1e10) },
    );
    expect(sideComparisonSpec(cpuOnly)).toBeNull();
  });

  it('dilbench report nests the comparison under its run and keeps it in report.json', async () => {
    const binding = fakeWithDtypes(
      { flash: ['fp32', 'bf16'] },
      { bf16: { time: 0.5, memory: 0.5 } },
    );
    const file = await runSuite(
      sequenceRanges,
      sequenceRanges.parseOptions({ ...base, compareDtypes: 'fp32,bf16' }),
      { binding, rates: constantRate(1e10) },
    );
    const dir = mkdtempSync(join(tmpdir(), 'dilbench-sides-report-'));
    try {
      await writeResultFiles(file, join(dir, 'results'));
      await generateReport({
        resultsDir: join(dir, 'results'),
        outDir: join(dir, 'report'),
        formats: ['md', 'json'],
        figureFormats: ['svg'],
      });
      const md = readFileSync(join(dir, 'report', 'report.md'), 'utf8');
      expect(md).toContain('### Precision comparison');
      expect(md).toContain('#### bf16 vs fp32 on cpu');
      expect(md).toMatch(
        /!\[Precision \/ device comparison: time ratio\]\(figs\/.*_side-comparison\.svg\)/,
      );
      const json = JSON.parse(readFileSync(join(dir, 'report', 'report.json'), 'utf8')) as {
        runs: { comparisons?: { precision: unknown[] } }[];
      };
      expect(json.runs[0]!.comparisons?.precision).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--compare-devices without CUDA: cpu rows run, cuda rows skipped with the reason, one note at the start', async () => {
    const binding = fakeWithDtypes({});
    const events: ProgressEvent[] = [];
    const options = sequenceRanges.parseOptions({ ...base, compareDevices: true });
    const file = await runSuite(sequenceRanges, options, {
      binding,
      rates: constantRate(1e10),
      availableMemoryBytes: 8 * GiB,
      onProgress: (e) => events.push(e),
    });
    const cpu = file.results.filter((r) => r.device === 'cpu');
    const cuda = file.results.filter((r) => r.device === 'cuda');
    expect(cpu.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(cuda).toHaveLength(4);
    for (const r of cuda) {
      expect(r.status).toBe('skipped');
      expect(r.reason).toBe('no CUDA device: the loaded dilbench build has no CUDA backend');
    }
    expect(binding.sessions.every((p) => p.device === 'cpu')).toBe(true);
    const notes = events.filter((e) => e.type === 'note');
    expect(notes).toHaveLength(1);
    expect((notes[0] as { message: string }).message).toMatch(
      /^--compare-devices: no CUDA device: the loaded dilbench build has no CUDA backend \(`dilbench doctor` says .*\); every cuda row is recorded as skipped/,
    );
    expect(events.findIndex((e) => e.type === 'note')).toBeLessThan(
      events.findIndex((e) => e.type === 'plan'),
    );
    expect(file.comparisons!.device).toHaveLength(1);
    expect(file.comparisons!.device[0]!.summary.rows).toBe(0);
    expect(file.config.sides).toEqual([
      { device: 'cpu', dtype: 'fp32', memoryBudgetBytes: 4 * GiB },
      {
        device: 'cuda',
        dtype: 'fp32',
        memoryBudgetBytes: 0,
        available: false,
        reason: cudaAvailability(binding.info()).reason,
      },
    ]);
    const md = toMarkdown(file);
    expect(md).toContain('## Device comparison');
    expect(md).toContain('### cuda vs cpu (fp32)');
    expect(md).toContain('No (implementation, length) pair ran on both cpu and cuda');
  });

  it('--compare-devices with a CUDA device: both run, each against its own memory budget', async () => {
    const binding = fakeWithDtypes({}, {}, { cudaMemoryBytes: 16 * GiB });
    const options = sequenceRanges.parseOptions({
      ...base,
      customLengths: '128',
      compareDevices: true,
    });
    const file = await runSuite(sequenceRanges, options, {
      binding,
      rates: constantRate(1e10),
      availableMemoryBytes: 8 * GiB,
    });
    expect(file.results.map((r) => [r.implementation, r.device, r.status])).toEqual([
      ['naive', 'cpu', 'ok'],
      ['flash', 'cpu', 'ok'],
      ['naive', 'cuda', 'ok'],
      ['flash', 'cuda', 'ok'],
    ]);
    expect(
      (file.config.sides as { memoryBudgetBytes: number }[]).map((s) => s.memoryBudgetBytes),
    ).toEqual([4 * GiB, 8 * GiB]);
    const dev = file.comparisons!.device[0]!;
    expect(dev.rows.map((r) => r.timeRatio)).toEqual([1, 1]);
  });

  it('a side that runs out of memory is a skipped row with the reason; the other side still runs', async () => {
    const binding = fakeWithDtypes(
      { flash: ['fp32', 'bf16'] },
      {},
      {
        failAt: 'createSession',
        failOn: (p) =>
          p.dtype === 'bf16' && p.seqLen === 256
            ? new CodedError('ERR_DILBENCH_OUT_OF_MEMORY', 'pool allocation of 4 MiB failed')
            : undefined,
      },
    );
    const file = await runSuite(
      sequenceRanges,
      sequenceRanges.parseOptions({
        ...base,
        implementations: 'flash',
        compareDtypes: 'fp32,bf16',
      }),
      { binding, rates: constantRate(1e10) },
    );
    const oom = file.results.find((r) => r.dtype === 'bf16' && r.seqLen === 256)!;
    expect(oom).toMatchObject({
      status: 'skipped',
      reason: 'out of memory on cpu: pool allocation of 4 MiB failed',
      errorCode: 'ERR_DILBENCH_OUT_OF_MEMORY',
    });
    expect(file.results.filter((r) => r.status === 'ok')).toHaveLength(3);
    const row = file.comparisons!.precision[0]!.rows.find((r) => r.seqLen === 256)!;
    expect(row.note).toBe(
      'cpu/bf16 skipped: out of memory on cpu: pool allocation of 4 MiB failed',
    );
  });

  it('runBenchmark takes the same fields (API)', async () => {
    const binding = fakeWithDtypes(
      { flash: ['fp32', 'bf16'] },
      { bf16: { time: 0.5, memory: 0.5 } },
    );
    const file = await runBenchmark({
      suite: 'sequence-ranges',
      range: 'custom',
      customLengths: [128],
      implementations: 'flash',
      compareDtypes: ['fp32', 'bf16'],
      warmup: 1,
      runs: 5,
      outputDir: null,
      binding,
      rates: constantRate(1e10),
    });
    expect(file.comparisons!.precision[0]!.rows[0]!.timeRatio).toBeCloseTo(0.5, 9);
    await expect(
      runBenchmark({
        suite: 'sequence-ranges',
        customLengths: [128],
        dtype: 'fp64' as never,
        outputDir: null,
        binding,
      }),
    ).rejects.toMatchObject({ field: 'dtype' });
  });

  it('--device auto records the choice and why; --dtype with an implementation that lacks it is a ConfigError naming dtype', async () => {
    const binding = fakeWithDtypes({ flash: ['fp32', 'bf16'] });
    const auto = await runSuite(
      sequenceRanges,
      sequenceRanges.parseOptions({ ...base, customLengths: '128', device: 'auto' }),
      { binding, rates: constantRate(1e10) },
    );
    expect(auto.config.device).toBe('cpu');
    expect(auto.config.deviceSelection).toMatchObject({ requested: 'auto', device: 'cpu' });
    expect(auto.results.every((r) => r.device === 'cpu')).toBe(true);
    const gpu = fakeWithDtypes({}, {}, { cudaMemoryBytes: 16 * GiB });
    const onGpu = await runSuite(
      sequenceRanges,
      sequenceRanges.parseOptions({ ...base, customLengths: '128', device: 'auto' }),
      { binding: gpu, rates: constantRate(1e10) },
    );
    expect(onGpu.config.deviceSelection).toMatchObject({
      device: 'cuda',
      reason: 'auto: 1 CUDA device(s); runs on Fake GPU (compute capability 9.0, 16.0 GiB)',
    });
    expect(onGpu.results.every((r) => r.device === 'cuda')).toBe(true);
    // the device is recorded in the environment and shown in the Markdown
    expect(onGpu.environment.gpu).toEqual(gpu.info().cuda.devices);
    expect(toMarkdown(onGpu)).toContain(
      '- GPU 0: Fake GPU, compute capability 9.0, 16.0 GiB, SM clock 1000 MHz, driver 0, CUDA runtime 0',
    );

    // --dtype bf16: only the implementations that list it run
    const bf16 = await runSuite(
      sequenceRanges,
      sequenceRanges.parseOptions({ ...base, customLengths: '128', dtype: 'bf16' }),
      { binding, rates: constantRate(1e10) },
    );
    expect(bf16.results.map((r) => [r.implementation, r.dtype, r.status])).toEqual([
      ['flash', 'bf16', 'ok'],
    ]);
    expect(bf16.config.dtype).toBe('bf16');
    const named = sequenceRanges.parseOptions({
      ...base,
      customLengths: '128',
      dtype: 'bf16',
      implementations: 'naive',
    });
    await expect(
      runSuite(sequenceRanges, named, { binding, rates: constantRate(1e10) }),
    ).rejects.toMatchObject({
      name: 'ConfigError',
      field: 'dtype',
      value: 'bf16',
      allowed: 'fp32 for naive on cpu',
      detail: 'naive does not support bf16 on cpu (supported: fp32)',
    });
    const noneHaveIt = sequenceRanges.parseOptions({
      ...base,
      customLengths: '128',
      dtype: 'fp16',
    });
    await expect(
      runSuite(sequenceRanges, noneHaveIt, { binding, rates: constantRate(1e10) }),
    ).rejects.toMatchObject({ field: 'dtype', detail: 'no implementation supports fp16 on cpu' });
  });

  it('suites finalize each side on its own (optimization-impact speedups stay within a side)', async () => {
    const binding = fakeWithDtypes(
      { flash: ['fp32', 'bf16'], naive: ['fp32', 'bf16'] },
      { bf16: { time: 0.5, memory: 1 } },
    );
    const options = optimizationImpact.parseOptions({
      sequenceLengths: '128',
      implementations: 'flash',
      compareDtypes: 'fp32,bf16',
      warmup: 1,
      runs: 3,
    });
    const file = await runSuite(optimizationImpact, options, {
      binding,
      rates: constantRate(1e10),
    });
    expect(file.results).toHaveLength(8);
    for (const r of file.results) {
      const speedup = (r.params?.optimization as { speedupVsBaseline: number }).speedupVsBaseline;
      // across sides the speedup would be 2 or 0.5
      expect(speedup).toBeGreaterThan(0.9);
      expect(speedup).toBeLessThan(1.1);
    }
    expect(file.comparisons!.precision[0]!.rows).toHaveLength(4);
    expect(
      file.comparisons!.precision[0]!.rows.every((r) => Math.abs((r.timeRatio ?? 0) - 0.5) < 1e-9),
    ).toBe(true);
  });

  it("quick-validation uses each dtype's tolerance of the definitions doc", () => {
    expect(toleranceFor('fp32', {})).toEqual({ maxAbs: 1e-4, relL2: 1e-5 });
    expect(toleranceFor('bf16', {}).relL2).toBe(1e-2);
    expect(toleranceFor('fp16', {}, true).relL2).toBe(4e-3);
    expect(toleranceFor('bf16', { toleranceRel: 0.5 })).toMatchObject({ relL2: 0.5 });
  });
});
