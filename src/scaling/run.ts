// `dilbench scaling` as a library function (issue 7): latency and peak memory vs context length.
//   encoder:          one forward pass over context_length tokens;
//   decoder:          prefill of context_length tokens + num_tokens decode steps (KV cache);
//   encoder-decoder:  encode context_length tokens once, then num_tokens decoder steps with
//                     cross-attention over the encoder output.
// Writes <out>/results/inference_scaling_<timestamp>.json (raw samples + environment), rebuilds
// <out>/tables/inference_results.csv from every such file in <out>/results and renders
// <out>/figs/latency_curve.png (one curve per architecture and model, and per device/dtype side
// when a run has several). With several sides (--compare-devices, --compare-dtypes) each side runs
// every context length on its own model (disposed before the next side); points and rows carry
// the side, and each side's latency and peak memory are compared with the first side's.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { ConfigError } from '../config/errors.js';
import { packageVersion } from '../config/paths.js';
import { collectEnvironment } from '../env/environment.js';
import { getDilbench, type Dilbench } from '../native/dilbench.js';
import type { ModelBinding, ModelConfig, NativeModel } from '../native/model-binding.js';
import type { Environment } from '../results/types.js';
import { fileTimestamp, writeFileAtomic, writeFileAtomicExclusive } from '../results/store.js';
import { median, summarize } from '../stats/summary.js';
import { generationNs, measureCalls } from '../measure/call-sampler.js';
import { headDimOf, loadModelConfig } from '../models/config.js';
import { syntheticPrompt } from '../models/tokenizer.js';
import { latencyCurveSpec, type ScalingPlotRow } from '../reports/plots/scaling.js';
import { writePngAtomic } from '../inference/files.js';
import { toCsvText } from '../reports/csv.js';
import { loadScalingConfig, validateScalingConfig, type ScalingConfig } from './config.js';
import {
  modelSides,
  runEachSide,
  placementOf,
  roundRatio,
  type ModelSide,
  type ModelSideBinding,
} from '../inference/sides.js';
import { compareSidePoints } from '../suite/side-comparison.js';
import type { DeviceName, DTypeName } from '../native/binding.js';
import { sideKey, type RunSide } from '../suite/sides.js';

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

export interface ScalingOptions {
  /** a YAML path or an already validated config */
  config: string | ScalingConfig;
  /** output root (default benchmark_results) */
  out?: string;
  threads?: number;
  plots?: boolean;
  /** cpu (default), cuda or auto (cuda when the binding reports a device) */
  device?: string;
  /** fp32 (default); fp16/bf16 run on cuda only */
  dtype?: string;
  /** e.g. 'fp32,bf16': every dtype is a side; those the binding cannot run are recorded as skipped with the reason */
  compareDtypes?: string | string[];
  /** cpu and cuda sides (cuda skipped with the reason when the binding has no CUDA model or device) */
  compareDevices?: boolean;
  /** the Dilbench object (getDilbench()) whose model binding runs; omitted: getDilbench() */
  dilbench?: Dilbench;
  /** the model binding (tests: a fake); info() tells the CUDA devices */
  binding?: ModelBinding & Partial<Pick<ModelSideBinding, 'info'>>;
  log?: (line: string) => void;
  /** stops at the next run boundary; the lengths finished so far are written (interrupted: true) */
  signal?: AbortSignal;
}

export interface ScalingRunResult {
  file: ScalingResultFile;
  files: { json: string; csv: string; figure?: string };
  rows: ScalingTableRow[];
  warnings: string[];
}

/** Peak memory of an encoder forward, estimated: weights + activations of one layer + attention scores of one head block. */
function encoderMemoryEstimate(c: ModelConfig, weightBytes: number, n: number): number {
  const act = n * (4 * c.hidden + c.intermediate + c.heads * headDimOf(c) * 3) * 4;
  return weightBytes + act;
}

