// inference_metrics.json and .csv, the files `dilbench inference` has always promised: a view of
// each run's result file (inference/model-result.ts), appended under the results' lock rule
// (results/lock.ts) so that runs accumulate and concurrent runs on one directory lose no record.
// The CSV is written by the results' CSV writer (reports/csv.ts).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ModelConfig } from '../native/model-binding.js';
import type { Environment, ResultFile, ResultRow } from '../results/types.js';
import { withFileLock } from '../results/lock.js';
import { makeDirectory } from '../results/output-dir.js';
import { writeFileAtomic } from '../results/store.js';
import { toCsvText } from '../reports/csv.js';
import { median, summarize } from '../stats/summary.js';
import { compareWithBaseline } from '../suite/side-comparison.js';
import { sameSide, sideKey, storedSideKey } from '../suite/sides.js';
import { moveAside } from './files.js';
import { sideComparisonsOf } from './model-result.js';
import { roundRatio, type ModelSide } from './sides.js';

export const INFERENCE_MODES = ['recompute', 'kv-cache'] as const;
export type InferenceMode = (typeof INFERENCE_MODES)[number];

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

/** The config block of an inference result file. */
export interface InferenceRunConfig {
  model: string;
  implementation: string;
  threads: number;
  runs: number;
  warmup: number;
  /** tokens generated after each prompt */
  newTokens: number;
  seed: number;
  prompts: { label: string; tokens: number }[];
  /** how --device auto was resolved */
  deviceSelection?: { requested: string; device: string; reason: string };
}

/** One invocation's entry of inference_metrics.json. */
export type InferenceInvocation = InferenceMetricsFile['invocations'][number];

/** What one run adds to inference_metrics.json, read from its result file. */
export interface InferenceMetrics {
  records: InferenceRecord[];
  comparisons: InferenceComparison[];
  sideComparisons: InferenceSideComparison[];
  invocation: InferenceInvocation;
}

const MIB = 1024 * 1024;

function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function firstMismatch(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return null;
}

const modeOf = (r: ResultRow): InferenceMode => r.model!.mode!;
const promptOf = (r: ResultRow): string => r.model!.prompt!;

