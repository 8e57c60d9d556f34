// `dilbench scaling` as a library function (issue 7): latency and peak memory vs context length.
//   encoder:          one forward pass over context_length tokens;
//   decoder:          prefill of context_length tokens + num_tokens decode steps (KV cache);
//   encoder-decoder:  encode context_length tokens once, then num_tokens decoder steps with
//                     cross-attention over the encoder output.
// With several sides (--compare-devices, --compare-dtypes) each side runs every context length on
// its own model (disposed before the next side) and is compared with the first side. The run is
// one result file (the suites' schema, inference/model-result.ts) written by the results store to
// <out>/results/scaling_<timestamp>.json|.csv|.md; the files this command promises are views of it
// (files.ts): <out>/results/inference_scaling_<timestamp>.json, <out>/tables/inference_results.csv
// (from every such file in <out>/results) and <out>/figs/latency_curve.png.
import os from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError } from '../config/errors.js';
import { getDilbench, type Dilbench } from '../native/dilbench.js';
import type { ModelBinding, ModelConfig, NativeModel } from '../native/model-binding.js';
import type { ResultFile, ResultRow, SideRecord } from '../results/types.js';
import { fileTimestamp, writeFileAtomicExclusive } from '../results/store.js';
import { median } from '../stats/summary.js';
import { generationNs, measureCalls } from '../measure/call-sampler.js';
import { headDimOf, loadModelConfig } from '../models/config.js';
import { syntheticPrompt } from '../models/tokenizer.js';
import { writeResultFiles } from '../reports/write.js';
import { modelResultFile, modelRow } from '../inference/model-result.js';
import { modelSides, placementOf, type ModelSideBinding } from '../inference/sides.js';
import { runEachSide } from '../suite/in-turn.js';
import { sideKey } from '../suite/sides.js';
import { loadScalingConfig, validateScalingConfig, type ScalingConfig } from './config.js';
import {
  SCALING_PREFIX,
  scalingFileOf,
  writeScalingOutputs,
  type ScalingResultFile,
  type ScalingTableRow,
} from './files.js';