export async function runScaling(opts: ScalingOptions): Promise<ScalingRunResult> {
  const log = opts.log ?? (() => undefined);
  const cfg =
    typeof opts.config === 'string'
      ? loadScalingConfig(opts.config)
      : validateScalingConfig(opts.config);
  const where = typeof opts.config === 'string' ? opts.config : 'config';
  let model: ModelConfig;
  try {
    model = loadModelConfig(cfg.model);
  } catch (e) {
    if (e instanceof ConfigError && e.field === 'model')
      throw new ConfigError(`${where}: model`, cfg.model, e.allowed, e.detail);
    throw e;
  }
  if (model.arch !== cfg.arch) {
    throw new ConfigError(
      `${where}: arch`,
      cfg.arch,
      `the architecture of model ${model.name} (${model.arch})`,
    );
  }
  const decoderTokens = cfg.arch === 'encoder' ? 0 : cfg.num_tokens;
  const needed = (l: number): number =>
    cfg.arch === 'decoder'
      ? l + decoderTokens
      : cfg.arch === 'encoder-decoder'
        ? Math.max(l, decoderTokens + 1)
        : l;
  const tooLong = cfg.context_lengths.filter(
    (l) => model.positional === 'learned' && needed(l) > model.maxPositions,
  );
  if (tooLong.length) {
    throw new ConfigError(
      `${where}: context_lengths`,
      cfg.context_lengths,
      `lengths with context${cfg.arch === 'decoder' ? ' + num_tokens' : ''} <= ${model.maxPositions} (${model.name} positions); too long: ${tooLong.join(', ')}`,
    );
  }
  const threads =
    opts.threads ??
    cfg.threads ??
    (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
  const out = resolve(opts.out ?? 'benchmark_results');
  const dilbench = opts.dilbench ?? getDilbench();
  const binding = opts.binding ?? dilbench.models;
  // the sides the binding can run have status ok; the others are skipped with its reason (a ConfigError when none can run)
  const resolved = modelSides(opts, binding);
  const sides: ModelSide[] = resolved.sides.map((x) => ({ ...x }));
  if (resolved.deviceSelection)
    log(`--device auto: ${resolved.deviceSelection.device} (${resolved.deviceSelection.reason})`);
  const seed = cfg.seed ?? 1234;
  const runOpts = { implementation: cfg.implementation, threads, useCache: true };

  /** Every context length on one side's own model. */
  const runSide = async (
    side: ModelSide,
  ): Promise<{ points: ScalingPoint[]; parameterCount: number }> => {
    const nm: NativeModel = await binding.createModel(model, { seed }, placementOf(side));
    log(
      `${cfg.name} ${sideKey(side)}: ${model.name} (${model.arch}, ${(nm.parameterCount / 1e6).toFixed(1)}M parameters), lengths ${cfg.context_lengths.join(', ')}`,
    );
    const points: ScalingPoint[] = [];
    try {
      for (const L of cfg.context_lengths) {
        if (opts.signal?.aborted) break;
        const prompt = syntheticPrompt(L, model.vocabSize, seed + L);
        const p: ScalingPoint = {
          context_length: L,
          latency_samples_ms: [],
          prefill_samples_ms: [],
          decode_ms_per_token_samples: [],
          peak_memory_bytes: 0,
          kv_cache_bytes: 0,
          memory_estimated: false,
          device: side.device,
          dtype: side.dtype,
        };
        // the engine samples the requests: warmup_runs discarded, then num_runs timed
        const counts = { warmup: cfg.warmup_runs, runs: cfg.num_runs, signal: opts.signal };
        if (cfg.arch === 'encoder') {
          // forward returns no timings: the engine's clock around it (on cuda it includes the copy of the hidden states back)
          const m = await measureCalls(
            () => nm.forward(prompt, { implementation: cfg.implementation, threads }),
            { ...counts, keepResults: false },
          );
          if (!m) break; // interrupted inside this length: not a full point
          p.latency_samples_ms = m.measurement.samplesMs;
          p.prefill_samples_ms = m.measurement.samplesMs.slice();
          p.decode_ms_per_token_samples = m.measurement.samplesMs.map(() => 0);
          p.peak_memory_bytes = encoderMemoryEstimate(model, nm.weightBytes, L);
          p.memory_estimated = true;
        } else {
          const m = await measureCalls(() => nm.generate(prompt, decoderTokens, runOpts), {
            ...counts,
            durationNs: generationNs,
          });
          if (!m) break; // interrupted inside this length: not a full point
          p.latency_samples_ms = m.measurement.samplesMs;
          for (const r of m.results) {
            p.prefill_samples_ms.push(r.prefillNs / 1e6);
            p.decode_ms_per_token_samples.push(
              r.stepNs.length ? r.stepNs.reduce((a, b) => a + b, 0) / r.stepNs.length / 1e6 : 0,
            );
          }
          // peaks over every request, warm-up included
          for (const r of m.all) {
            p.peak_memory_bytes = Math.max(p.peak_memory_bytes, r.memory.peakBytes);
            p.kv_cache_bytes = Math.max(p.kv_cache_bytes, r.memory.kvCacheBytes);
          }
        }
        points.push(p);
        log(
          `  ${sideKey(side)} context ${L}: median ${median(p.latency_samples_ms).toFixed(2)} ms`,
        );
      }
    } finally {
      nm.dispose();
    }
    return { points, parameterCount: nm.parameterCount };
  };

  const warnings: string[] = [];
  const points: ScalingPoint[] = [];
  let parameterCount = 0;
  const { results, firstError } = await runEachSide(sides, opts.signal, runSide, (skipped) =>
    warnings.push(`${cfg.name}: ${sideKey(skipped)} skipped: ${skipped.reason}`),
  );
  for (const r of results) {
    points.push(...r.points);
    parameterCount = r.parameterCount;
  }
  if (!results.length && firstError !== undefined) throw firstError; // nothing ran: the error is the answer, as for one side
  const sideComparisons = compareScalingSides(points);
  const createdAt = new Date().toISOString();
  const file: ScalingResultFile = {
    kind: SCALING_KIND,
    schemaVersion: 1,
    exp_id: `${cfg.name}_${fileTimestamp(createdAt)}`,
    runId: randomUUID(),
    createdAt,
    config: cfg,
    model,
    parameterCount,
    threads,
    environment: collectEnvironment(dilbench.tryAddon()),
    dilbenchVersion: packageVersion(),
    points,
    ...(opts.signal?.aborted ? { interrupted: true } : {}),
    ...(sides.length > 1 ? { sides } : {}),
    ...(sideComparisons.length ? { side_comparisons: sideComparisons } : {}),
  };
  const resultsDir = join(out, 'results');
  const text = JSON.stringify(file, null, 2) + '\n';
  let json = join(resultsDir, `${SCALING_PREFIX}${fileTimestamp(createdAt)}.json`);
  for (let n = 2; !writeFileAtomicExclusive(json, text); n++)
    json = join(resultsDir, `${SCALING_PREFIX}${fileTimestamp(createdAt)}-${n}.json`);
  const outputs = await writeScalingOutputs(resultsDir, out, { plots: opts.plots !== false });
  return {
    file,
    files: { json, csv: outputs.csv, figure: outputs.figure },
    rows: outputs.rows,
    warnings: [...warnings, ...outputs.warnings],
  };
}

/** Each side's points against the first side's, per context length both finished (suite/side-comparison.ts). */
export function compareScalingSides(points: ScalingPoint[]): ScalingSideComparison[] {
  const first = points[0];
  if (!first) return [];
  const sideOf = (p: ScalingPoint): RunSide => ({
    device: (p.device ?? 'cpu') as DeviceName,
    dtype: (p.dtype ?? 'fp32') as DTypeName,
  });
  const baseline = sideOf(first);
  const compared = compareSidePoints(
    points.map((p) => ({
      side: sideOf(p),
      name: 'request',
      length: p.context_length,
      samplesMs: p.latency_samples_ms,
      peakMemoryBytes: p.peak_memory_bytes,
      threads: 0,
    })),
    baseline,
  );
  return compared.flatMap((c) =>
    c.rows
      .filter((r) => r.baseline.status === 'ok' && r.other.status === 'ok')
      .map((r) => ({
        context_length: r.seqLen,
        baseline: sideKey(c.baseline),
        side: sideKey(c.other),
        latency_ms: r.other.medianMs!,
        baseline_latency_ms: r.baseline.medianMs!,
        latency_ratio: roundRatio(r.timeRatio),
        peak_memory_bytes: r.other.peakMemoryBytes!,
        baseline_peak_memory_bytes: r.baseline.peakMemoryBytes!,
        peak_memory_ratio: roundRatio(r.memoryRatio),
      })),
  );
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
