// Adaptive sampling as every suite's default (issue 4), --interleave, the planner's estimate under
// --max-time, and what runBenchmark writes after the results (history, plots: issue 5).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sequenceRanges } from '../../src/suites/sequence-ranges.js';
import { runBenchmark, type FilesWritten } from '../../src/api/run.js';
import { ConfigError } from '../../src/config/errors.js';
import { constantRate } from '../../src/plan/calibrate.js';
import { estimateSeconds, SETUP_BYTES_PER_SECOND } from '../../src/plan/planner.js';
import { planIterations, runSuite, samplingRequest } from '../../src/suite/runner.js';
import { readHistory } from '../../src/history/index.js';
import { toMarkdown } from '../../src/reports/markdown.js';
import { createFakeBinding } from '../helpers/fake-binding.js';

const GiB = 1024 ** 3;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'dilbench-adaptive-'));
  dirs.push(d);
  return d;
}

describe('sampling options', () => {
  it('default to adaptive sampling', () => {
    const o = sequenceRanges.parseOptions({ range: 'custom', customLengths: '128' });
    expect(o).toMatchObject({
      warmup: 'adaptive',
      targetRse: 0.01,
      minSamples: 10,
      maxSamples: 1000,
      maxTime: 10,
      cold: false,
      interleave: true,
      repetitions: 1,
      plots: true,
      history: true,
      baseline: 'naive',
    });
    expect(o.runs).toBeUndefined();
    const req = samplingRequest(o);
    expect(req).toMatchObject({
      warmup: 'adaptive',
      runs: undefined,
      targetRse: 0.01,
      minSamples: 10,
      maxTimeSeconds: 10,
    });
  });

  it('accept percents, strings and fixed counts', () => {
    const o = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128',
      targetRse: '2%',
      minSamples: '5',
      maxSamples: '50',
      maxTime: '0.5',
      warmup: '3',
      runs: '7',
      cold: 'true',
      interleave: true,
    });
    expect(o).toMatchObject({
      targetRse: 0.02,
      minSamples: 5,
      maxSamples: 50,
      maxTime: 0.5,
      warmup: 3,
      runs: 7,
      cold: true,
      interleave: true,
    });
    // a min-samples above the default cap raises the default cap
    expect(
      sequenceRanges.parseOptions({ range: 'custom', customLengths: '128', minSamples: 2000 })
        .maxSamples,
    ).toBe(2000);
  });

  it.each([
    ['targetRse', '0'],
    ['targetRse', '1'],
    ['targetRse', 'abc'],
    ['targetRse', '150%'],
    ['minSamples', '0'],
    ['minSamples', '2.5'],
    ['maxSamples', '0'],
    ['maxTime', '0'],
    ['maxTime', '-3'],
    ['warmup', 'lots'],
    ['warmup', '-1'],
    ['runs', '0'],
    ['cold', 'maybe'],
    ['interleave', 'sometimes'],
    ['baseline', ''],
  ])('%s = %j is a ConfigError naming the field, the value and what is allowed', (field, value) => {
    let err: unknown;
    try {
      sequenceRanges.parseOptions({ range: 'custom', customLengths: '128', [field]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const ce = err as ConfigError;
    expect(ce.field).toBe(field);
    expect(ce.value).toBe(value);
    expect(ce.allowed.length).toBeGreaterThan(0);
    expect(ce.message).toContain(`invalid ${field}`);
    expect(ce.message).toContain('allowed:');
  });

  it('max-samples below min-samples names maxSamples', () => {
    expect(() =>
      sequenceRanges.parseOptions({
        range: 'custom',
        customLengths: '128',
        minSamples: 20,
        maxSamples: 5,
      }),
    ).toThrow(expect.objectContaining({ field: 'maxSamples', value: 5 }));
  });
});

describe('planner estimate under adaptive sampling', () => {
  const plan = { flops: 1e9, totalBytes: 2e6 } as Parameters<typeof estimateSeconds>[0];
  const setup = plan.totalBytes / SETUP_BYTES_PER_SECOND;

  it('is bounded by --max-time per point, not by max-samples x iteration time', () => {
    const req = samplingRequest(
      sequenceRanges.parseOptions({ range: 'custom', customLengths: '128', maxTime: 2 }),
    );
    const it = planIterations(req);
    // 0.1 s per iteration: 1007 iterations would be 100 s; the scheduler stops at 2 s
    expect(estimateSeconds(plan, 1e10, it.iterations, it)).toBeCloseTo(2 + setup, 9);
    // 1 ms per iteration: max-samples (1000) ends it first, under max-time
    const fast = estimateSeconds(plan, 1e12, it.iterations, it);
    expect(fast).toBeLessThan(2);
    expect(fast).toBeCloseTo(1.007 + setup, 6);
    // 10 s per iteration: the cold call and one sample are always taken, past max-time
    expect(estimateSeconds(plan, 1e8, it.iterations, it)).toBeCloseTo(2 * 10 + setup, 6);
  });

  it('fixed --runs counts iterations, with no time cap', () => {
    const req = samplingRequest(
      sequenceRanges.parseOptions({
        range: 'custom',
        customLengths: '128',
        warmup: 2,
        runs: 100,
        maxTime: 1,
      }),
    );
    const it = planIterations(req);
    expect(it).toEqual({ iterations: 102 });
    expect(estimateSeconds(plan, 1e10, it.iterations, it)).toBeCloseTo(10.2 + setup, 6);
  });

  it('a point too slow even for the minimum of adaptive samples is skipped by --max-run-seconds', async () => {
    const binding = createFakeBinding({ rate: 1e9 });
    const options = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128,8192',
      implementations: 'flash',
      maxRunSeconds: 5,
      maxTime: 1,
    });
    const file = await runSuite(sequenceRanges, options, { binding, rates: constantRate(1e9) });
    expect(file.results[0]!.status).toBe('ok');
    expect(file.results[0]!.estimatedSeconds).toBeLessThanOrEqual(1 + 0.01);
    expect(file.results[1]!.status).toBe('skipped');
    expect(file.results[1]!.reason).toMatch(/--max-run-seconds/);
  });
});

