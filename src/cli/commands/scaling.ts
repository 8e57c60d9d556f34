// `dilbench scaling --config configs/bench/infer_decoder_scaling.yaml [--out dir]`: latency and
// peak memory vs context length for an encoder, decoder or encoder-decoder model (issue 7).
import type { Command } from 'commander';
import { ConfigError } from '../../config/errors.js';
import { modelSides, skippedSideLines } from '../../inference/sides.js';
import { handleInterrupts } from '../interrupt.js';
import { CliExit, EXIT_INTERRUPTED, EXIT_USAGE } from '../errors.js';
import type { Dilbench } from '../../native/dilbench.js';

interface ScalingCliOptions {
  config: string | string[];
  out: string;
  threads?: string;
  device?: string;
  dtype?: string;
  compareDtypes?: string;
  compareDevices?: boolean;
  plots?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function register(program: Command, dilbench: Dilbench): void {
  program
    .command('scaling')
    .description(
      'inference latency and peak memory vs context length (encoder: forward; decoder: prefill + decode; encoder-decoder: encode + decode); results/, tables/inference_results.csv, figs/latency_curve.png',
    )
    .requiredOption(
      '--config <files...>',
      'scaling config YAML(s), run in order (configs/bench/infer_{encoder,decoder,encdec}_scaling.yaml)',
    )
    .option('--out <dir>', 'output directory (results/, tables/, figs/)', 'benchmark_results')
    .option('--threads <n>', "worker threads (default: the config's, else the available cores)")
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
      'e.g. fp32,bf16: every dtype listed runs each context length, latency and memory compared with the first; sides that cannot run here are skipped with the reason',
    )
    .option(
      '--compare-devices',
      'run on cpu and cuda and compare side by side; cuda is skipped with the reason when there is no CUDA model or device',
    )
    .option('--no-plots', 'do not render figs/latency_curve.png')
    .option('--json', 'print the result file as JSON on stdout')
    .option('--quiet', 'print nothing but warnings and errors')
    .action(async (opts: ScalingCliOptions) => {
      let threads: number | undefined;
      if (opts.threads !== undefined) {
        threads = Number(opts.threads);
        if (!Number.isInteger(threads) || threads < 1 || threads > 4096)
          throw new ConfigError('threads', opts.threads, 'an integer in [1, 4096]');
      }
      const sideOptions = {
        device: opts.device,
        dtype: opts.dtype,
        compareDtypes: opts.compareDtypes,
        compareDevices: opts.compareDevices,
      };
      modelSides(sideOptions, dilbench.models); // bad values, or no side that can run: exit 2 before anything runs
      const { runScaling } = await import('../../scaling/run.js');
      const { loadScalingConfig } = await import('../../scaling/config.js');
      const quiet = opts.quiet === true || opts.json === true;
      const files = Array.isArray(opts.config) ? opts.config : [opts.config];
      const asUsage = (e: unknown): unknown =>
        // errors inside the YAML name the file and field, not a flag
        e instanceof ConfigError && e.field !== 'threads'
          ? new CliExit(EXIT_USAGE, `error: ${e.message}`)
          : e;
      try {
        for (const f of files) loadScalingConfig(f); // every config checked before anything runs
      } catch (e) {
        throw asUsage(e);
      }
      const interrupt = handleInterrupts(
        'finishing the current run and writing the context lengths completed',
      );
      const outputs = [];
      for (const config of files) {
        if (interrupt.signal.aborted) break;
        let result;
        try {
          result = await runScaling({
            config,
            out: opts.out,
            threads,
            plots: opts.plots,
            ...sideOptions,
            dilbench,
            signal: interrupt.signal,
            log: quiet ? undefined : (l) => process.stderr.write(`${l}\n`),
          });
        } catch (e) {
          interrupt.release();
          throw asUsage(e);
        }
        outputs.push(result.file);
        for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
        if (quiet) continue;
        const own = result.rows.filter((r) => r.exp_id === result.file.exp_id);
        const manySides = new Set(own.map((r) => `${r.device}/${r.dtype}`)).size > 1;
        const sideCol = (r: { device: string; dtype: string }): string =>
          manySides ? `${`${r.device}/${r.dtype}`.padEnd(10)}  ` : '';
        const lines = [
          `${result.file.config.name} (${result.file.config.arch}, ${result.file.model.name})`,
          `${manySides ? 'side        ' : ''}context  latency ms (median)  throughput                peak GB`,
        ];
        for (const r of own) {
          lines.push(
            `${sideCol(r)}${String(r.context_length).padStart(7)}  ${r.latency_ms.toFixed(2).padStart(19)}  ${`${r.throughput.toFixed(1)} ${r.throughput_unit}`.padEnd(24)}  ${r.max_memory_gb.toFixed(3)}${r.memory_estimated ? ' (est.)' : ''}`,
          );
        }
        const x = (v: number | null): string => (v === null ? '-' : `${v.toFixed(2)}x`);
        for (const c of result.file.side_comparisons ?? []) {
          lines.push(
            `${c.side} vs ${c.baseline} at context ${c.context_length}: latency ${x(c.latency_ratio)}, peak memory ${x(c.peak_memory_ratio)}`,
          );
        }
        lines.push(...skippedSideLines(result.file.sides ?? []));
        lines.push(
          `results: ${result.files.json}`,
          `result file: ${result.files.result}`,
          `table:   ${result.files.csv}`,
        );
        if (result.files.figure) lines.push(`figure:  ${result.files.figure}`);
        process.stdout.write(lines.join('\n') + '\n');
      }
      if (opts.json)
        process.stdout.write(
          JSON.stringify(outputs.length === 1 ? outputs[0] : outputs, null, 2) + '\n',
        );
      interrupt.release();
      if (interrupt.signal.aborted)
        throw new CliExit(
          EXIT_INTERRUPTED,
          'interrupted: the context lengths completed were written (interrupted: true)',
        );
    });
}
