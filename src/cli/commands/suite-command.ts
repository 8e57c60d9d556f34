// Shared body of the suite commands (sequence-ranges, quick-validation, optimization-impact, extreme, ring):
// the common flags, validation before the addon loads (exit 2), progress, SIGINT handling, the
// result files through runBenchmark and the summary. Each command adds its own flags.
import { copyFileSync } from 'node:fs';
import type { Command } from 'commander';
import { getBinding } from '../../api/binding.js';
import { runBenchmark, type FilesWritten } from '../../api/run.js';
import type { ResultFile } from '../../results/types.js';
import type { CommonRunOptions, SuiteDefinition } from '../../suite/types.js';
import { CliExit, EXIT_FAILURE, EXIT_INTERRUPTED } from '../errors.js';
import { handleInterrupts } from '../interrupt.js';
import { addImplementationFlags, collectImplementationFlags } from '../impl-flags.js';
import { createProgress } from '../progress.js';
import { summaryText } from '../summary.js';

const COMMON_FIELDS = [
  'implementations', 'batchSize', 'heads', 'kvHeads', 'headDim', 'causal', 'warmup', 'runs', 'targetRse', 'minSamples',
  'maxSamples', 'maxTime', 'cold', 'threads', 'seed', 'memoryBudget', 'maxRunSeconds', 'outputDir', 'json', 'quiet',
  'device', 'plots', 'baseline', 'interleave', 'dtype', 'compareDtypes', 'compareDevices',
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
  /** defaults shown in the help of the shared flags (camelCase option name -> value) */
  defaults?: Partial<Record<(typeof COMMON_FIELDS)[number], unknown>>;
}

