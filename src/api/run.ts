// runBenchmark(): validate -> plan -> measure -> rows -> files. The CLI calls the same function.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NativeBinding } from '../native/binding.js';
import type { ResultFile } from '../results/types.js';
import { writeResultFiles, type WrittenFiles } from '../results/store.js';
import { assertWritableDirectory } from '../results/output-dir.js';
import type { RateModel } from '../plan/planner.js';
import { runSuite } from '../suite/runner.js';
import type { CommonRunOptions, ProgressEvent, SamplingFunction } from '../suite/types.js';
import { appendHistory, historyPath } from '../history/index.js';
import { loadPeak } from '../roofline/peak-store.js';
import { getBinding } from './binding.js';
import { getSuite } from './suites.js';
import { DEFAULTS } from '../config/schema.js';
import { parsePluginSpecs, preparePlugins } from '../plugins/index.js';

export interface RunBenchmarkOptions {
  suite: 'sequence-ranges' | (string & {});
  range?: string;
  /** numbers, or strings like "4K" */
  customLengths?: (number | string)[] | string;
  implementations?: string[] | string;
  batchSize?: number;
  heads?: number;
  kvHeads?: number;
  headDim?: number;
  causal?: boolean;
  /** warm-up iterations or 'adaptive' (default) */
  warmup?: number | 'adaptive';
  /** fixed timed iterations; omitted: adaptive (until targetRse, maxSamples or maxTime) */
  runs?: number;
  /** relative standard error of the mean to stop at: 0.01 or '1%' (default 0.01) */
  targetRse?: number | string;
  /** default 10 */
  minSamples?: number;
  /** default 1000 */
  maxSamples?: number;
  /** seconds of sampling per point, warm-up included (default 10) */
  maxTime?: number;
  /** evict the last-level cache before each sample (default false) */
  cold?: boolean;
  /** sample the implementations of one point in randomised round-robin (default false) */
  interleave?: boolean;
  /** write SVG/PNG plots beside the result files (default true) */
  plots?: boolean;
  /** implementation the speedup plot compares against (default 'naive') */
  baseline?: string;
  /** append the rows to <outputDir>/history.jsonl (default true) */
  history?: boolean;
  /** 0 or omitted: all hardware threads */
  threads?: number;
  seed?: number;
  /** bytes, or a size like "8GiB" / "512MiB" */
  memoryBudget?: number | string;
  maxRunSeconds?: number;
  /**
   * Where the JSON/CSV/Markdown files, history and plots go. Omitted or null: the library writes
   * no files (the CLI's default is benchmark_results). Checked for writability before sampling.
   */
  outputDir?: string | null;
  /** 'auto': cuda when the loaded build reports a CUDA device, else cpu (config.deviceSelection says which and why) */
  device?: 'cpu' | 'cuda' | 'auto';
  /** storage precision of inputs and outputs, fp32 (default), fp16 or bf16 */
  dtype?: 'fp32' | 'fp16' | 'bf16';
  /**
   * Run the plan once per dtype (e.g. ['fp32', 'bf16'] or 'fp32,bf16'); the first is the baseline.
   * The result file gets `comparisons.precision`; a side an implementation cannot run is a skipped row.
   */
  compareDtypes?: ('fp32' | 'fp16' | 'bf16')[] | string;
  /** Run the plan on cpu and on cuda (cpu the baseline): `comparisons.device`; cuda rows skipped with the reason where there is no CUDA device */
  compareDevices?: boolean;
  // ---- implementation parameters (issue 3), every suite ----
  /** dilated: segment lengths, with dilationRates (one rate per segment length) */
  segmentLengths?: (number | string)[] | string;
  dilationRates?: number[] | string;
  /** ring / ring-dilated: simulated ranks (the ring suite: a list of P) */
  ringSize?: number | number[] | string;
  /** ring projections: Gbit/s numbers or 'nvlink' (450 GB/s) / 'infiniband' (NDR 400 Gbit/s = 50 GB/s) */
  linkGbps?: (number | string)[] | number | string;
  blockSize?: number;
  window?: number;
  stride?: number;
  /** block-sparse random pattern, (0, 1] */
  density?: number;
  blockPattern?: 'local' | 'strided' | 'dilated' | 'random';
  promptLen?: number;
  newTokens?: number;
  /** default true */
  enablePatternCache?: boolean;
  /** default true */
  enableMemoryPool?: boolean;
  // ---- suite-specific ----
  /** optimization-impact, quick-validation: the lengths */
  sequenceLengths?: (number | string)[] | string;
  /** extreme: doubling from minLength (16K) to maxLength (1M) */
  minLength?: number | string;
  maxLength?: number | string;
  /** ring: totals to measure where they fit and project beyond (up to 1e9) */
  totalTokens?: (number | string)[] | string;
  /** quick-validation: tolerances against the float64 reference (twice that against a partner) */
  toleranceAbs?: number;
  toleranceRel?: number;
  /** quick-validation: float64 reference for cases up to this many flops */
  referenceFlopsLimit?: number;
  /**
   * Plugins to load and run beside the built-ins (issue 15): paths of C ABI shared libraries built
   * against include/dilbench_plugin.h, and Python callables `file.py:function` /
   * `package.module:function`. They run in worker processes, are validated against
   * the float64 reference of their declared function before timing, and are recorded (path, sha256)
   * in `environment.plugins`.
   */
  plugins?: string[] | string;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
  /** advanced: another native binding (tests use a fake) */
  binding?: NativeBinding;
  /** advanced: a fixed rate model instead of the calibration run */
  rates?: RateModel;
  /** advanced: another measurement function */
  sampling?: SamplingFunction;
  /**
   * Plan only: calibrate, size and estimate every point, measure nothing and write no files. The
   * returned file has `dryRun: true`, no results and `plan` (per point: action, batch, memory,
   * estimated seconds, reason).
   */
  dryRun?: boolean;
  /** called with the paths once the files (results, history, plots) are written */
  onFilesWritten?: (files: FilesWritten) => void;
}

