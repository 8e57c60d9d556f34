// `dilbench inference` as a library function (issue 7): per prompt, greedy generation without a
// cache (the whole prefix recomputed each step) and with the KV cache; per mode total time,
// tokens/s, time per token, first-token latency, peak memory (weights, KV cache, workspace);
// speedup, memory change and whether both modes generated the same tokens. With several
// device/dtype sides (--compare-devices, --compare-dtypes) each side runs in turn (its own model,
// warm-up and runs; disposed before the next) and is compared with the first side that ran:
// tokens/s and peak-memory ratios and the generated tokens per prompt and mode. Each run is one
// result file (the suites' schema, model-result.ts) written by the results store as
// <benchmark-dir>/inference_<timestamp>.json|.csv|.md; the files this command promises are views
// of it (metrics-file.ts): runs accumulate in <benchmark-dir>/inference_metrics.json and .csv, and
// optimization_comparison.png and performance_over_time.png are refreshed after each run.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { ConfigError } from '../config/errors.js';
import { getDilbench, type Dilbench } from '../native/dilbench.js';
import type {
  GenerationResult,
  ModelBinding,
  ModelConfig,
  ModelWeights,
  NativeModel,
} from '../native/model-binding.js';
import type { ResultFile, ResultRow, SideRecord } from '../results/types.js';
import { generationNs, measureCalls } from '../measure/call-sampler.js';
import type { Measurement } from '../measure/types.js';
import { timeCall } from '../measure/clock.js';
import { loadModelConfig } from '../models/config.js';
import { loadGpt2Checkpoint } from '../models/gpt2-checkpoint.js';
import { decodeGpt2, GPT2_VOCAB_SIZE, syntheticPrompt, tokenizeFor } from '../models/tokenizer.js';
import { writeResultFiles } from '../reports/write.js';
import { inferenceOverTimeSpec, optimizationComparisonSpec } from '../reports/plots/inference.js';
import { runEachSide } from '../suite/in-turn.js';
import { sideKey } from '../suite/sides.js';
import { writePngAtomic } from './files.js';
import {
  appendInferenceMetrics,
  COMPARISON_PNG,
  firstMismatch,
  INFERENCE_MODES,
  inferenceMetricsOf,
  METRICS_CSV,
  METRICS_JSON,
  OVER_TIME_PNG,
  type InferenceComparison,
  type InferenceMode,
  type InferenceRecord,
  type InferenceRunConfig,
  type InferenceSideComparison,
} from './metrics-file.js';
import { modelResultFile, modelRow } from './model-result.js';
import { modelSides, placementOf, type ModelSide, type ModelSideBinding } from './sides.js';

// the files this command promises are views of its result file (metrics-file.ts)
export {
  COMPARISON_PNG,
  CSV_COLUMNS,
  INFERENCE_MODES,
  METRICS_CSV,
  METRICS_JSON,
  OVER_TIME_PNG,
  readMetricsFile,
  type InferenceComparison,
  type InferenceMetricsFile,
  type InferenceMode,
  type InferenceRecord,
  type InferenceSideComparison,
} from './metrics-file.js';

export interface InferenceOptions {
  // the integer options also take their CLI text ("8"): each is checked as an integer in its range
  /** preset name (configs/models/<name>.yaml) or YAML path; default gpt2 */
  model?: string;
  prompt?: string;
  promptLength?: number | string;
  /** one prompt per non-empty line */
  promptsFile?: string;
  /** tokens generated after each prompt; default 50 */
  maxLength?: number | string;
  runs?: number | string;
  warmup?: number | string;
  /** cpu (default), cuda or auto (cuda when the binding reports a device) */
  device?: string;
  /** fp32 (default); fp16/bf16 run on cuda only (the CPU model is fp32) */
  dtype?: string;
  /** e.g. 'fp32,bf16': every dtype listed is a side; those the binding cannot run are recorded as skipped with the reason */
  compareDtypes?: string | string[];
  /** cpu and cuda sides; cuda is recorded as skipped with the reason when the binding has no CUDA model or device */
  compareDevices?: boolean;
  implementation?: string;
  threads?: number | string;
  seed?: number | string;
  checkpoint?: string;
  benchmarkDir?: string;
  plots?: boolean;
  log?: (line: string) => void;
  warn?: (line: string) => void;
  /** the Dilbench object (getDilbench()) whose model binding runs; omitted: getDilbench() */
  dilbench?: Dilbench;
  /** a ModelBinding to use instead of the addon's (tests); info() tells the CUDA devices */
  binding?: ModelBinding & Partial<Pick<ModelSideBinding, 'info'>>;
  /** stops after the current generation; prompts finished in both modes are written */
  signal?: AbortSignal;
}