describe('adaptive suite runs', () => {
  it('every row records its stop reason, warm-up, cold start, cache mode and full statistics', async () => {
    const binding = createFakeBinding();
    const options = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128,256',
      maxTime: 1,
    });
    const file = await runSuite(sequenceRanges, options, { binding, rates: constantRate(1e10) });
    expect(file.config).toMatchObject({
      sampling: 'adaptive',
      warmup: 'adaptive',
      targetRse: 0.01,
      minSamples: 10,
      maxSamples: 1000,
      maxTimeSeconds: 1,
      cacheMode: 'hot',
      interleave: true,
    });
    expect(file.config.runs).toBeUndefined();
    for (const r of file.results) {
      expect(r.status).toBe('ok');
      // the fake's samples vary by +-2%: the RSE target is met with the minimum of samples
      expect(r.stopReason).toBe('converged');
      expect(r.samplesMs.length).toBeGreaterThanOrEqual(10);
      expect(r.stats!.rse!).toBeLessThanOrEqual(0.01);
      expect(r.warmupIterations).toBeGreaterThanOrEqual(1);
      expect(r.coldStartMs).toBeGreaterThan(0);
      expect(r.cacheMode).toBe('hot');
      const ci = r.stats!.medianCi95Ms!;
      expect(ci[0]).toBeLessThanOrEqual(r.stats!.medianMs);
      expect(ci[1]).toBeGreaterThanOrEqual(r.stats!.medianMs);
      expect(r.stats!.outliers).toBeDefined();
    }
  });

  it('--cold is recorded on rows and config', async () => {
    const binding = createFakeBinding();
    const options = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128',
      implementations: 'flash',
      cold: true,
      warmup: 1,
      runs: 4,
    });
    const file = await runSuite(sequenceRanges, options, { binding, rates: constantRate(1e10) });
    expect(file.config).toMatchObject({ sampling: 'fixed', cacheMode: 'cold', runs: 4, warmup: 1 });
    expect(file.results[0]).toMatchObject({ cacheMode: 'cold', stopReason: 'fixed-runs' });
    expect(file.results[0]!.samplesMs).toHaveLength(4);
  });

  it('--interleave samples the implementations of a point in round-robin with their sessions alive together', async () => {
    const order: string[] = [];
    const binding = createFakeBinding({
      onSample: (p) => order.push(`${p.implementation}@${p.seqLen}`),
    });
    let live = 0;
    let maxLive = 0;
    const create = binding.createSession.bind(binding);
    binding.createSession = async (p, o) => {
      const s = await create(p, o);
      maxLive = Math.max(maxLive, ++live);
      const dispose = s.dispose.bind(s);
      s.dispose = () => {
        live--;
        dispose();
      };
      return s;
    };
    const options = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128,256',
      interleave: true,
      maxTime: 1,
    });
    const file = await runSuite(sequenceRanges, options, {
      binding,
      rates: constantRate(1e10),
      availableMemoryBytes: 8 * GiB,
    });
    expect(file.config.interleave).toBe(true);
    expect(file.results.map((r) => [r.implementation, r.seqLen, r.status])).toEqual([
      ['naive', 128, 'ok'],
      ['flash', 128, 'ok'],
      ['naive', 256, 'ok'],
      ['flash', 256, 'ok'],
    ]);
    for (const r of file.results) {
      // interleaving is the default, recorded once in config.interleave: no note per row
      expect(r.warnings?.join(' ') ?? '').not.toMatch(/interleaved/);
      expect(r.samplesMs.length).toBeGreaterThanOrEqual(10);
    }
    expect(maxLive).toBe(2);
    expect(live).toBe(0);
    // both implementations of 128 sampled before either of 256, and alternating within the point
    const at128 = order.filter((o) => o.endsWith('@128'));
    expect(order.slice(0, at128.length)).toEqual(at128);
    const switches = at128.slice(1).filter((o, i) => o !== at128[i]).length;
    expect(switches).toBeGreaterThanOrEqual(4);
  });

  it('interleaves by default; --no-interleave measures each implementation of a point in one go', async () => {
    const orderOf = async (raw: Record<string, unknown>) => {
      const order: string[] = [];
      const binding = createFakeBinding({ onSample: (p) => order.push(p.implementation) });
      const options = sequenceRanges.parseOptions({
        range: 'custom',
        customLengths: '128',
        runs: 20,
        warmup: 1,
        ...raw,
      });
      const file = await runSuite(sequenceRanges, options, {
        binding,
        rates: constantRate(1e10),
        availableMemoryBytes: 8 * GiB,
      });
      const switches = order.slice(1).filter((o, i) => o !== order[i]).length;
      return { switches, interleave: file.config.interleave };
    };
    const byDefault = await orderOf({});
    expect(byDefault.interleave).toBe(true);
    expect(byDefault.switches).toBeGreaterThanOrEqual(4);
    const old = await orderOf({ interleave: false });
    expect(old.interleave).toBe(false);
    expect(old.switches).toBe(1);
  });

  it('--interleave falls back to one after another, saying so, when the sessions do not fit together', async () => {
    const binding = createFakeBinding();
    const opts = {
      threads: 2,
      useMemoryPool: true,
      usePatternCache: true,
      memoryLimitBytes: 8 * GiB,
    };
    const base = {
      device: 'cpu',
      dtype: 'fp32',
      batch: 1,
      heads: 8,
      kvHeads: 8,
      seqLen: 512,
      headDim: 64,
      causal: false,
      seed: 42,
    } as const;
    const a = binding.plan({ ...base, implementation: 'naive' }, opts).totalBytes;
    const b = binding.plan({ ...base, implementation: 'flash' }, opts).totalBytes;
    const options = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '512',
      interleave: true,
      maxTime: 1,
      memoryBudget: Math.max(a, b) + 1,
    });
    const file = await runSuite(sequenceRanges, options, { binding, rates: constantRate(1e10) });
    for (const r of file.results) {
      expect(r.status).toBe('ok');
      expect(r.warnings?.join(' ')).toMatch(
        /not interleaved: the 2 implementations of this point need .* together, over the memory budget/,
      );
    }
  });
});

