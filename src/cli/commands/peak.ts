// `dilbench peak`: the machine's FP32 FMA rate and stream bandwidth on the threads the kernels use,
// and, with a CUDA device, the GPU's fp16/bf16 tensor-core rate, FP32 FMA rate and memory
// bandwidth; stored in <output-dir>/peak.json for reports (roofline: % of peak, compute- vs
// memory-bound).
import os from 'node:os';
import { Command } from 'commander';
import { cpuModel } from '../../env/environment.js';
import { packageVersion } from '../../config/paths.js';
import type { NativeBinding, NativeInfo } from '../../native/binding.js';
import type { Dilbench } from '../../native/dilbench.js';
import {
  isGpuPeak,
  savePeak,
  type StoredGpuPeak,
  type StoredPeak,
} from '../../roofline/peak-store.js';
import { measureRepeatedPeak } from '../../roofline/measure-peak.js';
import { CliExit, EXIT_USAGE } from '../errors.js';
import { assertWritableDirectory } from '../../results/output-dir.js';

export interface PeakCliOptions {
  threads?: string | number;
  duration?: string | number;
  json?: boolean;
  outputDir?: string;
  quiet?: boolean;
  repeats?: string | number;
}

export interface PeakIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

/** `dilbench peak` repeats each measurement this often (--repeats) */
export const DEFAULT_PEAK_REPEATS = 5;

const range = ([lo, hi]: [number, number]) => `${lo.toFixed(1)}-${hi.toFixed(1)}`;

function defaultThreads(): number {
  return typeof os.availableParallelism === 'function'
    ? os.availableParallelism()
    : os.cpus().length;
}

/** The longest the binding spends on one GPU figure (its limit). */
const GPU_SECONDS_MAX = 60;

/** Why this process cannot measure a GPU peak on the Dilbench object's binding, or null when it can. */
export function gpuUnavailableReason(dilbench: Dilbench): string | null {
  const binding = dilbench.binding;
  let info: NativeInfo | undefined;
  try {
    info = binding.info();
  } catch (e) {
    return `the native binding could not report its devices (${(e as Error).message})`;
  }
  if (!info?.cuda?.compiled) {
    const loaded = dilbench.binaryOf(binding);
    return `this dilbench build has no CUDA backend${loaded ? ` (${loaded.reason})` : ''}`;
  }
  if (!(info.cuda.deviceCount > 0))
    return `no CUDA device (${info.cuda.error || 'the CUDA backend reports 0 devices'})`;
  if (typeof binding.measureDevicePeak !== 'function')
    return 'this native binding cannot measure a GPU peak';
  return null;
}

async function measureGpu(binding: NativeBinding, duration: number): Promise<StoredGpuPeak> {
  const seconds = Math.min(duration, GPU_SECONDS_MAX);
  const p = await (binding.measureDevicePeak as NonNullable<NativeBinding['measureDevicePeak']>)(
    'cuda',
    seconds,
  );
  const device = binding.info().cuda.devices[0];
  const gpu: StoredGpuPeak = {
    name: p.name,
    ...(device?.computeCapability ? { computeCapability: device.computeCapability } : {}),
    fp16TensorTflops: p.fp16TensorTflops,
    bf16TensorTflops: p.bf16TensorTflops,
    fp32FmaTflops: p.fp32FmaTflops,
    copyGBps: p.copyGBps,
    copyBytes: p.copyBytes,
    runs: p.runs,
    durationSeconds: seconds,
    measuredAt: new Date().toISOString(),
  };
  if (!isGpuPeak(gpu)) {
    throw new Error(
      `GPU peak measurement returned implausible numbers: ${p.fp16TensorTflops} / ${p.bf16TensorTflops} TFLOP/s (fp16 / bf16 tensor), ${p.fp32FmaTflops} TFLOP/s (fp32 FMA), ${p.copyGBps} GB/s`,
    );
  }
  return gpu;
}

function gpuLines(gpu: StoredGpuPeak): string[] {
  const mib = (b: number) => `${Math.round(b / 2 ** 20)} MiB`;
  return [
    `GPU peak:         ${gpu.name}${gpu.computeCapability ? ` (cc ${gpu.computeCapability})` : ''}, median of ${gpu.runs} runs`,
    `  fp16 tensor:    ${gpu.fp16TensorTflops.toFixed(1)} TFLOP/s (mma.sync m16n8k16, fp32 accumulate)`,
    `  bf16 tensor:    ${gpu.bf16TensorTflops.toFixed(1)} TFLOP/s (mma.sync m16n8k16, fp32 accumulate)`,
    `  fp32 FMA:       ${gpu.fp32FmaTflops.toFixed(1)} TFLOP/s`,
    `  memory:         ${gpu.copyGBps.toFixed(1)} GB/s (device copy of ${mib(gpu.copyBytes)}, read + write counted)`,
  ];
}

