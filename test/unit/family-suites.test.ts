// Issue-3 suites end to end at tiny sizes on the real addon (runBenchmark and the built CLI):
// files parse, statuses, validation fields, exit codes, flag errors, pattern cache statistics,
// ring projections labelled and consistent.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runBenchmark } from '../../src/api/run.js';
import { loadBinding } from '../../src/native/dilbench.js';
import { constantRate } from '../../src/plan/calibrate.js';
import { projectRing } from '../../src/suite/ring-projection.js';
import { parseImplParams } from '../../src/config/impl-params.js';
import type { ResultFile, ResultRow } from '../../src/results/types.js';
import type { RingProjection } from '../../src/suite/ring-projection.js';
import { firstItems } from '../helpers/at.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(root, 'bin', 'dilbench.js');
const built = existsSync(join(root, 'dist', 'src', 'cli', 'main.js'));

let binding: ReturnType<typeof loadBinding> | undefined;
let addonError = '';
try {
  binding = loadBinding();
} catch (e) {
  addonError = e instanceof Error ? e.message : String(e);
}
const withAddon = binding ? describe : describe.skip;
if (!binding) console.warn(`family suites: skipped, addon not loadable: ${addonError}`);

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'dilbench-family-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const tiny = {
  heads: 2,
  headDim: 32,
  threads: 1,
  runs: 2,
  warmup: 1,
  plots: false,
  history: false,
  rates: constantRate(5e9),
} as const;

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function readJson(dir: string, suite: string): ResultFile {
  const f = readdirSync(dir).find((x) => x.startsWith(suite) && x.endsWith('.json'));
  expect(f, `a ${suite} JSON file in ${dir}`).toBeDefined();
  expect(readdirSync(dir).some((x) => x.startsWith(suite) && x.endsWith('.csv'))).toBe(true);
  const md = readdirSync(dir).find((x) => x.startsWith(suite) && x.endsWith('.md'));
  expect(md).toBeDefined();
  return JSON.parse(readFileSync(join(dir, f!), 'utf8')) as ResultFile;
}

describe('implementation parameters (zod)', () => {
  it('names the field of a bad value', () => {
    expect(() => parseImplParams({ density: 1.5 })).toThrow(/density/);
    expect(() => parseImplParams({ linkGbps: 'warp' })).toThrow(/linkGbps/);
    expect(() => parseImplParams({ segmentLengths: '1K,2K', dilationRates: '1' })).toThrow(
      /dilationRates/,
    );
    expect(() => parseImplParams({ blockPattern: 'diagonal' })).toThrow(/blockPattern/);
    const p = parseImplParams({
      linkGbps: ['nvlink', 'infiniband', '100'],
      enablePatternCache: 'false',
    });
    expect(p.links).toEqual([
      { name: 'nvlink', gbps: 3600, GBps: 450 },
      { name: 'infiniband', gbps: 400, GBps: 50 },
      { name: '100 Gbit/s', gbps: 100, GBps: 12.5 },
    ]);
    expect(p.enablePatternCache).toBe(false);
    expect(p.enableMemoryPool).toBe(true);
  });
});

describe('ring projection arithmetic', () => {
  it('wall = sum of max(compute, comm) per step; hides iff compute >= comm at every step', () => {
    const t = {
      ringSize: 2,
      stepRankNs: [
        [2e6, 1e6],
        [3e6, 3e6],
      ],
      stepRankBytesSent: [
        [1e9, 1e9],
        [0, 0],
      ],
    };
    const p = projectRing(t, [
      { name: 'slow', gbps: 8, GBps: 1 },
      { name: 'fast', gbps: 8000, GBps: 1000 },
    ])!;
    expect(p.kind).toBe('projected');
    expect(p.perStepComputeMs).toEqual([2, 3]);
    const [slow, fast] = firstItems(p.links, 2, 'links');
    expect(slow.commMsPerStepAll).toEqual([1000, 0]);
    expect(slow.projectedWallMs).toBeCloseTo(1003);
    expect(slow.hidesCommunication).toBe(false);
    expect(fast.projectedWallMs).toBeCloseTo(5);
    expect(fast.hidesCommunication).toBe(true);
  });
});