/** Every file a run wrote, and what went wrong after the results were safe. */
export interface FilesWritten extends WrittenFiles {
  /** history.jsonl appended to, when history is on and the append worked */
  history?: string;
  /** plot files (SVG and PNG) */
  plots: string[];
  /** a failed history append or plot: the results are written regardless */
  warnings: string[];
  /** set when the output directory failed at the end and the results went here instead */
  fallbackDir?: string;
}

/**
 * The run was aborted through `signal`: completed points are in `partial` (marked
 * `interrupted: true`), and were written to the output directory when one was given.
 */
export class RunCancelledError extends Error {
  readonly code = 'ERR_DILBENCH_CANCELLED';
  constructor(
    readonly partial: ResultFile,
    readonly files?: FilesWritten,
  ) {
    super(`run cancelled: ${partial.results.filter((r) => r.status === 'ok').length} point(s) completed${files ? `, written to ${files.json}` : ''}`);
    this.name = 'RunCancelledError';
  }
}

/** Where results go when the output directory fails after the run (named in the warning). */
export function fallbackResultsDir(): string {
  return join(tmpdir(), 'dilbench-results');
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const NOT_OPTIONS = new Set(['suite', 'signal', 'onProgress', 'binding', 'rates', 'sampling', 'onFilesWritten', 'dryRun', 'plugins']);

export async function runBenchmark(options: RunBenchmarkOptions): Promise<ResultFile> {
  const suite = getSuite(options?.suite);
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!NOT_OPTIONS.has(k)) raw[k] = v;
  // a library call writes files only where asked
  if (raw.outputDir === undefined) raw.outputDir = null;
  const parsed = suite.parseOptions(raw);
  // a directory that cannot hold the results fails now (naming outputDir), not after the run
  if (parsed.outputDir !== null && !options.dryRun) assertWritableDirectory(parsed.outputDir, 'outputDir');
  const specs = parsePluginSpecs(options.plugins);
  const base = options.binding ?? getBinding();
  const plugins = await preparePlugins(specs, base, {
    timeLimitSeconds: parsed.maxRunSeconds ?? DEFAULTS.maxRunSeconds,
    threads: parsed.threads > 0 ? parsed.threads : base.info().hardwareThreads,
  });
  let file: ResultFile;
  try {
    file = await runSuite(suite, parsed, {
      binding: plugins.binding,
      signal: options.signal,
      onProgress: options.onProgress,
      rates: options.rates,
      sampling: options.sampling,
      dryRun: options.dryRun,
      // a peak stored by `dilbench peak` in the same output directory
      loadPeak: parsed.outputDir !== null ? () => loadPeak(parsed.outputDir as string) : undefined,
      ...(plugins.records.length ? { environment: { plugins: plugins.records } } : {}),
    });
  } finally {
    plugins.close();
  }
  let written: FilesWritten | undefined;
  if (parsed.outputDir !== null && !file.dryRun) {
    let dir = parsed.outputDir;
    try {
      written = { ...(await writeResultFiles(file, dir)), plots: [], warnings: [] };
    } catch (e) {
      // the directory went bad during the run: the measurements go to a place we name
      const fallback = fallbackResultsDir();
      written = { ...(await writeResultFiles(file, fallback)), plots: [], warnings: [], fallbackDir: fallback };
      written.warnings.push(`could not write the results to ${dir} (${messageOf(e)}); wrote them to ${fallback} instead`);
      dir = fallback;
    }
    const opts = parsed as CommonRunOptions & { history?: boolean; plots?: boolean; baseline?: string };
    if (opts.history !== false) {
      try {
        appendHistory(file, dir);
        written.history = historyPath(dir);
      } catch (e) {
        written.warnings.push(`could not append to ${historyPath(dir)}: ${messageOf(e)}`);
      }
    }
    if (opts.plots !== false) {
      try {
        // loaded here, not at start-up: vega and the PNG renderer are heavy
        const { writeSuitePlots } = await import('../reports/plots/index.js');
        written.plots = await writeSuitePlots(file, dir, { baseline: opts.baseline ?? 'naive' });
      } catch (e) {
        written.warnings.push(`could not write the plots: ${messageOf(e)}`);
      }
    }
    options.onFilesWritten?.(written);
  }
  if (file.interrupted) throw new RunCancelledError(file, written);
  return file;
}
