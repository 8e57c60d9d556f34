import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sequenceRanges } from '../../src/suites/sequence-ranges.js';
import { runBenchmark } from '../../src/api/run.js';
import { ConfigError } from '../../src/config/errors.js';
import { constantRate } from '../../src/plan/calibrate.js';
import { runSuite } from '../../src/suite/runner.js';
import type { ProgressEvent } from '../../src/suite/types.js';
import { CodedError, createFakeBinding } from '../helpers/fake-binding.js';
import { firstItems } from '../helpers/at.js';

const GiB = 1024 ** 3;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('suite runner', () => {
  it('records a failing point as failed and runs the rest', async () => {
    const binding = createFakeBinding({
      failOn: (p) =>
        p.implementation === 'flash' && p.seqLen === 256
          ? new CodedError('ERR_DILBENCH_INTERNAL', 'kernel exploded')
          : undefined,
    });
    const events: ProgressEvent[] = [];
    const options = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128,256,512',
      warmup: 1,
      runs: 3,
    });
    const file = await runSuite(sequenceRanges, options, {
      binding,
      rates: constantRate(1e10),
      availableMemoryBytes: 8 * GiB,
      onProgress: (e) => events.push(e),
    });
    expect(file.results.map((r) => [r.implementation, r.seqLen, r.status])).toEqual([
      ['naive', 128, 'ok'],
      ['flash', 128, 'ok'],
      ['naive', 256, 'ok'],
      ['flash', 256, 'failed'],
      ['naive', 512, 'ok'],
      ['flash', 512, 'ok'],
    ]);
    const failed = file.results[3]!;
    expect(failed.errorCode).toBe('ERR_DILBENCH_INTERNAL');
    expect(failed.reason).toBe('kernel exploded');
    expect(failed.stats).toBeNull();
    expect(failed.samplesMs).toEqual([]);
    const ok = file.results[0]!;
    expect(ok.samplesMs).toHaveLength(3);
    expect(ok.stats!.medianMs).toBeGreaterThan(0);
    expect(ok.stats!.p10Ms).toBeLessThanOrEqual(ok.stats!.medianMs);
    expect(ok.stats!.p90Ms).toBeGreaterThanOrEqual(ok.stats!.medianMs);
    expect(ok.stopReason).toBe('fixed-runs');
    expect(ok.warmupIterations).toBe(1);
    expect(ok.coldStartMs).toBeGreaterThan(0);
    expect(ok.threads).toBe(2);
    expect(ok.simdLevel).toBe('avx2');
    expect(ok.peakMemoryBytes).toBe(ok.estimatedMemoryBytes);
    expect(ok.gflops).toBeCloseTo(ok.flopsPerIteration / (ok.stats!.medianMs / 1000) / 1e9, 6);
    expect(ok.tokensPerSecond).toBeCloseTo(128 / (ok.stats!.medianMs / 1000), 3);
    expect(file.interrupted).toBeUndefined();
    expect(file.schemaVersion).toBe(1);
    expect(file.suite).toBe('sequence-ranges');
    expect(file.environment.simdLevel).toBe('avx2');
    expect(file.environment.dilbenchVersion).toBe('0.1.0');
    expect(file.config).toMatchObject({
      range: 'custom',
      lengths: [128, 256, 512],
      warmup: 1,
      runs: 3,
      threads: 2,
      implementations: ['naive', 'flash'],
    });

    expect(events[0]).toMatchObject({ type: 'plan', total: 6, runnable: 6 });
    expect(events.filter((e) => e.type === 'point-end')).toHaveLength(6);
    expect(events.at(-1)!.type).toBe('done');
  });

  it('skips and lowers batch per the planner, with reasons in the rows', async () => {
    const binding = createFakeBinding();
    const options = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '1024,16384',
      implementations: 'naive',
      batchSize: 4,
      memoryBudget: '10GiB',
      warmup: 0,
      runs: 2,
    });
    const file = await runSuite(sequenceRanges, options, { binding, rates: constantRate(1e15) });
    const [small, big] = firstItems(file.results, 2, 'results');
    expect(small).toMatchObject({ status: 'ok', batch: 4 });
    expect(small.requestedBatch).toBeUndefined();
    // naive at 16K needs ~8 GiB of scores per batch element: batch 1 fits in 10 GiB
    expect(big).toMatchObject({ status: 'ok', batch: 1, requestedBatch: 4 });
    expect(big.warnings?.[0]).toMatch(
      /^batch lowered from 4 to 1: at batch 4 needs 32\.\d GiB, budget 10\.0 GiB$/,
    );
    expect(binding.sessions.map((p) => p.batch)).toEqual([4, 1]);

    const tight = await runSuite(
      sequenceRanges,
      { ...options, memoryBudget: 2 * GiB },
      { binding, rates: constantRate(1e15) },
    );
    expect(tight.results[1]).toMatchObject({
      status: 'skipped',
      reason: 'needs 8.1 GiB, budget 2.0 GiB (at batch 1)',
      stats: null,
      peakMemoryBytes: null,
    });
    expect(tight.results[1]!.estimatedMemoryBytes).toBeGreaterThan(8 * GiB);
  });

  it('stops on abort, keeps what ran, and marks the file interrupted', async () => {
    const controller = new AbortController();
    const binding = createFakeBinding({
      onSample: (p) => {
        if (p.seqLen === 256) controller.abort();
      },
    });
    const options = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128,256,512',
      implementations: 'flash',
      warmup: 1,
      runs: 2,
    });
    const file = await runSuite(sequenceRanges, options, {
      binding,
      rates: constantRate(1e10),
      signal: controller.signal,
    });
    expect(file.interrupted).toBe(true);
    expect(file.results.map((r) => [r.seqLen, r.status])).toEqual([
      [128, 'ok'],
      [256, 'failed'],
    ]);
    expect(file.results[1]!.errorCode).toBe('ERR_DILBENCH_CANCELLED');
  });

  it('rejects unknown implementations and native-invalid configs as ConfigError', async () => {
    const binding = createFakeBinding();
    const bad = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128',
      implementations: 'naive,turbo',
    });
    await expect(
      runSuite(sequenceRanges, bad, { binding, rates: constantRate(1e10) }),
    ).rejects.toMatchObject({
      name: 'ConfigError',
      field: 'implementations',
      value: 'turbo',
      allowed: 'naive, flash',
    });
    const dim = sequenceRanges.parseOptions({ range: 'custom', customLengths: '128', headDim: 48 });
    const err = await runSuite(sequenceRanges, dim, { binding, rates: constantRate(1e10) }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe('headDim');
    const cuda = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128',
      device: 'cuda',
    });
    await expect(
      runSuite(sequenceRanges, cuda, { binding, rates: constantRate(1e10) }),
    ).rejects.toMatchObject({ field: 'device' });
  });

  it('a default implementation that rejects the shape gets failed rows; a named one is a ConfigError', async () => {
    const binding = createFakeBinding({
      implementations: ['naive', 'flash', 'ring'],
      rejectPlan: (p) =>
        p.implementation === 'ring'
          ? new CodedError(
              'ERR_DILBENCH_INVALID_CONFIG',
              'ringSize: must divide seqLen',
              'ringSize',
            )
          : undefined,
    });
    const all = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128',
      warmup: 0,
      runs: 2,
    });
    const file = await runSuite(sequenceRanges, all, { binding, rates: constantRate(1e10) });
    expect(file.results.map((r) => [r.implementation, r.status])).toEqual([
      ['naive', 'ok'],
      ['flash', 'ok'],
      ['ring', 'failed'],
    ]);
    expect(file.results[2]).toMatchObject({
      errorCode: 'ERR_DILBENCH_INVALID_CONFIG',
      reason: 'ringSize: must divide seqLen',
    });

    const named = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128',
      implementations: 'ring',
    });
    await expect(
      runSuite(sequenceRanges, named, { binding, rates: constantRate(1e10) }),
    ).rejects.toMatchObject({
      name: 'ConfigError',
      field: 'ringSize',
    });
  });

  it('on cuda, the default budget is half of the GPU memory and rows say cuda', async () => {
    const binding = createFakeBinding({ cudaMemoryBytes: 16 * GiB });
    const options = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128',
      device: 'cuda',
      warmup: 0,
      runs: 2,
    });
    const file = await runSuite(sequenceRanges, options, {
      binding,
      rates: constantRate(1e10),
      availableMemoryBytes: 100 * GiB,
    });
    expect(file.config.memoryBudgetBytes).toBe(8 * GiB);
    expect(file.results.map((r) => [r.implementation, r.device, r.status])).toEqual([
      ['naive', 'cuda', 'ok'],
      ['flash', 'cuda', 'ok'],
    ]);
    expect(file.environment.gpu).toBeDefined();
  });

  it('calibrates its rate model with a short real run when none is given', async () => {
    const binding = createFakeBinding({ rate: 1e9 });
    // flash at 4096 with 8 heads: 34 GFLOP per iteration at 1 GFLOP/s -> far over 5 s
    const options = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '4096',
      implementations: 'flash',
      maxRunSeconds: 5,
      warmup: 1,
      runs: 1,
    });
    const file = await runSuite(sequenceRanges, options, { binding });
    expect(file.results[0]!.status).toBe('skipped');
    expect(file.results[0]!.reason).toMatch(
      /^estimated \d+(\.\d)? s, limit 5\.0 s \(--max-run-seconds\)$/,
    );
    expect(binding.sessions[0]).toMatchObject({ implementation: 'flash', seqLen: 1024, batch: 1 });
  });
});

