// The sections `npm run bench` added (flash vs onnxruntime MHA interleaved, kv-cache decode GB/s,
// dilated exponent) run and report their figures; fake binding for dilbench, real onnxruntime-node
// at a tiny length when it loads.
import { describe, expect, it } from 'vitest';
import {
  BenchRecord,
  benchHeadline,
  fullBenchTable,
  runDilatedSection,
  runDilatedTorchSection,
  runFrameworkSection,
  runKvCacheSection,
  KV_CACHE_LENGTHS,
  runDtypeSection,
  dtypeBenchTable,
  dtypeKvCacheLengths,
  kvCacheBytes,
  DTYPE_KV,
  DTYPE_KV_MAX_AUTO_CACHE,
  DTYPE_KV_LONG_CACHE_RUNS,
  type FullBenchResult,
} from '../../src/bench/index.js';
import { loadOnnxRuntime } from '../../src/frameworks/onnxruntime.js';
import { benchOptionsFromFlags } from '../../src/cli/commands/bench.js';
import { createFakeBinding } from '../helpers/fake-binding.js';
import { computeApiTable, runComputeApiSection } from '../../src/bench/index.js';
import { runFullBench } from '../../src/bench/run.js';

const ortMissing = typeof (await loadOnnxRuntime()) === 'string';
const peak = { fmaGflops: 200, streamGBps: 20, threads: 2, simdLevel: 'avx2' as const };
/** a whole-bench result with no section in it, for the tables' tests to add to */
const emptyRun = (): FullBenchResult => ({
  simdLevel: 'avx2',
  threads: 2,
  peak,
  rows: [],
  quick: true,
  createdAt: new Date().toISOString(),
  elapsedSeconds: 1,
});