describe('runBenchmark: history and plots after the results', () => {
  it('appends one history row per result row and writes SVG/PNG plots, listed in onFilesWritten', async () => {
    const dir = tmp();
    let written: FilesWritten | undefined;
    const file = await runBenchmark({
      suite: 'sequence-ranges',
      range: 'custom',
      customLengths: '128,256,512',
      maxTime: 0.5,
      outputDir: dir,
      binding: createFakeBinding(),
      rates: constantRate(1e10),
      onFilesWritten: (w) => (written = w),
    });
    expect(written).toBeDefined();
    expect(written!.warnings).toEqual([]);
    expect(written!.history).toBe(join(dir, 'history.jsonl'));
    const history = readHistory(dir);
    expect(history).toHaveLength(file.results.length);
    expect(
      history.map((h) => [h.runId, h.row.implementation, h.row.seqLen, h.row.stopReason]),
    ).toEqual(file.results.map((r) => [file.runId, r.implementation, r.seqLen, r.stopReason]));
    const svgs = written!.plots.filter((p) => p.endsWith('.svg'));
    expect(svgs.length).toBeGreaterThanOrEqual(3);
    expect(svgs.some((p) => p.endsWith('sequence-ranges_speedup.svg'))).toBe(true);
    for (const p of svgs) expect(readFileSync(p, 'utf8').trimStart().startsWith('<svg')).toBe(true);
    expect(readdirSync(dir)).toEqual(
      expect.arrayContaining(written!.plots.map((p) => p.slice(dir.length + 1))),
    );

    // a second run appends, it never rewrites
    await runBenchmark({
      suite: 'sequence-ranges',
      range: 'custom',
      customLengths: '128',
      runs: 2,
      warmup: 0,
      outputDir: dir,
      plots: false,
      binding: createFakeBinding(),
      rates: constantRate(1e10),
    });
    expect(readHistory(dir)).toHaveLength(file.results.length + 2);
  });

  it('plots: false and history: false write neither', async () => {
    const dir = tmp();
    let written: FilesWritten | undefined;
    await runBenchmark({
      suite: 'sequence-ranges',
      range: 'custom',
      customLengths: '128',
      runs: 2,
      warmup: 0,
      outputDir: dir,
      plots: false,
      history: false,
      binding: createFakeBinding(),
      rates: constantRate(1e10),
      onFilesWritten: (w) => (written = w),
    });
    expect(written!.plots).toEqual([]);
    expect(written!.history).toBeUndefined();
    expect(readdirSync(dir).filter((f) => /\.(svg|png)$/.test(f) || f === 'history.jsonl')).toEqual(
      [],
    );
  });
});

