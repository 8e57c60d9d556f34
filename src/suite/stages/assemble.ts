// Stage 7 of runSuite: the result file: what the run was asked and how it sampled (the same in a
// dry run's plan and in the results), the environment, the rows and the run-level records.
import { randomUUID } from 'node:crypto';
import { collectEnvironment } from '../../env/environment.js';
import type { DriftRecorder } from '../../measure/drift.js';
import type { NativeBinding } from '../../native/binding.js';
import type { StoredGpuPeak } from '../../roofline/peak-store.js';
import {
  SCHEMA_VERSION,
  type Environment,
  type PlanEntry,
  type ResultFile,
  type ResultRow,
  type RunInterference,
  type SideComparisons,
} from '../../results/types.js';
import type { SamplingRequest } from '../sampling.js';
import type { CommonRunOptions } from '../types.js';
import type { ResolvedSides } from './resolve-sides.js';
import type { CpuPeak } from './summarise.js';

/** The file's config block: the suite's own, then the run's implementations, budget, sampling, sides. */
export function runConfigOf(
  suiteConfig: Record<string, unknown>,
  resolved: ResolvedSides<CommonRunOptions>,
  x: {
    implementations: string[];
    threads: number;
    budgets: number[];
    request: SamplingRequest;
    interleave: boolean;
  },
): Record<string, unknown> {
  const { options, sides, compareMode, selection, cuda } = resolved;
  const { request } = x;
  const adaptive = request.runs === undefined;
  return {
    ...suiteConfig,
    implementations: x.implementations,
    threads: x.threads,
    memoryBudgetBytes: x.budgets[0],
    maxRunSeconds: options.maxRunSeconds,
    warmup: request.warmup,
    ...(request.runs !== undefined ? { runs: request.runs } : {}),
    sampling: adaptive ? 'adaptive' : 'fixed',
    ...(adaptive
      ? {
          targetRse: request.targetRse,
          minSamples: request.minSamples,
          maxSamples: request.maxSamples,
        }
      : {}),
    maxTimeSeconds: request.maxTimeSeconds,
    cacheMode: request.cold ? 'cold' : 'hot',
    interleave: x.interleave,
    ...(options.requireQuiet !== undefined ? { requireQuietSeconds: options.requireQuiet } : {}),
    seed: options.seed,
    device: compareMode ? [...new Set(sides.map((s) => s.device))].join(',') : options.device,
    dtype: compareMode ? [...new Set(sides.map((s) => s.dtype))].join(',') : options.dtype,
    ...(selection.requested === 'auto' ? { deviceSelection: selection } : {}),
    ...(compareMode
      ? {
          sides: sides.map((s, k) => ({
            ...s,
            memoryBudgetBytes: x.budgets[k],
            ...(s.device === 'cuda' && !cuda.available
              ? { available: false, reason: cuda.reason }
              : {}),
          })),
          // the sides of a point are sampled in seeded round-robin when their memory fits together
          sidesInterleaved: true,
          ...(options.compareDtypes ? { compareDtypes: options.compareDtypes } : {}),
          ...(options.compareDevices ? { compareDevices: true } : {}),
        }
      : {}),
  };
}

/** --dry-run: the plan and the config, nothing measured. */
export function dryRunFile(
  suite: string,
  createdAt: string,
  binding: NativeBinding,
  config: Record<string, unknown>,
  plan: PlanEntry[],
): ResultFile {
  return {
    schemaVersion: SCHEMA_VERSION,
    suite,
    runId: randomUUID(),
    createdAt,
    dryRun: true,
    environment: collectEnvironment(binding, {}),
    config,
    results: [],
    plan,
  };
}

/** The measured run's file. */
export function assembleResultFile(x: {
  suite: string;
  createdAt: string;
  interrupted: boolean;
  binding: NativeBinding;
  peaks: { peak?: CpuPeak; gpuPeak?: StoredGpuPeak };
  /** the rows as measured (the GPU peak is recorded when one of them ran on cuda) */
  measuredRows: ResultRow[];
  environment?: Partial<Environment>;
  config: Record<string, unknown>;
  rows: ResultRow[];
  comparisons: SideComparisons | null;
  interference: RunInterference | null;
  drift: DriftRecorder | null;
}): ResultFile {
  const { peak, gpuPeak } = x.peaks;
  return {
    schemaVersion: SCHEMA_VERSION,
    suite: x.suite,
    runId: randomUUID(),
    createdAt: x.createdAt,
    ...(x.interrupted ? { interrupted: true } : {}),
    environment: collectEnvironment(x.binding, {
      ...(peak ? { peak } : {}),
      ...(gpuPeak && x.measuredRows.some((r) => r.device === 'cuda') ? { gpuPeak } : {}),
      ...x.environment,
    }),
    config: x.config,
    results: x.rows,
    ...(x.comparisons ? { comparisons: x.comparisons } : {}),
    ...(x.interference ? { interference: x.interference } : {}),
    ...(x.drift
      ? {
          driftSentinel: x.drift.finish(
            x.rows.filter((r) => r.drift?.flagged).length,
            x.rows.filter((r) => r.drift).length,
          ),
        }
      : {}),
  };
}
