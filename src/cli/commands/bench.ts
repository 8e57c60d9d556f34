// `dilbench bench` (= `npm run bench`): the machine's peak, then flash/naive GFLOP/s, flash vs
// ONNX Runtime and PyTorch, kv-cache decode GB/s, the dilated exponent, dilated vs PyTorch,
// storage dtypes and computeAttention's overhead (src/bench); tables on stdout, the result file
// (JSON + CSV + Markdown) written via the store. Every flag is checked before anything is timed.
import type { Command } from 'commander';
import { DTYPE_KV_MAX_AUTO_CACHE } from '../../bench/dtypes.js';
import { KV_DEEP_MAX_CACHE } from '../../bench/kernels.js';
import { BENCH_SECTIONS, runFullBench, type BenchOptions } from '../../bench/run.js';
import { fullBenchTable } from '../../bench/tables.js';
import { parseLength } from '../../config/units.js';
import type { Dilbench } from '../../native/dilbench.js';
import { writeResultFiles } from '../../reports/write.js';
import { assertWritableDirectory } from '../../results/output-dir.js';
import type { BenchSectionName } from '../../results/types.js';
import { CliExit, EXIT_INTERRUPTED, EXIT_USAGE } from '../errors.js';
import { handleInterrupts } from '../interrupt.js';

export interface BenchCliOptions {
  json?: boolean;
  threads?: string;
  runs?: string;
  quick?: boolean;
  only?: string;
  /** false when --no-<section> is given (commander's negatable options) */
  kernels?: boolean;
  frameworks?: boolean;
  kvCache?: boolean;
  dilated?: boolean;
  dilatedVsTorch?: boolean;
  dtypes?: boolean;
  computeApi?: boolean;
  kernelLengths?: string;
  frameworkLengths?: string;
  kvLengths?: string;
  dilatedLengths?: string;
  dilatedHeads?: string;
  dtypeLengths?: string;
  dtypeKvCache?: string;
  outputDir?: string;
}

function usage(flag: string, raw: unknown, allowed: string): never {
  throw new CliExit(
    EXIT_USAGE,
    `error: invalid ${flag}: ${JSON.stringify(String(raw))}; allowed: ${allowed}`,
  );
}

function positiveInt(flag: string, raw: string | undefined, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1 || v > max) usage(flag, raw, `an integer in [1, ${max}]`);
  return v;
}

function lengths(flag: string, raw: string | undefined): number[] | undefined {
  if (raw === undefined) return undefined;
  return raw.split(',').map((s) => {
    const n = parseLength(s.trim());
    if (!Number.isInteger(n) || n < 1)
      usage(flag, s, 'comma-separated lengths such as 512, 4K, 1M (K = 1024)');
    return n;
  });
}

/** Which sections run: --only's list, else every section not switched off by --no-<section>. */
function sections(o: BenchCliOptions): BenchSectionName[] {
  if (o.only !== undefined) {
    const names = o.only.split(',').map((s) => s.trim());
    for (const n of names)
      if (!(BENCH_SECTIONS as readonly string[]).includes(n))
        usage('--only', n, BENCH_SECTIONS.join(','));
    return BENCH_SECTIONS.filter((s) => names.includes(s));
  }
  const on: Record<BenchSectionName, boolean | undefined> = {
    kernels: o.kernels,
    frameworks: o.frameworks,
    'kv-cache': o.kvCache,
    dilated: o.dilated,
    'dilated-vs-torch': o.dilatedVsTorch,
    dtypes: o.dtypes,
    'compute-api': o.computeApi,
  };
  return BENCH_SECTIONS.filter((s) => on[s] !== false);
}

/** The bench's options from the flags; throws CliExit (exit 2) naming the flag on a bad value. */
export function benchOptionsFromFlags(
  o: BenchCliOptions,
): Omit<BenchOptions, 'log' | 'threads'> & { threads?: number } {
  return {
    sections: sections(o),
    quick: o.quick === true,
    threads: positiveInt('--threads', o.threads, 4096),
    runs: positiveInt('--runs', o.runs, 100_000),
    kernelLengths: lengths('--kernel-lengths', o.kernelLengths),
    frameworkLengths: lengths('--framework-lengths', o.frameworkLengths),
    kvLengths: lengths('--kv-lengths', o.kvLengths),
    dilatedLengths: lengths('--dilated-lengths', o.dilatedLengths),
    dilatedHeads: positiveInt('--dilated-heads', o.dilatedHeads, 4096),
    dtypeLengths: lengths('--dtype-lengths', o.dtypeLengths),
    dtypeKvCache: lengths('--dtype-kv-cache', o.dtypeKvCache),
  };
}