/**
 * Measures, prints and stores the peak (the GPU's too where a CUDA device is usable; otherwise one
 * line says why not); resolves to it. Bad options throw CliExit(2); a GPU measurement that fails
 * on a usable device throws after the CPU peak is stored.
 */
export async function runPeak(
  dilbench: Dilbench,
  opts: PeakCliOptions = {},
  io: PeakIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<StoredPeak & { file: string }> {
  const threads = opts.threads === undefined ? defaultThreads() : Number(opts.threads);
  if (!Number.isInteger(threads) || threads < 1 || threads > 4096) {
    throw new CliExit(
      EXIT_USAGE,
      `error: invalid --threads: ${JSON.stringify(String(opts.threads))}; allowed: an integer >= 1`,
    );
  }
  const duration = opts.duration === undefined ? 1 : Number(opts.duration);
  if (!Number.isFinite(duration) || duration <= 0 || duration > 600) {
    throw new CliExit(
      EXIT_USAGE,
      `error: invalid --duration: ${JSON.stringify(String(opts.duration))}; allowed: seconds in (0, 600]`,
    );
  }
  const repeats = opts.repeats === undefined ? DEFAULT_PEAK_REPEATS : Number(opts.repeats);
  if (!Number.isInteger(repeats) || repeats < 1 || repeats > 100) {
    throw new CliExit(
      EXIT_USAGE,
      `error: invalid --repeats: ${JSON.stringify(String(opts.repeats))}; allowed: an integer 1..100`,
    );
  }
  assertWritableDirectory(opts.outputDir ?? 'benchmark_results', 'outputDir');
  const binding = dilbench.binding;
  const peak = await measureRepeatedPeak(binding, threads, duration, repeats);
  const noGpu = gpuUnavailableReason(dilbench);
  let gpuError: Error | null = null;
  let gpu: StoredGpuPeak | undefined;
  if (noGpu === null) {
    try {
      gpu = await measureGpu(binding, duration);
    } catch (e) {
      gpuError = e instanceof Error ? e : new Error(String(e));
    }
  }
  const gpuNotMeasured =
    noGpu ?? (gpuError ? `the measurement failed: ${gpuError.message}` : undefined);
  const stored: StoredPeak = {
    ...peak,
    durationSeconds: duration,
    measuredAt: new Date().toISOString(),
    cpuModel: cpuModel(),
    hostname: os.hostname(),
    dilbenchVersion: packageVersion(),
    ...(gpu ? { gpu } : {}),
    ...(gpuNotMeasured ? { gpuNotMeasured } : {}),
  };
  const file = await savePeak(stored, opts.outputDir ?? 'benchmark_results');
  if (opts.json) {
    io.stdout.write(JSON.stringify({ ...stored, gpu: gpu ?? null, file }, null, 2) + '\n');
  } else if (!opts.quiet) {
    io.stdout.write(
      [
        `FP32 FMA peak:    ${stored.fmaGflops.toFixed(1)} GFLOP/s (best of ${repeats}; repeats ${range(peak.fmaGflopsRange)})`,
        `stream bandwidth: ${stored.streamGBps.toFixed(1)} GB/s (median of ${repeats}; repeats ${range(peak.streamGBpsRange)})`,
        `ridge point:      ${(stored.fmaGflops / stored.streamGBps).toFixed(1)} FLOP/byte`,
        `threads ${stored.threads}, SIMD ${stored.simdLevel}, ${stored.cpuModel}`,
        ...(gpu ? gpuLines(gpu) : [`GPU peak:         not measured: ${gpuNotMeasured}`]),
        `saved to ${file}`,
      ].join('\n') + '\n',
    );
  }
  if (gpuError)
    throw new Error(`GPU peak: ${gpuError.message} (the CPU peak was saved to ${file})`, {
      cause: gpuError,
    });
  return { ...stored, file };
}

export function register(program: Command, dilbench: Dilbench): void {
  program
    .command('peak')
    .description(
      'measure the FP32 FMA peak and stream bandwidth, and on a CUDA device its fp16/bf16 tensor-core rate and memory bandwidth (roofline reference); stored in <output-dir>/peak.json',
    )
    .option(
      '--threads <n>',
      `threads, as the kernels use them (default: ${defaultThreads()}, the available cores)`,
    )
    .option(
      '--duration <s>',
      'seconds per CPU measurement and repeat (default 1; at most 60 per GPU figure)',
    )
    .option(
      '--repeats <n>',
      `CPU measurements: the FMA peak is the best, the stream bandwidth the median of this many (default ${DEFAULT_PEAK_REPEATS})`,
    )
    .option('--output-dir <dir>', 'where peak.json goes (default benchmark_results)')
    .option('--json', 'print the result as JSON')
    .option('--quiet', 'print nothing (still writes peak.json)')
    .action(async (opts: PeakCliOptions) => {
      await runPeak(dilbench, opts);
    });
}