describe('runBenchmark', () => {
  it('validates, runs and writes the three files (history and plots off)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dilbench-run-'));
    dirs.push(dir);
    const file = await runBenchmark({
      suite: 'sequence-ranges',
      range: 'custom',
      customLengths: [128, '256'],
      implementations: ['naive', 'flash'],
      runs: 3,
      warmup: 1,
      outputDir: dir,
      binding: createFakeBinding(),
      rates: constantRate(1e10),
      plots: false,
      history: false,
    });
    expect(file.results).toHaveLength(4);
    const names = readdirSync(dir).sort();
    expect(names).toHaveLength(3);
    const json = JSON.parse(
      readFileSync(
        join(
          dir,
          names.find((n) => n.endsWith('.json'))!,
        ),
        'utf8',
      ),
    );
    expect(json.results.map((r: { seqLen: number }) => r.seqLen)).toEqual([128, 128, 256, 256]);
  });

  it('writes nothing with outputDir null and rejects bad options by name', async () => {
    const file = await runBenchmark({
      suite: 'sequence-ranges',
      range: 'custom',
      customLengths: '64',
      outputDir: null,
      binding: createFakeBinding(),
      rates: constantRate(1e10),
      runs: 2,
      warmup: 0,
    });
    expect(file.results).toHaveLength(2);
    await expect(
      runBenchmark({ suite: 'sequence-ranges', heads: -1, binding: createFakeBinding() }),
    ).rejects.toMatchObject({ field: 'heads' });
    await expect(
      runBenchmark({ suite: 'nope', binding: createFakeBinding() }),
    ).rejects.toMatchObject({ field: 'suite' });
    await expect(
      runBenchmark({
        suite: 'sequence-ranges',
        batchsize: 2,
        binding: createFakeBinding(),
      } as unknown as Parameters<typeof runBenchmark>[0]),
    ).rejects.toMatchObject({ field: 'batchsize' });
  });
});

