// `dilbench inference` as a library function (issue 7): per prompt, greedy generation without a
// cache (the whole prefix recomputed each step) and with the KV cache; per mode total time,
// tokens/s, time per token, first-token latency, peak memory (weights, KV cache, workspace);
// speedup, memory change and whether both modes generated the same tokens. With several
// device/dtype sides (--compare-devices, --compare-dtypes) each side runs in turn (its own model,
// warm-up and runs; disposed before the next) and is compared with the first side that ran:
// tokens/s and peak-memory ratios and the generated tokens per prompt and mode. Runs accumulate in
// <benchmark-dir>/inference_metrics.json and .csv; optimization_comparison.png and
// performance_over_time.png are refreshed after each run.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { ConfigError } from '../config/errors.js';
import { packageVersion } from '../config/paths.js';
import { collectEnvironment } from '../env/environment.js';
import { getDilbench, type Dilbench } from '../native/dilbench.js';
import type {
  GenerationResult,
  ModelBinding,
  ModelConfig,
  ModelWeights,
  NativeModel,
} from '../native/model-binding.js';
import type { Environment } from '../results/types.js';
import { median } from '../stats/summary.js';
import type { SampleStats } from '../results/types.js';
import { generationNs, measureCalls } from '../measure/call-sampler.js';
import { timeCall } from '../measure/clock.js';
import { loadModelConfig } from '../models/config.js';
import { loadGpt2Checkpoint } from '../models/gpt2-checkpoint.js';
import { decodeGpt2, GPT2_VOCAB_SIZE, syntheticPrompt, tokenizeFor } from '../models/tokenizer.js';
import { writeFileAtomic } from '../results/store.js';
import { moveAside, writePngAtomic } from './files.js';
import { toCsvText } from '../reports/csv.js';
import { inferenceOverTimeSpec, optimizationComparisonSpec } from '../reports/plots/inference.js';
import {
  modelSides,
  runEachSide,
  placementOf,
  roundRatio,
  type ModelSide,
  type ModelSideBinding,
} from './sides.js';
import { compareSidePoints, type SidePoint } from '../suite/side-comparison.js';
import { sameSide, sideKey } from '../suite/sides.js';
import { makeDirectory } from '../results/output-dir.js';
import { withFileLock } from '../results/lock.js';

export const INFERENCE_MODES = ['recompute', 'kv-cache'] as const;
export type InferenceMode = (typeof INFERENCE_MODES)[number];

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

/** One mode of one prompt of one invocation: a row of inference_metrics.csv. */
export interface InferenceRecord {
  run_id: string;
  run_name: string;
  timestamp: string;
  model: string;
  arch: string;
  weights_source: string;
  mode: InferenceMode;
  optimized: boolean;
  prompt_label: string;
  prompt_tokens: number;
  new_tokens: number;
  runs: number;
  warmup: number;
  implementation: string;
  threads: number;
  device: string;
  seed: number;
  total_time_ms: number;
  total_time_min_ms: number;
  total_time_max_ms: number;
  total_time_std_ms: number;
  tokens_per_second: number;
  time_per_token_ms: number;
  first_token_latency_ms: number;
  decode_ms_per_token: number;
  /** GB/s needed to read the weights once per decode step (weights / decode_ms_per_token): compare with the stream bandwidth */
  decode_weights_gbps: number;
  weights_mb: number;
  kv_cache_mb: number;
  workspace_mb: number;
  peak_memory_mb: number;
  tokens_identical: boolean;
  /** kv-cache rows: recompute total time / cached total time */
  speedup: number | null;
  /** kv-cache rows: (cached peak - recompute peak) / recompute peak, in percent */
  memory_change_pct: number | null;
  generated_text: string | null;
  /** storage precision of the model: weights, KV cache and attention inputs (cpu: fp32) */
  dtype: string;
}

export interface InferenceComparison {
  run_id: string;
  timestamp: string;
  model: string;
  prompt_label: string;
  prompt_tokens: number;
  new_tokens: number;
  speedup: number;
  tokens_per_second_recompute: number;
  tokens_per_second_kv_cache: number;
  peak_memory_mb_recompute: number;
  peak_memory_mb_kv_cache: number;
  memory_change_pct: number;
  tokens_identical: boolean;
  /** index of the first generated token where the modes differ, or null */
  first_mismatch: number | null;
  /** the side the two modes ran on (absent in files before sides: cpu/fp32) */
  device?: string;
  dtype?: string;
}

