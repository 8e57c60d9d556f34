// The files `dilbench scaling` has always promised, as views of its result file
// (inference/model-result.ts): results/inference_scaling_<time>.json (raw samples per context
// length and side, the environment), tables/inference_results.csv rebuilt from every such file, and
// figs/latency_curve.png (one curve per architecture and model, and per side when a run has several).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelConfig } from '../native/model-binding.js';
import type { Environment, ResultFile, ResultRow } from '../results/types.js';
import { fileTimestamp, writeFileAtomic } from '../results/store.js';
import { summarize } from '../stats/summary.js';
import { latencyCurveSpec, type ScalingPlotRow } from '../reports/plots/scaling.js';
import { toCsvText } from '../reports/csv.js';
import { writePngAtomic } from '../inference/files.js';
import { sideComparisonsOf } from '../inference/model-result.js';
import { roundRatio, type ModelSide } from '../inference/sides.js';
import { sideKey, storedSideKey } from '../suite/sides.js';
import type { ScalingConfig } from './config.js';

export const SCALING_KIND = 'dilbench-inference-scaling';
export const SCALING_PREFIX = 'inference_scaling_';

export interface ScalingPoint {
  context_length: number;
  /** per timed run, ms: the whole request (encoder: forward; others: prefill + decode) */
  latency_samples_ms: number[];
  prefill_samples_ms: number[];
  decode_ms_per_token_samples: number[];
  peak_memory_bytes: number;
  kv_cache_bytes: number;
  /** true when the peak is estimated (encoder forward reports no memory) */
  memory_estimated: boolean;
  /** the side that ran it (absent in files before sides: cpu/fp32) */
  device?: string;
  dtype?: string;
}

/** One context length of one side against the same length of the first side that ran. */
export interface ScalingSideComparison {
  context_length: number;
  baseline: string;
  side: string;
  latency_ms: number;
  baseline_latency_ms: number;
  /** side median latency / baseline median latency (< 1: the side is faster) */
  latency_ratio: number | null;
  peak_memory_bytes: number;
  baseline_peak_memory_bytes: number;
  peak_memory_ratio: number | null;
}

export interface ScalingResultFile {
  kind: typeof SCALING_KIND;
  schemaVersion: 1;
  exp_id: string;
  runId: string;
  createdAt: string;
  config: ScalingConfig;
  model: ModelConfig;
  parameterCount: number;
  threads: number;
  environment: Environment;
  dilbenchVersion: string;
  points: ScalingPoint[];
  /** true when the run was stopped (SIGINT) before every context length ran */
  interrupted?: boolean;
  /** --compare-dtypes / --compare-devices: every side asked for; skipped ones say why */
  sides?: ModelSide[];
  /** with several sides that ran: each against the first, per context length */
  side_comparisons?: ScalingSideComparison[];
}

/** One row of tables/inference_results.csv. */
export interface ScalingTableRow extends ScalingPlotRow {
  name: string;
  run_id: string;
  created_at: string;
  implementation: string;
  num_tokens: number;
  num_runs: number;
  latency_std_ms: number;
  latency_ci95_low_ms: number;
  latency_ci95_high_ms: number;
  prefill_ms: number;
  decode_ms_per_token: number;
  throughput: number;
  throughput_unit: string;
  memory_estimated: boolean;
  threads: number;
  cpu_model: string;
  device: string;
  dtype: string;
}

export const TABLE_COLUMNS: readonly (keyof ScalingTableRow)[] = [
  'exp_id',
  'model',
  'arch',
  'context_length',
  'latency_ms',
  'throughput',
  'max_memory_gb',
  'throughput_unit',
  'latency_min_ms',
  'latency_max_ms',
  'latency_std_ms',
  'latency_ci95_low_ms',
  'latency_ci95_high_ms',
  'prefill_ms',
  'decode_ms_per_token',
  'num_tokens',
  'num_runs',
  'implementation',
  'threads',
  'memory_estimated',
  'name',
  'run_id',
  'created_at',
  'cpu_model',
  'device',
  'dtype',
];

