// `dilbench sequence-ranges`: every implementation across a range of sequence lengths.
import { Command } from 'commander';
import { sequenceRanges } from '../../../benchmarks/sequence-ranges.js';
import { ConfigError } from '../../config/errors.js';
import { DEFAULTS } from '../../config/schema.js';
import { loadRanges, rangeNames } from '../../config/ranges.js';
import { getBinding } from '../../api/binding.js';
import { runBenchmark } from '../../api/run.js';
import { CliExit, EXIT_FAILURE, EXIT_INTERRUPTED } from '../errors.js';
import { createProgress } from '../progress.js';
import { summaryText } from '../summary.js';

/** commander option name -> schema field (identical camelCase; listed so nothing else leaks in). */
const FIELDS = [
  'range', 'customLengths', 'implementations', 'batchSize', 'heads', 'kvHeads', 'headDim', 'causal', 'warmup',
  'runs', 'threads', 'seed', 'memoryBudget', 'maxRunSeconds', 'outputDir', 'json', 'quiet', 'device',
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
  program
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
    .option('--warmup <n>', `warm-up iterations per point, the first reported as cold start (default ${DEFAULTS.warmup})`)
    .option('--runs <n>', `timed iterations per point (default ${DEFAULTS.runs})`)
    .option('--threads <n>', 'worker threads (default 0: all hardware threads)')
    .option('--seed <n>', `seed of the random inputs (default ${DEFAULTS.seed})`)
    .option('--memory-budget <size>', 'memory a point may use, e.g. 8GiB, 512MiB or bytes (default: half of the available memory)')
    .option('--max-run-seconds <s>', `estimated seconds a point may take, all iterations (default ${DEFAULTS.maxRunSeconds})`)
    .option('--output-dir <dir>', `directory of the result files (default ${DEFAULTS.outputDir})`)
    .option('--device <name>', `device: cpu|cuda (default ${DEFAULTS.device})`)
    .option('--json', 'print the result JSON on stdout (and nothing else there)')
    .option('--quiet', 'no progress and no notes on stderr')
    .option('--verbose', 'stack traces on errors')
    .action(async (_opts: Record<string, unknown>, cmd: Command) => {
      const opts = cmd.optsWithGlobals() as Record<string, unknown>;
      const raw: Record<string, unknown> = {};
      for (const f of FIELDS) if (opts[f] !== undefined) raw[f] = opts[f];
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
      let written: { json: string; csv: string; markdown: string } | undefined;
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
      }

      if (parsed.json) {
        process.stdout.write(JSON.stringify(file, null, 2) + '\n');
      } else {
        process.stdout.write(summaryText(file));
        if (written) process.stdout.write(`\nwrote ${written.json}\n      ${written.csv}\n      ${written.markdown}\n`);
      }
      if (!parsed.quiet) {
        const failed = file.results.filter((r) => r.status === 'failed' && r.errorCode !== 'ERR_DILBENCH_CANCELLED').length;
        if (failed) process.stderr.write(`dilbench: ${failed} point(s) failed; see the status column\n`);
      }
      if (file.interrupted) throw new CliExit(EXIT_INTERRUPTED, 'interrupted');
    });
}

export { ConfigError };
