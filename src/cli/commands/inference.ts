// `dilbench inference`: greedy generation with and without the KV cache on a transformer model
// (issue 7); metrics accumulate in <benchmark-dir>/inference_metrics.json|.csv with two plots.
// The library (src/inference) is loaded inside the action so the other commands start fast.
import type { Command } from 'commander';
import { ConfigError } from '../../config/errors.js';
import { skippedSideLines } from '../../inference/sides.js';
import { handleInterrupts } from '../interrupt.js';
import { CliExit, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE } from '../errors.js';
import type { Dilbench } from '../../native/dilbench.js';

interface InferenceCliOptions {
  model: string;
  prompt?: string;
  promptLength?: string;
  promptsFile?: string;
  maxLength?: string;
  runs?: string;
  warmup?: string;
  device?: string;
  dtype?: string;
  compareDtypes?: string;
  compareDevices?: boolean;
  implementation?: string;
  threads?: string;
  seed?: string;
  checkpoint?: string;
  benchmarkDir?: string;
  plots?: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** 3 significant digits below 100, one decimal above. */
function num(x: number): string {
  return Math.abs(x) >= 100 ? x.toFixed(1) : x === 0 ? '0' : x.toPrecision(3);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '),
    )
    .join('\n');
}

export function register(program: Command, dilbench: Dilbench): void {
  program
    .command('inference')
    .description(
      'generation benchmark on a transformer model: KV cache vs recompute (tokens/s, time per token, first-token latency, memory); results accumulate in --benchmark-dir',
    )
    .option(
      '--model <name|file>',
      'model preset (configs/models: gpt2, gpt2-medium, llama-3.2-1b, t5-base, ...) or a YAML file',
      'gpt2',
    )
    .option('--prompt <text>', 'prompt text (GPT-2 BPE)')
    .option('--prompt-length <n>', 'a synthetic prompt of n tokens instead of text')
    .option('--prompts-file <file>', 'one prompt per line')
    .option('--max-length <n>', 'tokens to generate after each prompt (default 50)')
    .option('--runs <n>', 'timed generations per prompt and mode (default 3)')
    .option('--warmup <n>', 'untimed generations first (default 1)')
    .option(
      '--device <name>',
      'cpu|cuda|auto (default cpu); auto: cuda when the addon has the CUDA model and a device',
    )
    .option(
      '--dtype <name>',
      'fp32|fp16|bf16 (default fp32); fp16/bf16 run on cuda only (the CPU model is fp32)',
    )
    .option(
      '--compare-dtypes <list>',
      'e.g. fp32,bf16: run every dtype listed and compare tokens/s, memory and tokens with the first; sides that cannot run here are skipped with the reason',
    )
    .option(
      '--compare-devices',
      'run on cpu and cuda and compare side by side; cuda is skipped with the reason when there is no CUDA model or device',
    )
    .option('--implementation <name>', 'attention implementation inside the model (default flash)')
    .option('--threads <n>', 'worker threads (default: the available cores)')
    .option('--seed <n>', 'seed of the synthetic weights and prompts (default 1234)')
    .option(
      '--checkpoint <file>',
      'GPT-2-family weights from a .safetensors file instead of synthetic ones',
    )
    .option(
      '--benchmark-dir <dir>',
      'where inference_metrics.json/.csv and the plots go',
      './inference_benchmarks',
    )
    .option('--no-plots', 'do not refresh the PNG plots')
    .option('--json', "print this run's records as JSON on stdout")
    .option('--quiet', 'print nothing but warnings and errors')
    .action(async (opts: InferenceCliOptions) => {
      const { runInferenceBenchmark } = await import('../../inference/benchmark.js');
      const { SafetensorsError } = await import('../../models/safetensors.js');
      const quiet = opts.quiet === true || opts.json === true;
      const interrupt = handleInterrupts(
        'finishing the current generation and writing what is complete',
      );
      let result;
      try {
        result = await runInferenceBenchmark({
          model: opts.model,
          prompt: opts.prompt,
          promptLength: opts.promptLength,
          promptsFile: opts.promptsFile,
          maxLength: opts.maxLength,
          runs: opts.runs,
          warmup: opts.warmup,
          device: opts.device,
          dtype: opts.dtype,
          compareDtypes: opts.compareDtypes,
          compareDevices: opts.compareDevices,
          implementation: opts.implementation,
          threads: opts.threads,
          seed: opts.seed,
          checkpoint: opts.checkpoint,
          benchmarkDir: opts.benchmarkDir,
          plots: opts.plots,
          dilbench,
          signal: interrupt.signal,
          log: quiet ? undefined : (l) => process.stderr.write(`${l}\n`),
        });
      } catch (e) {
        interrupt.release();
        if (e instanceof SafetensorsError)
          throw new CliExit(EXIT_USAGE, `error: invalid --checkpoint: ${e.message}`);
        // errors inside a model YAML name the file and field, not a flag
        if (e instanceof ConfigError && /[.(:]/.test(e.field))
          throw new CliExit(EXIT_USAGE, `error: ${e.message}`);
        throw e;
      }
      interrupt.release();
      if (opts.json) {
        process.stdout.write(
          JSON.stringify(
            {
              runId: result.runId,
              records: result.records,
              comparisons: result.comparisons,
              sideComparisons: result.sideComparisons,
              sides: result.sides,
              files: result.files,
            },
            null,
            2,
          ) + '\n',
        );
      } else if (!quiet) {
        const manySides = new Set(result.records.map((r) => `${r.device}/${r.dtype}`)).size > 1;
        const rows = [
          [
            ...(manySides ? ['side'] : []),
            'prompt',
            'mode',
            'tokens/s',
            'ms/token',
            'total ms',
            'first-token ms',
            'peak MiB',
            'KV MiB',
          ],
        ];
        for (const r of result.records) {
          rows.push([
            ...(manySides ? [`${r.device}/${r.dtype}`] : []),
            r.prompt_label,
            r.mode,
            num(r.tokens_per_second),
            num(r.time_per_token_ms),
            num(r.total_time_ms),
            num(r.first_token_latency_ms),
            num(r.peak_memory_mb),
            num(r.kv_cache_mb),
          ]);
        }
        const lines = [table(rows), ''];
        const { loadPeak } = await import('../../roofline/peak-store.js');
        const { streamShareText } = await import('../../roofline/index.js');
        // peak.json beside the inference results first, then the default results directory
        const peak =
          (opts.benchmarkDir ? await loadPeak(opts.benchmarkDir).catch(() => null) : null) ??
          (await loadPeak().catch(() => null));
        for (const r of result.records.filter(
          (x) => x.mode === 'kv-cache' && x.decode_weights_gbps > 0,
        )) {
          // the stored stream bandwidth is the CPU's: a cuda side's figure is not a share of it
          const share =
            r.device !== 'cpu'
              ? ''
              : peak?.streamGBps
                ? ` = ${streamShareText(r.decode_weights_gbps, peak)}`
                : ' (run `dilbench peak` to compare with the stream bandwidth)';
          lines.push(
            `${manySides ? `${r.device}/${r.dtype} ` : ''}${r.prompt_label}: KV-cache decode reads the weights at ${r.decode_weights_gbps.toFixed(2)} GB/s${share}`,
          );
        }
        for (const c of result.comparisons) {
          lines.push(
            `${manySides ? `${c.device}/${c.dtype} ` : ''}${c.prompt_label}: KV cache speedup ${c.speedup.toFixed(2)}x, memory ${c.memory_change_pct >= 0 ? '+' : ''}${c.memory_change_pct.toFixed(1)}%, tokens ${c.tokens_identical ? 'identical' : `DIFFER (first at ${c.first_mismatch})`}`,
          );
        }
        if (result.sideComparisons.length) {
          const x = (v: number | null): string => (v === null ? '-' : `${v.toFixed(2)}x`);
          const sc = [
            [
              'side vs ' + result.sideComparisons[0]!.baseline,
              'prompt',
              'mode',
              'tokens/s',
              'speed',
              'peak MiB',
              'memory',
              'tokens vs baseline',
            ],
          ];
          for (const c of result.sideComparisons) {
            const tokens = c.tokens_match_baseline
              ? 'same'
              : `${c.token_agreement_pct}% agree (first diff ${c.first_mismatch})${c.tokens_must_match ? ' MISMATCH' : ''}`;
            sc.push([
              c.side,
              c.prompt_label,
              c.mode,
              num(c.tokens_per_second),
              x(c.tokens_per_second_ratio),
              num(c.peak_memory_mb),
              x(c.peak_memory_ratio),
              tokens,
            ]);
          }
          lines.push('', table(sc), '');
        }
        lines.push(...skippedSideLines(result.sides));
        lines.push(
          `results: ${result.files.json}, ${result.files.csv}${result.files.plots.length ? `, ${result.files.plots.join(', ')}` : ''}`,
        );
        if (result.files.result) lines.push(`result file: ${result.files.result}`);
        process.stdout.write(lines.join('\n') + '\n');
      }
      if (result.interrupted)
        throw new CliExit(
          EXIT_INTERRUPTED,
          result.records.length
            ? 'interrupted: the prompts finished in both modes were written'
            : 'interrupted before any prompt finished; nothing written',
        );
      if (!result.allIdentical)
        throw new CliExit(
          EXIT_FAILURE,
          'the KV-cache and recompute modes generated different tokens (see the warnings above)',
        );
      if (!result.sidesAgree)
        throw new CliExit(
          EXIT_FAILURE,
          'two fp32 sides generated different tokens (see the warnings above)',
        );
    });
}