/** The point a row measured, as the scaling file writes it. */
function pointOf(r: ResultRow): ScalingPoint {
  const mp = r.model!;
  return {
    context_length: r.seqLen,
    latency_samples_ms: r.samplesMs,
    prefill_samples_ms: mp.prefillSamplesMs,
    decode_ms_per_token_samples: mp.decodeMsPerTokenSamples,
    peak_memory_bytes: r.peakMemoryBytes ?? r.estimatedMemoryBytes,
    kv_cache_bytes: mp.memory?.kvCacheBytes ?? 0,
    memory_estimated: mp.memoryEstimated === true,
    device: r.device,
    dtype: r.dtype,
  };
}

/** results/inference_scaling_<time>.json: the view of a scaling run's result file. */
export function scalingFileOf(file: ResultFile): ScalingResultFile {
  // written by runScaling from the validated ScalingConfig; the schema keeps configs untyped
  const cfg = file.config as unknown as ScalingConfig;
  const model = file.model!;
  const rows = file.results.filter((r) => r.status === 'ok' && r.model);
  const points = rows.map(pointOf);
  const sides = (file.sides ?? []).map(({ setupMs: _, ...s }): ModelSide => s);
  // each side's latency against the first side's (the file's side comparisons), memory from the points
  const sideComparisons = sideComparisonsOf(file).flatMap((c) =>
    c.rows
      .filter((r) => r.baseline.status === 'ok' && r.other.status === 'ok')
      .map((r): ScalingSideComparison => {
        const at = (side: typeof c.baseline) =>
          points.find((p) => p.context_length === r.seqLen && storedSideKey(p) === sideKey(side))!;
        return {
          context_length: r.seqLen,
          baseline: sideKey(c.baseline),
          side: sideKey(c.other),
          latency_ms: r.other.medianMs!,
          baseline_latency_ms: r.baseline.medianMs!,
          latency_ratio: roundRatio(r.timeRatio),
          peak_memory_bytes: at(c.other).peak_memory_bytes,
          baseline_peak_memory_bytes: at(c.baseline).peak_memory_bytes,
          peak_memory_ratio: roundRatio(
            at(c.other).peak_memory_bytes / at(c.baseline).peak_memory_bytes,
          ),
        };
      }),
  );
  return {
    kind: SCALING_KIND,
    schemaVersion: 1,
    exp_id: `${cfg.name}_${fileTimestamp(file.createdAt)}`,
    runId: file.runId,
    createdAt: file.createdAt,
    config: cfg,
    // the ModelConfig the run was built from, stored as the schema's open record
    model: model.config as unknown as ModelConfig,
    parameterCount: model.parameterCount,
    threads: model.threads,
    environment: file.environment,
    dilbenchVersion: file.environment.dilbenchVersion,
    points,
    ...(file.interrupted ? { interrupted: true } : {}),
    ...(sides.length > 1 ? { sides } : {}),
    ...(sideComparisons.length ? { side_comparisons: sideComparisons } : {}),
  };
}

/** Table rows of one scaling result file. */
export function scalingRows(f: ScalingResultFile): ScalingTableRow[] {
  return f.points.map((p) => {
    const st = summarize(p.latency_samples_ms);
    const [lo, hi] = st.medianCi95Ms ?? [st.minMs, st.maxMs];
    const tokens = f.config.arch === 'encoder' ? p.context_length : f.config.num_tokens;
    return {
      exp_id: f.exp_id,
      model: f.model.name,
      arch: f.config.arch,
      context_length: p.context_length,
      latency_ms: st.medianMs,
      throughput: tokens / (st.medianMs / 1000),
      throughput_unit: f.config.arch === 'encoder' ? 'input tokens/s' : 'generated tokens/s',
      max_memory_gb: p.peak_memory_bytes / 1e9,
      latency_min_ms: st.minMs,
      latency_max_ms: st.maxMs,
      latency_std_ms: st.stdMs,
      latency_ci95_low_ms: lo,
      latency_ci95_high_ms: hi,
      prefill_ms: summarize(p.prefill_samples_ms).medianMs,
      decode_ms_per_token: summarize(p.decode_ms_per_token_samples).medianMs,
      num_tokens: f.config.arch === 'encoder' ? 0 : f.config.num_tokens,
      num_runs: p.latency_samples_ms.length,
      implementation: f.config.implementation,
      threads: f.threads,
      memory_estimated: p.memory_estimated,
      name: f.config.name,
      run_id: f.runId,
      created_at: f.createdAt,
      cpu_model: f.environment?.cpuModel ?? '',
      device: p.device ?? 'cpu',
      dtype: p.dtype ?? 'fp32',
    };
  });
}