describe('markdown', () => {
  it('has the scaling section (k with its interval, complexity, crossovers) when 3 lengths ran', async () => {
    const binding = createFakeBinding();
    const three = await runSuite(
      sequenceRanges,
      sequenceRanges.parseOptions({
        range: 'custom',
        customLengths: '256,512,1024',
        runs: 3,
        warmup: 0,
      }),
      { binding, rates: constantRate(1e10) },
    );
    const md = toMarkdown(three);
    expect(md).toContain('## Scaling with sequence length');
    expect(md).toContain('| Implementation | Lengths | k [95% CI] | R^2 | Complexity |');
    expect(md).toMatch(
      /\| naive \| 3 \| \d+\.\d\d \[-?\d+\.\d\d, \d+\.\d\d\] \| [01]\.\d{3} \| [^|]+ \|/,
    );
    expect(md).toContain('### Crossover lengths');
    expect(md).toContain('| Median ms [95% CI] | Samples (stop) |');
    expect(md).toMatch(/\| 3 \(fixed-runs\) \|/);

    const two = await runSuite(
      sequenceRanges,
      sequenceRanges.parseOptions({
        range: 'custom',
        customLengths: '256,512',
        runs: 3,
        warmup: 0,
      }),
      { binding, rates: constantRate(1e10) },
    );
    expect(toMarkdown(two)).not.toContain('## Scaling with sequence length');
  });

  it('lists warnings in a notes section referenced from the table', async () => {
    const binding = createFakeBinding();
    const file = await runSuite(
      sequenceRanges,
      sequenceRanges.parseOptions({
        range: 'custom',
        customLengths: '256',
        implementations: 'flash',
        runs: 3,
        warmup: 0,
      }),
      { binding, rates: constantRate(1e10) },
    );
    file.results[0]!.warnings = ['CV 7.0% exceeds 5%: noisy point'];
    const md = toMarkdown(file);
    expect(md).toContain('## Warnings and notes');
    expect(md).toContain('<summary>Warnings and notes (1 point)</summary>');
    expect(md).toContain('1. flash @ 256: CV 7.0% exceeds 5%: noisy point');
    expect(md).toMatch(/\| ok \(see note 1\) \|/);
  });
});
