// `dilbench bench` (= `npm run bench`): the machine's FP32 FMA peak and stream bandwidth, then
// the sections that are switched on (`--quick` shortens all of them): kernels (src/bench/
// kernels.ts), frameworks and dilated-vs-torch (frameworks.ts), kv-cache and dilated (kernels.ts),
// dtypes (dtypes.ts), compute-api (compute-api.ts). Every section states its points and sides and
// the suites' engine samples them (record.ts); the run is one ResultFile (suite 'bench').
import { randomUUID } from 'node:crypto';
import { collectEnvironment } from '../env/environment.js';
import { nowMs } from '../measure/clock.js';
import type { NativeBinding } from '../native/binding.js';
import {
  SCHEMA_VERSION,
  type BenchSectionName,
  type BenchStop,
  type BenchSummary,
  type ResultFile,
} from '../results/types.js';
import { runComputeApiSection } from './compute-api.js';
import { runDtypeSection } from './dtypes.js';
import { runDilatedTorchSection, runFrameworkSection } from './frameworks.js';
import { runBench, runDilatedSection, runKvCacheSection, type BenchResult } from './kernels.js';
import { BenchRecord } from './record.js';
import type { FullBenchResult } from './tables.js';

/** Every section, in the order they run. */
export const BENCH_SECTIONS: readonly BenchSectionName[] = [
  'kernels',
  'frameworks',
  'kv-cache',
  'dilated',
  'dilated-vs-torch',
  'dtypes',
  'compute-api',
];

export interface BenchOptions {
  /** the sections to run (BENCH_SECTIONS order is kept) */
  sections: readonly BenchSectionName[];
  quick: boolean;
  threads: number;
  /** samples per side (default 3 with quick, else 5; compute-api 5 / 15, dilated 2 / 3) */
  runs?: number;
  kernelLengths?: number[];
  frameworkLengths?: number[];
  kvLengths?: number[];
  dilatedLengths?: number[];
  dilatedHeads?: number;
  dtypeLengths?: number[];
  /** dtypes section: kv-cache lengths to decode */
  dtypeKvCache?: number[];
  log?: (line: string) => void;
  /** Ctrl-C / SIGTERM: the point being sampled stops, the sections after it do not run, and the
   * result (every point sampled until then) is returned, marked interrupted */
  signal?: AbortSignal;
}

export interface BenchRun {
  result: FullBenchResult;
  file: ResultFile;
}

