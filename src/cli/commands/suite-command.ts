// Shared body of the suite commands (sequence-ranges, quick-validation, optimization-impact, extreme, ring):
// the common flags, validation before the addon loads (exit 2), progress, SIGINT handling, the
// result files through runBenchmark and the summary. Each command adds its own flags.
import { copyFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { RunCancelledError, runBenchmark, type FilesWritten } from '../../api/run.js';
import { DEFAULTS } from '../../config/schema.js';
import { assertWritableDirectory } from '../../results/output-dir.js';
import type { ResultFile } from '../../results/types.js';
import type { CommonRunOptions, SuiteDefinition } from '../../suite/types.js';
import { bindingOrExit, CliExit, EXIT_FAILURE, EXIT_INTERRUPTED } from '../errors.js';
import type { Dilbench } from '../../native/dilbench.js';
import { handleInterrupts } from '../interrupt.js';
import { addImplementationFlags, collectImplementationFlags } from '../impl-flags.js';
import { createProgress, createProgressLines } from '../progress.js';
import { planText } from '../plan-text.js';
import { summaryText } from '../summary.js';

const COMMON_FIELDS = [
  'implementations',
  'batchSize',
  'heads',
  'kvHeads',
  'headDim',
  'causal',
  'warmup',
  'runs',
  'targetRse',
  'minSamples',
  'maxSamples',
  'maxTime',
  'cold',
  'threads',
  'seed',
  'memoryBudget',
  'maxRunSeconds',
  'outputDir',
  'json',
  'quiet',
  'device',
  'plots',
  'baseline',
  'interleave',
  'dtype',
  'compareDtypes',
  'compareDevices',
  'requireQuiet',
  'repetitions',
  'peak',
] as const;

export interface SuiteCommandSpec {
  name: string;
  description: string;
  suite: SuiteDefinition<CommonRunOptions>;
  /** the command's own flags, added before the shared ones */
  flags?: (cmd: Command) => void;
  /** its own option names (camelCase) copied into the raw options */
  fields?: readonly string[];
  /** the ring command defines --ring-size/--link-gbps itself */
  ringFlags?: boolean;
  /** a non-zero exit code when the file shows a failure (after the files are written) */
  failure?: (file: ResultFile) => string | null;
  /** runs instead of the suite when it returns true (ring --distributed); gets the parsed flags */
  takeOver?: (opts: Record<string, unknown>) => Promise<boolean>;
  /** defaults shown in the help of the shared flags (camelCase option name -> value) */
  defaults?: Partial<Record<(typeof COMMON_FIELDS)[number], unknown>>;
}

/** commander collector of the repeatable --plugin */
export function collectPlugin(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerSuiteCommand(
  program: Command,
  dilbench: Dilbench,
  spec: SuiteCommandSpec,
): Command {
  const cmd = program.command(spec.name).description(spec.description);
  spec.flags?.(cmd);
  const d = (key: (typeof COMMON_FIELDS)[number]): string =>
    spec.defaults?.[key] !== undefined ? ` (default ${String(spec.defaults[key])})` : '';
  cmd
    .option(
      '--implementations <names...>',
      'implementations to run, space- or comma-separated (default: all on the device)',
    )
    .option(
      '--batch-size <n>',
      `batch size; lowered by the planner when it does not fit${d('batchSize')}`,
    )
    .option('--heads <n>', `attention heads${d('heads')}`)
    .option(
      '--kv-heads <n>',
      'key/value heads (grouped-query attention); divides --heads (default: --heads)',
    )
    .option('--head-dim <n>', `head dimension${d('headDim')}`)
    .option('--causal', 'causal mask (default: not causal)')
    .option(
      '--warmup <n>',
      `warm-up iterations per point (the first reported as cold start), or 'adaptive': until the first samples stabilise${d('warmup')}`,
    )
    .option(
      '--runs <n>',
      'a fixed number of timed iterations per point (stop reason fixed-runs); default: adaptive, until --target-rse, --max-samples or --max-time',
    )
    .option(
      '--target-rse <x>',
      `adaptive: stop when the relative standard error of the mean is at or below this, a fraction or percent${d('targetRse')}`,
    )
    .option(
      '--min-samples <n>',
      `adaptive: samples before the stopping rule may stop${d('minSamples')}`,
    )
    .option('--max-samples <n>', `adaptive: most samples per point${d('maxSamples')}`)
    .option('--max-time <s>', `seconds of sampling per point, warm-up included${d('maxTime')}`)
    .option('--cold', 'evict the last-level cache before each sample (default: hot)')
    .option(
      '--interleave',
      'sample the implementations of one point in seeded round-robin when their memory fits together (the default)',
    )
    .option(
      '--no-interleave',
      'measure the implementations of a point one after another (the old order)',
    )
    .option(
      '--require-quiet [seconds]',
      'refuse to start while other processes load the machine, after waiting up to this long for quiet (bare flag: 60); exit 75',
    )
    .option(
      '--repetitions <R>',
      'run every point R times as independent repetitions, each in a fresh worker process; `compare` resamples them (default 1)',
    )
    .option('--threads <n>', 'worker threads (default 0: all hardware threads)')
    .option('--seed <n>', `seed of the random inputs${d('seed')}`)
    .option(
      '--memory-budget <size>',
      'memory a point may use, e.g. 8GiB, 512MiB or bytes (default: half of the available memory)',
    )
    .option(
      '--max-run-seconds <s>',
      `estimated seconds a point may take, all iterations${d('maxRunSeconds')}`,
    )
    .option('--output-dir <dir>', `directory of the result files${d('outputDir')}`)
    .option(
      '--device <name>',
      `device: cpu|cuda|auto (auto: cuda when the loaded build reports a CUDA device, else cpu; the result records which and why)${d('device')}`,
    )
    .option(
      '--dtype <name>',
      `storage precision of inputs and outputs: fp32|fp16|bf16 (fp32 accumulation); implementations without it on the device are left out, or named: an error${d('dtype')}`,
    )
    .option(
      '--compare-dtypes <list>',
      'run the plan once per dtype, e.g. fp32,bf16 (the first the baseline): a Precision comparison section (time ratio with its 95% CI and p-value, peak memory); what a side cannot run is a skipped row with the reason',
    )
    .option(
      '--compare-devices',
      'run the plan on cpu and on cuda (cpu the baseline): a Device comparison section; without a CUDA device the cuda rows are skipped with the reason',
    )
    .option('--no-plots', 'write no plots beside the results (default: SVG and PNG plots)')
    .option(
      '--no-peak',
      'do not measure the machine peak when the output directory has no peak.json (default: measured first, a few seconds, so % of peak is there)',
    )
    .option(
      '--baseline <implementation>',
      `implementation the speedup plot compares against${d('baseline')}`,
    )
    .option(
      '--dry-run',
      'print the plan (points, batches, memory, skips with reasons, estimated time per point and in all) and exit without measuring; a short calibration run gives the estimates',
    )
    .option('--json', 'print the result JSON on stdout (and nothing else there)')
    .option('--quiet', 'no progress and no notes on stderr')
    .option('--verbose', 'stack traces on errors')
    .option(
      '--plugin <spec>',
      'load a plugin and run its implementations beside the built-ins: a C ABI shared library (include/dilbench_plugin.h), file.py:function or package.module:function (a torch callable, scaled_dot_product_attention convention); repeatable',
      collectPlugin,
      [],
    );
  addImplementationFlags(cmd, { ring: spec.ringFlags });
  cmd.action(async (_opts: Record<string, unknown>, c: Command) => {
    const opts = c.optsWithGlobals<Record<string, unknown>>();
    if (spec.takeOver && (await spec.takeOver(opts))) return;
    const raw: Record<string, unknown> = {};
    for (const f of [...COMMON_FIELDS, ...(spec.fields ?? [])])
      if (opts[f] !== undefined) raw[f] = opts[f];
    collectImplementationFlags(opts, raw);
    if (raw.plots === true) delete raw.plots; // commander's default of --no-plots
    if (raw.peak === true) delete raw.peak; // and of --no-peak
    const output = typeof raw.output === 'string' ? raw.output : undefined;
    delete raw.output;
    const dryRun = opts.dryRun === true;
    // the CLI writes its files to benchmark_results unless told otherwise (the library writes none)
    if (raw.outputDir === undefined) raw.outputDir = DEFAULTS.outputDir;
    // validate before loading the addon, so bad input fails fast with exit 2
    const parsed = spec.suite.parseOptions(raw) as CommonRunOptions & {
      quiet?: boolean;
      json?: boolean;
    };
    // where the results go must be writable before anything is measured (exit 2 naming the flag)
    if (parsed.outputDir !== null && !dryRun)
      assertWritableDirectory(parsed.outputDir, 'outputDir');
    if (output !== undefined && !dryRun)
      assertWritableDirectory(dirname(resolve(output)), 'output');

    const binding = bindingOrExit(dilbench);
    // a bar on a terminal; elsewhere (CI logs) the plan's total and one line per finished point
    const progress = parsed.quiet
      ? createProgress(false)
      : process.stderr.isTTY
        ? createProgress(true)
        : createProgressLines();
    const interrupt = handleInterrupts(
      parsed.quiet ? null : 'finishing the current iteration and writing partial results',
    );
    let written: FilesWritten | undefined;
    let file: ResultFile;
    try {
      file = await runBenchmark({
        suite: spec.suite.name,
        ...raw,
        binding,
        dryRun,
        plugins: opts.plugin as string[],
        signal: interrupt.signal,
        onProgress: (e) => {
          // notes (how --device auto chose, a side that cannot run) go to stderr before the run
          if (e.type === 'note' && !parsed.quiet) process.stderr.write(`dilbench: ${e.message}\n`);
          progress.onProgress(e);
        },
        onFilesWritten: (w) => (written = w),
      });
    } catch (e) {
      // Ctrl-C / SIGTERM: the completed points were written; report them, then exit 130
      if (!(e instanceof RunCancelledError)) throw e;
      file = e.partial;
    } finally {
      progress.stop();
      interrupt.release();
    }
    if (file.dryRun) {
      process.stdout.write(parsed.json ? JSON.stringify(file, null, 2) + '\n' : planText(file));
      return;
    }
    if (output && written) copyFileSync(written.json, output);
    if (parsed.json) {
      process.stdout.write(JSON.stringify(file, null, 2) + '\n');
    } else {
      process.stdout.write(summaryText(file, { markdownPath: written?.markdown }));
      if (written) {
        const paths = [
          written.json,
          written.csv,
          written.markdown,
          ...(output ? [output] : []),
          ...(written.history ? [written.history] : []),
          ...written.plots,
        ];
        process.stdout.write(`\nwrote ${paths.join('\n      ')}\n`);
      }
    }
    // a fallback location is said even with --quiet: it is where the measurements are
    if (written)
      for (const w of written.warnings)
        if (!parsed.quiet || written.fallbackDir) process.stderr.write(`dilbench: warning: ${w}\n`);
    if (!parsed.quiet) {
      const failed = file.results.filter(
        (r) => r.status === 'failed' && r.errorCode !== 'ERR_DILBENCH_CANCELLED',
      ).length;
      if (failed)
        process.stderr.write(`dilbench: ${failed} point(s) failed; see the status column\n`);
    }
    if (file.interrupted) throw new CliExit(EXIT_INTERRUPTED, 'interrupted');
    const why = spec.failure?.(file);
    if (why) throw new CliExit(EXIT_FAILURE, why);
  });
  return cmd;
}
