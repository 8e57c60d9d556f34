// runBenchmark(): validate -> plan -> measure -> rows -> files. The CLI calls the same function.
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { NativeBinding } from '../native/binding.js';
import type { ResultFile } from '../results/types.js';
import { writeResultFiles, type WrittenFiles } from '../reports/write.js';
import { assertWritableDirectory } from '../results/output-dir.js';
import type { RateModel } from '../plan/planner.js';
import { runSuite } from '../suite/runner.js';
import type { CommonRunOptions, ProgressEvent, SamplingFunction } from '../suite/types.js';
import { appendHistory, historyPath } from '../history/index.js';
import { loadPeak, peakPath, type StoredPeak } from '../roofline/peak-store.js';
import { measureRepeatedPeak } from '../roofline/measure-peak.js';
import { existsSync } from 'node:fs';
import { getDilbench, type Dilbench } from '../native/dilbench.js';
import { getSuite } from './suites.js';
import { DEFAULTS } from '../config/schema.js';
import { ConfigError } from '../config/errors.js';
import { parsePluginSpecs, preparePlugins } from '../plugins/index.js';
import { systemProbe, type InterferenceProbe } from '../measure/interference.js';
import {
  mergeRepetitions,
  runRepetitionInWorker,
  type RepetitionRunner,
} from '../suite/repetitions.js';

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
  /** sample the implementations of one point in seeded round-robin (default true; false: one after another) */
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
  /** kv-cache: 'attend' (default) or 'skip' (the prompt only fills the cache; its rows are 0) */
  prefill?: 'attend' | 'skip';
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
  /** the Dilbench object (getDilbench()) whose binding runs use; omitted: getDilbench() */
  dilbench?: Dilbench;
  /** advanced: another native binding instead of the Dilbench object's (tests use a fake) */
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
  /** advanced: what reads the machine's load around each point (default: /proc/stat and rusage); null: record none */
  interference?: InterferenceProbe | null;
  /** measure the machine peak first when outputDir has no peak.json (default true) */
  peak?: boolean;
  /** independent repetitions of every point, each in a fresh worker process (default 1: in this process) */
  repetitions?: number;
  /** seconds to wait for a quiet machine before refusing to start (ERR_DILBENCH_MACHINE_BUSY) */
  requireQuiet?: number | boolean;
  /** advanced: runs one repetition (default: a fresh worker process; tests run it in process) */
  runRepetition?: RepetitionRunner;
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
    super(
      `run cancelled: ${partial.results.filter((r) => r.status === 'ok').length} point(s) completed${files ? `, written to ${files.json}` : ''}`,
    );
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

const NOT_OPTIONS = new Set([
  'suite',
  'signal',
  'onProgress',
  'binding',
  'dilbench',
  'rates',
  'sampling',
  'onFilesWritten',
  'dryRun',
  'plugins',
  'interference',
  'runRepetition',
]);

/** How a suite run measures a missing peak: best / median of this many, this long each (about a second in all). */
export const AUTO_PEAK_REPEATS = 3;
export const AUTO_PEAK_SECONDS = 0.3;

/**
 * The peak a run places its rows against: peak.json in the output directory (`dilbench peak`),
 * or, where there is none and the run writes files on the CPU, one measured now
 * (AUTO_PEAK_REPEATS x AUTO_PEAK_SECONDS on the run's threads, said as a note) and recorded in the
 * result's environment only: the output directory gets no file it was not asked for, and
 * `dilbench peak` stays the way to store a longer, reusable one. A failure only costs % of peak.
 */
async function peakFor(
  binding: NativeBinding,
  parsed: CommonRunOptions,
  suite: string,
  onProgress?: (e: ProgressEvent) => void,
): Promise<StoredPeak | null> {
  if (parsed.outputDir === null) return null;
  const dir = parsed.outputDir;
  if (existsSync(peakPath(dir))) return loadPeak(dir);
  if ((parsed as { peak?: boolean }).peak === false) return null;
  const onCpu =
    parsed.device === 'cpu' ||
    parsed.compareDevices === true ||
    (parsed.device === 'auto' && !(binding.info().cuda?.deviceCount > 0));
  if (!onCpu) return null;
  const threads = parsed.threads > 0 ? parsed.threads : binding.info().hardwareThreads;
  onProgress?.({
    type: 'note',
    message: `no peak.json in ${dir}: measuring the machine peak for % of peak (about ${Math.ceil(AUTO_PEAK_REPEATS * AUTO_PEAK_SECONDS)} s on ${threads} threads; \`dilbench peak\` measures and stores a longer one, --no-peak skips)`,
  });
  try {
    const p = await measureRepeatedPeak(binding, threads, AUTO_PEAK_SECONDS, AUTO_PEAK_REPEATS);
    return {
      ...p,
      durationSeconds: AUTO_PEAK_SECONDS,
      measuredAt: new Date().toISOString(),
      measuredBy: `${suite} (no peak.json was found)`,
    };
  } catch (e) {
    onProgress?.({
      type: 'note',
      message: `could not measure the machine peak (${messageOf(e)}); no % of peak in this run`,
    });
    return null;
  }
}