export {
  loadScalingFiles,
  scalingFileOf,
  scalingRows,
  writeScalingOutputs,
  SCALING_KIND,
  SCALING_PREFIX,
  TABLE_COLUMNS,
  type ScalingPoint,
  type ScalingResultFile,
  type ScalingSideComparison,
  type ScalingTableRow,
} from './files.js';

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
  /** results/inference_scaling_<time>.json: a view of `result` */
  file: ScalingResultFile;
  /** the run's result file (the suites' schema), written as results/scaling_<time>.json|.csv|.md */
  result: ResultFile;
  files: { json: string; csv: string; figure?: string; result: string };
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
  const sides: SideRecord[] = resolved.sides.map((x) => ({ ...x }));
  if (resolved.deviceSelection)
    log(`--device auto: ${resolved.deviceSelection.device} (${resolved.deviceSelection.reason})`);
  const seed = cfg.seed ?? 1234;
  const runOpts = { implementation: cfg.implementation, threads, useCache: true };
  const simdLevel = binding.modelInfo().simdLevel;
  let parameterCount = 0;

  /** Every context length on one side's own model: a row per length. */
  const runSide = async (side: SideRecord): Promise<ResultRow[]> => {
    const nm: NativeModel = await binding.createModel(model, { seed }, placementOf(side));
    log(
      `${cfg.name} ${sideKey(side)}: ${model.name} (${model.arch}, ${(nm.parameterCount / 1e6).toFixed(1)}M parameters), lengths ${cfg.context_lengths.join(', ')}`,
    );
    parameterCount = nm.parameterCount;
    const rows: ResultRow[] = [];
    try {
      for (const L of cfg.context_lengths) {
        if (opts.signal?.aborted) break;
        const prompt = syntheticPrompt(L, model.vocabSize, seed + L);
        const point = {
          side,
          implementation: cfg.implementation,
          config: model,
          seqLen: L,
          threads,
          simdLevel,
          tokensPerRequest: cfg.arch === 'encoder' ? L : cfg.num_tokens,
        };
        const modelPoint = { promptTokens: L, newTokens: decoderTokens };
        // the engine samples the requests: warmup_runs discarded, then num_runs timed
        const counts = { warmup: cfg.warmup_runs, runs: cfg.num_runs, signal: opts.signal };
        let row: ResultRow;
        if (cfg.arch === 'encoder') {
          // forward returns no timings: the engine's clock around it (on cuda it includes the copy of the hidden states back)
          const m = await measureCalls(
            () => nm.forward(prompt, { implementation: cfg.implementation, threads }),
            { ...counts, keepResults: false },
          );
          if (!m) break; // interrupted inside this length: not a full point
          // an encoder forward reports no memory: the peak is estimated
          row = modelRow({
            ...point,
            measurement: m.measurement,
            peakMemoryBytes: null,
            estimatedMemoryBytes: encoderMemoryEstimate(model, nm.weightBytes, L),
            model: {
              ...modelPoint,
              prefillSamplesMs: m.measurement.samplesMs.slice(),
              decodeMsPerTokenSamples: m.measurement.samplesMs.map(() => 0),
              memoryEstimated: true,
            },
          });
        } else {
          const m = await measureCalls(() => nm.generate(prompt, decoderTokens, runOpts), {
            ...counts,
            durationNs: generationNs,
          });
          if (!m) break; // interrupted inside this length: not a full point
          // peaks over every request, warm-up included
          const peakBytes = Math.max(0, ...m.all.map((r) => r.memory.peakBytes));
          row = modelRow({
            ...point,
            measurement: m.measurement,
            peakMemoryBytes: peakBytes,
            model: {
              ...modelPoint,
              prefillSamplesMs: m.results.map((r) => r.prefillNs / 1e6),
              decodeMsPerTokenSamples: m.results.map((r) =>
                r.stepNs.length ? r.stepNs.reduce((a, b) => a + b, 0) / r.stepNs.length / 1e6 : 0,
              ),
              memory: {
                kvCacheBytes: Math.max(0, ...m.all.map((r) => r.memory.kvCacheBytes)),
                peakBytes,
              },
            },
          });
        }
        rows.push(row);
        log(`  ${sideKey(side)} context ${L}: median ${median(row.samplesMs).toFixed(2)} ms`);
      }
    } finally {
      nm.dispose();
    }
    return rows;
  };

  const warnings: string[] = [];
  const { results, firstError } = await runEachSide(sides, opts.signal, runSide, (skipped) =>
    warnings.push(`${cfg.name}: ${sideKey(skipped)} skipped: ${skipped.reason}`),
  );
  if (!results.length && firstError !== undefined) throw firstError; // nothing ran: the error is the answer, as for one side
  const result = modelResultFile({
    command: 'scaling',
    suite: 'scaling',
    createdAt: new Date().toISOString(),
    interrupted: opts.signal?.aborted === true,
    config: { ...cfg },
    model: {
      config: { ...model },
      parameterCount,
      weightsSource: `synthetic(seed=${seed})`,
      seed,
      threads,
    },
    sides,
    rows: results.flat(),
    dilbench,
  });
  // the run's result file through the results store, then the promised files as views of it
  const resultsDir = join(out, 'results');
  const written = await writeResultFiles(result, resultsDir);
  const file = scalingFileOf(result);
  const text = JSON.stringify(file, null, 2) + '\n';
  let json = join(resultsDir, `${SCALING_PREFIX}${fileTimestamp(file.createdAt)}.json`);
  for (let n = 2; !writeFileAtomicExclusive(json, text); n++)
    json = join(resultsDir, `${SCALING_PREFIX}${fileTimestamp(file.createdAt)}-${n}.json`);
  const outputs = await writeScalingOutputs(resultsDir, out, { plots: opts.plots !== false });
  return {
    file,
    result,
    files: { json, csv: outputs.csv, figure: outputs.figure, result: written.json },
    rows: outputs.rows,
    warnings: [...warnings, ...outputs.warnings],
  };
}