describe('bench sections', () => {
  it('dtypes: the default kv-cache lengths are the smallest whose fp32 K+V exceeds twice the LLC', () => {
    const shape = { kvHeads: DTYPE_KV.kvHeads, headDim: DTYPE_KV.headDim };
    expect(dtypeKvCacheLengths(null, shape)).toEqual([DTYPE_KV.cacheLen]);
    for (const mib of [1, 4, 16, 31, 32, 33, 100, 480, 4096]) {
      const llc = mib * 2 ** 20;
      const cap = 1 << 20;
      const lens = dtypeKvCacheLengths(llc, shape, 2048, cap);
      expect(lens[0]).toBe(2048);
      const last = lens.at(-1)!;
      if (kvCacheBytes(2048, shape, 4) > 2 * llc) expect(lens).toEqual([2048]);
      else {
        // beyond twice the LLC (so the half-precision cache is beyond it too), and the smallest
        expect(lens).toHaveLength(2);
        expect(Math.log2(last / 2048) % 1).toBe(0);
        if (last < cap) {
          expect(kvCacheBytes(last, shape, 4)).toBeGreaterThan(2 * llc);
          expect(kvCacheBytes(last, shape, 2)).toBeGreaterThan(llc);
        } else expect(kvCacheBytes(cap, shape, 4)).toBeLessThanOrEqual(2 * llc); // capped
        expect(kvCacheBytes(last / 2, shape, 4)).toBeLessThanOrEqual(2 * llc);
      }
      // the cap bounds the prefill: never above it
      for (const l of dtypeKvCacheLengths(llc, shape))
        expect(l).toBeLessThanOrEqual(DTYPE_KV_MAX_AUTO_CACHE);
    }
  });

  it('--dtype-kv-cache takes a list of cache lengths; bad entries exit naming the flag', () => {
    expect(benchOptionsFromFlags({ dtypeKvCache: '8K, 65536' }).dtypeKvCache).toEqual([
      8192, 65536,
    ]);
    expect(benchOptionsFromFlags({}).dtypeKvCache).toBeUndefined();
    expect(() => benchOptionsFromFlags({ dtypeKvCache: '8K,x' })).toThrow(/--dtype-kv-cache.*"x"/);
  });

  it('dtypes: kv-cache decodes at the issue length and an LLC-sized one, each row labelled against the LLC', async () => {
    const kv = { cacheLen: 64, heads: 2, kvHeads: 1, headDim: 32, newTokens: 2 };
    const llc = 3 * kvCacheBytes(64, kv, 4); // 64 within it, the next lengths beyond
    const b = createFakeBinding({ implementations: ['kv-cache'], lastLevelCacheBytes: llc });
    const d = await runDtypeSection(b, { threads: 1, flashLengths: [], kv, runs: 2, warmup: 0 });
    expect(d.kv.llcBytes).toBe(llc);
    expect(d.kv.cacheLens).toEqual(dtypeKvCacheLengths(llc, kv, 64));
    expect(d.kv.cacheLens).toHaveLength(2);
    expect(b.sessions.map((p) => p.promptLen)).toEqual(d.kv.cacheLens);
    // the prompt only fills the cache: no quadratic prefill before a long cache's decode
    expect(b.sessions.every((p) => p.prefill === 'skip')).toBe(true);
    expect(d.kv.prefill).toBe('skip');
    expect(dtypeBenchTable(d, 1)).toMatch(/prompt only filling the cache \(prefill skip\)/);
    expect(d.rows.map((r) => r.seqLen)).toEqual(d.kv.cacheLens);
    const labels = d.rows.map((r) => {
      const p = b.sessions.find((s) => s.promptLen === r.seqLen)!;
      const bytes = 2 * p.kvHeads * p.promptLen! * p.headDim * 4; // fp32 K and V
      expect(r.cacheVsLlc).toBe(bytes <= llc ? 'within-llc' : 'exceeds-llc');
      return r.cacheVsLlc;
    });
    expect(labels).toEqual(['within-llc', 'exceeds-llc']);
    // caches above the 8K get at most DTYPE_KV_LONG_CACHE_RUNS samples (each decodes
    // newTokens steps through the whole cache)
    const long = await runDtypeSection(createFakeBinding({ implementations: ['kv-cache'] }), {
      threads: 1,
      flashLengths: [],
      kv: { ...kv, cacheLen: DTYPE_KV.cacheLen },
      kvCacheLens: [DTYPE_KV.cacheLen, 2 * DTYPE_KV.cacheLen],
      runs: DTYPE_KV_LONG_CACHE_RUNS + 2,
      warmup: 1,
    });
    expect(long.rows.map((r) => r.samples)).toEqual([
      DTYPE_KV_LONG_CACHE_RUNS + 2,
      DTYPE_KV_LONG_CACHE_RUNS,
    ]);
    // a length whose sessions would take more than half the free memory is skipped, with the
    // reason, before any session is made
    const tight = createFakeBinding({ implementations: ['kv-cache'] });
    const need = (len: number) =>
      (tight.listImplementations().find((i) => i.name === 'kv-cache')?.dtypes ?? []).reduce(
        (sum, dtype) =>
          sum +
          tight.plan(
            {
              implementation: 'kv-cache',
              device: 'cpu',
              dtype: dtype,
              batch: 1,
              heads: kv.heads,
              kvHeads: kv.kvHeads,
              seqLen: len + kv.newTokens,
              headDim: kv.headDim,
              causal: true,
              seed: 42,
              promptLen: len,
              newTokens: kv.newTokens,
              prefill: 'skip',
            },
            { threads: 1, useMemoryPool: true, usePatternCache: true, memoryLimitBytes: 0 },
          ).totalBytes,
        0,
      );
    const t = await runDtypeSection(tight, {
      threads: 1,
      flashLengths: [],
      kv,
      kvCacheLens: [32, 4096],
      freeMemoryBytes: 2 * need(32) + 1,
      runs: 2,
      warmup: 0,
    });
    expect(need(4096)).toBeGreaterThan(2 * need(32) + 1);
    expect(t.rows.length).toBeGreaterThan(0);
    expect(t.rows.every((r) => r.seqLen === 32)).toBe(true);
    expect(tight.sessions.every((p) => p.promptLen === 32)).toBe(true);
    expect(t.skipped.join('\n')).toMatch(
      /cache 4096: its sessions \(.*\) need .* GiB, more than 50% of the .* GiB free/,
    );
    // given lengths replace the default; an unknown LLC labels nothing
    const unknown = createFakeBinding({ implementations: ['kv-cache'] });
    const u = await runDtypeSection(unknown, {
      threads: 1,
      flashLengths: [],
      kv,
      kvCacheLens: [32, 96],
      runs: 2,
      warmup: 0,
    });
    expect(u.rows.map((r) => [r.seqLen, r.cacheVsLlc])).toEqual([
      [32, null],
      [96, null],
    ]);
    expect(dtypeBenchTable(d, 1)).toMatch(/LLC[\s\S]*within[\s\S]*beyond/);
  });

  it('kv-cache decode bandwidth falls back to plan.bytesMoved without telemetry', async () => {
    const b = createFakeBinding({ implementations: ['kv-cache'] });
    const rows = await runKvCacheSection(b, peak, {
      threads: 2,
      lengths: [256],
      newTokens: 8,
      runs: 3,
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]?.source).toBe('plan.bytesMoved');
    expect(rows[0]?.decodeGBps).toBeGreaterThan(0);
    expect(rows[0]?.pctOfStream).toBeCloseTo((100 * (rows[0]?.decodeGBps as number)) / 20, 6);
    expect(b.sessions[0]).toMatchObject({
      promptLen: 256,
      newTokens: 8,
      seqLen: 264,
      causal: true,
    });
  });

  it("kv-cache and dtypes decode rows: % of stream against the stream read right before and after each point, not the run's", async () => {
    // readings that move, as a shared machine's do: 10, 30 around the first point, 12, 18 ...
    const readings = [10, 30, 12, 18, 40, 20];
    const calls: number[] = [];
    const withStream = () => {
      const b = createFakeBinding({ implementations: ['kv-cache'] });
      let i = 0;
      b.measurePeak = async (threads: number, seconds: number) => {
        calls.push(seconds);
        return {
          fmaGflops: 100,
          streamGBps: readings[i++ % readings.length]!,
          threads,
          simdLevel: 'avx2',
        };
      };
      return b;
    };
    const rows = await runKvCacheSection(withStream(), peak, {
      threads: 1,
      lengths: [256, 512],
      newTokens: 4,
      runs: 2,
    });
    expect(calls).toHaveLength(4); // before and after each of the two points
    expect(rows.map((r) => [r.streamGBps, r.streamGBpsRange])).toEqual([
      [20, [10, 30]],
      [15, [12, 18]],
    ]);
    for (const r of rows)
      expect(r.pctOfStream).toBeCloseTo((100 * r.decodeGBps) / r.streamGBps!, 9);
    const table = fullBenchTable({ ...emptyRun(), kvCache: rows });
    expect(table).toMatch(/read right before and after each row/);
    expect(table).toMatch(/stream GB\/s\s+% of stream/);
    expect(table).toMatch(/\n\s*256\s.*\s20\.0\s/);

    const d = await runDtypeSection(withStream(), {
      threads: 1,
      runs: 2,
      flashLengths: [],
      kv: { ...DTYPE_KV, cacheLen: 64, newTokens: 2, heads: 4, kvHeads: 2, headDim: 32 },
      kvCacheLens: [64],
    });
    const kvRows = d.rows.filter((x) => x.kernel === 'kv-cache');
    expect(kvRows.length).toBeGreaterThan(0);
    for (const x of kvRows) expect(x.streamGBps).toBe(20); // its own binding: 10 and 30
    const text = dtypeBenchTable(d, 1, 99);
    const fp32 = kvRows.find((x) => x.dtype === 'fp32')!;
    expect(text).toContain(`${((100 * fp32.gbps!) / 20).toFixed(1)}%`);
  });

  it('kv-cache: 8K and 16K attend the prompt; one cache beyond twice the listed LLC fills it only, labelled', async () => {
    // 8 heads, headDim 64: fp32 K+V is 4 KiB a token, so 16K = 64 MiB; an LLC of 40 MiB makes
    // 32K (128 MiB) the first beyond twice it
    const llc = 40 * 2 ** 20;
    const b = createFakeBinding({ implementations: ['kv-cache'], lastLevelCacheBytes: llc });
    const rows = await runKvCacheSection(b, peak, { threads: 1, newTokens: 2, runs: 2 });
    expect(rows.map((r) => r.cacheLen)).toEqual([...KV_CACHE_LENGTHS, 32768]);
    expect(b.sessions.map((p) => [p.promptLen, p.prefill])).toEqual([
      [8192, 'attend'],
      [16384, 'attend'],
      [32768, 'skip'],
    ]);
    expect(rows.map((r) => [r.prefill, r.cacheVsLlc])).toEqual([
      ['attend', 'within-llc'],
      ['attend', 'exceeds-llc'],
      ['skip', 'exceeds-llc'],
    ]);
    const run: FullBenchResult = { ...emptyRun(), kvCache: rows };
    const table = fullBenchTable(run);
    expect(table).toMatch(/prefill ms\s+LLC/);
    expect(table).toMatch(/32768 .*\(copy\)\s+beyond/);
    expect(benchHeadline(run)).toMatch(/32K \d+% \(beyond LLC\)/);
    // --quick (deep false) and an unknown LLC: 8K and 16K only; a deep cache that would take
    // more than half the free memory is left out, saying why
    const quick = createFakeBinding({ implementations: ['kv-cache'], lastLevelCacheBytes: llc });
    const q = await runKvCacheSection(quick, peak, {
      threads: 1,
      newTokens: 2,
      runs: 2,
      deep: false,
    });
    expect(q.map((r) => r.cacheLen)).toEqual(KV_CACHE_LENGTHS);
    const unknown = createFakeBinding({ implementations: ['kv-cache'] });
    const u = await runKvCacheSection(unknown, peak, { threads: 1, newTokens: 2, runs: 2 });
    expect(u.map((r) => [r.cacheLen, r.cacheVsLlc])).toEqual([
      [8192, null],
      [16384, null],
    ]);
    const said: string[] = [];
    const tight = createFakeBinding({ implementations: ['kv-cache'], lastLevelCacheBytes: llc });
    const t = await runKvCacheSection(tight, peak, {
      threads: 1,
      newTokens: 2,
      runs: 2,
      freeMemoryBytes: 1024,
      log: (m) => said.push(m),
    });
    expect(t.map((r) => r.cacheLen)).toEqual(KV_CACHE_LENGTHS);
    expect(said.join('\n')).toMatch(
      /cache 32768: skipped, its session would need .* GiB, more than 50% of the .* GiB free/,
    );
  });

  it('compute-api: computeAttention against the session, ratio of the medians, with the table', async () => {
    const b = createFakeBinding({ implementations: ['flash'] });
    const rows = await runComputeApiSection(b, {
      threads: 2,
      lengths: [32, 48],
      runs: 3,
      warmup: 1,
    });
    expect(rows.map((r) => r.seqLen)).toEqual([32, 48]);
    for (const r of rows) {
      expect(r.sessionMedianMs).toBeGreaterThan(0);
      expect(r.computeMinMs).toBeLessThanOrEqual(r.computeMedianMs);
      expect(r.computeMaxMs).toBeGreaterThanOrEqual(r.computeMedianMs);
      expect(r.sessionCallMedianMs).toBeGreaterThan(0);
      expect(r.ratio).toBeCloseTo(r.computeMedianMs / r.sessionCallMedianMs, 9);
      expect(r.ratioToKernel).toBeCloseTo(r.computeMedianMs / r.sessionMedianMs, 9);
      expect(r.ratioOut).toBeCloseTo(r.computeOutMedianMs / r.sessionCallMedianMs, 9);
      expect(r.ratioInPlace).toBeCloseTo(r.computeInPlaceMedianMs / r.sessionCallMedianMs, 9);
    }
    expect(b.sessions.map((p) => p.seqLen)).toEqual([32, 48]);
    expect(computeApiTable(rows, 2)).toContain('computeAttention vs session');
  });

  it('a section records a ResultRow per sampled side and its ratios from the stats', async () => {
    const b = createFakeBinding({ implementations: ['flash'] });
    const record = new BenchRecord(2);
    const rows = await runComputeApiSection(b, {
      threads: 2,
      lengths: [32],
      runs: 4,
      warmup: 1,
      record,
    });
    expect(record.rows.map((r) => r.params?.side)).toEqual([
      'session',
      'session call',
      'computeAttention',
      'computeAttention(out)',
      'computeAttention(out, copyInputs false)',
    ]);
    for (const r of record.rows) {
      expect(r).toMatchObject({ implementation: 'flash', seqLen: 32, threads: 2, status: 'ok' });
      expect(r.params?.benchSection).toBe('compute-api');
      expect(r.samplesMs).toHaveLength(4);
      expect(r.stats?.medianMs).toBeGreaterThan(0);
      expect(r.gflops).toBeCloseTo(r.flopsPerIteration / (r.stats!.medianMs / 1000) / 1e9, 6);
    }
    const [, sessionCall, compute] = record.rows;
    expect(record.ratios.map((x) => `${x.base}->${x.other}`)).toEqual([
      'session call->computeAttention',
      'session->computeAttention',
      'session call->computeAttention(out)',
      'session call->computeAttention(out, copyInputs false)',
    ]);
    const ratio = record.ratios[0]!;
    expect(ratio.ratio).toBeCloseTo(compute!.stats!.medianMs / sessionCall!.stats!.medianMs, 12);
    expect(ratio.ratio).toBe(rows[0]?.ratio);
    expect(ratio.ratioCi95[0]).toBeLessThanOrEqual(ratio.ratio);
    expect(ratio.ratioCi95[1]).toBeGreaterThanOrEqual(ratio.ratio);
  });

  it('dilated time vs length with a fitted exponent', async () => {
    const b = createFakeBinding({ implementations: ['dilated'] });
    const d = await runDilatedSection(b, {
      threads: 2,
      lengths: [1024, 2048, 4096],
      heads: 1,
      runs: 3,
    });
    expect(d.rows.map((r) => r.seqLen)).toEqual([1024, 2048, 4096]);
    expect(d.fit?.points).toBe(3);
    expect(Number.isFinite(d.fit?.k)).toBe(true);
    expect(b.sessions.every((p) => p.segmentLengths?.length === 3)).toBe(true);
  });

  it.skipIf(ortMissing)('flash vs onnxruntime MHA side by side, with the table', async () => {
    const b = createFakeBinding({ implementations: ['flash'] });
    const fw = await runFrameworkSection(b, peak, {
      threads: 1,
      lengths: [64],
      runs: 3,
      warmup: 1,
    });
    expect(fw.skipped).toBeUndefined();
    expect(fw.rows).toHaveLength(1);
    const row = fw.rows[0];
    expect(row?.ortGflops).toBeGreaterThan(0);
    expect(row?.ratio).toBeGreaterThan(0);
    expect(row?.significance?.p).toBeGreaterThanOrEqual(0);
    const result: FullBenchResult = {
      simdLevel: 'avx2',
      threads: 1,
      peak,
      rows: [],
      quick: true,
      createdAt: new Date().toISOString(),
      frameworks: fw,
      elapsedSeconds: 1,
    };
    const table = fullBenchTable(result);
    expect(table).toContain('ORT/flash time');
    // the answer first: the headline repeats the ratio with its interval before any table
    expect(table.startsWith('Headline')).toBe(true);
    const s = row!.significance!;
    expect(table).toMatch(/flash vs onnxruntime-node MHA +64 /);
    expect(table).toContain(
      ` 64 ${row!.ratio!.toFixed(2)}x [${s.ratioCi95[0].toFixed(2)}, ${s.ratioCi95[1].toFixed(2)}]`,
    );
    // each side's instruction set is in the header; the fake binding runs at its CPU's best level
    expect(fw.simdLevel).toBe(b.info().simdLevel);
    expect(table).toContain(`dilbench SIMD ${fw.simdLevel}`);
    expect(table).not.toContain('cannot be forced');
    // PyTorch rides along when its Python has torch (CI's DILBENCH_PYTHON), else says why not
    if (fw.torchSkipped) {
      expect(table).toContain(`PyTorch: skipped: ${fw.torchSkipped}`);
      console.warn(`bench PyTorch column not exercised: ${fw.torchSkipped}`);
    } else {
      expect(row?.torchGflops).toBeGreaterThan(0);
      expect(row?.torchSignificance?.p).toBeGreaterThanOrEqual(0);
      expect(table).toContain('torch/flash time');
    }
  });

  it('a flash forced below the CPU best is called not like for like against onnxruntime', () => {
    const forced = (simdLevel: string, detectedSimdLevel: string) =>
      fullBenchTable({
        ...emptyRun(),
        frameworks: { rows: [], simdLevel, detectedSimdLevel, torchCpuCapability: 'AVX2' },
      });
    const lower = forced('avx2', 'avx512');
    expect(lower).toContain('dilbench SIMD avx2 (this CPU: avx512), torch ATen AVX2');
    expect(lower).toMatch(/forced to avx2 .* \(avx512\) and cannot be forced/);
    const same = forced('avx512', 'avx512');
    expect(same).toContain('dilbench SIMD avx512, torch ATen AVX2');
    expect(same).not.toContain('cannot be forced');
  });

  it('dilated-vs-torch: dilated, dilated-grouped and flash interleaved, % of flash, torch where it imports', async () => {
    const b = createFakeBinding({ implementations: ['flash', 'dilated', 'dilated-grouped'] });
    const d = await runDilatedTorchSection(b, { threads: 1, seqLen: 256, runs: 3, warmup: 1 });
    expect(d.rows.map((r) => r.implementation)).toEqual(['flash', 'dilated', 'dilated-grouped']);
    expect(d.rows[0]?.pctOfFlash).toBeCloseTo(100, 6);
    for (const r of d.rows) expect(r.gflops).toBeGreaterThan(0);
    expect(
      b.sessions
        .filter((p) => p.implementation !== 'flash')
        .every((p) => p.segmentLengths?.join() === '1024,2048,4096'),
    ).toBe(true);
    const table = fullBenchTable({
      simdLevel: 'avx2',
      threads: 1,
      peak,
      rows: [],
      quick: true,
      createdAt: new Date().toISOString(),
      dilatedTorch: d,
      elapsedSeconds: 1,
    });
    expect(table).toContain('% of flash');
    if (d.torchSkipped) {
      expect(table).toContain(`PyTorch: skipped: ${d.torchSkipped}`);
      console.warn(`bench dilated-vs-torch PyTorch columns not exercised: ${d.torchSkipped}`);
    } else {
      for (const r of d.rows.slice(1)) {
        expect(r.torchRatio).toBeGreaterThan(0);
        expect(r.torchSignificance?.p).toBeGreaterThanOrEqual(0);
      }
      expect(d.rows[0]?.torchRatio).toBeNull();
    }
  });
});

