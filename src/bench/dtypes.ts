// The `dtypes` section of `dilbench bench`: fp32, bf16 and fp16 storage side by side (fp32
// compute), each point's dtypes sampled interleaved by the engine (src/bench/record.ts): flash at
// 2K and 4K (GFLOP/s) and kv-cache decode at cache 8K, 32 heads / 8 kv heads, headDim 128, 64 new
// tokens (ms per token, GB/s of cache read in the storage dtype and its % of the measured stream),
// with the ratio of each dtype's median to fp32's.
import type { Measurement } from '../measure/types.js';
import type { DTypeName, NativeBinding, NativeProblem, NativeSession } from '../native/binding.js';
import type { DtypeBenchResult, DtypeBenchRow } from '../results/types.js';
import { benchSessionOptions, decodeSampler, type DecodeSampler } from './kernels.js';
import { BenchRecord, benchProblem, nativeSide, type SectionOptions } from './record.js';

export type { DtypeBenchResult, DtypeBenchRow };

export const DTYPE_BENCH_DTYPES: DTypeName[] = ['fp32', 'bf16', 'fp16'];
export const DTYPE_FLASH_LENGTHS = [2048, 4096];
export const DTYPE_KV = { cacheLen: 8192, heads: 32, kvHeads: 8, headDim: 128, newTokens: 64 };

export async function runDtypeSection(
  binding: NativeBinding,
  opts: SectionOptions & {
    dtypes?: DTypeName[];
    flashLengths?: number[];
    kv?: Partial<DtypeBenchResult['kv']> | null;
  },
): Promise<DtypeBenchResult> {
  const record = opts.record ?? new BenchRecord(opts.threads);
  const simdLevel = binding.info().simdLevel;
  const want = opts.dtypes ?? DTYPE_BENCH_DTYPES;
  const kv = { ...DTYPE_KV, ...(opts.kv ?? {}) };
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
  for (const seqLen of opts.flashLengths ?? DTYPE_FLASH_LENGTHS) {
    if (flashDtypes.length === 0) break;
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
  }

  const kvDtypes = opts.kv === null ? [] : usable('kv-cache');
  if (kvDtypes.length > 0) {
    opts.log?.(
      `kv-cache decode @ cache ${kv.cacheLen} (+${kv.newTokens} tokens, ${kv.heads}/${kv.kvHeads} heads, headDim ${kv.headDim}): ${kvDtypes.join(', ')} interleaved...`,
    );
    const sessions = new Map<
      DTypeName,
      { problem: NativeProblem; session: NativeSession; probe: DecodeSampler }
    >();
    try {
      for (const dtype of kvDtypes) {
        const problem = benchProblem('kv-cache', kv.cacheLen + kv.newTokens, {
          dtype,
          heads: kv.heads,
          kvHeads: kv.kvHeads,
          headDim: kv.headDim,
          causal: true,
          promptLen: kv.cacheLen,
          newTokens: kv.newTokens,
        });
        const session = await binding.createSession(problem, sessionOptions);
        sessions.set(dtype, { problem, session, probe: decodeSampler(session) });
      }
      const ms = await record.sample({
        section: 'dtypes',
        seqLen: kv.cacheLen,
        sides: [...sessions].map(([dtype, x]) => {
          const side = nativeSide(dtype, x.problem, x.session, simdLevel, x.probe.sampler);
          side.problem.flops = 0;
          side.problem.bytesAfterSampling = x.probe.decodeBytes;
          return side;
        }),
        sampling,
      });
      withRatios(
        [...sessions].map(([dtype, { session, probe }]) => {
          const m = ms.get(dtype)!;
          const bytes = probe.decodeBytes();
          const timing = probe.timing();
          const perToken =
            timing === 'telemetry' ? m.stats.medianMs / kv.newTokens : m.stats.medianMs;
          return {
            kernel: 'kv-cache',
            seqLen: kv.cacheLen,
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
          };
        }),
        ms,
      );
    } finally {
      for (const x of sessions.values()) x.session.dispose();
    }
  }
  return { dtypes: want, kv, rows, skipped };
}