withAddon('family suites on the real addon', () => {
  it('quick-validation: every case validated with errors and tolerance; partner path beyond the reference limit', async () => {
    const file = await runBenchmark({
      suite: 'quick-validation',
      ...tiny,
      sequenceLengths: [64, 256],
      implementations: ['flash', 'naive', 'dilated', 'ring-dilated', 'block-sparse'],
      // batch 64 at 64 tokens (3.4e7 flops for flash), 16 at 256 (2.7e8): the reference at 64, partners at 256
      referenceFlopsLimit: 1e8,
      outputDir: null,
      binding,
    });
    expect(file.results).toHaveLength(10);
    for (const r of file.results) {
      expect(r.status).toBe('ok');
      expect(r.validation, `${r.implementation}@${r.seqLen}`).toBeDefined();
      expect(r.validation!.passed).toBe(true);
      expect(r.validation!.maxAbsError).toBeLessThan(1e-4);
      expect(r.validation!.relL2Error).toBeLessThan(1e-4);
    }
    const at = (impl: string, n: number) =>
      file.results.find((r) => r.implementation === impl && r.seqLen === n)!;
    expect(at('flash', 64).validation!.against).toBe('float64-reference');
    expect(at('flash', 256).validation!.against).toBe('naive');
    expect(at('ring-dilated', 256).validation!.against).toBe('dilated');
    // no partner for block-sparse: the reference regardless of cost
    expect(at('block-sparse', 256).validation!.against).toBe('float64-reference');
    // batch shrinks with length
    expect(at('flash', 64).batch).toBeGreaterThan(at('flash', 256).batch);
  });

  it('NativeSession: patternCacheStats null with the cache off; telemetry null for flash, per family otherwise, refused mid-run', async () => {
    const b = binding!;
    const base = {
      device: 'cpu',
      dtype: 'fp32',
      batch: 1,
      heads: 2,
      kvHeads: 2,
      seqLen: 256,
      headDim: 32,
      causal: false,
      seed: 1,
    } as const;
    const opts = { threads: 1, useMemoryPool: true, usePatternCache: true, memoryLimitBytes: 0 };
    const flash = await b.createSession({ ...base, implementation: 'flash' }, opts);
    await flash.sample(1, false);
    expect(flash.telemetry!()).toBeNull();
    expect(flash.patternCacheStats!()).toMatchObject({ hits: 0, misses: 0, entries: 0 });
    flash.dispose();
    const off = await b.createSession(
      { ...base, implementation: 'dilated' },
      { ...opts, usePatternCache: false },
    );
    await off.sample(1, false);
    expect(off.patternCacheStats!()).toBeNull();
    off.dispose();
    const bs = await b.createSession(
      { ...base, implementation: 'block-sparse', blockSize: 32, blockPattern: 'local', window: 1 },
      opts,
    );
    expect(bs.telemetry!()).toBeNull(); // no run yet
    await bs.sample(1, false);
    const t = bs.telemetry!()!;
    expect(t.blocksTotal).toBe(64);
    expect(t.blocksComputed! / t.blocksTotal!).toBeCloseTo(1 - t.sparsity!);
    bs.dispose();
    const ring = await b.createSession({ ...base, implementation: 'ring', ringSize: 4 }, opts);
    const running = ring.sample(3, false);
    expect(() => ring.telemetry!()).toThrow(/busy/);
    await running;
    const rt = ring.telemetry!()!;
    expect(rt.stepRankNs).toHaveLength(4);
    expect(rt.stepRankBytesSent![3]).toEqual([0, 0, 0, 0]);
    expect(rt.stepRankBytesSent![0]![0]).toBe(2 * 1 * 2 * (256 / 4) * 32 * 4);
    ring.dispose();
  });

  it('quick-validation with --interleave still validates every case', async () => {
    const file = await runBenchmark({
      suite: 'quick-validation',
      ...tiny,
      interleave: true,
      sequenceLengths: [64],
      implementations: ['flash', 'naive', 'ring'],
      outputDir: null,
      binding,
    });
    expect(file.results.map((r) => r.validation?.passed)).toEqual([true, true, true]);
    expect(file.config.interleave).toBe(true);
  });

  it('optimization-impact: four configurations; cache stats with hits > 0 when on, absent when off', async () => {
    const file = await runBenchmark({
      suite: 'optimization-impact',
      ...tiny,
      implementations: ['dilated'],
      sequenceLengths: '256',
      outputDir: null,
      binding,
    });
    expect(file.results).toHaveLength(4);
    const byConf = new Map(
      file.results.map((r) => [
        (r.params?.optimization as { configuration: string }).configuration,
        r,
      ]),
    );
    expect([...byConf.keys()].sort()).toEqual([
      'baseline',
      'both',
      'memory pool only',
      'pattern cache only',
    ]);
    for (const [name, r] of byConf) {
      const cacheOn = name === 'both' || name === 'pattern cache only';
      expect(r.patternCache).toBe(cacheOn);
      expect(r.memoryPool).toBe(name === 'both' || name === 'memory pool only');
      if (cacheOn) {
        expect(r.patternCacheStats!.hits).toBeGreaterThan(0);
        expect(r.patternCacheStats!.entries).toBeGreaterThan(0);
      } else {
        expect(r.patternCacheStats).toBeUndefined();
      }
      const o = r.params!.optimization as {
        speedupVsBaseline: number;
        cacheHitRate: number | null;
      };
      expect(o.speedupVsBaseline).toBeGreaterThan(0);
      if (!cacheOn) expect(o.cacheHitRate).toBeNull();
    }
    expect(
      (byConf.get('baseline')!.params!.optimization as { speedupVsBaseline: number })
        .speedupVsBaseline,
    ).toBe(1);
    expect(byConf.get('baseline')!.pool!.cacheHits).toBe(0);
  });

  it('ring: measured rows carry telemetry; larger totals are projected rows, labelled, wall >= max step compute', async () => {
    const file = await runBenchmark({
      suite: 'ring',
      ...tiny,
      ringSize: [2, 4],
      totalTokens: ['256', '1M', '1e9'],
      linkGbps: ['nvlink', 'infiniband'],
      maxRunSeconds: 2,
      outputDir: null,
      binding,
    });
    const measured = file.results.filter((r) => r.params?.measured === true);
    const projected = file.results.filter((r) => r.params?.measured === false);
    expect(measured.map((r) => r.params!.ringSize).sort()).toEqual([2, 4]);
    expect(projected.length).toBe(4);
    for (const r of [...measured, ...projected]) {
      const p = r.projected as unknown as RingProjection;
      expect(p.kind).toBe('projected');
      expect(p.links.map((l) => l.name)).toEqual(['nvlink', 'infiniband']);
      for (const l of p.links) {
        expect(l.projectedWallMs).toBeGreaterThanOrEqual(p.maxStepComputeMs);
        expect(l.projectedWallMs).toBeGreaterThanOrEqual(
          p.perStepComputeMs.reduce((a, b) => a + b, 0) - 1e-9,
        );
      }
    }
    for (const r of measured) {
      expect(r.status).toBe('ok');
      expect(r.telemetry!.stepRankNs!.length).toBe(r.params!.ringSize);
      expect((r.projected as unknown as RingProjection).ringSize).toBe(r.params!.ringSize);
      expect((r.projected as unknown as RingProjection).basis).toMatch(/median of [2-5] iteration/);
    }
    for (const r of projected) {
      expect(r.status).not.toBe('ok');
      expect(r.samplesMs).toEqual([]);
      expect(r.stats).toBeNull();
      expect(r.reason).toMatch(/PROJECTED/);
    }
    const big = projected.find((r) => r.seqLen === 1e9 && r.params!.ringSize === 4)!;
    const small = projected.find((r) => r.seqLen === 1 << 20 && r.params!.ringSize === 4)!;
    expect((big.projected as unknown as RingProjection).maxStepComputeMs).toBeGreaterThan(
      (small.projected as unknown as RingProjection).maxStepComputeMs,
    );
  });

  it('extreme: the planner skips what does not fit, with the reason, before allocating', async () => {
    const file = await runBenchmark({
      suite: 'extreme',
      ...tiny,
      implementations: ['naive', 'dilated'],
      minLength: '1K',
      maxLength: '2K',
      memoryBudget: '12MiB',
      outputDir: null,
      binding,
    });
    const naive2k = file.results.find((r) => r.implementation === 'naive' && r.seqLen === 2048)!;
    expect(naive2k.status).toBe('skipped');
    expect(naive2k.reason).toMatch(/budget/);
    expect(
      file.results.find((r) => r.implementation === 'dilated' && r.seqLen === 2048)!.status,
    ).toBe('ok');
  });

  it('sequence-ranges: --no-pattern-cache leaves no cache stats', async () => {
    const on = await runBenchmark({
      suite: 'sequence-ranges',
      ...tiny,
      range: 'custom',
      customLengths: [256],
      implementations: ['dilated'],
      outputDir: null,
      binding,
    });
    const off = await runBenchmark({
      suite: 'sequence-ranges',
      ...tiny,
      range: 'custom',
      customLengths: [256],
      implementations: ['dilated'],
      enablePatternCache: false,
      enableMemoryPool: false,
      outputDir: null,
      binding,
    });
    expect(on.results[0]!.patternCacheStats!.hits).toBeGreaterThan(0);
    expect(on.results[0]!.patternCache).toBe(true);
    expect(off.results[0]!.patternCacheStats).toBeUndefined();
    expect(off.results[0]!.patternCache).toBe(false);
    expect(off.results[0]!.memoryPool).toBe(false);
  });
});