export async function runBenchCommand(dilbench: Dilbench, o: BenchCliOptions): Promise<void> {
  const options = benchOptionsFromFlags(o);
  const outputDir = o.outputDir ?? 'benchmark_results';
  // where the result goes must be writable before anything is timed
  assertWritableDirectory(outputDir, '--output-dir');
  const binding = dilbench.binding;
  const log = o.json ? undefined : (s: string) => process.stderr.write(`${s}\n`);
  const interrupt = handleInterrupts(
    o.json ? null : 'finishing the sample in flight, then writing what was measured',
  );
  let run: Awaited<ReturnType<typeof runFullBench>>;
  try {
    run = await runFullBench(binding, {
      ...options,
      threads: options.threads ?? binding.info().hardwareThreads,
      log,
      signal: interrupt.signal,
    });
  } finally {
    interrupt.release();
  }
  const { result, file } = run;
  // the Markdown view is the printed tables: the suites' ranking would mix the sections' points
  const env = file.environment;
  const markdown = [
    '# dilbench bench',
    '',
    `${file.createdAt} on ${env.cpuModel} (${env.cpuCores} logical cores, ${env.simdLevel}), dilbench ${env.dilbenchVersion}. Run \`${file.runId}\`.`,
    '',
    '```text',
    fullBenchTable(result).trimEnd(),
    '```',
    '',
    'Every sampled side (median, 95% interval, samples) and every ratio (95% interval, p) is in the JSON (`results`, `bench.ratios`) and the CSV beside this file.',
    '',
  ].join('\n');
  const written = await writeResultFiles(file, outputDir, { markdown });
  if (o.json) process.stdout.write(JSON.stringify(file, null, 2) + '\n');
  else
    process.stdout.write(
      fullBenchTable(result) +
        `wrote ${written.json}\n      ${written.csv}\n      ${written.markdown}\n`,
    );
  // the partial result is written; the exit status still says the run did not finish
  if (file.interrupted) throw new CliExit(EXIT_INTERRUPTED, 'interrupted');
}

export function register(program: Command, dilbench: Dilbench): void {
  program
    .command('bench')
    .description(
      "the machine's FP32 FMA peak and stream bandwidth, then flash and naive GFLOP/s (kernels), flash vs onnxruntime-node MHA and PyTorch (frameworks), kv-cache decode GB/s, dilated time vs length and its exponent, dilated vs PyTorch, storage dtypes, computeAttention vs a session; each point's sides sampled interleaved; tables on stdout, benchmark_results/bench_<time>.json|csv|md",
    )
    .option(
      '--only <sections>',
      `run only these sections, comma-separated: ${BENCH_SECTIONS.join(',')}`,
    )
    .option('--quick', 'fewer samples, a shorter peak, 1-head dilated, a 2K dtype cache')
    .option(
      '--threads <n>',
      'threads of every kernel and framework (default: the hardware threads)',
    )
    .option(
      '--runs <n>',
      'samples per side (default 5, --quick 3; dilated 3 / 2, compute-api 15 / 5)',
    )
    .option('--no-kernels', 'skip flash and naive at 1K-8K (the peak is still measured)')
    .option('--no-frameworks', 'skip flash vs onnxruntime-node MHA and PyTorch')
    .option('--no-kv-cache', 'skip kv-cache decode bandwidth')
    .option('--no-dilated', 'skip dilated time vs length (16K-1M)')
    .option('--no-dilated-vs-torch', 'skip dilated and dilated-grouped vs PyTorch')
    .option('--no-dtypes', 'skip fp32 / bf16 / fp16 storage side by side')
    .option('--no-compute-api', 'skip computeAttention vs a session')
    .option('--kernel-lengths <list>', 'kernels lengths (default 1K,2K,4K,8K)')
    .option('--framework-lengths <list>', 'frameworks lengths (default 4K,8K,16K)')
    .option(
      '--kv-lengths <list>',
      `kv-cache cache lengths (default 8K,16K and the smallest 16K x 2^k whose fp32 K+V exceeds twice the listed LLC, at most ${KV_DEEP_MAX_CACHE / 1024}K, decoded without attending the prompt; --quick 8K,16K)`,
    )
    .option('--dilated-lengths <list>', 'dilated lengths (default 16K,64K,256K,1M)')
    .option('--dilated-heads <n>', 'dilated heads (default 8, --quick 1)')
    .option('--dtype-lengths <list>', 'dtypes flash lengths (default 2K,4K)')
    .option(
      '--dtype-kv-cache <lengths>',
      `dtypes kv-cache cache lengths (default 8K and the smallest 8K x 2^k whose fp32 K+V exceeds twice the listed LLC, at most ${DTYPE_KV_MAX_AUTO_CACHE / 1024}K; --quick 2K)`,
    )
    .option('--output-dir <dir>', 'directory of the result files (default benchmark_results)')
    .option('--json', 'print the result file as JSON on stdout instead of the tables')
    .action(async (opts: BenchCliOptions) => {
      await runBenchCommand(dilbench, opts);
    });
}
