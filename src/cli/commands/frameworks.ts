// `dilbench frameworks`: the same attention shapes, precision, threads and inputs through dilbench,
// onnxruntime-node (MultiHeadAttention contrib op and a MatMul-Softmax-MatMul graph) and PyTorch
// (Python subprocess), measured by one engine; JSON + CSV + Markdown written via the store.
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import type { Dilbench } from '../../native/dilbench.js';
import { parseLength } from '../../config/units.js';
import { samplingOptionsFromFlags } from '../../measure/options.js';
import { writeFileAtomic } from '../../results/store.js';
import { writeResultFiles } from '../../reports/write.js';
import { runFrameworks, type FrameworksOptions } from '../../frameworks/compare.js';
import { frameworksMarkdown, toResultFile } from '../../frameworks/report.js';
import {
  FRAMEWORK_DTYPES,
  FRAMEWORK_NAMES,
  type FrameworkDtype,
  type FrameworkName,
} from '../../frameworks/types.js';
import { CliExit, EXIT_USAGE } from '../errors.js';
import { textTable } from '../../reports/format.js';
import { assertWritableDirectory } from '../../results/output-dir.js';

export interface FrameworksCliOptions {
  seqLens?: string[] | string;
  heads?: string;
  headDim?: string;
  batchSize?: string;
  causal?: boolean;
  threads?: string;
  frameworks?: string[] | string;
  implementation?: string;
  dtype?: string;
  seed?: string;
  warmup?: string;
  runs?: string;
  maxTime?: string;
  targetRse?: string;
  outputDir?: string;
  json?: boolean;
  quiet?: boolean;
}

export interface FrameworksIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

function list(v: string[] | string | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v])
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
}

function usage(flag: string, raw: unknown, allowed: string): never {
  throw new CliExit(
    EXIT_USAGE,
    `error: invalid ${flag}: ${JSON.stringify(String(raw))}; allowed: ${allowed}`,
  );
}

function posInt(flag: string, raw: string | undefined, dflt: number, max = 1 << 30): number {
  if (raw === undefined) return dflt;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1 || v > max) usage(flag, raw, `an integer in [1, ${max}]`);
  return v;
}

export function frameworksOptionsFromFlags(opts: FrameworksCliOptions): FrameworksOptions {
  const lens = list(opts.seqLens);
  const seqLens = (lens.length ? lens : ['512', '1K', '2K']).map((s) => {
    const n = parseLength(s);
    if (!Number.isInteger(n) || n < 1) usage('--seq-lens', s, 'lengths such as 512, 4K (K = 1024)');
    return n;
  });
  const fws = list(opts.frameworks);
  const frameworks = (fws.length ? fws : [...FRAMEWORK_NAMES]) as FrameworkName[];
  for (const f of frameworks)
    if (!FRAMEWORK_NAMES.includes(f)) usage('--frameworks', f, FRAMEWORK_NAMES.join(','));
  if (!frameworks.includes('dilbench')) frameworks.unshift('dilbench');
  const dtype = (opts.dtype ?? 'fp32') as FrameworkDtype;
  if (!FRAMEWORK_DTYPES.includes(dtype)) usage('--dtype', dtype, FRAMEWORK_DTYPES.join('|'));
  const hw =
    typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const sampling = samplingOptionsFromFlags({
    warmup: opts.warmup ?? 2,
    runs: opts.runs,
    maxTime: opts.maxTime ?? 5,
    targetRse: opts.targetRse ?? 0.02,
    seed: opts.seed,
  });
  return {
    seqLens,
    batch: posInt('--batch-size', opts.batchSize, 1, 4096),
    heads: posInt('--heads', opts.heads, 8, 4096),
    headDim: posInt('--head-dim', opts.headDim, 64, 4096),
    causal: Boolean(opts.causal),
    threads: posInt('--threads', opts.threads, hw, 4096),
    frameworks: [...new Set(frameworks)],
    implementation: opts.implementation ?? 'flash',
    dtype,
    seed: opts.seed === undefined ? 42 : posInt('--seed', opts.seed, 42, 2 ** 31 - 1),
    sampling,
  };
}