/** inference_metrics.json's records, mode comparisons, side comparisons and invocation of one result file. */
export function inferenceMetricsOf(file: ResultFile): InferenceMetrics {
  // written by runInferenceBenchmark as an InferenceRunConfig (`satisfies` there); the schema keeps configs untyped
  const cfg = file.config as unknown as InferenceRunConfig;
  const model = file.model!;
  const at = { run_id: file.runId, timestamp: file.createdAt, model: model.config.name };
  const rows = file.results.filter((r) => r.status === 'ok' && r.model?.mode);
  const record = (r: ResultRow): InferenceRecord => {
    const st = r.stats!;
    const mp = r.model!;
    const mode = modeOf(r);
    const prefill = median(mp.prefillSamplesMs);
    const decode = median(mp.decodeMsPerTokenSamples);
    const mem = mp.memory!;
    return {
      run_id: at.run_id,
      run_name: `${at.run_id}_${mode === 'kv-cache' ? 'optimized' : 'baseline'}`,
      timestamp: at.timestamp,
      model: at.model,
      arch: model.config.arch,
      weights_source: model.weightsSource,
      mode,
      optimized: mode === 'kv-cache',
      prompt_label: promptOf(r),
      prompt_tokens: mp.promptTokens,
      new_tokens: mp.newTokens,
      runs: cfg.runs,
      warmup: cfg.warmup,
      implementation: r.implementation,
      threads: r.threads,
      device: r.device,
      seed: model.seed,
      total_time_ms: round(st.medianMs),
      total_time_min_ms: round(st.minMs),
      total_time_max_ms: round(st.maxMs),
      total_time_std_ms: round(st.stdMs),
      tokens_per_second: round(mp.newTokens / (st.medianMs / 1000), 3),
      time_per_token_ms: round(st.medianMs / mp.newTokens),
      first_token_latency_ms: round(prefill),
      decode_ms_per_token: round(decode),
      decode_weights_gbps:
        decode > 0 ? round((mem.weightsBytes ?? 0) / (decode / 1000) / 1e9, 3) : 0,
      weights_mb: round((mem.weightsBytes ?? 0) / MIB, 3),
      kv_cache_mb: round(mem.kvCacheBytes / MIB, 3),
      workspace_mb: round((mem.workspaceBytes ?? 0) / MIB, 3),
      peak_memory_mb: round(mem.peakBytes / MIB, 3),
      tokens_identical: mp.modesFirstMismatch === null,
      speedup: null,
      memory_change_pct: null,
      generated_text: mp.generatedText ?? null,
      dtype: r.dtype,
    };
  };
  const records: InferenceRecord[] = [];
  const comparisons: InferenceComparison[] = [];
  // the rows come as side, prompt, then recompute and kv-cache
  for (const r of rows.filter((x) => modeOf(x) === 'kv-cache')) {
    const b = rows.find(
      (x) => modeOf(x) === 'recompute' && promptOf(x) === promptOf(r) && sameSide(x, r),
    );
    if (!b) continue;
    const base = record(b);
    const opt = record(r);
    opt.speedup = round(base.total_time_ms / opt.total_time_ms, 3);
    opt.memory_change_pct = round(
      ((opt.peak_memory_mb - base.peak_memory_mb) / base.peak_memory_mb) * 100,
      2,
    );
    records.push(base, opt);
    comparisons.push({
      ...at,
      prompt_label: opt.prompt_label,
      prompt_tokens: opt.prompt_tokens,
      new_tokens: opt.new_tokens,
      speedup: opt.speedup,
      tokens_per_second_recompute: base.tokens_per_second,
      tokens_per_second_kv_cache: opt.tokens_per_second,
      peak_memory_mb_recompute: base.peak_memory_mb,
      peak_memory_mb_kv_cache: opt.peak_memory_mb,
      memory_change_pct: opt.memory_change_pct,
      tokens_identical: opt.tokens_identical,
      first_mismatch: r.model!.modesFirstMismatch ?? null,
      device: r.device,
      dtype: r.dtype,
    });
  }
  const sides = file.sides ?? [];
  const ran = sides.find((s) => rows.some((r) => sameSide(r, s)));
  return {
    records,
    comparisons,
    sideComparisons: sideComparisonsView(file, rows, records),
    invocation: {
      ...at,
      // the ModelConfig the run was built from, stored as the schema's open record
      config: model.config as unknown as ModelConfig,
      environment: file.environment,
      dilbench_version: file.environment.dilbenchVersion,
      setup_ms: round(ran?.setupMs ?? 0, 2),
      ...(sides.length > 1
        ? {
            sides: sides.map(({ setupMs, ...s }): ModelSide & { setup_ms?: number } => ({
              ...s,
              ...(setupMs !== undefined ? { setup_ms: round(setupMs, 2) } : {}),
            })),
          }
        : {}),
      ...(cfg.deviceSelection ? { device_selection: cfg.deviceSelection } : {}),
    },
  };
}

/**
 * Every side after the first against the first, per prompt and mode both ran: times and memory
 * from the file's side comparisons (the first-token times through the same comparison), tokens here.
 */