export async function runFullBench(binding: NativeBinding, o: BenchOptions): Promise<BenchRun> {
  const t0 = nowMs();
  const { quick, threads, log } = o;
  const want = (s: BenchSectionName) => o.sections.includes(s);
  const runs = o.runs ?? (quick ? 3 : 5);
  const warmup = quick ? 1 : 2;
  const record = new BenchRecord(threads, o.signal);
  const createdAt = new Date().toISOString();
  const stop: BenchStop = { during: null, notRun: [] };
  /** Runs a section unless the run was stopped; a stop inside it ends it with what it sampled. */
  const section = async (name: BenchSectionName, body: () => Promise<void>): Promise<void> => {
    if (!want(name)) return;
    if (record.stopped) {
      stop.notRun.push(name);
      return;
    }
    try {
      await body();
    } catch (e) {
      // the stop surfaces as a cancelled measurement (or whatever the cut-short point threw)
      if (!record.stopped) throw e;
    }
    if (record.stopped && stop.during === null) stop.during = name;
  };
  let base: BenchResult | undefined;
  await section('kernels', async () => {
    base = await runBench(binding, {
      threads,
      runs,
      peakSeconds: quick ? 0.5 : 1,
      lengths: o.kernelLengths,
      log,
      record,
    });
  });
  if (!base) {
    log?.(`measuring FP32 FMA peak and stream bandwidth on ${threads} threads...`);
    base = {
      simdLevel: binding.info().simdLevel,
      threads,
      peak: await binding.measurePeak(threads, quick ? 0.5 : 1),
      rows: [],
    };
  }
  const { peak } = base;
  const result: FullBenchResult = { ...base, quick, createdAt, elapsedSeconds: 0 };
  await section('frameworks', async () => {
    result.frameworks = await runFrameworkSection(binding, peak, {
      threads,
      runs,
      warmup,
      lengths: o.frameworkLengths,
      log,
      record,
    });
  });
  await section('kv-cache', async () => {
    result.kvCache = await runKvCacheSection(binding, peak, {
      threads,
      runs,
      lengths: o.kvLengths,
      // --quick: 8K and 16K only (the deep cache decodes through 1 GiB per step)
      deep: !quick,
      log,
      record,
    });
  });
  await section('dilated', async () => {
    // --quick: 1 head and short segments so 1M fits in seconds; the exponent is what this measures
    result.dilated = await runDilatedSection(binding, {
      threads,
      runs: quick ? 2 : 3,
      lengths: o.dilatedLengths,
      heads: o.dilatedHeads ?? (quick ? 1 : 8),
      segmentLengths: quick ? [512, 1024, 2048] : [2048, 4096, 8192],
      dilationRates: [1, 2, 4],
      log,
      record,
    });
  });
  await section('dilated-vs-torch', async () => {
    result.dilatedTorch = await runDilatedTorchSection(binding, {
      threads,
      runs,
      warmup,
      log,
      record,
    });
  });
  await section('dtypes', async () => {
    result.dtypes = await runDtypeSection(binding, {
      threads,
      runs,
      warmup,
      flashLengths: o.dtypeLengths,
      // --quick: a 2K cache alone keeps the prefill of the three sessions short; else the
      // lengths given, or 8K and one chosen from the LLC (dtypeKvCacheLengths)
      kvCacheLens: o.dtypeKvCache ?? (quick ? [2048] : undefined),
      log,
      record,
    });
  });
  await section('compute-api', async () => {
    result.computeApi = await runComputeApiSection(binding, {
      threads,
      runs: quick ? 5 : 15,
      warmup,
      log,
      record,
    });
  });
  if (stop.during !== null || stop.notRun.length) result.interrupted = stop;
  result.elapsedSeconds = (nowMs() - t0) / 1000;
  return { result, file: benchResultFile(binding, o, result, record) };
}

/** The run as a ResultFile: a row per sampled side, the peak in the environment, tables in `bench`. */
export function benchResultFile(
  binding: NativeBinding,
  o: BenchOptions,
  r: FullBenchResult,
  record: BenchRecord,
): ResultFile {
  const bench: BenchSummary = {
    sections: BENCH_SECTIONS.filter((s) => o.sections.includes(s)),
    quick: r.quick,
    elapsedSeconds: r.elapsedSeconds,
    ...(o.sections.includes('kernels') ? { kernels: r.rows } : {}),
    ...(r.frameworks ? { frameworks: r.frameworks } : {}),
    ...(r.kvCache ? { kvCache: r.kvCache } : {}),
    ...(r.dilated ? { dilated: r.dilated } : {}),
    ...(r.dilatedTorch ? { dilatedTorch: r.dilatedTorch } : {}),
    ...(r.dtypes ? { dtypes: r.dtypes } : {}),
    ...(r.computeApi ? { computeApi: r.computeApi } : {}),
    ...(r.interrupted ? { interrupted: r.interrupted } : {}),
    ratios: record.ratios,
  };
  // the options as given, without the log function and the signal
  const config = Object.fromEntries(
    Object.entries(o).filter(([k]) => k !== 'log' && k !== 'signal'),
  );
  return {
    schemaVersion: SCHEMA_VERSION,
    suite: 'bench',
    runId: randomUUID(),
    createdAt: r.createdAt,
    ...(r.interrupted ? { interrupted: true } : {}),
    environment: collectEnvironment(binding, {
      peak: { ...r.peak, measuredBy: 'dilbench bench' },
    }),
    config: { ...config, sections: bench.sections },
    results: record.rows,
    bench,
  };
}