export async function runFrameworksCommand(
  dilbench: Dilbench,
  opts: FrameworksCliOptions,
  io: FrameworksIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<{ json: string; markdown: string; csv: string }> {
  const o = frameworksOptionsFromFlags(opts);
  // where the results go must be writable before anything is measured
  assertWritableDirectory(opts.outputDir ?? 'benchmark_results', 'outputDir');
  const binding = dilbench.binding;
  const cpuImpls = binding.listImplementations().filter((i) => i.device === 'cpu');
  const impl = cpuImpls.find((i) => i.name === o.implementation);
  if (!impl) usage('--implementation', o.implementation, cpuImpls.map((i) => i.name).join('|'));
  if (!impl.dtypes.includes(o.dtype)) {
    usage(
      '--dtype',
      o.dtype,
      `${impl.dtypes.join('|')} (what '${o.implementation}' stores on the CPU)`,
    );
  }
  const report = await runFrameworks(binding, {
    ...o,
    log: opts.quiet ? undefined : (s) => io.stderr.write(`${s}\n`),
  });
  const file = toResultFile(binding, o, report);
  const written = await writeResultFiles(file, opts.outputDir ?? 'benchmark_results');
  // the store's generic Markdown, followed by the frameworks comparison
  writeFileAtomic(
    written.markdown,
    `${readFileSync(written.markdown, 'utf8').trimEnd()}\n\n${frameworksMarkdown(report)}`,
  );
  if (opts.json) {
    io.stdout.write(readFileSync(written.json, 'utf8'));
  } else {
    const rows = report.points.map((p) => [
      String(p.seqLen),
      p.framework,
      p.status === 'ok' ? 'ok' : p.status,
      p.setupMs !== null ? p.setupMs.toFixed(1) : '-',
      p.coldStartMs !== null ? p.coldStartMs.toFixed(2) : '-',
      p.measurement ? p.measurement.stats.medianMs.toFixed(3) : '-',
      p.gflops !== null ? p.gflops.toFixed(1) : '-',
      (() => {
        const s = report.significance.find(
          (x) => x.seqLen === p.seqLen && x.framework === p.framework,
        );
        return s ? `${s.ratio.toFixed(2)}x (p=${s.p.toExponential(1)})` : '';
      })(),
      (() => {
        const a = report.agreement.find(
          (x) => x.seqLen === p.seqLen && x.a === 'dilbench' && x.b === p.framework,
        );
        return a ? a.maxAbsError.toExponential(1) : '';
      })(),
    ]);
    io.stdout.write(
      textTable(
        [
          'length',
          'framework',
          'status',
          'setup ms',
          'cold ms',
          'median ms',
          'GFLOP/s',
          'time vs dilbench',
          'max|diff|',
        ],
        rows,
        [true, false, false, true, true, true, true, true, true],
      ) + '\n',
    );
    for (const p of report.points)
      if (p.status !== 'ok')
        io.stdout.write(`note: ${p.framework} at ${p.seqLen} ${p.status}: ${p.reason}\n`);
    io.stdout.write(`wrote ${written.json}\n      ${written.csv}\n      ${written.markdown}\n`);
  }
  return written;
}

export function register(program: Command, dilbench: Dilbench): void {
  program
    .command('frameworks')
    .description(
      'the same attention problem through dilbench, onnxruntime-node (MultiHeadAttention, MatMul-Softmax-MatMul) and PyTorch: speed, cold start, memory, numerical agreement, significance',
    )
    .option(
      '--seq-lens <lengths...>',
      'sequence lengths, space- or comma-separated (K = 1024) (default 512,1K,2K)',
    )
    .option('--heads <n>', 'attention heads (default 8)')
    .option('--head-dim <n>', 'head dimension (default 64)')
    .option('--batch-size <n>', 'batch size (default 1)')
    .option('--causal', 'causal mask (default: not causal)')
    .option('--threads <n>', 'threads for every framework (default: the available cores)')
    .option(
      '--frameworks <names...>',
      `frameworks, comma-separated: ${FRAMEWORK_NAMES.join(',')} (default all; dilbench always included)`,
    )
    .option('--implementation <name>', 'dilbench implementation (default flash)')
    .option(
      '--dtype <dtype>',
      'storage precision: fp32 (default), fp16 or bf16; every framework gets the same values (dilbench rounds them on upload); a framework without kernels for it is skipped with the reason',
    )
    .option('--seed <n>', 'seed of the inputs and of the interleaving (default 42)')
    .option('--warmup <n>', "warm-up iterations or 'adaptive' (default 2)")
    .option('--runs <n>', 'fixed number of samples per framework (default: adaptive)')
    .option('--max-time <s>', 'seconds of sampling per framework and length (default 5)')
    .option('--target-rse <x>', 'stop when the relative standard error reaches this (default 0.02)')
    .option('--output-dir <dir>', 'directory of the result files (default benchmark_results)')
    .option('--json', 'print the result JSON on stdout')
    .option('--quiet', 'no progress on stderr')
    .action(async (opts: FrameworksCliOptions) => {
      await runFrameworksCommand(dilbench, opts);
    });
}
