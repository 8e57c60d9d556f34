// The bench sections that time dilbench's own kernels alone, each point one native session sampled
// by the engine (src/bench/record.ts):
// - kernels: the machine's FP32 FMA peak and stream bandwidth (binding.measurePeak), then GFLOP/s
//   of flash and naive at 1K, 2K, 4K, 8K (batch 1, 8 heads, headDim 64, all threads), with the %
//   of the measured peak;
// - kv-cache: decode GB/s (the kernel's telemetry: bytes streamed / decode time) at cache 8K and
//   16K against the measured stream bandwidth;
// - dilated: time vs seqLen 16K..1M with a fixed segment configuration and the fitted exponent.
import { freemem } from 'node:os';
import type { Measurement, Sampler } from '../measure/types.js';
import type { NativeBinding, NativePeak, NativeSession } from '../native/binding.js';
import type {
  BenchKernelRow,
  DilatedBenchResult,
  DilatedBenchRow,
  KvBenchRow,
} from '../results/types.js';
import { fitPowerLaw } from '../stats/scaling.js';
import { median } from '../stats/summary.js';
import { BenchRecord, benchProblem, nativeSide, type SectionOptions } from './record.js';
import {
  cacheVsLlc,
  kvCacheBytes,
  kvCacheLengths,
  memoryShortfall,
  withStreamBracket,
} from './kv-lengths.js';

export type { BenchKernelRow, DilatedBenchResult, DilatedBenchRow, KvBenchRow };

/** The session options of every bench session: all caches on, no memory limit. */
export function benchSessionOptions(threads: number) {
  return { threads, useMemoryPool: true, usePatternCache: true, memoryLimitBytes: 0 };
}

export interface BenchResult {
  simdLevel: string;
  threads: number;
  peak: NativePeak;
  rows: BenchKernelRow[];
}

export const BENCH_LENGTHS = [1024, 2048, 4096, 8192];
export const BENCH_IMPLEMENTATIONS = ['flash', 'naive'];

export async function runBench(
  binding: NativeBinding,
  opts: Omit<SectionOptions, 'threads' | 'warmup'> & {
    /** default: the hardware threads */
    threads?: number;
    peakSeconds?: number;
    lengths?: number[];
  } = {},
): Promise<BenchResult> {
  const info = binding.info();
  const threads = opts.threads && opts.threads > 0 ? opts.threads : info.hardwareThreads;
  const record = opts.record ?? new BenchRecord(threads);
  opts.log?.(`measuring FP32 FMA peak and stream bandwidth on ${threads} threads...`);
  const peak = await binding.measurePeak(threads, opts.peakSeconds ?? 1);
  const rows: BenchKernelRow[] = [];
  const points = BENCH_IMPLEMENTATIONS.flatMap((implementation) =>
    (opts.lengths ?? BENCH_LENGTHS).map((seqLen) => ({ implementation, seqLen })),
  );
  await record.eachPoint(points, async ({ implementation, seqLen }) => {
    const problem = benchProblem(implementation, seqLen);
    opts.log?.(`${implementation} @ ${seqLen}...`);
    const session = await binding.createSession(problem, benchSessionOptions(threads));
    try {
      const ms = await record.sample({
        section: 'kernels',
        seqLen,
        sides: [nativeSide(implementation, problem, session, info.simdLevel)],
        sampling: { warmup: 2, runs: opts.runs ?? 5 },
      });
      const m = ms.get(implementation)!;
      const gflops = session.plan.flops / (m.stats.medianMs / 1000) / 1e9;
      rows.push({
        implementation,
        seqLen,
        medianMs: m.stats.medianMs,
        gflops,
        pctOfPeak: (100 * gflops) / peak.fmaGflops,
        samples: m.samplesMs.length,
      });
    } finally {
      session.dispose();
    }
  });
  return { simdLevel: info.simdLevel, threads, peak, rows };
}

// ---- kv-cache decode bandwidth -----------------------------------------------------------------

/** What one iteration's telemetry said of its decode phase (null fields: no telemetry). */
interface DecodeReading {
  decodeBytes: number | null;
  decodeSteps: number | null;
  prefillNs: number | null;
}

export interface DecodeSampler {
  sampler: Sampler;
  /** 'telemetry' (decode phase only) or 'iteration' (whole iteration, prefill included) */
  timing: () => 'iteration' | 'telemetry';
  /** the decode bytes of the last iteration, when timed by telemetry */
  decodeBytes: () => number | null;
  /** the telemetry of the timed samples of `m` (the last m.samplesMs.length iterations) */
  timedReadings: (m: Pick<Measurement, 'samplesMs'>) => DecodeReading[];
}