export interface InferencePrompt {
  label: string;
  text?: string;
  tokens: Int32Array;
}

export interface InferenceResult {
  runId: string;
  records: InferenceRecord[];
  comparisons: InferenceComparison[];
  /** each side against the baseline side (empty with one side) */
  sideComparisons: InferenceSideComparison[];
  /** on every fp32 side both modes generated the same tokens */
  allIdentical: boolean;
  /** every fp32 side generated the baseline's tokens (when the baseline is fp32) */
  sidesAgree: boolean;
  interrupted: boolean;
  /** every device/dtype side asked for: those that ran have status ok, the others are skipped with the reason */
  sides: ModelSide[];
  /** the run's result file (the suites' schema); inference_metrics.json's entries are a view of it */
  file: ResultFile;
  /** result: the result file as written (absent when nothing finished) */
  files: { json: string; csv: string; plots: string[]; result?: string };
  warnings: string[];
}

const DEFAULT_PROMPT = 'The future of artificial intelligence';
const MIB = 1024 * 1024;

function intOption(
  field: string,
  value: unknown,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(field, value, `an integer in [${min}, ${max}]`);
  }
  return n;
}

function defaultThreads(): number {
  return typeof os.availableParallelism === 'function'
    ? os.availableParallelism()
    : os.cpus().length;
}

/** The prompts an invocation runs: --prompt, --prompt-length or --prompts-file (exactly one; default a fixed sentence). */
export function resolvePrompts(
  opts: Pick<InferenceOptions, 'prompt' | 'promptLength' | 'promptsFile' | 'seed'>,
  config: ModelConfig,
): InferencePrompt[] {
  const given = (['prompt', 'promptLength', 'promptsFile'] as const).filter(
    (k) => opts[k] !== undefined,
  );
  if (given.length > 1) {
    throw new ConfigError(
      given[1] as string,
      opts[given[1] as 'prompt'],
      `only one of --prompt, --prompt-length, --prompts-file`,
    );
  }
  const fromText = (text: string, label: string): InferencePrompt => {
    const tokens = tokenizeFor(text, config.vocabSize);
    if (tokens.length === 0)
      throw new ConfigError('prompt', text, 'text that tokenizes to at least one token');
    return { label, text, tokens };
  };
  if (opts.promptLength !== undefined) {
    const n = intOption('promptLength', opts.promptLength, 1, config.maxPositions, 0);
    return [
      {
        label: `synthetic-${n}`,
        tokens: syntheticPrompt(
          n,
          config.vocabSize,
          intOption('seed', opts.seed, 0, 2 ** 31 - 1, 1),
        ),
      },
    ];
  }
  if (opts.promptsFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(opts.promptsFile, 'utf8');
    } catch (e) {
      throw new ConfigError(
        'promptsFile',
        opts.promptsFile,
        'a readable text file with one prompt per line',
        (e as Error).message,
      );
    }
    const lines = text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter(Boolean);
    if (!lines.length)
      throw new ConfigError(
        'promptsFile',
        opts.promptsFile,
        'a file with at least one non-empty line',
      );
    return lines.map((l, i) =>
      fromText(l, `p${i + 1}: ${l.length > 32 ? l.slice(0, 29) + '...' : l}`),
    );
  }
  const text = opts.prompt ?? DEFAULT_PROMPT;
  return [fromText(text, text.length > 40 ? text.slice(0, 37) + '...' : text)];
}