export function registerSuiteCommand(program: Command, spec: SuiteCommandSpec): Command {
  const cmd = program.command(spec.name).description(spec.description);
  spec.flags?.(cmd);
  const d = (key: (typeof COMMON_FIELDS)[number]): string =>
    spec.defaults?.[key] !== undefined ? ` (default ${String(spec.defaults[key])})` : '';
  cmd
    .option('--implementations <names...>', 'implementations to run, space- or comma-separated (default: all on the device)')
    .option('--batch-size <n>', `batch size; lowered by the planner when it does not fit${d('batchSize')}`)
    .option('--heads <n>', `attention heads${d('heads')}`)
    .option('--kv-heads <n>', 'key/value heads (grouped-query attention); divides --heads (default: --heads)')
    .option('--head-dim <n>', `head dimension${d('headDim')}`)
    .option('--causal', 'causal mask (default: not causal)')
    .option('--warmup <n>', `warm-up iterations per point (the first reported as cold start), or 'adaptive': until the first samples stabilise${d('warmup')}`)
    .option('--runs <n>', 'a fixed number of timed iterations per point (stop reason fixed-runs); default: adaptive, until --target-rse, --max-samples or --max-time')
    .option('--target-rse <x>', `adaptive: stop when the relative standard error of the mean is at or below this, a fraction or percent${d('targetRse')}`)
    .option('--min-samples <n>', `adaptive: samples before the stopping rule may stop${d('minSamples')}`)
    .option('--max-samples <n>', `adaptive: most samples per point${d('maxSamples')}`)
    .option('--max-time <s>', `seconds of sampling per point, warm-up included${d('maxTime')}`)
    .option('--cold', 'evict the last-level cache before each sample (default: hot)')
    .option('--interleave', 'sample the implementations of one point in randomised round-robin (when their memory fits together)')
    .option('--threads <n>', 'worker threads (default 0: all hardware threads)')
    .option('--seed <n>', `seed of the random inputs${d('seed')}`)
    .option('--memory-budget <size>', 'memory a point may use, e.g. 8GiB, 512MiB or bytes (default: half of the available memory)')
    .option('--max-run-seconds <s>', `estimated seconds a point may take, all iterations${d('maxRunSeconds')}`)
    .option('--output-dir <dir>', `directory of the result files${d('outputDir')}`)
    .option('--device <name>', `device: cpu|cuda|auto (auto: cuda when the loaded build reports a CUDA device, else cpu; the result records which and why)${d('device')}`)
    .option('--dtype <name>', `storage precision of inputs and outputs: fp32|fp16|bf16 (fp32 accumulation); implementations without it on the device are left out, or named: an error${d('dtype')}`)
    .option('--compare-dtypes <list>', 'run the plan once per dtype, e.g. fp32,bf16 (the first the baseline): a Precision comparison section (time ratio with its 95% CI and p-value, peak memory); what a side cannot run is a skipped row with the reason')
    .option('--compare-devices', 'run the plan on cpu and on cuda (cpu the baseline): a Device comparison section; without a CUDA device the cuda rows are skipped with the reason')
    .option('--no-plots', 'write no plots beside the results (default: SVG and PNG plots)')
    .option('--baseline <implementation>', `implementation the speedup plot compares against${d('baseline')}`)
    .option('--json', 'print the result JSON on stdout (and nothing else there)')
    .option('--quiet', 'no progress and no notes on stderr')
    .option('--verbose', 'stack traces on errors');
  addImplementationFlags(cmd, { ring: spec.ringFlags });
  cmd.action(async (_opts: Record<string, unknown>, c: Command) => {
    const opts = c.optsWithGlobals() as Record<string, unknown>;
    const raw: Record<string, unknown> = {};
    for (const f of [...COMMON_FIELDS, ...(spec.fields ?? [])]) if (opts[f] !== undefined) raw[f] = opts[f];
    collectImplementationFlags(opts, raw);
    if (raw.plots === true) delete raw.plots; // commander's default of --no-plots
    const output = typeof raw.output === 'string' ? raw.output : undefined;
    delete raw.output;
    // validate before loading the addon, so bad input fails fast with exit 2
    const parsed = spec.suite.parseOptions(raw) as CommonRunOptions & { quiet?: boolean; json?: boolean };

    let binding;
    try {
      binding = getBinding();
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new CliExit(EXIT_FAILURE, msg.replace(/^dilbench: /, ''));
    }
    const progress = createProgress(Boolean(process.stderr.isTTY) && !parsed.quiet);
    const interrupt = handleInterrupts(parsed.quiet ? null : 'finishing the current iteration and writing partial results');
    let written: FilesWritten | undefined;
    let file: ResultFile;
    try {
      file = await runBenchmark({
        suite: spec.suite.name,
        ...raw,
        binding,
        signal: interrupt.signal,
        onProgress: (e) => {
          // notes (how --device auto chose, a side that cannot run) go to stderr before the run
          if (e.type === 'note' && !parsed.quiet) process.stderr.write(`dilbench: ${e.message}\n`);
          progress.onProgress(e);
        },
        onFilesWritten: (w) => (written = w),
      });
    } finally {
      progress.stop();
      interrupt.release();
    }
    if (output && written) copyFileSync(written.json, output);
    if (parsed.json) {
      process.stdout.write(JSON.stringify(file, null, 2) + '\n');
    } else {
      process.stdout.write(summaryText(file, { markdownPath: written?.markdown }));
      if (written) {
        const paths = [written.json, written.csv, written.markdown, ...(output ? [output] : []), ...(written.history ? [written.history] : []), ...written.plots];
        process.stdout.write(`\nwrote ${paths.join('\n      ')}\n`);
      }
    }
    if (written && !parsed.quiet) for (const w of written.warnings) process.stderr.write(`dilbench: warning: ${w}\n`);
    if (!parsed.quiet) {
      const failed = file.results.filter((r) => r.status === 'failed' && r.errorCode !== 'ERR_DILBENCH_CANCELLED').length;
      if (failed) process.stderr.write(`dilbench: ${failed} point(s) failed; see the status column\n`);
    }
    if (file.interrupted) throw new CliExit(EXIT_INTERRUPTED, 'interrupted');
    const why = spec.failure?.(file);
    if (why) throw new CliExit(EXIT_FAILURE, why);
  });
  return cmd;
}