/** One prompt and mode of one side against the same prompt and mode of the baseline (first) side. */
export interface InferenceSideComparison {
  run_id: string;
  timestamp: string;
  model: string;
  prompt_label: string;
  mode: InferenceMode;
  /** 'cpu/fp32': the first side that ran */
  baseline: string;
  /** 'cuda/bf16' */
  side: string;
  device: string;
  dtype: string;
  tokens_per_second: number;
  baseline_tokens_per_second: number;
  /** side tokens/s / baseline tokens/s (> 1: the side is faster) */
  tokens_per_second_ratio: number | null;
  first_token_latency_ratio: number | null;
  peak_memory_mb: number;
  baseline_peak_memory_mb: number;
  /** side peak memory / baseline peak memory */
  peak_memory_ratio: number | null;
  /** the side generated exactly the baseline's tokens */
  tokens_match_baseline: boolean;
  /** index of the first generated token that differs from the baseline's, or null */
  first_mismatch: number | null;
  /** share of generated positions with the baseline's token, percent */
  token_agreement_pct: number;
  /** both sides fp32: their tokens must agree (fp16/bf16 may differ, reported only) */
  tokens_must_match: boolean;
}

export interface InferenceMetricsFile {
  schemaVersion: 1;
  kind: 'dilbench-inference-metrics';
  runs: InferenceRecord[];
  comparisons: InferenceComparison[];
  /** side-by-side comparisons of multi-side runs (absent in files before sides) */
  side_comparisons?: InferenceSideComparison[];
  invocations: {
    run_id: string;
    timestamp: string;
    model: string;
    config: ModelConfig;
    environment: Environment;
    dilbench_version: string;
    /** model build time of the baseline side */
    setup_ms: number;
    /** the device/dtype sides asked for (--compare-dtypes, --compare-devices); skipped ones say why */
    sides?: (ModelSide & { setup_ms?: number })[];
    /** how --device auto was resolved */
    device_selection?: { requested: string; device: string; reason: string };
  }[];
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
  files: { json: string; csv: string; plots: string[] };
  warnings: string[];
}

export const METRICS_JSON = 'inference_metrics.json';
export const METRICS_CSV = 'inference_metrics.csv';
export const COMPARISON_PNG = 'optimization_comparison.png';
export const OVER_TIME_PNG = 'performance_over_time.png';

export const CSV_COLUMNS: readonly (keyof InferenceRecord)[] = [
  'run_id',
  'run_name',
  'timestamp',
  'model',
  'arch',
  'weights_source',
  'mode',
  'optimized',
  'prompt_label',
  'prompt_tokens',
  'new_tokens',
  'runs',
  'warmup',
  'implementation',
  'threads',
  'device',
  'seed',
  'total_time_ms',
  'total_time_min_ms',
  'total_time_max_ms',
  'total_time_std_ms',
  'tokens_per_second',
  'time_per_token_ms',
  'first_token_latency_ms',
  'decode_ms_per_token',
  'decode_weights_gbps',
  'weights_mb',
  'kv_cache_mb',
  'workspace_mb',
  'peak_memory_mb',
  'tokens_identical',
  'speedup',
  'memory_change_pct',
  'generated_text',
  'dtype',
];

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

function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function firstMismatch(a: Int32Array, b: Int32Array): number | null {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return null;
}

/** Reads the accumulated metrics; an unparsable or foreign file is moved aside (warning). */
export function readMetricsFile(dir: string, warn: (w: string) => void): InferenceMetricsFile {
  const empty: InferenceMetricsFile = {
    schemaVersion: 1,
    kind: 'dilbench-inference-metrics',
    runs: [],
    comparisons: [],
    invocations: [],
  };
  const path = join(dir, METRICS_JSON);
  if (!existsSync(path)) return empty;
  let ok: boolean;
  let parsed: Partial<InferenceMetricsFile> | undefined;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<InferenceMetricsFile>;
    ok = !!parsed && typeof parsed === 'object' && Array.isArray(parsed.runs);
  } catch {
    ok = false;
  }
  if (!ok || !parsed) {
    const moved = moveAside(path);
    warn(
      `DILBENCH_METRICS_MOVED: ${path} is not an inference metrics file; moved aside to ${moved}`,
    );
    const csv = join(dir, METRICS_CSV);
    if (existsSync(csv)) warn(`DILBENCH_METRICS_MOVED: ${csv} moved aside to ${moveAside(csv)}`);
    return empty;
  }
  return {
    ...empty,
    runs: parsed.runs ?? [],
    comparisons: Array.isArray(parsed.comparisons) ? parsed.comparisons : [],
    ...(Array.isArray(parsed.side_comparisons)
      ? { side_comparisons: parsed.side_comparisons }
      : {}),
    invocations: Array.isArray(parsed.invocations) ? parsed.invocations : [],
  };
}

