// `npm run bench`: the machine's FP32 FMA peak and stream bandwidth (binding.measurePeak), then
// GFLOP/s of flash and naive at 1K, 2K, 4K, 8K (batch 1, 8 heads, headDim 64, all threads), with
// the % of the measured peak. `--json` prints the figures as JSON instead of the table.
// Further sections (each can be switched off; `--quick` shortens all of them):
// - frameworks: flash vs onnxruntime-node's MultiHeadAttention at 4K, 8K, 16K, measured side by
//   side in one run (interleaved by the measurement engine), GFLOP/s and the time ratio;
// - kv-cache: decode GB/s (the kernel's telemetry: bytes streamed / decode time) at cache 8K and
//   16K against the measured stream bandwidth;
// - dilated: time vs seqLen 16K..1M with a fixed segment configuration and the fitted exponent;
// - dilated-vs-torch: dilated and dilated-grouped against their PyTorch implementations
//   (src/frameworks/python/torch_dilated.py) and flash, at 8K, sampled interleaved in one run:
//   median ms, the torch/dilbench time ratio, GFLOP/s (useful FLOPs) and % of flash's GFLOP/s;
// - dtypes: fp32, bf16 and fp16 storage side by side (fp32 compute), interleaved in one run:
//   flash at 2K and 4K (GFLOP/s) and kv-cache decode at cache 8K, 32 heads / 8 kv heads,
//   headDim 128, 64 new tokens (ms per token, GB/s of cache read in the storage dtype and its %
//   of the measured stream), with the ratio of each dtype's median to fp32's.
// - compute-api: computeAttention() against a session's kernel time at 1K and 4K, interleaved
//   (benchmarks/compute-api.ts).
// Every run writes benchmark_results/bench_<timestamp>.json.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { getDilbench } from '../src/native/dilbench.js';
import { measure, measureInterleaved } from '../src/measure/scheduler.js';
import type {
  DTypeName,
  NativeBinding,
  NativePeak,
  NativeProblem,
  NativeSession,
} from '../src/native/binding.js';
import type { Sampler } from '../src/measure/types.js';
import { textTable } from '../src/reports/format.js';
import { fitPowerLaw, type PowerLawFit } from '../src/stats/scaling.js';
import { median } from '../src/stats/summary.js';
import { outputDifference, significanceOf, type Significance } from '../src/frameworks/compare.js';
import { PyTorchAdapter, torchUnavailableReason } from '../src/frameworks/pytorch.js';
import { DilbenchAdapter } from '../src/frameworks/dilbench.js';
import { OnnxRuntimeAdapter } from '../src/frameworks/onnxruntime.js';
import { isSkip, type FrameworkSpec } from '../src/frameworks/types.js';
import { writeFileAtomic, fileTimestamp } from '../src/results/store.js';
import { collectEnvironment } from '../src/env/environment.js';
import { nowMs } from '../src/measure/clock.js';
import { computeApiTable, runComputeApiSection, type ComputeApiRow } from './compute-api.js';

/** The time ratio, its 95% interval, p and the outputs' max |difference| cells of a side-by-side row. */
function ratioCells(
  ratio: number | null,
  significance: Significance | null | undefined,
  maxAbsError: number | null,
): string[] {
  return [
    ratio !== null ? `${ratio.toFixed(2)}x` : '-',
    significance
      ? `[${significance.ratioCi95[0].toFixed(2)}, ${significance.ratioCi95[1].toFixed(2)}]`
      : '-',
    significance ? significance.p.toExponential(1) : '-',
    maxAbsError !== null ? maxAbsError.toExponential(1) : '-',
  ];
}

export interface BenchRow {
  implementation: string;
  seqLen: number;
  medianMs: number;
  gflops: number;
  pctOfPeak: number;
  samples: number;
}

export interface BenchResult {
  simdLevel: string;
  threads: number;
  peak: NativePeak;
  rows: BenchRow[];
}

export const BENCH_LENGTHS = [1024, 2048, 4096, 8192];
export const BENCH_IMPLEMENTATIONS = ['flash', 'naive'];