describe('bench headline', () => {
  const base = emptyRun();

  it('one line per measured figure, from the sections that ran; none without figures', async () => {
    expect(benchHeadline(base)).toBeNull();
    expect(fullBenchTable(base).startsWith('Headline')).toBe(false);
    const b = createFakeBinding({ implementations: ['flash', 'kv-cache'] });
    const rows = await runComputeApiSection(b, { threads: 1, lengths: [32], runs: 3, warmup: 1 });
    const r: FullBenchResult = {
      ...base,
      rows: [
        {
          implementation: 'flash',
          seqLen: 1024,
          medianMs: 1,
          gflops: 150,
          pctOfPeak: 75,
          samples: 3,
        },
        {
          implementation: 'naive',
          seqLen: 1024,
          medianMs: 2,
          gflops: 75,
          pctOfPeak: 37.5,
          samples: 3,
        },
      ],
      computeApi: rows,
    };
    const h = benchHeadline(r)!;
    expect(h).toMatch(/flash fp32, % of FMA peak \(avx2\) +1K 75\.0%\n/);
    expect(h).not.toContain('37.5%'); // naive is in its table, not the headline
    const c = rows[0]!;
    expect(h).toContain(
      `32 ${c.ratio.toFixed(2)}x (${c.ratioOut.toFixed(2)}x; ${c.ratioInPlace.toFixed(2)}x)`,
    );
    expect(h).not.toMatch(/onnxruntime|PyTorch|half KV/); // sections that did not run say nothing
    // half storage: each cache length with how fast fp32 read it against the measured stream
    const kv = (dtype: 'fp32' | 'bf16', seqLen: number, gbps: number, speedupVsFp32: number) => ({
      kernel: 'kv-cache' as const,
      seqLen,
      dtype,
      medianMs: 1,
      gflops: null,
      gbps,
      speedupVsFp32,
      inputBytes: 1,
      samples: 3,
      timing: 'telemetry' as const,
    });
    const dtypes = {
      dtypes: ['fp32', 'bf16'] as ('fp32' | 'bf16')[],
      kv: { cacheLen: 8192, heads: 32, kvHeads: 8, headDim: 128, newTokens: 64 },
      rows: [
        kv('fp32', 8192, 30, 1),
        kv('bf16', 8192, 20, 1.41),
        kv('fp32', 65536, 12, 1),
        kv('bf16', 65536, 11, 1.83),
      ],
      skipped: [],
    };
    const withKv = benchHeadline({ ...base, dtypes })!;
    expect(withKv).toContain(
      '8K (fp32 read at 150% of stream, above it: from cache): bf16 1.41x | 64K (fp32 read at 60% of stream, below it): bf16 1.83x',
    );
    expect(benchHeadline({ ...r, interrupted: { during: 'kernels', notRun: [] } })).toMatch(
      /^INTERRUPTED run/,
    );
  });
});

