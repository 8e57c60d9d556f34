// The `dtypes` section of `dilbench bench`: fp32, bf16 and fp16 storage side by side (fp32
// compute), each point's dtypes sampled interleaved by the engine (src/bench/record.ts): flash at
// 2K and 4K (GFLOP/s) and kv-cache decode, 32 heads / 8 kv heads, headDim 128, 64 new tokens (ms
// per token, GB/s of cache read in the storage dtype and its % of the measured stream), with the
// ratio of each dtype's median to fp32's. Decode runs at the issue's 8K cache and at a cache
// chosen from the last-level cache the machine lists (dtypeKvCacheLengths), each row labelled
// with whether its cache fits that LLC, since halving the bytes only halves the time when they
// come from memory. The decode rows skip the prompt's attention (kv-cache prefill "skip": the
// prompt only fills the cache), so a cache far beyond the LLC costs seconds, not the quadratic
// prefill; the time is the decode steps' own (telemetry), as with a prefill.
import { freemem } from 'node:os';
import type { Measurement } from '../measure/types.js';
import type { DTypeName, NativeBinding, NativeProblem, NativeSession } from '../native/binding.js';
import type { DtypeBenchResult, DtypeBenchRow } from '../results/types.js';
import { benchSessionOptions, decodeSampler, type DecodeSampler } from './kernels.js';
import { BenchRecord, benchProblem, nativeSide, type SectionOptions } from './record.js';
import {
  cacheVsLlc,
  kvCacheBytes,
  kvCacheLengths,
  memoryShortfall,
  withStreamBracket,
  type KvShape,
} from './kv-lengths.js';

export { cacheVsLlc, kvCacheBytes };

/** The dtypes section's default kv-cache lengths (kvCacheLengths at its 8K and cap). */
export function dtypeKvCacheLengths(
  llcBytes: number | null,
  shape: KvShape,
  first = DTYPE_KV.cacheLen,
  maxCache = DTYPE_KV_MAX_AUTO_CACHE,
): number[] {
  return kvCacheLengths(llcBytes, shape, first, maxCache);
}

export type { DtypeBenchResult, DtypeBenchRow };

export const DTYPE_BENCH_DTYPES: DTypeName[] = ['fp32', 'bf16', 'fp16'];
export const DTYPE_FLASH_LENGTHS = [2048, 4096];
export const DTYPE_KV = { cacheLen: 8192, heads: 32, kvHeads: 8, headDim: 128, newTokens: 64 };
/** The largest cache dtypeKvCacheLengths picks. Memory bounds it: at 64K (32 heads, headDim 128)
 * the fp32 session holds 1 GiB each of q and output and 512 MiB of K+V cache, about 3 GiB, and the
 * three dtypes' sessions 6 GiB together; a sample decodes 64 steps through 512 MiB (fp32). */
export const DTYPE_KV_MAX_AUTO_CACHE = 65536;
/** Caches above the 8K are sampled at most this many times after one warm-up: each
 * sample holds newTokens decode steps through the whole cache (64K fp32: about 2 s a sample on 2
 * threads, 1 s half), so five of each dtype, interleaved, take about 25 s. */
export const DTYPE_KV_LONG_CACHE_RUNS = 5;