/**
 * Decode-phase sampler of a kv-cache session: each iteration runs alone and reports the decode
 * time of its telemetry (prefill excluded), so the measurement engine interleaves and summarises
 * decode times only; without telemetry it reports the whole iteration (timing 'iteration').
 */
export function decodeSampler(
  session: Pick<NativeSession, 'sample' | 'telemetry'>,
  cancel?: Parameters<NativeSession['sample']>[2],
): DecodeSampler {
  let timing: 'iteration' | 'telemetry' = 'telemetry';
  const readings: DecodeReading[] = [];
  const sampler: Sampler = {
    async sample(iterations: number, cold: boolean): Promise<Float64Array> {
      const out = new Float64Array(iterations);
      for (let i = 0; i < iterations; i++) {
        const ns = await session.sample(1, cold, cancel);
        const t = session.telemetry?.() ?? null;
        if (t && t.decodeNs && t.decodeBytes) {
          out[i] = t.decodeNs;
          readings.push({
            decodeBytes: t.decodeBytes,
            decodeSteps: t.decodeSteps ?? null,
            prefillNs: t.prefillNs ?? null,
          });
        } else {
          timing = 'iteration';
          out[i] = ns[0] as number;
          readings.push({ decodeBytes: null, decodeSteps: null, prefillNs: null });
        }
      }
      return out;
    },
  };
  return {
    sampler,
    timing: () => timing,
    decodeBytes: () => (timing === 'telemetry' ? (readings.at(-1)?.decodeBytes ?? null) : null),
    timedReadings: (m) => (m.samplesMs.length ? readings.slice(-m.samplesMs.length) : []),
  };
}

export const KV_CACHE_LENGTHS = [8192, 16384];
/** The kv-cache section's shape (benchProblem's: 8 heads, headDim 64, MHA). */
const KV_SECTION_SHAPE = { kvHeads: 8, headDim: 64 };
/** The deepest cache the section picks beyond the LLC: fp32 K+V 1 GiB, q and output 512 MiB each. */
export const KV_DEEP_MAX_CACHE = 262144;
/** Caches longer than this fill without attending the prompt (prefill skip): a causal prefill of
 * 256K tokens would take minutes per sample, and only the decode steps are timed. */
export const KV_ATTENDED_MAX_CACHE = 16384;