/**
 * --repetitions R: the plan R times, one after another, each in a fresh worker process; the
 * files merged (src/suite/repetitions.ts). An abort stops after the current repetition's
 * iteration and keeps what ran.
 */
async function runRepeated(
  suite: string,
  raw: Record<string, unknown>,
  repetitions: number,
  peak: StoredPeak | null,
  options: RunBenchmarkOptions,
): Promise<ResultFile> {
  const run = options.runRepetition ?? runRepetitionInWorker;
  // the --require-quiet wait happens once, before the first repetition
  const files: ResultFile[] = [];
  for (let r = 1; r <= repetitions; r++) {
    if (options.signal?.aborted) break;
    options.onProgress?.({
      type: 'note',
      message: `repetition ${r} of ${repetitions} (a fresh worker process)`,
    });
    const workerOptions = { ...raw, ...(r > 1 ? { requireQuiet: undefined } : {}) };
    const file = await run(
      { suite, options: workerOptions, ...(peak ? { peak } : {}) },
      { signal: options.signal, onProgress: (e) => e.type !== 'done' && options.onProgress?.(e) },
    );
    files.push(file);
    if (file.interrupted) break;
  }
  if (files.length === 0)
    throw Object.assign(new Error('interrupted before the first repetition ran'), {
      code: 'ERR_DILBENCH_CANCELLED',
    });
  const merged = mergeRepetitions(files);
  if (files.length < repetitions) merged.interrupted = true;
  return merged;
}

export async function runBenchmark(options: RunBenchmarkOptions): Promise<ResultFile> {
  const suite = getSuite(options?.suite);
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!NOT_OPTIONS.has(k)) raw[k] = v;
  // a library call writes files only where asked
  if (raw.outputDir === undefined) raw.outputDir = null;
  const parsed = suite.parseOptions(raw);
  // a directory that cannot hold the results fails now (naming outputDir), not after the run
  if (parsed.outputDir !== null && !options.dryRun)
    assertWritableDirectory(parsed.outputDir, 'outputDir');
  const repetitions = (parsed as CommonRunOptions & { repetitions?: number }).repetitions ?? 1;
  const specs = parsePluginSpecs(options.plugins);
  if (repetitions > 1 && specs.length > 0) {
    throw new ConfigError(
      'repetitions',
      repetitions,
      '1 when plugins are given',
      'repetition workers do not load plugins yet',
    );
  }
  const base = options.binding ?? (options.dilbench ?? getDilbench()).binding;
  const peak =
    parsed.outputDir !== null && !options.dryRun
      ? await peakFor(base, parsed, suite.name, options.onProgress)
      : null;
  let file: ResultFile;
  if (repetitions > 1 && !options.dryRun) {
    file = await runRepeated(suite.name, raw, repetitions, peak, options);
    options.onProgress?.({ type: 'done', file });
  } else {
    const plugins = await preparePlugins(specs, base, {
      timeLimitSeconds: parsed.maxRunSeconds ?? DEFAULTS.maxRunSeconds,
      threads: parsed.threads > 0 ? parsed.threads : base.info().hardwareThreads,
    });
    try {
      file = await runSuite(suite, parsed, {
        binding: plugins.binding,
        signal: options.signal,
        onProgress: options.onProgress,
        rates: options.rates,
        sampling: options.sampling,
        dryRun: options.dryRun,
        interference: options.interference === undefined ? systemProbe : options.interference,
        // a peak stored by `dilbench peak` in the same output directory, or measured just now
        loadPeak: peak ? async () => peak : undefined,
        ...(plugins.records.length ? { environment: { plugins: plugins.records } } : {}),
      });
    } finally {
      plugins.close();
    }
  }
  let written: FilesWritten | undefined;
  if (parsed.outputDir !== null && !file.dryRun) {
    // absolute, so every path the run reports (results, history, plots) reads the same way
    let dir = resolve(parsed.outputDir);
    try {
      written = { ...(await writeResultFiles(file, dir)), plots: [], warnings: [] };
    } catch (e) {
      // the directory went bad during the run: the measurements go to a place we name
      const fallback = fallbackResultsDir();
      written = {
        ...(await writeResultFiles(file, fallback)),
        plots: [],
        warnings: [],
        fallbackDir: fallback,
      };
      written.warnings.push(
        `could not write the results to ${dir} (${messageOf(e)}); wrote them to ${fallback} instead`,
      );
      dir = fallback;
    }
    const opts = parsed as CommonRunOptions & {
      history?: boolean;
      plots?: boolean;
      baseline?: string;
    };
    if (opts.history !== false) {
      try {
        await appendHistory(file, dir);
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