const withCli = binding && built ? describe : describe.skip;
withCli('family suite commands (built CLI)', () => {
  const base = [
    '--heads',
    '2',
    '--head-dim',
    '32',
    '--threads',
    '1',
    '--runs',
    '1',
    '--warmup',
    '0',
    '--no-plots',
    '--quiet',
  ];

  it('quick-validation writes the family, passes, and exits 1 when a case fails (impossible tolerance)', () => {
    const dir = tmp();
    const out = join(dir, 'qv.json');
    const ok = cli([
      'quick-validation',
      '--sequence-lengths',
      '64',
      '--implementations',
      'flash,ring',
      '--output-dir',
      dir,
      '--output',
      out,
      ...base,
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    const file = readJson(dir, 'quick-validation');
    expect(JSON.parse(readFileSync(out, 'utf8')).runId).toBe(file.runId);
    expect(file.results.every((r: ResultRow) => r.validation?.passed)).toBe(true);
    expect(
      readFileSync(
        join(
          dir,
          readdirSync(dir).find((x) => x.endsWith('.md'))!,
        ),
        'utf8',
      ),
    ).toMatch(/## Validation[\s\S]*pass/);

    const dir2 = tmp();
    const bad = cli([
      'quick-validation',
      '--sequence-lengths',
      '64',
      '--implementations',
      'flash',
      '--tolerance-abs',
      '0',
      '--tolerance-rel',
      '0',
      '--output-dir',
      dir2,
      ...base,
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/quick-validation: 1 case\(s\) failed: flash@64/);
    const f2 = readJson(dir2, 'quick-validation');
    expect(f2.results[0]!.validation!.passed).toBe(false);
  });

  it('ring writes projected sections labelled as projections', () => {
    const dir = tmp();
    const r = cli([
      'ring',
      '--ring-size',
      '2',
      '--total-tokens',
      '128,1M',
      '--link-gbps',
      'infiniband',
      '--output-dir',
      dir,
      ...base,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const file = readJson(dir, 'ring');
    expect(file.results).toHaveLength(2);
    const md = readFileSync(
      join(
        dir,
        readdirSync(dir).find((x) => x.endsWith('.md'))!,
      ),
      'utf8',
    );
    expect(md).toMatch(/## Ring projections \(projected, not measured\)/);
    expect(md).toMatch(/1M \(projected row\)/);
  });

  it('--no-pattern-cache / --no-memory-pool reach the rows; --enable-pattern-cache keeps the default', () => {
    const dir = tmp();
    const off = cli([
      'sequence-ranges',
      '--range',
      'custom',
      '--custom-lengths',
      '128',
      '--implementations',
      'dilated',
      '--no-pattern-cache',
      '--no-memory-pool',
      '--output-dir',
      dir,
      ...base,
    ]);
    expect(off.code, off.stderr).toBe(0);
    const r = readJson(dir, 'sequence-ranges').results[0]!;
    expect([r.patternCache, r.memoryPool, r.patternCacheStats]).toEqual([false, false, undefined]);
    const dir2 = tmp();
    const on = cli([
      'sequence-ranges',
      '--range',
      'custom',
      '--custom-lengths',
      '128',
      '--implementations',
      'dilated',
      '--enable-pattern-cache',
      '--enable-memory-pool',
      '--output-dir',
      dir2,
      ...base,
    ]);
    expect(on.code, on.stderr).toBe(0);
    const r2 = readJson(dir2, 'sequence-ranges').results[0]!;
    expect([r2.patternCache, r2.memoryPool]).toEqual([true, true]);
    expect(r2.patternCacheStats!.hits).toBeGreaterThan(0);
  });

  it('bad flags exit 2 naming the flag', () => {
    for (const [args, flag] of [
      [
        ['sequence-ranges', '--range', 'custom', '--custom-lengths', '128', '--density', '2'],
        '--density',
      ],
      [['ring', '--link-gbps', 'warp'], '--link-gbps'],
      [['optimization-impact', '--sequence-lengths', '0'], '--sequence-lengths'],
      [['extreme', '--max-length', '1K'], '--max-length'],
      [['quick-validation', '--tolerance-abs', '-1'], '--tolerance-abs'],
      [
        [
          'sequence-ranges',
          '--range',
          'custom',
          '--custom-lengths',
          '128',
          '--segment-lengths',
          '64',
        ],
        '--dilation-rates',
      ],
    ] as const) {
      const r = cli([...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(flag);
    }
  });
});