describe('roofline', () => {
  it('places ok rows against a stored peak of the same threads and SIMD level only', async () => {
    const binding = createFakeBinding({ rate: 50e9 });
    const options = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '256',
      implementations: 'flash',
      warmup: 0,
      runs: 2,
    });
    const stored = {
      fmaGflops: 100,
      streamGBps: 10,
      threads: 2,
      simdLevel: 'avx2',
      durationSeconds: 1,
      measuredAt: '2026-01-01T00:00:00Z',
    };
    const file = await runSuite(sequenceRanges, options, {
      binding,
      rates: constantRate(1e10),
      loadPeak: async () => stored,
    });
    expect(file.environment.peak).toEqual({
      fmaGflops: 100,
      streamGBps: 10,
      threads: 2,
      simdLevel: 'avx2',
    });
    const r = file.results[0]!;
    expect(r.roofline?.pctOfPeakCompute).toBeCloseTo(r.gflops!, 6); // 100 GFLOP/s peak: % equals GFLOP/s
    expect(r.roofline?.bound).toBe(
      r.flopsPerIteration / r.bytesPerIteration >= 10 ? 'compute' : 'memory',
    );
    const { toMarkdown } = await import('../../src/reports/markdown.js');
    expect(toMarkdown(file)).toContain('| % of peak | Bound |');

    const other = await runSuite(sequenceRanges, options, {
      binding,
      rates: constantRate(1e10),
      loadPeak: async () => ({ ...stored, threads: 16 }),
    });
    expect(other.environment.peak).toBeUndefined();
    expect(other.results[0]!.roofline).toBeUndefined();
  });
});