describe('bench run stopped by Ctrl-C', () => {
  it('keeps every point sampled before the stop, names the section it cut short and those never run', async () => {
    const b = createFakeBinding({ implementations: ['flash', 'naive', 'kv-cache'] });
    const stop = new AbortController();
    const lines: string[] = [];
    const options = {
      sections: ['kernels', 'kv-cache', 'compute-api'] as const,
      quick: true,
      threads: 1,
      runs: 3,
      kernelLengths: [32, 48],
      // Ctrl-C as the third kernels point (naive @ 32) starts
      log: (line: string) => {
        lines.push(line);
        if (line.startsWith('naive @ 32')) stop.abort();
      },
      signal: stop.signal,
    };
    const { result, file } = await runFullBench(b, { ...options, sections: [...options.sections] });
    expect(result.rows.map((r) => `${r.implementation}@${r.seqLen}`)).toEqual([
      'flash@32',
      'flash@48',
    ]);
    expect(result.interrupted).toEqual({ during: 'kernels', notRun: ['kv-cache', 'compute-api'] });
    expect(lines.some((l) => l.startsWith('kv-cache'))).toBe(false);
    // the result file keeps the two sampled points and says the run did not finish
    expect(file.interrupted).toBe(true);
    expect(file.bench?.interrupted).toEqual(result.interrupted);
    expect(file.results.map((r) => r.seqLen)).toEqual([32, 48]);
    expect(file.results.every((r) => (r.stats?.medianMs ?? 0) > 0)).toBe(true);
    expect(Object.keys(file.config)).not.toContain('signal');
    expect(fullBenchTable(result)).toContain(
      'INTERRUPTED during kernels (its points above finished; the one being sampled was dropped); not run: kv-cache, compute-api',
    );
  });

  it('an uninterrupted run carries no interrupted mark', async () => {
    const b = createFakeBinding({ implementations: ['flash', 'naive'] });
    const { result, file } = await runFullBench(b, {
      sections: ['kernels'],
      quick: true,
      threads: 1,
      runs: 3,
      kernelLengths: [32],
      signal: new AbortController().signal,
    });
    expect(result.rows).toHaveLength(2);
    expect(result.interrupted).toBeUndefined();
    expect(file.interrupted).toBeUndefined();
    expect(fullBenchTable(result)).not.toContain('INTERRUPTED');
  });
});