export async function runKvCacheSection(
  binding: NativeBinding,
  peak: NativePeak,
  opts: Omit<SectionOptions, 'warmup'> & {
    /** cache lengths (default: KV_CACHE_LENGTHS, then one beyond the LLC unless `deep` is false) */
    lengths?: number[];
    newTokens?: number;
    /** add the smallest 16K x 2^k cache whose fp32 K+V exceeds twice the listed LLC (default true) */
    deep?: boolean;
    /** the free memory a deep cache's session is checked against (default: os.freemem(); tests) */
    freeMemoryBytes?: number;
  },
): Promise<KvBenchRow[]> {
  const record = opts.record ?? new BenchRecord(opts.threads);
  const simdLevel = binding.info().simdLevel;
  const llcBytes = binding.info().lastLevelCacheBytes ?? null;
  const rows: KvBenchRow[] = [];
  const newTokens = opts.newTokens ?? 64;
  const problemAt = (cacheLen: number) =>
    benchProblem('kv-cache', cacheLen + newTokens, {
      causal: true,
      promptLen: cacheLen,
      newTokens,
      prefill: cacheLen > KV_ATTENDED_MAX_CACHE ? 'skip' : 'attend',
    });
  let lengths = opts.lengths;
  if (!lengths) {
    const last = KV_CACHE_LENGTHS.at(-1)!;
    const deep =
      opts.deep === false
        ? []
        : kvCacheLengths(llcBytes, KV_SECTION_SHAPE, last, KV_DEEP_MAX_CACHE).slice(1);
    const free = opts.freeMemoryBytes ?? freemem();
    lengths = [
      ...KV_CACHE_LENGTHS,
      ...deep.filter((len) => {
        const need = binding.plan(problemAt(len), benchSessionOptions(opts.threads)).totalBytes;
        const why = memoryShortfall(need, free);
        if (why) opts.log?.(`kv-cache decode @ cache ${len}: skipped, its session would ${why}`);
        return !why;
      }),
    ];
  }
  await record.eachPoint(lengths, async (cacheLen) => {
    const problem = problemAt(cacheLen);
    opts.log?.(
      `kv-cache decode @ cache ${cacheLen} (+${newTokens} tokens${problem.prefill === 'skip' ? ', the prompt only filling the cache' : ''})...`,
    );
    const session = await binding.createSession(problem, benchSessionOptions(opts.threads));
    try {
      // one iteration per call, so every iteration's telemetry is read; the first (the cold
      // start) is the warm-up
      const probe = decodeSampler(session);
      const side = nativeSide('kv-cache', problem, session, simdLevel, probe.sampler);
      side.problem.flops = 0;
      side.problem.bytesAfterSampling = probe.decodeBytes;
      const bracket = await withStreamBracket(binding, opts.threads, () =>
        record.sample({
          section: 'kv-cache',
          seqLen: cacheLen,
          sides: [side],
          sampling: { warmup: 1, runs: opts.runs ?? 5 },
        }),
      );
      const ms = bracket.result;
      const stream = bracket.streamGBps > 0 ? bracket.streamGBps : peak.streamGBps;
      const m = ms.get('kv-cache')!;
      const readings = probe.timedReadings(m);
      const gbps: number[] = [];
      const perToken: number[] = [];
      const prefill: number[] = [];
      m.samplesMs.forEach((sampleMs, i) => {
        const r = readings[i];
        const ns = sampleMs * 1e6;
        if (r && r.decodeBytes !== null) {
          gbps.push(r.decodeBytes / ns);
          perToken.push(sampleMs / (r.decodeSteps || newTokens));
          prefill.push((r.prefillNs ?? 0) / 1e6);
        } else {
          // no telemetry: the whole iteration against the plan's byte count (a lower bound)
          gbps.push(session.plan.bytesMoved / ns);
          perToken.push(sampleMs / newTokens);
          prefill.push(Number.NaN);
        }
      });
      const g = median(gbps);
      rows.push({
        cacheLen,
        newTokens,
        decodeGBps: g,
        decodeGBpsMin: Math.min(...gbps),
        decodeGBpsMax: Math.max(...gbps),
        pctOfStream: (100 * g) / stream,
        streamGBps: stream,
        streamGBpsRange: bracket.streamRange,
        msPerToken: median(perToken),
        prefillMs: median(prefill),
        iterations: gbps.length,
        source: probe.timing() === 'telemetry' ? 'telemetry' : 'plan.bytesMoved',
        prefill: problem.prefill ?? 'attend',
        cacheVsLlc: cacheVsLlc(kvCacheBytes(cacheLen, KV_SECTION_SHAPE, 4), llcBytes),
      });
    } finally {
      session.dispose();
    }
  });
  return rows;
}

// ---- dilated: time vs length -------------------------------------------------------------------

export const DILATED_LENGTHS = [16384, 65536, 262144, 1048576];

export async function runDilatedSection(
  binding: NativeBinding,
  opts: Omit<SectionOptions, 'warmup'> & {
    lengths?: number[];
    heads?: number;
    segmentLengths?: number[];
    dilationRates?: number[];
  },
): Promise<DilatedBenchResult> {
  const record = opts.record ?? new BenchRecord(opts.threads);
  const simdLevel = binding.info().simdLevel;
  const heads = opts.heads ?? 8;
  const segmentLengths = opts.segmentLengths ?? [2048, 4096, 8192];
  const dilationRates = opts.dilationRates ?? [1, 2, 4];
  const rows: DilatedBenchRow[] = [];
  await record.eachPoint(opts.lengths ?? DILATED_LENGTHS, async (seqLen) => {
    opts.log?.(
      `dilated @ ${seqLen} (heads ${heads}, segments ${segmentLengths.join(',')}, rates ${dilationRates.join(',')})...`,
    );
    const problem = benchProblem('dilated', seqLen, {
      heads,
      kvHeads: heads,
      segmentLengths,
      dilationRates,
    });
    const session = await binding.createSession(problem, benchSessionOptions(opts.threads));
    try {
      const ms = await record.sample({
        section: 'dilated',
        seqLen,
        sides: [nativeSide('dilated', problem, session, simdLevel)],
        sampling: { warmup: 1, runs: opts.runs ?? 3 },
      });
      const m = ms.get('dilated')!;
      rows.push({
        seqLen,
        medianMs: m.stats.medianMs,
        gflops: session.plan.flops / (m.stats.medianMs / 1000) / 1e9,
        samples: m.samplesMs.length,
      });
    } finally {
      session.dispose();
    }
  });
  const fit =
    rows.length >= 2 ? fitPowerLaw(rows.map((r) => ({ n: r.seqLen, time: r.medianMs }))) : null;
  return { heads, segmentLengths, dilationRates, rows, fit };
}
