// The result file of the commands that time whole models (`dilbench inference`, `dilbench
// scaling`): the suites' schema (results/types.ts), one row per point and side, the sides compared
// with the one side comparison (suite/side-comparison.ts), the one environment record, written by
// the results store's writer (reports/write.ts). The files each command promised before are views
// of it (inference/metrics-file.ts, scaling/files.ts).
import { randomUUID } from 'node:crypto';
import { collectEnvironment } from '../env/environment.js';
import type { Measurement } from '../measure/types.js';
import { headDimOf } from '../models/config.js';
import type { Dilbench } from '../native/dilbench.js';
import type { ModelConfig } from '../native/model-binding.js';
import {
  SCHEMA_VERSION,
  type ModelPoint,
  type ModelRun,
  type ResultFile,
  type ResultRow,
  type SideComparison,
  type SideRecord,
} from '../results/types.js';
import {
  compareWithBaseline,
  SIDE_COMPARISON_ALPHA,
  SIDE_COMPARISON_THRESHOLD,
} from '../suite/side-comparison.js';
import { sameSide, type RunSide } from '../suite/sides.js';

/** One measured model point on one side as a result row (a model has no single attention problem: its first layer's shape). */
export function modelRow(x: {
  side: RunSide;
  implementation: string;
  config: ModelConfig;
  /** prompt or context tokens */
  seqLen: number;
  threads: number;
  simdLevel: ResultRow['simdLevel'];
  measurement: Measurement;
  /** tokens the request handles per second of its median time (generated, or input for an encoder) */
  tokensPerRequest: number;
  peakMemoryBytes: number | null;
  estimatedMemoryBytes?: number;
  params?: Record<string, string | number>;
  model: ModelPoint;
}): ResultRow {
  const m = x.measurement;
  const seconds = m.stats.medianMs / 1000;
  return {
    implementation: x.implementation,
    device: x.side.device,
    dtype: x.side.dtype,
    batch: 1,
    heads: x.config.heads,
    kvHeads: x.config.kvHeads,
    headDim: headDimOf(x.config),
    seqLen: x.seqLen,
    effectiveSeqLen: x.seqLen,
    causal: x.config.arch === 'decoder',
    status: 'ok',
    reason: null,
    samplesMs: m.samplesMs,
    stats: m.stats,
    coldStartMs: m.coldStartMs,
    warmupIterations: m.warmupIterations,
    stopReason: m.stopReason,
    cacheMode: m.cacheMode,
    ...(m.warnings.length ? { warnings: m.warnings } : {}),
    peakMemoryBytes: x.peakMemoryBytes,
    // no planner runs: only an encoder's estimated peak (scaling)
    estimatedMemoryBytes: x.estimatedMemoryBytes ?? 0,
    tokensPerSecond: seconds > 0 ? x.tokensPerRequest / seconds : null,
    gflops: null,
    flopsPerIteration: 0,
    bytesPerIteration: 0,
    threads: x.threads,
    simdLevel: x.simdLevel,
    ...(x.params ? { params: x.params } : {}),
    model: x.model,
  };
}

/**
 * The run's file: every side after the first that ran compared with it (time and peak memory,
 * the statistics of `dilbench compare`).
 */
export function modelResultFile(x: {
  command: NonNullable<ResultFile['command']>;
  /** names the file (results store: <suite>_<time>.json) */
  suite: string;
  runId?: string;
  createdAt: string;
  interrupted: boolean;
  config: Record<string, unknown>;
  model: ModelRun;
  sides: SideRecord[];
  rows: ResultRow[];
  /** the object that ran the model: its addon (if loaded) describes the build in the environment */
  dilbench: Pick<Dilbench, 'tryAddon'>;
}): ResultFile {
  const baseline = x.rows[0];
  const compared = baseline ? compareWithBaseline(x.rows, baseline) : [];
  return {
    schemaVersion: SCHEMA_VERSION,
    suite: x.suite,
    runId: x.runId ?? randomUUID(),
    createdAt: x.createdAt,
    ...(x.interrupted ? { interrupted: true } : {}),
    environment: collectEnvironment(x.dilbench.tryAddon()),
    config: x.config,
    results: x.rows,
    ...(compared.length
      ? {
          comparisons: {
            alpha: SIDE_COMPARISON_ALPHA,
            threshold: SIDE_COMPARISON_THRESHOLD,
            precision: compared.filter((c) => c.kind === 'precision'),
            device: compared.filter((c) => c.kind === 'device'),
          },
        }
      : {}),
    command: x.command,
    model: x.model,
    sides: x.sides,
  };
}

/** The file's side comparisons in the order of its sides (each against the first that ran). */
export function sideComparisonsOf(file: ResultFile): SideComparison[] {
  const all = [...(file.comparisons?.precision ?? []), ...(file.comparisons?.device ?? [])];
  return (file.sides ?? []).flatMap((s) => all.filter((c) => sameSide(c.other, s)));
}
