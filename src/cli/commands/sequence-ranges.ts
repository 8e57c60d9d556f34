// `dilbench sequence-ranges`: every implementation across a range of sequence lengths.
import { Command } from 'commander';
import { sequenceRanges } from '../../../benchmarks/sequence-ranges.js';
import { ConfigError } from '../../config/errors.js';
import { DEFAULTS } from '../../config/schema.js';
import { loadRanges, rangeNames } from '../../config/ranges.js';
import { getBinding } from '../../api/binding.js';
import { runBenchmark, type FilesWritten } from '../../api/run.js';
import { CliExit, EXIT_FAILURE, EXIT_INTERRUPTED } from '../errors.js';
import { createProgress } from '../progress.js';
import { summaryText } from '../summary.js';
import { addImplementationFlags, collectImplementationFlags } from '../impl-flags.js';

/** commander option name -> schema field (identical camelCase; listed so nothing else leaks in). */
const FIELDS = [
  'range', 'customLengths', 'implementations', 'batchSize', 'heads', 'kvHeads', 'headDim', 'causal', 'warmup',
  'runs', 'threads', 'seed', 'memoryBudget', 'maxRunSeconds', 'outputDir', 'json', 'quiet', 'device',
  'targetRse', 'minSamples', 'maxSamples', 'maxTime', 'cold', 'interleave', 'plots', 'baseline',
] as const;

function rangeHelp(): string {
  try {
    const table = loadRanges();
    return Object.values(table)
      .map((r) => `${r.name} = ${r.labels.join(' ')}`)
      .join('; ');
  } catch {
    return '';
  }
}

export function register(program: Command): void {
  const cmd = program
    .command('sequence-ranges')
    .description('benchmark each implementation across a range of sequence lengths; writes JSON, CSV and Markdown')
    .option('--range <name>', `length range, one of ${rangeNames().join('|')} (default ${DEFAULTS.range}): ${rangeHelp()}; all = their union; custom = --custom-lengths`)
    .option('--custom-lengths <lengths...>', 'lengths for --range custom, space- or comma-separated (K = 1024), e.g. 128,256,4K')
    .option('--implementations <names...>', 'implementations to run, space- or comma-separated (default: all on the device)')
    .option('--batch-size <n>', `batch size; lowered by the planner when it does not fit (default ${DEFAULTS.batchSize})`)
    .option('--heads <n>', `attention heads (default ${DEFAULTS.heads})`)
    .option('--kv-heads <n>', 'key/value heads for grouped-query attention; divides --heads (default: --heads)')
    .option('--head-dim <n>', `head dimension (default ${DEFAULTS.headDim})`)
    .option('--causal', 'causal mask (default: not causal)')
    .option('--warmup <n>', `warm-up iterations per point (the first reported as cold start), or 'adaptive': until the first samples stabilise (default ${DEFAULTS.warmup})`)
    .option('--runs <n>', 'a fixed number of timed iterations per point (stop reason fixed-runs); default: adaptive, until --target-rse, --max-samples or --max-time')
    .option('--target-rse <x>', `stop sampling when the relative standard error of the mean is at or below this, a fraction or percent (default ${DEFAULTS.targetRse} = 1%)`)
    .option('--min-samples <n>', `samples before the stopping rule may stop (default ${DEFAULTS.minSamples})`)
    .option('--max-samples <n>', `most samples per point (default ${DEFAULTS.maxSamples})`)
    .option('--max-time <s>', `seconds of sampling per point, warm-up included (default ${DEFAULTS.maxTime})`)
    .option('--cold', 'evict the last-level cache before each sample (default: hot)')
    .option('--interleave', 'sample the implementations of one point in randomised round-robin (when their memory fits together)')
    .option('--no-plots', 'write no plots beside the results (default: SVG and PNG plots)')
    .option('--baseline <implementation>', `implementation the speedup plot compares against (default ${DEFAULTS.baseline})`)
    .option('--threads <n>', 'worker threads (default 0: all hardware threads)')
    .option('--seed <n>', `seed of the random inputs (default ${DEFAULTS.seed})`)
    .option('--memory-budget <size>', 'memory a point may use, e.g. 8GiB, 512MiB or bytes (default: half of the available memory)')
    .option('--max-run-seconds <s>', `estimated seconds a point may take, all iterations (default ${DEFAULTS.maxRunSeconds})`)
    .option('--output-dir <dir>', `directory of the result files (default ${DEFAULTS.outputDir})`)
    .option('--device <name>', `device: cpu|cuda (default ${DEFAULTS.device})`)
    .option('--json', 'print the result JSON on stdout (and nothing else there)')
    .option('--quiet', 'no progress and no notes on stderr')
    .option('--verbose', 'stack traces on errors');
  addImplementationFlags(cmd)
    .action(async (_opts: Record<string, unknown>, cmd: Command) => {
      const opts = cmd.optsWithGlobals() as Record<string, unknown>;
      const raw: Record<string, unknown> = {};
      for (const f of FIELDS) if (opts[f] !== undefined) raw[f] = opts[f];
      collectImplementationFlags(opts, raw);
      // validate before loading the addon, so bad input fails fast with exit 2
      const parsed = sequenceRanges.parseOptions(raw);

      let binding;
      try {
        binding = getBinding();
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        throw new CliExit(EXIT_FAILURE, msg.replace(/^dilbench: /, ''));
      }

      const progress = createProgress(Boolean(process.stderr.isTTY) && !parsed.quiet);
      const controller = new AbortController();
      const onSigint = () => {
        if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED);
        if (!parsed.quiet) process.stderr.write('\ninterrupted: finishing the current iteration and writing partial results (Ctrl-C again to quit now)\n');
        controller.abort();
      };
      process.on('SIGINT', onSigint);
      process.on('SIGTERM', onSigint); // same as Ctrl-C: partial results, exit 130
      let written: FilesWritten | undefined;
      let file;
      try {
        file = await runBenchmark({
          suite: sequenceRanges.name,
          ...raw,
          binding,
          signal: controller.signal,
          onProgress: (e) => progress.onProgress(e),
          onFilesWritten: (w) => (written = w),
        });
      } finally {
        progress.stop();
        process.off('SIGINT', onSigint);
        process.off('SIGTERM', onSigint);
      }

      if (parsed.json) {
        process.stdout.write(JSON.stringify(file, null, 2) + '\n');
      } else {
        process.stdout.write(summaryText(file));
        if (written) {
          const paths = [written.json, written.csv, written.markdown, ...(written.history ? [written.history] : []), ...written.plots];
          process.stdout.write(`\nwrote ${paths.join('\n      ')}\n`);
        }
      }
      if (written && !parsed.quiet) {
        for (const w of written.warnings) process.stderr.write(`dilbench: warning: ${w}\n`);
      }
      if (!parsed.quiet) {
        const failed = file.results.filter((r) => r.status === 'failed' && r.errorCode !== 'ERR_DILBENCH_CANCELLED').length;
        if (failed) process.stderr.write(`dilbench: ${failed} point(s) failed; see the status column\n`);
      }
      if (file.interrupted) throw new CliExit(EXIT_INTERRUPTED, 'interrupted');
    });
}

export { ConfigError };