function isScalingFile(v: unknown): v is ScalingResultFile {
  const o = v as Partial<ScalingResultFile> | null;
  return !!o && o.kind === SCALING_KIND && Array.isArray(o.points) && !!o.config && !!o.model;
}

/** Every scaling result file (inference_scaling_*.json) under `dir`, up to `depth` levels, oldest first. */
export function loadScalingFiles(
  dir: string,
  depth = 2,
): { files: { path: string; file: ScalingResultFile }[]; warnings: string[] } {
  const files: { path: string; file: ScalingResultFile }[] = [];
  const warnings: string[] = [];
  const walk = (d: string, level: number): void => {
    let names: string[];
    try {
      names = readdirSync(d, { withFileTypes: true })
        .map((e) => (e.isDirectory() ? `${e.name}/` : e.name))
        .sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (name.endsWith('/')) {
        if (level < depth && !name.startsWith('.') && name !== 'node_modules/')
          walk(join(d, name.slice(0, -1)), level + 1);
        continue;
      }
      if (!name.startsWith(SCALING_PREFIX) || !name.endsWith('.json')) continue;
      const p = join(d, name);
      try {
        const v: unknown = JSON.parse(readFileSync(p, 'utf8'));
        if (isScalingFile(v)) files.push({ path: p, file: v });
        else warnings.push(`ignored ${p}: not a scaling result file`);
      } catch (e) {
        warnings.push(`ignored ${p}: invalid JSON (${(e as Error).message})`);
      }
    }
  };
  if (existsSync(dir)) walk(dir, 0);
  files.sort((a, b) => a.file.createdAt.localeCompare(b.file.createdAt));
  return { files, warnings };
}

/**
 * Rebuilds tables/inference_results.csv and figs/latency_curve.png under `out` from every scaling
 * result file under `resultsDir`. The figure shows the latest experiment per architecture and model.
 */
export async function writeScalingOutputs(
  resultsDir: string,
  out: string,
  options: { plots?: boolean; figureFormats?: ('svg' | 'png')[] } = {},
): Promise<{
  rows: ScalingTableRow[];
  warnings: string[];
  csv: string;
  figure?: string;
  files: string[];
}> {
  const loaded = loadScalingFiles(resultsDir);
  const rows = loaded.files.flatMap((f) => scalingRows(f.file));
  const files: string[] = [];
  const csv = join(out, 'tables', 'inference_results.csv');
  writeFileAtomic(csv, toCsvText(rows, TABLE_COLUMNS));
  files.push(csv);
  let figure: string | undefined;
  if (options.plots !== false && rows.length) {
    const latest = new Map<string, string>();
    for (const f of loaded.files)
      latest.set(`${f.file.config.arch}|${f.file.model.name}`, f.file.exp_id);
    const keep = new Set(latest.values());
    const shown = rows.filter((r) => keep.has(r.exp_id));
    const cpu = shown[0]?.cpu_model ?? '';
    const spec = latencyCurveSpec(
      shown,
      `${cpu}; band: fastest to slowest run; latest experiment per architecture`,
    );
    if (spec) {
      const formats = options.figureFormats ?? ['png'];
      try {
        if (formats.includes('png')) {
          figure = join(out, 'figs', 'latency_curve.png');
          await writePngAtomic(spec, figure);
          files.push(figure);
        }
        if (formats.includes('svg')) {
          const { renderSvg } = await import('../reports/plots/render.js');
          const svg = join(out, 'figs', 'latency_curve.svg');
          writeFileAtomic(svg, await renderSvg(spec));
          files.push(svg);
        }
      } catch (e) {
        loaded.warnings.push(`could not render latency_curve: ${(e as Error).message}`);
        figure = undefined;
      }
    }
  }
  return { rows, warnings: loaded.warnings, csv, figure, files };
}