export async function runDtypeSection(
  binding: NativeBinding,
  opts: SectionOptions & {
    dtypes?: DTypeName[];
    flashLengths?: number[];
    kv?: Partial<Omit<DtypeBenchResult['kv'], 'cacheLens' | 'llcBytes'>> | null;
    /** kv-cache lengths to decode (default: dtypeKvCacheLengths from kv.cacheLen and the LLC) */
    kvCacheLens?: number[];
    /** the free memory the kv lengths are checked against (default: os.freemem(); tests) */
    freeMemoryBytes?: number;
  },
): Promise<DtypeBenchResult> {
  const record = opts.record ?? new BenchRecord(opts.threads);
  const simdLevel = binding.info().simdLevel;
  const want = opts.dtypes ?? DTYPE_BENCH_DTYPES;
  const shape = { ...DTYPE_KV, ...(opts.kv ?? {}) };
  const llcBytes = binding.info().lastLevelCacheBytes ?? null;
  const cacheLens = opts.kvCacheLens ?? dtypeKvCacheLengths(llcBytes, shape, shape.cacheLen);
  const kv = {
    ...shape,
    cacheLen: cacheLens[0] ?? shape.cacheLen,
    cacheLens,
    llcBytes,
    prefill: 'skip' as const,
  };
  const sampling = { warmup: opts.warmup ?? 2, runs: opts.runs ?? 5 };
  const sessionOptions = benchSessionOptions(opts.threads);
  const impls = binding.listImplementations().filter((i) => i.device === 'cpu');
  const skipped: string[] = [];
  const usable = (kernel: string): DTypeName[] => {
    const have = impls.find((i) => i.name === kernel)?.dtypes ?? [];
    for (const d of want)
      if (!have.includes(d))
        skipped.push(
          `${kernel} ${d}: not stored by this build's CPU kernel (supported: ${have.join(', ') || 'none'})`,
        );
    return want.filter((d) => have.includes(d));
  };
  const rows: DtypeBenchRow[] = [];
  /** each dtype's speed-up over fp32, and the time ratio dtype / fp32 with its interval */
  const withRatios = (group: DtypeBenchRow[], ms: Map<string, Measurement>): void => {
    const base = group.find((r) => r.dtype === 'fp32');
    const fp32 = ms.get('fp32');
    for (const r of group) {
      r.speedupVsFp32 = base ? base.medianMs / r.medianMs : null;
      const m = ms.get(r.dtype);
      if (fp32 && m && r.dtype !== 'fp32')
        record.ratio(
          'dtypes',
          r.seqLen,
          { name: `${r.kernel} fp32`, m: fp32 },
          {
            name: `${r.kernel} ${r.dtype}`,
            m,
          },
        );
    }
    rows.push(...group);
  };

  const flashDtypes = usable('flash');
  const flashLengths = flashDtypes.length > 0 ? (opts.flashLengths ?? DTYPE_FLASH_LENGTHS) : [];
  await record.eachPoint(flashLengths, async (seqLen) => {
    opts.log?.(`flash @ ${seqLen}: ${flashDtypes.join(', ')} interleaved...`);
    const sessions = new Map<DTypeName, { problem: NativeProblem; session: NativeSession }>();
    try {
      for (const dtype of flashDtypes) {
        const problem = benchProblem('flash', seqLen, { dtype });
        sessions.set(dtype, {
          problem,
          session: await binding.createSession(problem, sessionOptions),
        });
      }
      const ms = await record.sample({
        section: 'dtypes',
        seqLen,
        sides: [...sessions].map(([dtype, x]) =>
          nativeSide(dtype, x.problem, x.session, simdLevel),
        ),
        sampling,
      });
      withRatios(
        [...sessions].map(([dtype, { session: s }]) => {
          const m = ms.get(dtype)!;
          return {
            kernel: 'flash',
            seqLen,
            dtype,
            medianMs: m.stats.medianMs,
            gflops: s.plan.flops / (m.stats.medianMs / 1000) / 1e9,
            gbps: null,
            speedupVsFp32: null,
            inputBytes: s.plan.inputBytes,
            samples: m.samplesMs.length,
            timing: 'iteration',
          };
        }),
        ms,
      );
    } finally {
      for (const x of sessions.values()) x.session.dispose();
    }
  });

  const kvDtypes = opts.kv === null ? [] : usable('kv-cache');
  const kvProblem = (cacheLen: number, dtype: DTypeName): NativeProblem =>
    benchProblem('kv-cache', cacheLen + kv.newTokens, {
      dtype,
      heads: kv.heads,
      kvHeads: kv.kvHeads,
      headDim: kv.headDim,
      causal: true,
      promptLen: cacheLen,
      newTokens: kv.newTokens,
      prefill: 'skip',
    });
  const freeBytes = opts.freeMemoryBytes ?? freemem();
  const fits = (cacheLen: number): boolean => {
    const need = kvDtypes.reduce(
      (sum, dtype) => sum + binding.plan(kvProblem(cacheLen, dtype), sessionOptions).totalBytes,
      0,
    );
    const why = memoryShortfall(need, freeBytes);
    if (why)
      skipped.push(
        `kv-cache decode @ cache ${cacheLen}: its sessions (${kvDtypes.join(', ')}) ${why}`,
      );
    return !why;
  };
  const kvLens = kvDtypes.length > 0 ? cacheLens.filter(fits) : [];
  await record.eachPoint(kvLens, async (cacheLen) => {
    opts.log?.(
      `kv-cache decode @ cache ${cacheLen} (${cacheVsLlcWords(kvCacheBytes(cacheLen, kv, 4), llcBytes)}) (+${kv.newTokens} tokens, ${kv.heads}/${kv.kvHeads} heads, headDim ${kv.headDim}): ${kvDtypes.join(', ')} interleaved...`,
    );
    const sessions = new Map<
      DTypeName,
      { problem: NativeProblem; session: NativeSession; probe: DecodeSampler }
    >();
    try {
      for (const dtype of kvDtypes) {
        const problem = kvProblem(cacheLen, dtype);
        const session = await binding.createSession(problem, sessionOptions);
        sessions.set(dtype, { problem, session, probe: decodeSampler(session) });
      }
      const bracket = await withStreamBracket(binding, sessionOptions.threads, () =>
        record.sample({
          section: 'dtypes',
          seqLen: cacheLen,
          sides: [...sessions].map(([dtype, x]) => {
            const side = nativeSide(dtype, x.problem, x.session, simdLevel, x.probe.sampler);
            side.problem.flops = 0;
            side.problem.bytesAfterSampling = x.probe.decodeBytes;
            return side;
          }),
          sampling:
            cacheLen > DTYPE_KV.cacheLen
              ? {
                  warmup: Math.min(sampling.warmup, 1),
                  runs: Math.min(sampling.runs, DTYPE_KV_LONG_CACHE_RUNS),
                }
              : sampling,
        }),
      );
      const ms = bracket.result;
      withRatios(
        [...sessions].map(([dtype, { session, probe }]) => {
          const m = ms.get(dtype)!;
          const bytes = probe.decodeBytes();
          const timing = probe.timing();
          const perToken =
            timing === 'telemetry' ? m.stats.medianMs / kv.newTokens : m.stats.medianMs;
          return {
            kernel: 'kv-cache',
            seqLen: cacheLen,
            dtype,
            medianMs: perToken,
            gflops: null,
            gbps:
              bytes !== null
                ? bytes / (m.stats.medianMs * 1e6)
                : session.plan.bytesMoved / (m.stats.medianMs * 1e6),
            speedupVsFp32: null,
            inputBytes: session.plan.inputBytes,
            samples: m.samplesMs.length,
            timing,
            cacheVsLlc: cacheVsLlc(kvCacheBytes(cacheLen, kv, dtype === 'fp32' ? 4 : 2), llcBytes),
            streamGBps: bracket.streamGBps > 0 ? bracket.streamGBps : null,
          };
        }),
        ms,
      );
    } finally {
      for (const x of sessions.values()) x.session.dispose();
    }
  });
  return { dtypes: want, kv, rows, skipped };
}

function cacheVsLlcWords(fp32Bytes: number, llcBytes: number | null): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  if (llcBytes === null) return `fp32 K+V ${mib(fp32Bytes)}, LLC unknown`;
  return `fp32 K+V ${mib(fp32Bytes)} vs the listed LLC ${mib(llcBytes)}`;
}
