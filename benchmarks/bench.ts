// `npm run bench`: the machine's FP32 FMA peak and stream bandwidth (binding.measurePeak), then
// GFLOP/s of flash and naive at 1K, 2K, 4K, 8K (batch 1, 8 heads, headDim 64, all threads), with
// the % of the measured peak. `--json` prints the figures as JSON instead of the table.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { getBinding } from '../src/api/binding.js';
import { measure } from '../src/measure/scheduler.js';
import type { NativeBinding, NativePeak, NativeProblem } from '../src/native/binding.js';
import { textTable } from '../src/cli/summary.js';

export interface BenchRow {
  implementation: string;
  seqLen: number;
  medianMs: number;
  gflops: number;
  pctOfPeak: number;
  samples: number;
}

export interface BenchResult {
  simdLevel: string;
  threads: number;
  peak: NativePeak;
  rows: BenchRow[];
}

export const BENCH_LENGTHS = [1024, 2048, 4096, 8192];
export const BENCH_IMPLEMENTATIONS = ['flash', 'naive'];

export async function runBench(
  binding: NativeBinding,
  opts: { threads?: number; peakSeconds?: number; runs?: number; log?: (s: string) => void } = {},
): Promise<BenchResult> {
  const info = binding.info();
  const threads = opts.threads && opts.threads > 0 ? opts.threads : info.hardwareThreads;
  opts.log?.(`measuring FP32 FMA peak and stream bandwidth on ${threads} threads...`);
  const peak = await binding.measurePeak(threads, opts.peakSeconds ?? 1);
  const rows: BenchRow[] = [];
  for (const implementation of BENCH_IMPLEMENTATIONS) {
    for (const seqLen of BENCH_LENGTHS) {
      const problem: NativeProblem = {
        implementation,
        device: 'cpu',
        dtype: 'fp32',
        batch: 1,
        heads: 8,
        kvHeads: 8,
        seqLen,
        headDim: 64,
        causal: false,
        seed: 42,
      };
      opts.log?.(`${implementation} @ ${seqLen}...`);
      const session = await binding.createSession(problem, {
        threads,
        useMemoryPool: true,
        usePatternCache: true,
        memoryLimitBytes: 0,
      });
      try {
        const m = await measure(
          { sample: (n, cold) => session.sample(n, cold) },
          { warmup: 2, runs: opts.runs ?? 5 },
        );
        const gflops = session.plan.flops / (m.stats.medianMs / 1000) / 1e9;
        rows.push({
          implementation,
          seqLen,
          medianMs: m.stats.medianMs,
          gflops,
          pctOfPeak: (100 * gflops) / peak.fmaGflops,
          samples: m.samplesMs.length,
        });
      } finally {
        session.dispose();
      }
    }
  }
  return { simdLevel: info.simdLevel, threads, peak, rows };
}

export function benchTable(r: BenchResult): string {
  const lines = [
    `FP32 FMA peak ${r.peak.fmaGflops.toFixed(1)} GFLOP/s, stream ${r.peak.streamGBps.toFixed(1)} GB/s ` +
      `(${r.threads} threads, SIMD ${r.simdLevel})`,
    '',
    textTable(
      ['implementation', 'length', 'median ms', 'GFLOP/s', '% of peak'],
      r.rows.map((x) => [x.implementation, String(x.seqLen), x.medianMs.toFixed(2), x.gflops.toFixed(1), `${x.pctOfPeak.toFixed(1)}%`]),
      [false, true, true, true, true],
    ),
  ];
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      threads: { type: 'string' },
      runs: { type: 'string' },
    },
  });
  const binding = getBinding();
  const result = await runBench(binding, {
    threads: values.threads ? Number(values.threads) : undefined,
    runs: values.runs ? Number(values.runs) : undefined,
    log: values.json ? undefined : (s) => process.stderr.write(`${s}\n`),
  });
  if (values.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else process.stdout.write(benchTable(result));
}

const invokedDirectly = Boolean(process.argv[1]) && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedDirectly) {
  main().catch((e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
