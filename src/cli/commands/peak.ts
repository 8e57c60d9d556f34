// `dilbench peak`: the machine's FP32 FMA rate and stream bandwidth on the threads the kernels use,
// stored in <output-dir>/peak.json for reports (roofline: % of peak, compute- vs memory-bound).
import os from 'node:os';
import { Command } from 'commander';
import { getBinding } from '../../api/binding.js';
import { cpuModel } from '../../env/environment.js';
import { packageVersion } from '../../config/paths.js';
import { savePeak, type StoredPeak } from '../../roofline/peak-store.js';
import { CliExit, EXIT_USAGE } from '../errors.js';

export interface PeakCliOptions {
  threads?: string | number;
  duration?: string | number;
  json?: boolean;
  outputDir?: string;
  quiet?: boolean;
}

export interface PeakIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

function defaultThreads(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** Measures, prints and stores the peak; resolves to it. Bad options throw CliExit(2). */
export async function runPeak(
  opts: PeakCliOptions = {},
  io: PeakIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<StoredPeak & { file: string }> {
  const threads = opts.threads === undefined ? defaultThreads() : Number(opts.threads);
  if (!Number.isInteger(threads) || threads < 1 || threads > 4096) {
    throw new CliExit(EXIT_USAGE, `error: invalid --threads: ${JSON.stringify(String(opts.threads))}; allowed: an integer >= 1`);
  }
  const duration = opts.duration === undefined ? 2 : Number(opts.duration);
  if (!Number.isFinite(duration) || duration <= 0 || duration > 600) {
    throw new CliExit(EXIT_USAGE, `error: invalid --duration: ${JSON.stringify(String(opts.duration))}; allowed: seconds in (0, 600]`);
  }
  const binding = await getBinding();
  const peak = await binding.measurePeak(threads, duration);
  if (!(peak.fmaGflops > 0) || !(peak.streamGBps > 0)) {
    throw new Error(`peak measurement returned implausible numbers: ${peak.fmaGflops} GFLOP/s, ${peak.streamGBps} GB/s`);
  }
  const stored: StoredPeak = {
    fmaGflops: peak.fmaGflops,
    streamGBps: peak.streamGBps,
    threads: peak.threads,
    simdLevel: peak.simdLevel,
    durationSeconds: duration,
    measuredAt: new Date().toISOString(),
    cpuModel: cpuModel(),
    hostname: os.hostname(),
    dilbenchVersion: packageVersion(),
  };
  const file = await savePeak(stored, opts.outputDir ?? 'benchmark_results');
  if (opts.json) {
    io.stdout.write(JSON.stringify({ ...stored, file }, null, 2) + '\n');
  } else if (!opts.quiet) {
    io.stdout.write(
      [
        `FP32 FMA peak:    ${stored.fmaGflops.toFixed(1)} GFLOP/s`,
        `stream bandwidth: ${stored.streamGBps.toFixed(1)} GB/s`,
        `ridge point:      ${(stored.fmaGflops / stored.streamGBps).toFixed(1)} FLOP/byte`,
        `threads ${stored.threads}, SIMD ${stored.simdLevel}, ${stored.cpuModel}`,
        `saved to ${file}`,
      ].join('\n') + '\n',
    );
  }
  return { ...stored, file };
}

export function register(program: Command): void {
  program
    .command('peak')
    .description('measure the FP32 FMA peak and stream bandwidth (roofline reference); stored in <output-dir>/peak.json')
    .option('--threads <n>', `threads, as the kernels use them (default: ${defaultThreads()}, the available cores)`)
    .option('--duration <s>', 'seconds per measurement (default 2)')
    .option('--output-dir <dir>', 'where peak.json goes (default benchmark_results)')
    .option('--json', 'print the result as JSON')
    .option('--quiet', 'print nothing (still writes peak.json)')
    .action(async (opts: PeakCliOptions) => {
      await runPeak(opts);
    });
}