interface ModeRuns {
  /** the timed generations */
  results: GenerationResult[];
  /** their total times (prefill + decode), ms, and the engine's statistics of them */
  samplesMs: number[];
  stats: SampleStats;
}

/** What one side produced: its records and mode comparisons, and the tokens of each prompt and mode. */
interface SideRun {
  side: ModelSide;
  setupMs: number;
  records: InferenceRecord[];
  comparisons: InferenceComparison[];
  /** prompt label -> mode -> the tokens of the first timed run */
  tokens: Map<string, Map<InferenceMode, Int32Array>>;
  /** per prompt and mode: the total and first-token times, what the sides are compared on */
  points: SidePoint[];
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
  const sides: (ModelSide & { setup_ms?: number })[] = resolved.sides.map((s) => ({ ...s }));
  if (resolved.deviceSelection)
    log(`--device auto: ${resolved.deviceSelection.device} (${resolved.deviceSelection.reason})`);
  const weights: ModelWeights = opts.checkpoint
    ? loadGpt2Checkpoint(opts.checkpoint, config)
    : { seed };
  const benchmarkDir = resolve(opts.benchmarkDir ?? 'inference_benchmarks');

  const runId = `run_${Date.now()}_${randomUUID().slice(0, 8)}`;
  const timestamp = new Date().toISOString();