/** Runs the benchmark, writes the files; see InferenceOptions. Bad options throw ConfigError. */
export async function runInferenceBenchmark(opts: InferenceOptions = {}): Promise<InferenceResult> {
  const log = opts.log ?? (() => undefined);
  const warnings: string[] = [];
  const warn = (w: string): void => {
    warnings.push(w);
    (opts.warn ?? ((l: string) => process.stderr.write(`warning: ${l}\n`)))(w);
  };
  const config = loadModelConfig(opts.model ?? 'gpt2');
  if (config.arch === 'encoder') {
    throw new ConfigError(
      'model',
      config.name,
      'a decoder or encoder-decoder model (an encoder does not generate; use dilbench scaling)',
    );
  }
  const maxLength = intOption('maxLength', opts.maxLength, 1, config.maxPositions, 50);
  const runs = intOption('runs', opts.runs, 1, 10_000, 3);
  const warmup = intOption('warmup', opts.warmup, 0, 10_000, 1);
  const threads = intOption('threads', opts.threads, 1, 4096, defaultThreads());
  const seed = intOption('seed', opts.seed, 0, 2 ** 31 - 1, 1234);
  const implementation = opts.implementation ?? 'flash';
  if (!/^[a-z][a-z0-9_-]*$/.test(implementation))
    throw new ConfigError(
      'implementation',
      implementation,
      'an implementation name such as flash, naive',
    );
  const prompts = resolvePrompts(opts, config);
  for (const p of prompts) {
    const decoderLen = config.arch === 'decoder' ? p.tokens.length + maxLength : maxLength + 1;
    if (config.positional === 'learned' && decoderLen > config.maxPositions) {
      throw new ConfigError(
        'maxLength',
        maxLength,
        `at most ${config.maxPositions - p.tokens.length} for a ${p.tokens.length}-token prompt (${config.name} has ${config.maxPositions} positions)`,
      );
    }
    if (p.tokens.length > config.maxPositions) {
      throw new ConfigError(
        'prompt',
        p.label,
        `at most ${config.maxPositions} tokens (${p.tokens.length} given)`,
      );
    }
  }
  const dilbench = opts.dilbench ?? getDilbench();
  const binding = opts.binding ?? dilbench.models;
  // the sides the binding can run have status ok; the others are skipped with its reason (a ConfigError when none can run)
  const resolved = modelSides(opts, binding);
  const sides: SideRecord[] = resolved.sides.map((s) => ({ ...s }));
  if (resolved.deviceSelection)
    log(`--device auto: ${resolved.deviceSelection.device} (${resolved.deviceSelection.reason})`);
  const weights: ModelWeights = opts.checkpoint
    ? loadGpt2Checkpoint(opts.checkpoint, config)
    : { seed };
  const benchmarkDir = resolve(opts.benchmarkDir ?? 'inference_benchmarks');
  const simdLevel = binding.modelInfo().simdLevel;

  const runId = `run_${Date.now()}_${randomUUID().slice(0, 8)}`;
  const timestamp = new Date().toISOString();
  let parameterCount = 0;

  /** One side: its own model (built, warmed up per prompt and mode, run, disposed); a row per prompt and mode. */
  const runSide = async (side: SideRecord): Promise<ResultRow[]> => {
    const { value: model, ms: setupMs } = await timeCall((): Promise<NativeModel> =>
      binding.createModel(config, weights, placementOf(side)),
    );
    log(
      `${sideKey(side)}: model ${config.name} (${config.arch}, ${(model.parameterCount / 1e6).toFixed(1)}M parameters, ${(model.weightBytes / MIB).toFixed(1)} MiB) built in ${setupMs.toFixed(0)} ms`,
    );
    parameterCount = model.parameterCount;
    const rows: ResultRow[] = [];
    try {
      for (const p of prompts) {
        if (opts.signal?.aborted) break;
        const byMode = new Map<
          InferenceMode,
          { measurement: Measurement; results: GenerationResult[] }
        >();
        for (const mode of INFERENCE_MODES) {
          const runOpts = { implementation, threads, useCache: mode === 'kv-cache' };
          // the engine samples the generations: `warmup` discarded, then `runs` timed by the model's own step timings
          const m = await measureCalls(() => model.generate(p.tokens, maxLength, runOpts), {
            warmup,
            runs,
            durationNs: generationNs,
            signal: opts.signal,
          });
          if (!m) break; // interrupted: this prompt is not written
          byMode.set(mode, m);
          log(`  ${sideKey(side)} ${p.label}: ${mode} done (${runs} runs)`);
        }
        if (
          opts.signal?.aborted &&
          INFERENCE_MODES.some((m) => (byMode.get(m)?.results.length ?? 0) < runs)
        )
          break; // not both modes: not written
        const ref = byMode.get('kv-cache')!.results[0]!;
        let mismatch: number | null = null;
        for (const mode of INFERENCE_MODES) {
          for (const r of byMode.get(mode)!.results) {
            const m = firstMismatch(ref.tokens, r.tokens);
            if (m !== null && (mismatch === null || m < mismatch)) mismatch = m;
          }
        }
        const generatedText = config.vocabSize === GPT2_VOCAB_SIZE ? decodeGpt2(ref.tokens) : null;
        for (const mode of INFERENCE_MODES) {
          const m = byMode.get(mode)!;
          const rs = m.results;
          const mem = rs.reduce(
            (top, r) => (r.memory.peakBytes > top.peakBytes ? r.memory : top),
            rs[0]!.memory,
          );
          rows.push(
            modelRow({
              side,
              implementation,
              config,
              seqLen: p.tokens.length,
              threads,
              simdLevel,
              measurement: m.measurement,
              tokensPerRequest: maxLength,
              peakMemoryBytes: mem.peakBytes,
              params: { prompt: p.label, mode },
              model: {
                mode,
                prompt: p.label,
                promptTokens: p.tokens.length,
                newTokens: maxLength,
                prefillSamplesMs: rs.map((r) => r.prefillNs / 1e6),
                decodeMsPerTokenSamples: rs.map((r) =>
                  r.stepNs.length ? r.stepNs.reduce((a, b) => a + b, 0) / r.stepNs.length / 1e6 : 0,
                ),
                memory: {
                  weightsBytes: mem.weightsBytes,
                  kvCacheBytes: mem.kvCacheBytes,
                  workspaceBytes: mem.workspaceBytes,
                  peakBytes: mem.peakBytes,
                },
                tokens: [...rs[0]!.tokens],
                modesFirstMismatch: mismatch,
                generatedText,
              },
            }),
          );
        }
        if (mismatch !== null) {
          // fp16/bf16: the two modes round differently (cached K/V vs recomputed), so tokens may differ
          const note =
            side.dtype === 'fp32'
              ? ''
              : ` (${side.dtype}: reported, not a failure; the modes round differently)`;
          warn(
            `${sideKey(side)} ${p.label}: the KV-cache and recompute modes generated different tokens (first difference at generated token ${mismatch})${note}`,
          );
        }
      }
    } finally {
      model.dispose();
    }
    side.setupMs = setupMs;
    return rows;
  };

  const ran = await runEachSide(sides, opts.signal, runSide, (skipped) =>
    warn(`${sideKey(skipped)} skipped: ${skipped.reason}`),
  );
  const rows = ran.results.flat();
  // nothing ran: the (first) error is the answer, as for a single side
  if (!ran.results.some((r) => r.length) && ran.firstError !== undefined) throw ran.firstError;

  const interrupted = opts.signal?.aborted === true;
  const file = modelResultFile({
    command: 'inference',
    suite: 'inference',
    runId,
    createdAt: timestamp,
    interrupted,
    config: {
      model: config.name,
      implementation,
      threads,
      runs,
      warmup,
      newTokens: maxLength,
      seed,
      prompts: prompts.map((p) => ({ label: p.label, tokens: p.tokens.length })),
      ...(resolved.deviceSelection ? { deviceSelection: resolved.deviceSelection } : {}),
    } satisfies InferenceRunConfig,
    model: {
      config: { ...config },
      parameterCount,
      weightsSource: opts.checkpoint ? resolve(opts.checkpoint) : `synthetic(seed=${seed})`,
      seed,
      threads,
    },
    sides,
    rows,
    dilbench,
  });
  const metrics = inferenceMetricsOf(file);
  const { records, comparisons, sideComparisons } = metrics;
  for (const c of sideComparisons.filter((x) => !x.tokens_match_baseline)) {
    const note = c.tokens_must_match
      ? ''
      : ` (${c.side} vs ${c.baseline}: reported, not a failure)`;
    warn(
      `${c.side} ${c.prompt_label} ${c.mode}: generated tokens differ from ${c.baseline}'s from generated token ${c.first_mismatch} (${c.token_agreement_pct}% agree)${note}`,
    );
  }
  const allIdentical = comparisons.every(
    (c) => c.tokens_identical || (c.dtype ?? 'fp32') !== 'fp32',
  );
  const sidesAgree = sideComparisons.every((c) => c.tokens_match_baseline || !c.tokens_must_match);
  const result = {
    runId,
    file,
    records,
    comparisons,
    sideComparisons,
    allIdentical,
    sidesAgree,
    interrupted,
    sides: sides.map(({ setupMs: _, ...s }): ModelSide => s),
    warnings,
  };
  if (!records.length) {
    // interrupted before any prompt finished in both modes: nothing to record
    const files = { json: join(benchmarkDir, METRICS_JSON), csv: join(benchmarkDir, METRICS_CSV) };
    return {
      ...result,
      allIdentical: true,
      sidesAgree: true,
      interrupted: true,
      files: { ...files, plots: [] },
    };
  }
  // the run's result file through the results store, then the promised files as views of it
  const written = await writeResultFiles(file, benchmarkDir);
  const { json, csv, runs: allRuns } = await appendInferenceMetrics(benchmarkDir, metrics, warn);
  const plots: string[] = [];
  if (opts.plots !== false) {
    // optimization_comparison shows the baseline side (the side-by-side figures are in the JSON and the terminal)
    const baseline = rows[0]!;
    const baseRecords = records.filter(
      (r) => r.device === baseline.device && r.dtype === baseline.dtype,
    );
    const where =
      baseline.device === 'cpu'
        ? `${os.cpus()[0]?.model?.trim() ?? 'CPU'}, ${threads} threads`
        : 'CUDA device 0';
    const others = new Set(records.map((r) => `${r.device}/${r.dtype}`)).size > 1;
    const sub = `${sideKey(baseline)} on ${where}; ${implementation}${others ? '; other sides: see inference_metrics.json' : ''}`;
    const specs: [string, ReturnType<typeof optimizationComparisonSpec>][] = [
      [COMPARISON_PNG, optimizationComparisonSpec(baseRecords, sub)],
      [
        OVER_TIME_PNG,
        inferenceOverTimeSpec(allRuns, `${implementation}; one line per model, side and mode`),
      ],
    ];
    for (const [name, spec] of specs) {
      if (!spec) continue;
      try {
        await writePngAtomic(spec, join(benchmarkDir, name));
        plots.push(join(benchmarkDir, name));
      } catch (e) {
        warn(`could not render ${name}: ${(e as Error).message}`);
      }
    }
  }
  return { ...result, files: { json, csv, plots, result: written.json } };
}