export async function runBench(
  binding: NativeBinding,
  opts: { threads?: number; peakSeconds?: number; runs?: number; log?: (s: string) => void } = {},
): Promise<BenchResult> {
  const info = binding.info();
  const threads = opts.threads && opts.threads > 0 ? opts.threads : info.hardwareThreads;
  opts.log?.(`measuring FP32 FMA peak and stream bandwidth on ${threads} threads...`);
  const peak = await binding.measurePeak(threads, opts.peakSeconds ?? 1);
  const rows: BenchRow[] = [];
  for (const implementation of BENCH_IMPLEMENTATIONS) {
    for (const seqLen of BENCH_LENGTHS) {
      const problem: NativeProblem = {
        implementation,
        device: 'cpu',
        dtype: 'fp32',
        batch: 1,
        heads: 8,
        kvHeads: 8,
        seqLen,
        headDim: 64,
        causal: false,
        seed: 42,
      };
      opts.log?.(`${implementation} @ ${seqLen}...`);
      const session = await binding.createSession(problem, {
        threads,
        useMemoryPool: true,
        usePatternCache: true,
        memoryLimitBytes: 0,
      });
      try {
        const m = await measure(
          { sample: (n, cold) => session.sample(n, cold) },
          { warmup: 2, runs: opts.runs ?? 5 },
        );
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
    }
  }
  return { simdLevel: info.simdLevel, threads, peak, rows };
}

export function benchTable(r: BenchResult): string {
  const lines = [
    `FP32 FMA peak ${r.peak.fmaGflops.toFixed(1)} GFLOP/s, stream ${r.peak.streamGBps.toFixed(1)} GB/s ` +
      `(${r.threads} threads, SIMD ${r.simdLevel})`,
    '',
    textTable(
      ['implementation', 'length', 'median ms', 'GFLOP/s', '% of peak'],
      r.rows.map((x) => [
        x.implementation,
        String(x.seqLen),
        x.medianMs.toFixed(2),
        x.gflops.toFixed(1),
        `${x.pctOfPeak.toFixed(1)}%`,
      ]),
      [false, true, true, true, true],
    ),
  ];
  return lines.join('\n') + '\n';
}

// ---- flash vs onnxruntime-node MultiHeadAttention, side by side -------------------------------

export interface FrameworkBenchRow {
  seqLen: number;
  flashMedianMs: number;
  flashGflops: number;
  ortMedianMs: number | null;
  ortGflops: number | null;
  /** ORT median time / flash median time (> 1: flash faster) */
  ratio: number | null;
  significance: Significance | null;
  maxAbsError: number | null;
  flashPctOfPeak: number;
  /** PyTorch scaled_dot_product_attention in its subprocess, interleaved with the other two; null when torch is absent */
  torchMedianMs: number | null;
  torchGflops: number | null;
  /** torch median time / flash median time (> 1: flash faster) */
  torchRatio: number | null;
  torchSignificance: Significance | null;
  torchMaxAbsError: number | null;
  note?: string;
}

export const FRAMEWORK_LENGTHS = [4096, 8192, 16384];

export async function runFrameworkSection(
  binding: NativeBinding,
  peak: NativePeak,
  opts: {
    threads: number;
    lengths?: number[];
    runs?: number;
    warmup?: number;
    log?: (s: string) => void;
  },
): Promise<{
  rows: FrameworkBenchRow[];
  skipped?: string;
  version?: string;
  torchVersion?: string;
  torchSkipped?: string;
}> {
  const rows: FrameworkBenchRow[] = [];
  let version: string | undefined;
  let torchVersion: string | undefined;
  let torchSkipped = torchUnavailableReason() ?? undefined;
  for (const seqLen of opts.lengths ?? FRAMEWORK_LENGTHS) {
    const spec: FrameworkSpec = {
      batch: 1,
      heads: 8,
      seqLen,
      headDim: 64,
      causal: false,
      threads: opts.threads,
      implementation: 'flash',
      dtype: 'fp32',
      seed: 42,
    };
    opts.log?.(`flash vs onnxruntime-node MultiHeadAttention @ ${seqLen} (interleaved)...`);
    const flash = await DilbenchAdapter.create(binding, spec);
    const ort = await OnnxRuntimeAdapter.create(spec, flash.inputs(), 'mha');
    const created = torchSkipped ? null : await PyTorchAdapter.create(spec, flash.inputs());
    if (created && isSkip(created)) torchSkipped = created.reason;
    const torch = created && !isSkip(created) ? created : null;
    try {
      if ('skipped' in ort) return { rows, skipped: ort.reason, torchSkipped };
      version = ort.version;
      const samplers = new Map([
        ['flash', flash.sampler],
        ['onnxruntime-mha', ort.sampler],
      ]);
      if (torch) {
        samplers.set('pytorch', torch.sampler);
        torchVersion = torch.version;
      }
      const ms = await measureInterleaved(samplers, {
        warmup: opts.warmup ?? 2,
        runs: opts.runs ?? 5,
      });
      const f = ms.get('flash');
      const o = ms.get('onnxruntime-mha');
      if (!f || !o) throw new Error('interleaved measurement lost a sampler');
      const t = ms.get('pytorch');
      const flops = 4 * spec.batch * spec.heads * seqLen * seqLen * spec.headDim;
      const a = await flash.output();
      const maxAbs = outputDifference(await ort.output(), a).maxAbsError;
      const flashGflops = flops / (f.stats.medianMs / 1000) / 1e9;
      const torchOut = torch ? await torch.output() : null;
      rows.push({
        seqLen,
        flashMedianMs: f.stats.medianMs,
        flashGflops,
        ortMedianMs: o.stats.medianMs,
        ortGflops: flops / (o.stats.medianMs / 1000) / 1e9,
        ratio: o.stats.medianMs / f.stats.medianMs,
        significance: significanceOf(seqLen, 'onnxruntime-mha', f.samplesMs, o.samplesMs),
        maxAbsError: maxAbs,
        flashPctOfPeak: (100 * flashGflops) / peak.fmaGflops,
        torchMedianMs: t ? t.stats.medianMs : null,
        torchGflops: t ? flops / (t.stats.medianMs / 1000) / 1e9 : null,
        torchRatio: t ? t.stats.medianMs / f.stats.medianMs : null,
        torchSignificance: t ? significanceOf(seqLen, 'pytorch', f.samplesMs, t.samplesMs) : null,
        torchMaxAbsError: torchOut ? outputDifference(torchOut, a).maxAbsError : null,
      });
    } finally {
      await flash.dispose();
      if (!('skipped' in ort)) await ort.dispose();
      await torch?.dispose();
    }
  }
  return { rows, version, torchVersion, torchSkipped };
}

// ---- dilated / dilated-grouped vs their PyTorch implementations, and flash -----------------------

export interface DilatedTorchRow {
  implementation: string;
  medianMs: number;
  /** useful FLOPs (the native planner's count) / median time */
  gflops: number;
  /** % of flash's GFLOP/s in the same run */
  pctOfFlash: number;
  /** the PyTorch implementation of the same definition; null for flash or when torch is absent */
  torchMedianMs: number | null;
  torchGflops: number | null;
  /** torch median time / dilbench median time (> 1: dilbench faster) */
  torchRatio: number | null;
  torchSignificance: Significance | null;
  torchMaxAbsError: number | null;
}

export interface DilatedTorchResult {
  seqLen: number;
  heads: number;
  segmentLengths: number[];
  dilationRates: number[];
  rows: DilatedTorchRow[];
  /** dilbench's SIMD level and torch's ATen CPU capability (ATEN_CPU_CAPABILITY=avx2 matches an AVX2 run) */
  simdLevel: string;
  torchCpuCapability?: string | null;
  torchVersion?: string;
  torchSkipped?: string;
}

export const DILATED_TORCH_PAIRS = { segmentLengths: [1024, 2048, 4096], dilationRates: [1, 2, 4] };

export async function runDilatedTorchSection(
  binding: NativeBinding,
  opts: {
    threads: number;
    seqLen?: number;
    runs?: number;
    warmup?: number;
    log?: (s: string) => void;
  },
): Promise<DilatedTorchResult> {
  const seqLen = opts.seqLen ?? 8192;
  const base: FrameworkSpec = {
    batch: 1,
    heads: 8,
    seqLen,
    headDim: 64,
    causal: false,
    threads: opts.threads,
    implementation: 'flash',
    dtype: 'fp32',
    seed: 42,
    ...DILATED_TORCH_PAIRS,
  };
  const result: DilatedTorchResult = {
    seqLen,
    heads: base.heads,
    ...DILATED_TORCH_PAIRS,
    rows: [],
    simdLevel: binding.info().simdLevel,
    torchSkipped: torchUnavailableReason() ?? undefined,
  };
  const kinds = ['dilated', 'dilated-grouped'] as const;
  opts.log?.(`dilated, dilated-grouped vs PyTorch, and flash @ ${seqLen} (interleaved)...`);
  const ours = new Map<string, DilbenchAdapter>();
  const torch = new Map<string, PyTorchAdapter>();
  try {
    for (const implementation of ['flash', ...kinds])
      ours.set(implementation, await DilbenchAdapter.create(binding, { ...base, implementation }));
    const inputs = ours.get('flash')!.inputs();
    for (const implementation of kinds) {
      if (result.torchSkipped) break;
      const created = await PyTorchAdapter.create(
        { ...base, implementation },
        inputs,
        implementation,
      );
      if (isSkip(created)) result.torchSkipped = created.reason;
      else {
        torch.set(implementation, created);
        result.torchVersion = created.version;
        result.torchCpuCapability = created.cpuCapability;
      }
    }
    const samplers = new Map<string, Sampler>();
    for (const [name, a] of ours) samplers.set(name, a.sampler);
    for (const [name, a] of torch) samplers.set(`torch ${name}`, a.sampler);
    const ms = await measureInterleaved(samplers, {
      warmup: opts.warmup ?? 2,
      runs: opts.runs ?? 5,
    });
    const gflopsOf = (name: string, medianMs: number) =>
      ours.get(name)!.flops / (medianMs / 1000) / 1e9;
    const flashMs = ms.get('flash')!.stats.medianMs;
    const flashGflops = gflopsOf('flash', flashMs);
    for (const [name, a] of ours) {
      const m = ms.get(name)!;
      const t = ms.get(`torch ${name}`);
      const tAdapter = torch.get(name);
      const gflops = gflopsOf(name, m.stats.medianMs);
      result.rows.push({
        implementation: name,
        medianMs: m.stats.medianMs,
        gflops,
        pctOfFlash: (100 * gflops) / flashGflops,
        torchMedianMs: t ? t.stats.medianMs : null,
        torchGflops: t ? gflopsOf(name, t.stats.medianMs) : null,
        torchRatio: t ? t.stats.medianMs / m.stats.medianMs : null,
        torchSignificance: t ? significanceOf(seqLen, 'pytorch', m.samplesMs, t.samplesMs) : null,
        torchMaxAbsError: tAdapter
          ? outputDifference(await tAdapter.output(), await a.output()).maxAbsError
          : null,
      });
    }
  } finally {
    for (const a of ours.values()) await a.dispose();
    for (const a of torch.values()) await a.dispose();
  }
  return result;
}

export function dilatedTorchTable(d: DilatedTorchResult, threads: number): string {
  const lines = [
    `dilated vs ${d.torchVersion ?? 'PyTorch'} implementations of the same definitions, and flash (batch 1, ${d.heads} heads, headDim 64, seqLen ${d.seqLen}, segments ${d.segmentLengths.join(',')}, rates ${d.dilationRates.join(',')}, fp32, ${threads} threads, interleaved; dilbench SIMD ${d.simdLevel}${d.torchCpuCapability ? `, torch ATen ${d.torchCpuCapability}` : ''})`,
    textTable(
      [
        'implementation',
        'ms',
        'GFLOP/s',
        '% of flash',
        'torch ms',
        'torch GFLOP/s',
        'torch/dilbench time',
        '95% CI',
        'p',
        'max|diff|',
      ],
      d.rows.map((x) => [
        x.implementation,
        f2(x.medianMs),
        f1(x.gflops),
        `${f1(x.pctOfFlash)}%`,
        f2(x.torchMedianMs),
        f1(x.torchGflops),
        ...ratioCells(x.torchRatio, x.torchSignificance, x.torchMaxAbsError),
      ]),
      [false, true, true, true, true, true, true, true, true, true],
    ),
  ];
  if (d.torchSkipped) lines.push(`  PyTorch: skipped: ${d.torchSkipped}`);
  return lines.join('\n') + '\n';
}

// ---- kv-cache decode bandwidth -----------------------------------------------------------------

export interface KvBenchRow {
  cacheLen: number;
  newTokens: number;
  /** median over iterations of decodeBytes / decodeNs */
  decodeGBps: number;
  decodeGBpsMin: number;
  decodeGBpsMax: number;
  pctOfStream: number;
  /** median decode time per generated token, ms */
  msPerToken: number;
  prefillMs: number;
  iterations: number;
  source: 'telemetry' | 'plan.bytesMoved';
}

export const KV_CACHE_LENGTHS = [8192, 16384];

export async function runKvCacheSection(
  binding: NativeBinding,
  peak: NativePeak,
  opts: {
    threads: number;
    lengths?: number[];
    newTokens?: number;
    runs?: number;
    log?: (s: string) => void;
  },
): Promise<KvBenchRow[]> {
  const rows: KvBenchRow[] = [];
  const newTokens = opts.newTokens ?? 64;
  for (const cacheLen of opts.lengths ?? KV_CACHE_LENGTHS) {
    opts.log?.(`kv-cache decode @ cache ${cacheLen} (+${newTokens} tokens)...`);
    const problem: NativeProblem = {
      implementation: 'kv-cache',
      device: 'cpu',
      dtype: 'fp32',
      batch: 1,
      heads: 8,
      kvHeads: 8,
      seqLen: cacheLen + newTokens,
      headDim: 64,
      causal: true,
      seed: 42,
      promptLen: cacheLen,
      newTokens,
    };
    const session = await binding.createSession(problem, {
      threads: opts.threads,
      useMemoryPool: true,
      usePatternCache: true,
      memoryLimitBytes: 0,
    });
    try {
      const gbps: number[] = [];
      const perToken: number[] = [];
      const prefill: number[] = [];
      let source: KvBenchRow['source'] = 'telemetry';
      // one iteration per call, so every iteration's telemetry is read (the first is the cold start)
      const runs = opts.runs ?? 5;
      await session.sample(1, false);
      for (let i = 0; i < runs; i++) {
        const ns = await session.sample(1, false);
        const t = session.telemetry?.() ?? null;
        if (t && t.decodeBytes && t.decodeNs) {
          gbps.push(t.decodeBytes / t.decodeNs);
          perToken.push(t.decodeNs / 1e6 / (t.decodeSteps || newTokens));
          prefill.push((t.prefillNs ?? 0) / 1e6);
        } else {
          // no telemetry: the whole iteration against the plan's byte count (a lower bound)
          source = 'plan.bytesMoved';
          gbps.push(session.plan.bytesMoved / (ns[0] as number));
          perToken.push((ns[0] as number) / 1e6 / newTokens);
          prefill.push(Number.NaN);
        }
      }
      const g = median(gbps);
      rows.push({
        cacheLen,
        newTokens,
        decodeGBps: g,
        decodeGBpsMin: Math.min(...gbps),
        decodeGBpsMax: Math.max(...gbps),
        pctOfStream: (100 * g) / peak.streamGBps,
        msPerToken: median(perToken),
        prefillMs: median(prefill),
        iterations: gbps.length,
        source,
      });
    } finally {
      session.dispose();
    }
  }
  return rows;
}

// ---- dilated: time vs length -------------------------------------------------------------------

export interface DilatedBenchRow {
  seqLen: number;
  medianMs: number;
  gflops: number;
  samples: number;
}

export interface DilatedBenchResult {
  heads: number;
  segmentLengths: number[];
  dilationRates: number[];
  rows: DilatedBenchRow[];
  fit: PowerLawFit | null;
}

export const DILATED_LENGTHS = [16384, 65536, 262144, 1048576];

export async function runDilatedSection(
  binding: NativeBinding,
  opts: {
    threads: number;
    lengths?: number[];
    heads?: number;
    segmentLengths?: number[];
    dilationRates?: number[];
    runs?: number;
    log?: (s: string) => void;
  },
): Promise<DilatedBenchResult> {
  const heads = opts.heads ?? 8;
  const segmentLengths = opts.segmentLengths ?? [2048, 4096, 8192];
  const dilationRates = opts.dilationRates ?? [1, 2, 4];
  const rows: DilatedBenchRow[] = [];
  for (const seqLen of opts.lengths ?? DILATED_LENGTHS) {
    opts.log?.(
      `dilated @ ${seqLen} (heads ${heads}, segments ${segmentLengths.join(',')}, rates ${dilationRates.join(',')})...`,
    );
    const problem: NativeProblem = {
      implementation: 'dilated',
      device: 'cpu',
      dtype: 'fp32',
      batch: 1,
      heads,
      kvHeads: heads,
      seqLen,
      headDim: 64,
      causal: false,
      seed: 42,
      segmentLengths,
      dilationRates,
    };
    const session = await binding.createSession(problem, {
      threads: opts.threads,
      useMemoryPool: true,
      usePatternCache: true,
      memoryLimitBytes: 0,
    });
    try {
      const m = await measure(
        { sample: (n, cold) => session.sample(n, cold) },
        { warmup: 1, runs: opts.runs ?? 3 },
      );
      rows.push({
        seqLen,
        medianMs: m.stats.medianMs,
        gflops: session.plan.flops / (m.stats.medianMs / 1000) / 1e9,
        samples: m.samplesMs.length,
      });
    } finally {
      session.dispose();
    }
  }
  const fit =
    rows.length >= 2 ? fitPowerLaw(rows.map((r) => ({ n: r.seqLen, time: r.medianMs }))) : null;
  return { heads, segmentLengths, dilationRates, rows, fit };
}

// ---- storage dtypes side by side ---------------------------------------------------------------

export interface DtypeBenchRow {
  kernel: 'flash' | 'kv-cache';
  /** flash: sequence length; kv-cache: cache (prompt) length */
  seqLen: number;
  dtype: DTypeName;
  /** flash: median forward time; kv-cache: median decode time per generated token */
  medianMs: number;
  /** flash: plan flops / median time */
  gflops: number | null;
  /** kv-cache: cache bytes a decode streams (storage dtype) / median decode time */
  gbps: number | null;
  /** fp32 median / this median: > 1 means faster than fp32 */
  speedupVsFp32: number | null;
  /** q, k, v bytes in the storage dtype */
  inputBytes: number;
  samples: number;
  /** kv-cache: 'telemetry' (decode phase only) or 'iteration' (whole iteration, prefill included) */
  timing: 'iteration' | 'telemetry';
}

export interface DtypeBenchResult {
  dtypes: DTypeName[];
  kv: { cacheLen: number; heads: number; kvHeads: number; headDim: number; newTokens: number };
  rows: DtypeBenchRow[];
  /** dtypes the binding's CPU kernels do not store, with the reason */
  skipped: string[];
}

export const DTYPE_BENCH_DTYPES: DTypeName[] = ['fp32', 'bf16', 'fp16'];
export const DTYPE_FLASH_LENGTHS = [2048, 4096];
export const DTYPE_KV = { cacheLen: 8192, heads: 32, kvHeads: 8, headDim: 128, newTokens: 64 };

/**
 * Decode-phase sampler of a kv-cache session: each iteration runs alone and reports the decode
 * time of its telemetry (prefill excluded), so the measurement engine interleaves and summarises
 * decode times only; without telemetry it reports the whole iteration (timing 'iteration').
 */
function decodeSampler(session: NativeSession): {
  sampler: Sampler;
  timing: () => DtypeBenchRow['timing'];
  decodeBytes: () => number | null;
} {
  let timing: DtypeBenchRow['timing'] = 'telemetry';
  let bytes: number | null = null;
  const sampler: Sampler = {
    async sample(iterations: number, cold: boolean): Promise<Float64Array> {
      const out = new Float64Array(iterations);
      for (let i = 0; i < iterations; i++) {
        const ns = await session.sample(1, cold);
        const t = session.telemetry?.() ?? null;
        if (t && t.decodeNs && t.decodeBytes) {
          out[i] = t.decodeNs;
          bytes = t.decodeBytes;
        } else {
          timing = 'iteration';
          out[i] = ns[0] as number;
        }
      }
      return out;
    },
  };
  return {
    sampler,
    timing: () => timing,
    decodeBytes: () => (timing === 'telemetry' ? bytes : null),
  };
}

export async function runDtypeSection(
  binding: NativeBinding,
  opts: {
    threads: number;
    dtypes?: DTypeName[];
    flashLengths?: number[];
    kv?: Partial<DtypeBenchResult['kv']> | null;
    runs?: number;
    warmup?: number;
    log?: (s: string) => void;
  },
): Promise<DtypeBenchResult> {
  const want = opts.dtypes ?? DTYPE_BENCH_DTYPES;
  const kv = { ...DTYPE_KV, ...(opts.kv ?? {}) };
  const sampling = { warmup: opts.warmup ?? 2, runs: opts.runs ?? 5 };
  const sessionOptions = {
    threads: opts.threads,
    useMemoryPool: true,
    usePatternCache: true,
    memoryLimitBytes: 0,
  };
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
  const withRatios = (group: DtypeBenchRow[]): void => {
    const base = group.find((r) => r.dtype === 'fp32');
    for (const r of group) r.speedupVsFp32 = base ? base.medianMs / r.medianMs : null;
    rows.push(...group);
  };

  const flashDtypes = usable('flash');
  for (const seqLen of opts.flashLengths ?? DTYPE_FLASH_LENGTHS) {
    if (flashDtypes.length === 0) break;
    opts.log?.(`flash @ ${seqLen}: ${flashDtypes.join(', ')} interleaved...`);
    const sessions = new Map<DTypeName, NativeSession>();
    try {
      for (const dtype of flashDtypes) {
        const problem: NativeProblem = {
          implementation: 'flash',
          device: 'cpu',
          dtype,
          batch: 1,
          heads: 8,
          kvHeads: 8,
          seqLen,
          headDim: 64,
          causal: false,
          seed: 42,
        };
        sessions.set(dtype, await binding.createSession(problem, sessionOptions));
      }
      const ms = await measureInterleaved(
        new Map(
          [...sessions].map(([d, s]) => [
            d,
            { sample: (n: number, cold: boolean) => s.sample(n, cold) },
          ]),
        ),
        sampling,
      );
      withRatios(
        [...sessions].map(([dtype, s]) => {
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
      );
    } finally {
      for (const s of sessions.values()) s.dispose();
    }
  }

  const kvDtypes = opts.kv === null ? [] : usable('kv-cache');
  if (kvDtypes.length > 0) {
    opts.log?.(
      `kv-cache decode @ cache ${kv.cacheLen} (+${kv.newTokens} tokens, ${kv.heads}/${kv.kvHeads} heads, headDim ${kv.headDim}): ${kvDtypes.join(', ')} interleaved...`,
    );
    const sessions = new Map<
      DTypeName,
      { session: NativeSession; probe: ReturnType<typeof decodeSampler> }
    >();
    try {
      for (const dtype of kvDtypes) {
        const problem: NativeProblem = {
          implementation: 'kv-cache',
          device: 'cpu',
          dtype,
          batch: 1,
          heads: kv.heads,
          kvHeads: kv.kvHeads,
          seqLen: kv.cacheLen + kv.newTokens,
          headDim: kv.headDim,
          causal: true,
          seed: 42,
          promptLen: kv.cacheLen,
          newTokens: kv.newTokens,
        };
        const session = await binding.createSession(problem, sessionOptions);
        sessions.set(dtype, { session, probe: decodeSampler(session) });
      }
      const ms = await measureInterleaved(
        new Map([...sessions].map(([d, x]) => [d, x.probe.sampler])),
        sampling,
      );
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
      );
    } finally {
      for (const x of sessions.values()) x.session.dispose();
    }
  }
  return { dtypes: want, kv, rows, skipped };
}

/** streamGBps: the measured stream bandwidth, for the kv-cache rows' % of stream (omitted: '-') */
export function dtypeBenchTable(d: DtypeBenchResult, threads: number, streamGBps?: number): string {
  const out = [
    `storage dtypes side by side (fp32 compute, ${threads} threads, interleaved; vs fp32 = fp32 median / median, > 1 is faster)`,
    `  flash: batch 1, 8 heads, headDim 64, median ms per forward; kv-cache: cache ${d.kv.cacheLen}, ${d.kv.heads}/${d.kv.kvHeads} heads, headDim ${d.kv.headDim}, causal, ${d.kv.newTokens} new tokens, median ms per decoded token, GB/s of cache read in the storage dtype`,
    textTable(
      [
        'kernel',
        'length',
        'dtype',
        'median ms',
        'GFLOP/s',
        'GB/s',
        '% of stream',
        'vs fp32',
        'inputs MiB',
        'samples',
        'timing',
      ],
      d.rows.map((x) => [
        x.kernel,
        String(x.seqLen),
        x.dtype,
        x.medianMs.toFixed(x.kernel === 'kv-cache' ? 3 : 2),
        f1(x.gflops),
        f1(x.gbps),
        x.gbps !== null && streamGBps ? `${f1((100 * x.gbps) / streamGBps)}%` : '-',
        x.speedupVsFp32 !== null ? `${x.speedupVsFp32.toFixed(2)}x` : '-',
        (x.inputBytes / 2 ** 20).toFixed(1),
        String(x.samples),
        x.timing,
      ]),
      [false, true, false, true, true, true, true, true, true, true, false],
    ),
  ];
  for (const s of d.skipped) out.push(`  skipped: ${s}`);
  return out.join('\n') + '\n';
}

// ---- the whole bench ---------------------------------------------------------------------------

export interface FullBenchResult extends BenchResult {
  quick: boolean;
  createdAt: string;
  frameworks?: {
    rows: FrameworkBenchRow[];
    skipped?: string;
    version?: string;
    torchVersion?: string;
    torchSkipped?: string;
  };
  kvCache?: KvBenchRow[];
  dilated?: DilatedBenchResult;
  dilatedTorch?: DilatedTorchResult;
  dtypes?: DtypeBenchResult;
  computeApi?: ComputeApiRow[];
  elapsedSeconds: number;
}

const f1 = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(1);
const f2 = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(2);

export function fullBenchTable(r: FullBenchResult): string {
  const out = [benchTable(r)];
  if (r.frameworks) {
    out.push(
      `flash vs ${r.frameworks.version ?? 'onnxruntime-node'} MultiHeadAttention (batch 1, 8 heads, headDim 64, fp32, ${r.threads} threads, interleaved)`,
    );
    if (r.frameworks.skipped) out.push(`  skipped: ${r.frameworks.skipped}`);
    else
      out.push(
        textTable(
          [
            'length',
            'flash ms',
            'flash GFLOP/s',
            '% of peak',
            'ORT MHA ms',
            'ORT GFLOP/s',
            'ORT/flash time',
            '95% CI',
            'p',
            'max|diff|',
          ],
          r.frameworks.rows.map((x) => [
            String(x.seqLen),
            f2(x.flashMedianMs),
            f1(x.flashGflops),
            `${f1(x.flashPctOfPeak)}%`,
            f2(x.ortMedianMs),
            f1(x.ortGflops),
            ...ratioCells(x.ratio, x.significance, x.maxAbsError),
          ]),
          [true, true, true, true, true, true, true, true, true, true],
        ),
      );
    if (r.frameworks.torchSkipped) out.push(`  PyTorch: skipped: ${r.frameworks.torchSkipped}`);
    else if (r.frameworks.rows.some((x) => x.torchMedianMs !== null)) {
      out.push(
        `flash vs ${r.frameworks.torchVersion ?? 'PyTorch'} scaled_dot_product_attention (same points, sampled interleaved with the two above)`,
      );
      out.push(
        textTable(
          [
            'length',
            'flash ms',
            'torch ms',
            'torch GFLOP/s',
            'torch/flash time',
            '95% CI',
            'p',
            'max|diff|',
          ],
          r.frameworks.rows.map((x) => [
            String(x.seqLen),
            f2(x.flashMedianMs),
            f2(x.torchMedianMs),
            f1(x.torchGflops),
            ...ratioCells(x.torchRatio, x.torchSignificance, x.torchMaxAbsError),
          ]),
          [true, true, true, true, true, true, true, true],
        ),
      );
    }
    out.push('');
  }
  if (r.kvCache) {
    out.push(
      `kv-cache decode bandwidth vs measured stream ${r.peak.streamGBps.toFixed(1)} GB/s (batch 1, 8 heads, headDim 64, causal)`,
    );
    out.push(
      textTable(
        [
          'cache',
          'new tokens',
          'decode GB/s',
          'min-max',
          '% of stream',
          'ms/token',
          'prefill ms',
          'source',
        ],
        r.kvCache.map((x) => [
          String(x.cacheLen),
          String(x.newTokens),
          f1(x.decodeGBps),
          `${f1(x.decodeGBpsMin)}-${f1(x.decodeGBpsMax)}`,
          `${f1(x.pctOfStream)}%`,
          f2(x.msPerToken),
          f1(x.prefillMs),
          x.source,
        ]),
        [true, true, true, true, true, true, true, false],
      ),
      '',
    );
  }
  if (r.dilated) {
    const d = r.dilated;
    out.push(
      `dilated time vs length (batch 1, ${d.heads} heads, headDim 64, segments ${d.segmentLengths.join(',')}, rates ${d.dilationRates.join(',')})`,
    );
    out.push(
      textTable(
        ['length', 'median ms', 'GFLOP/s', 'samples'],
        d.rows.map((x) => [String(x.seqLen), f2(x.medianMs), f1(x.gflops), String(x.samples)]),
        [true, true, true, true],
      ),
    );
    if (d.fit) {
      const ci = d.fit.kCi95
        ? ` (95% CI ${d.fit.kCi95[0].toFixed(3)}-${d.fit.kCi95[1].toFixed(3)})`
        : '';
      out.push(
        `fitted exponent: time ~ n^${d.fit.k.toFixed(3)}${ci}, r2 ${d.fit.r2.toFixed(4)}, ${d.fit.points} points`,
      );
    }
    out.push('');
  }
  if (r.dilatedTorch) out.push(dilatedTorchTable(r.dilatedTorch, r.threads));
  if (r.dtypes) out.push(dtypeBenchTable(r.dtypes, r.threads, r.peak.streamGBps));
  if (r.computeApi) out.push(computeApiTable(r.computeApi, r.threads));
  out.push(`elapsed ${r.elapsedSeconds.toFixed(0)} s${r.quick ? ' (--quick)' : ''}`);
  return out.join('\n') + '\n';
}

function lengths(raw: string | undefined): number[] | undefined {
  if (!raw) return undefined;
  return raw.split(',').map((s) => {
    const m = /^(\d+)([kKmM]?)$/.exec(s.trim());
    if (!m) throw new Error(`bad length ${JSON.stringify(s)} (use e.g. 4K, 16384, 1M)`);
    const u = (m[2] ?? '').toUpperCase();
    return Number(m[1]) * (u === 'K' ? 1024 : u === 'M' ? 1024 * 1024 : 1);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      threads: { type: 'string' },
      runs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'no-kernels': { type: 'boolean', default: false },
      'no-frameworks': { type: 'boolean', default: false },
      'no-kv-cache': { type: 'boolean', default: false },
      'no-dilated': { type: 'boolean', default: false },
      'no-dtypes': { type: 'boolean', default: false },
      'no-compute-api': { type: 'boolean', default: false },
      'no-dilated-vs-torch': { type: 'boolean', default: false },
      'dtype-lengths': { type: 'string' },
      'dtype-kv-cache': { type: 'string' },
      only: { type: 'string' },
      'framework-lengths': { type: 'string' },
      'kv-lengths': { type: 'string' },
      'dilated-lengths': { type: 'string' },
      'dilated-heads': { type: 'string' },
      'output-dir': { type: 'string', default: 'benchmark_results' },
    },
  });
  const t0 = nowMs();
  const quick = Boolean(values.quick);
  const only = values.only ? new Set(values.only.split(',').map((s) => s.trim())) : null;
  const want = (name: string, off: boolean | undefined) => (only ? only.has(name) : !off);
  const log = values.json ? undefined : (s: string) => process.stderr.write(`${s}\n`);
  const binding = getDilbench().binding;
  const info = binding.info();
  const threads = values.threads ? Number(values.threads) : info.hardwareThreads;
  const runs = values.runs ? Number(values.runs) : quick ? 3 : 5;
  let base: BenchResult;
  if (want('kernels', values['no-kernels'])) {
    base = await runBench(binding, { threads, runs, peakSeconds: quick ? 0.5 : 1, log });
  } else {
    log?.(`measuring FP32 FMA peak and stream bandwidth on ${threads} threads...`);
    base = {
      simdLevel: info.simdLevel,
      threads,
      peak: await binding.measurePeak(threads, quick ? 0.5 : 1),
      rows: [],
    };
  }
  const result: FullBenchResult = {
    ...base,
    quick,
    createdAt: new Date().toISOString(),
    elapsedSeconds: 0,
  };
  if (want('frameworks', values['no-frameworks'])) {
    result.frameworks = await runFrameworkSection(binding, base.peak, {
      threads,
      runs,
      warmup: quick ? 1 : 2,
      lengths: lengths(values['framework-lengths']),
      log,
    });
  }
  if (want('kv-cache', values['no-kv-cache'])) {
    result.kvCache = await runKvCacheSection(binding, base.peak, {
      threads,
      runs,
      lengths: lengths(values['kv-lengths']),
      log,
    });
  }
  if (want('dilated', values['no-dilated'])) {
    // --quick: 1 head and short segments so 1M fits in seconds; the exponent is what this measures
    result.dilated = await runDilatedSection(binding, {
      threads,
      runs: quick ? 2 : 3,
      lengths: lengths(values['dilated-lengths']),
      heads: values['dilated-heads'] ? Number(values['dilated-heads']) : quick ? 1 : 8,
      segmentLengths: quick ? [512, 1024, 2048] : [2048, 4096, 8192],
      dilationRates: [1, 2, 4],
      log,
    });
  }
  if (want('dilated-vs-torch', values['no-dilated-vs-torch'])) {
    result.dilatedTorch = await runDilatedTorchSection(binding, {
      threads,
      runs,
      warmup: quick ? 1 : 2,
      log,
    });
  }
  if (want('dtypes', values['no-dtypes'])) {
    const cacheLen = lengths(values['dtype-kv-cache'])?.[0];
    result.dtypes = await runDtypeSection(binding, {
      threads,
      runs,
      warmup: quick ? 1 : 2,
      flashLengths: lengths(values['dtype-lengths']),
      // --quick: a 2K cache keeps the prefill of the three sessions short
      kv: cacheLen !== undefined ? { cacheLen } : quick ? { cacheLen: 2048 } : {},
      log,
    });
  }
  if (want('compute-api', values['no-compute-api'])) {
    result.computeApi = await runComputeApiSection(binding, {
      threads,
      runs: quick ? 5 : 15,
      warmup: quick ? 1 : 2,
      log,
    });
  }
  result.elapsedSeconds = (nowMs() - t0) / 1000;
  const file = resolve(
    values['output-dir'] ?? 'benchmark_results',
    `bench_${fileTimestamp(result.createdAt)}.json`,
  );
  writeFileAtomic(
    file,
    JSON.stringify({ ...result, environment: collectEnvironment(binding) }, null, 2) + '\n',
  );
  if (values.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else process.stdout.write(fullBenchTable(result) + `wrote ${file}\n`);
}

const script = process.argv[1];
const invokedDirectly =
  script !== undefined && import.meta.url === pathToFileURL(resolve(script)).href;
if (invokedDirectly) {
  main().catch((e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