  /** One side: its own model (built, warmed up per prompt and mode, run, disposed). */
  const runSide = async (side: ModelSide): Promise<SideRun> => {
    const { value: model, ms: setupMs } = await timeCall((): Promise<NativeModel> =>
      binding.createModel(config, weights, placementOf(side)),
    );
    log(
      `${sideKey(side)}: model ${config.name} (${config.arch}, ${(model.parameterCount / 1e6).toFixed(1)}M parameters, ${(model.weightBytes / MIB).toFixed(1)} MiB) built in ${setupMs.toFixed(0)} ms`,
    );
    const out: SideRun = {
      side,
      setupMs,
      records: [],
      comparisons: [],
      tokens: new Map(),
      points: [],
    };
    try {
      for (const p of prompts) {
        if (opts.signal?.aborted) break;
        const byMode = new Map<InferenceMode, ModeRuns>();
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
          byMode.set(mode, {
            results: m.results,
            samplesMs: m.measurement.samplesMs,
            stats: m.measurement.stats,
          });
          log(`  ${sideKey(side)} ${p.label}: ${mode} done (${runs} runs)`);
        }
        if (
          opts.signal?.aborted &&
          INFERENCE_MODES.some((m) => (byMode.get(m)?.results.length ?? 0) < runs)
        )
          break; // not both modes: not written
        const ref = (byMode.get('kv-cache') as ModeRuns).results[0] as GenerationResult;
        let mismatch: number | null = null;
        for (const mode of INFERENCE_MODES) {
          for (const r of (byMode.get(mode) as ModeRuns).results) {
            const m = firstMismatch(ref.tokens, r.tokens);
            if (m !== null && (mismatch === null || m < mismatch)) mismatch = m;
          }
        }
        out.tokens.set(
          p.label,
          new Map(
            INFERENCE_MODES.map(
              (m) => [m, (byMode.get(m) as ModeRuns).results[0]!.tokens] as const,
            ),
          ),
        );
        const identical = mismatch === null;
        const text = config.vocabSize === GPT2_VOCAB_SIZE ? decodeGpt2(ref.tokens) : null;
        const rec = (mode: InferenceMode): InferenceRecord => {
          const { results: rs, stats: st } = byMode.get(mode) as ModeRuns;
          const prefill = median(rs.map((r) => r.prefillNs / 1e6));
          const decode = median(
            rs.map((r) =>
              r.stepNs.length ? r.stepNs.reduce((a, b) => a + b, 0) / r.stepNs.length / 1e6 : 0,
            ),
          );
          const mem = rs.reduce(
            (m, r) => (r.memory.peakBytes > m.peakBytes ? r.memory : m),
            rs[0]!.memory,
          );
          return {
            run_id: runId,
            run_name: `${runId}_${mode === 'kv-cache' ? 'optimized' : 'baseline'}`,
            timestamp,
            model: config.name,
            arch: config.arch,
            weights_source: opts.checkpoint ? resolve(opts.checkpoint) : `synthetic(seed=${seed})`,
            mode,
            optimized: mode === 'kv-cache',
            prompt_label: p.label,
            prompt_tokens: p.tokens.length,
            new_tokens: maxLength,
            runs,
            warmup,
            implementation,
            threads,
            device: side.device,
            seed,
            total_time_ms: round(st.medianMs),
            total_time_min_ms: round(st.minMs),
            total_time_max_ms: round(st.maxMs),
            total_time_std_ms: round(st.stdMs),
            tokens_per_second: round(maxLength / (st.medianMs / 1000), 3),
            time_per_token_ms: round(st.medianMs / maxLength),
            first_token_latency_ms: round(prefill),
            decode_ms_per_token: round(decode),
            decode_weights_gbps:
              decode > 0 ? round(mem.weightsBytes / (decode / 1000) / 1e9, 3) : 0,
            weights_mb: round(mem.weightsBytes / MIB, 3),
            kv_cache_mb: round(mem.kvCacheBytes / MIB, 3),
            workspace_mb: round(mem.workspaceBytes / MIB, 3),
            peak_memory_mb: round(mem.peakBytes / MIB, 3),
            tokens_identical: identical,
            speedup: null,
            memory_change_pct: null,
            generated_text: text,
            dtype: side.dtype,
          };
        };
        const base = rec('recompute');
        const opt = rec('kv-cache');
        opt.speedup = round(base.total_time_ms / opt.total_time_ms, 3);
        opt.memory_change_pct = round(
          ((opt.peak_memory_mb - base.peak_memory_mb) / base.peak_memory_mb) * 100,
          2,
        );
        out.records.push(base, opt);
        for (const mode of INFERENCE_MODES) {
          const { results: rs, samplesMs } = byMode.get(mode) as ModeRuns;
          const point = {
            side,
            name: mode,
            length: p.tokens.length,
            peakMemoryBytes: Math.max(...rs.map((r) => r.memory.peakBytes)),
            threads,
          };
          out.points.push(
            { ...point, params: { prompt: p.label, measure: 'total' }, samplesMs },
            {
              ...point,
              params: { prompt: p.label, measure: 'first-token' },
              samplesMs: rs.map((r) => r.prefillNs / 1e6),
            },
          );
        }
        out.comparisons.push({
          run_id: runId,
          timestamp,
          model: config.name,
          prompt_label: p.label,
          prompt_tokens: p.tokens.length,
          new_tokens: maxLength,
          speedup: opt.speedup,
          tokens_per_second_recompute: base.tokens_per_second,
          tokens_per_second_kv_cache: opt.tokens_per_second,
          peak_memory_mb_recompute: base.peak_memory_mb,
          peak_memory_mb_kv_cache: opt.peak_memory_mb,
          memory_change_pct: opt.memory_change_pct,
          tokens_identical: identical,
          first_mismatch: mismatch,
          device: side.device,
          dtype: side.dtype,
        });
        if (!identical) {
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
    return out;
  };

  const ran = await runEachSide(
    sides,
    opts.signal,
    async (side: ModelSide & { setup_ms?: number }) => {
      const r = await runSide(side);
      side.setup_ms = round(r.setupMs, 2);
      return r;
    },
    (skipped) => warn(`${sideKey(skipped)} skipped: ${skipped.reason}`),
  );
  const done = ran.results.filter((r) => r.records.length);
  const firstError = ran.firstError;
  // nothing ran: the (first) error is the answer, as for a single side
  if (!done.length && firstError !== undefined) throw firstError;

  const records = done.flatMap((d) => d.records);
  const comparisons = done.flatMap((d) => d.comparisons);
  const sideComparisons = compareSides(done, { runId, timestamp, model: config.name });
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

  // accumulate under a lock: concurrent runs on one directory lose no records
  const json = join(benchmarkDir, METRICS_JSON);
  const csv = join(benchmarkDir, METRICS_CSV);
  const invocation = {
    run_id: runId,
    timestamp,
    model: config.name,
    config,
    environment: collectEnvironment(dilbench.tryAddon()),
    dilbench_version: packageVersion(),
    setup_ms: round(done[0]?.setupMs ?? 0, 2),
    ...(sides.length > 1 ? { sides } : {}),
    ...(resolved.deviceSelection ? { device_selection: resolved.deviceSelection } : {}),
  };
  const interrupted = opts.signal?.aborted === true;
  if (!records.length) {
    // interrupted before any prompt finished in both modes: nothing to record
    return {
      runId,
      records,
      comparisons,
      sideComparisons,
      allIdentical: true,
      sidesAgree: true,
      interrupted: true,
      sides,
      files: { json, csv, plots: [] },
      warnings,
    };
  }
  // the results' lock rule (results/lock.ts), waiting up to 60 s for another run's write
  makeDirectory(benchmarkDir);
  const allRuns = await withFileLock(
    json,
    () => {
      const stored = readMetricsFile(benchmarkDir, warn);
      stored.runs.push(...records);
      stored.comparisons.push(...comparisons);
      if (sideComparisons.length || stored.side_comparisons)
        stored.side_comparisons = [...(stored.side_comparisons ?? []), ...sideComparisons];
      stored.invocations.push(invocation);
      writeFileAtomic(json, JSON.stringify(stored, null, 2) + '\n');
      writeFileAtomic(csv, toCsvText(stored.runs, CSV_COLUMNS));
      return stored.runs;
    },
    { timeoutMs: 60_000 },
  );
  const plots: string[] = [];
  if (opts.plots !== false) {
    // optimization_comparison shows the baseline side (the side-by-side figures are in the JSON and the terminal)
    const baseline = done[0]!;
    const where =
      baseline.side.device === 'cpu'
        ? `${os.cpus()[0]?.model?.trim() ?? 'CPU'}, ${threads} threads`
        : 'CUDA device 0';
    const sub = `${sideKey(baseline.side)} on ${where}; ${implementation}${done.length > 1 ? '; other sides: see inference_metrics.json' : ''}`;
    const specs: [string, ReturnType<typeof optimizationComparisonSpec>][] = [
      [COMPARISON_PNG, optimizationComparisonSpec(baseline.records, sub)],
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
  return {
    runId,
    records,
    comparisons,
    sideComparisons,
    allIdentical,
    sidesAgree,
    interrupted,
    sides,
    files: { json, csv, plots },
    warnings,
  };
}

/**
 * Every side after the first against the first, per prompt and mode both ran: times and memory
 * through the one side comparison (suite/side-comparison.ts), tokens here.
 */
function compareSides(
  done: SideRun[],
  at: { runId: string; timestamp: string; model: string },
): InferenceSideComparison[] {
  const [base] = done;
  if (!base) return [];
  const out: InferenceSideComparison[] = [];
  for (const c of compareSidePoints(
    done.flatMap((d) => d.points),
    base.side,
  )) {
    const o = done.find((d) => sameSide(d.side, c.other))!;
    const compared = (r: InferenceRecord, measure: string) =>
      c.rows.find(
        (x) =>
          x.implementation === r.mode &&
          x.params?.prompt === r.prompt_label &&
          x.params?.measure === measure,
      );
    for (const r of o.records) {
      const b = base.records.find((x) => x.prompt_label === r.prompt_label && x.mode === r.mode);
      const bt = base.tokens.get(r.prompt_label)?.get(r.mode);
      const ot = o.tokens.get(r.prompt_label)?.get(r.mode);
      if (!b || !bt || !ot) continue; // the baseline was interrupted before this prompt
      const total = compared(r, 'total');
      const mismatch = firstMismatch(bt, ot);
      let same = 0;
      for (let i = 0; i < Math.min(bt.length, ot.length); i++) if (bt[i] === ot[i]) same++;
      out.push({
        run_id: at.runId,
        timestamp: at.timestamp,
        model: at.model,
        prompt_label: r.prompt_label,
        mode: r.mode,
        baseline: sideKey(base.side),
        side: sideKey(o.side),
        device: o.side.device,
        dtype: o.side.dtype,
        tokens_per_second: r.tokens_per_second,
        baseline_tokens_per_second: b.tokens_per_second,
        // tokens/s is new_tokens / median time: its ratio is the inverse of the time ratio
        tokens_per_second_ratio: roundRatio(total?.timeRatio ? 1 / total.timeRatio : null),
        first_token_latency_ratio: roundRatio(compared(r, 'first-token')?.timeRatio ?? null),
        peak_memory_mb: r.peak_memory_mb,
        baseline_peak_memory_mb: b.peak_memory_mb,
        peak_memory_ratio: roundRatio(total?.memoryRatio ?? null),
        tokens_match_baseline: mismatch === null,
        first_mismatch: mismatch,
        token_agreement_pct: round((same / Math.max(1, bt.length, ot.length)) * 100, 2),
        tokens_must_match: base.side.dtype === 'fp32' && o.side.dtype === 'fp32',
      });
    }
  }
  return out;
}
