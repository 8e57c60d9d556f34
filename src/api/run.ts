// runBenchmark(): validate -> plan -> measure -> rows -> files. The CLI calls the same function.
import type { NativeBinding } from '../native/binding.js';
import type { ResultFile } from '../results/types.js';
import { writeResultFiles, type WrittenFiles } from '../results/store.js';
import type { RateModel } from '../plan/planner.js';
import { runSuite } from '../suite/runner.js';
import type { ProgressEvent, SamplingFunction } from '../suite/types.js';
import { loadPeak } from '../roofline/peak-store.js';
import { getBinding } from './binding.js';
import { getSuite } from './suites.js';

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
  warmup?: number;
  runs?: number;
  /** 0 or omitted: all hardware threads */
  threads?: number;
  seed?: number;
  /** bytes, or a size like "8GiB" / "512MiB" */
  memoryBudget?: number | string;
  maxRunSeconds?: number;
  /** where the JSON/CSV/Markdown files go (default benchmark_results); null: write no files */
  outputDir?: string | null;
  device?: 'cpu' | 'cuda';
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
  /** advanced: another native binding (tests use a fake) */
  binding?: NativeBinding;
  /** advanced: a fixed rate model instead of the calibration run */
  rates?: RateModel;
  /** advanced: another measurement function */
  sampling?: SamplingFunction;
  /** called with the paths once the files are written */
  onFilesWritten?: (files: WrittenFiles) => void;
}

const NOT_OPTIONS = new Set(['suite', 'signal', 'onProgress', 'binding', 'rates', 'sampling', 'onFilesWritten']);

export async function runBenchmark(options: RunBenchmarkOptions): Promise<ResultFile> {
  const suite = getSuite(options?.suite);
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!NOT_OPTIONS.has(k)) raw[k] = v;
  const parsed = suite.parseOptions(raw);
  const binding = options.binding ?? getBinding();
  const file = await runSuite(suite, parsed, {
    binding,
    signal: options.signal,
    onProgress: options.onProgress,
    rates: options.rates,
    sampling: options.sampling,
    // a peak stored by `dilbench peak` in the same output directory
    loadPeak: parsed.outputDir !== null ? () => loadPeak(parsed.outputDir as string) : undefined,
  });
  if (parsed.outputDir !== null) {
    const written = await writeResultFiles(file, parsed.outputDir);
    options.onFilesWritten?.(written);
  }
  return file;
}