function sideComparisonsView(
  file: ResultFile,
  rows: ResultRow[],
  records: InferenceRecord[],
): InferenceSideComparison[] {
  const baseRow = rows[0];
  if (!baseRow) return [];
  const base = { device: baseRow.device, dtype: baseRow.dtype };
  const firstToken = compareWithBaseline(
    rows.map((r) => ({
      ...r,
      samplesMs: r.model!.prefillSamplesMs,
      stats: summarize(r.model!.prefillSamplesMs),
    })),
    base,
  );
  const at = (r: ResultRow | InferenceRecord) =>
    'prompt_label' in r ? [r.prompt_label, r.mode] : [promptOf(r), modeOf(r)];
  const samePoint = (a: ResultRow | InferenceRecord, b: ResultRow | InferenceRecord) =>
    at(a)[0] === at(b)[0] && at(a)[1] === at(b)[1];
  const out: InferenceSideComparison[] = [];
  for (const c of sideComparisonsOf(file)) {
    const ft = firstToken.find((x) => sameSide(x.other, c.other));
    const compared = (rs: typeof c.rows, r: InferenceRecord) =>
      rs.find((x) => x.params?.prompt === r.prompt_label && x.params?.mode === r.mode);
    for (const r of records.filter((x) => sideKey(c.other) === storedSideKey(x))) {
      const b = records.find((x) => sideKey(base) === storedSideKey(x) && samePoint(x, r));
      const bt = rows.find((x) => sameSide(x, base) && samePoint(x, r))?.model?.tokens;
      const ot = rows.find((x) => sameSide(x, c.other) && samePoint(x, r))?.model?.tokens;
      if (!b || !bt || !ot) continue; // the baseline was interrupted before this prompt
      const total = compared(c.rows, r);
      const mismatch = firstMismatch(bt, ot);
      let same = 0;
      for (let i = 0; i < Math.min(bt.length, ot.length); i++) if (bt[i] === ot[i]) same++;
      out.push({
        run_id: file.runId,
        timestamp: file.createdAt,
        model: file.model!.config.name,
        prompt_label: r.prompt_label,
        mode: r.mode,
        baseline: sideKey(base),
        side: sideKey(c.other),
        device: c.other.device,
        dtype: c.other.dtype,
        tokens_per_second: r.tokens_per_second,
        baseline_tokens_per_second: b.tokens_per_second,
        // tokens/s is new_tokens / median time: its ratio is the inverse of the time ratio
        tokens_per_second_ratio: roundRatio(total?.timeRatio ? 1 / total.timeRatio : null),
        first_token_latency_ratio: roundRatio((ft && compared(ft.rows, r)?.timeRatio) ?? null),
        peak_memory_mb: r.peak_memory_mb,
        baseline_peak_memory_mb: b.peak_memory_mb,
        peak_memory_ratio: roundRatio(total?.memoryRatio ?? null),
        tokens_match_baseline: mismatch === null,
        first_mismatch: mismatch,
        token_agreement_pct: round((same / Math.max(1, bt.length, ot.length)) * 100, 2),
        tokens_must_match: base.dtype === 'fp32' && c.other.dtype === 'fp32',
      });
    }
  }
  return out;
}

/**
 * Appends one run to <dir>/inference_metrics.json and rewrites inference_metrics.csv from every
 * record, under the results' lock (waiting up to 60 s for another run's write); returns every
 * record the file now holds.
 */
export async function appendInferenceMetrics(
  dir: string,
  metrics: InferenceMetrics,
  warn: (w: string) => void,
): Promise<{ json: string; csv: string; runs: InferenceRecord[] }> {
  const json = join(dir, METRICS_JSON);
  const csv = join(dir, METRICS_CSV);
  makeDirectory(dir);
  const runs = await withFileLock(
    json,
    () => {
      const stored = readMetricsFile(dir, warn);
      stored.runs.push(...metrics.records);
      stored.comparisons.push(...metrics.comparisons);
      if (metrics.sideComparisons.length || stored.side_comparisons)
        stored.side_comparisons = [...(stored.side_comparisons ?? []), ...metrics.sideComparisons];
      stored.invocations.push(metrics.invocation);
      writeFileAtomic(json, JSON.stringify(stored, null, 2) + '\n');
      writeFileAtomic(csv, toCsvText(stored.runs, CSV_COLUMNS));
      return stored.runs;
    },
    { timeoutMs: 60_000 },
  );
  return { json: resolve(json), csv: resolve(csv), runs };
}
