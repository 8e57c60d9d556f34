// Ring projections (issue 3): from what a ring run measured per step and rank (compute time) and
// counted (bytes each rank sends after each step), project a real P-device ring over a link:
//   comm_t       = bytes_t / link bandwidth         (bytes_t = max over ranks of the bytes sent after step t)
//   compute_t    = max over ranks of the measured compute of step t
//   projectedWall = sum_t max(compute_t, comm_t)     (the send after step t overlaps step t+1's compute)
//   hidesCommunication = compute_t >= comm_t at every step
// Everything here is a projection and is stored under row.projected with `kind: 'projected'`, in the
// layout the ring plot reads (src/reports/plots/specs.ts).
import type { KernelTelemetry, NativeCancelToken, NativeSession } from '../native/binding.js';
import type { ResultRow } from '../results/types.js';
import { LINK_PRESETS, type Link } from '../config/impl-params.js';
import { median } from '../stats/summary.js';

export const DEFAULT_LINKS: Link[] = [{ ...LINK_PRESETS.nvlink }, { ...LINK_PRESETS.infiniband }];

export interface ProjectedLink extends Link {
  /** per step (index t), ms */
  commMsPerStepAll: number[];
  /** largest per-step communication time, ms */
  commMsPerStep: number;
  projectedWallMs: number;
  hidesCommunication: boolean;
  /** steps whose communication exceeds their compute */
  exposedSteps: number;
}

export interface RingProjection {
  kind: 'projected';
  basis: string;
  ringSize: number;
  /** measured (max over ranks) compute of each step, ms */
  perStepComputeMs: number[];
  /** measured compute of the slowest step, ms */
  maxStepComputeMs: number;
  /** bytes the busiest rank sends per step, per step */
  bytesPerStepAll: number[];
  /** bytes a rank sends on a communicating step (max) */
  bytesPerStepPerRank: number;
  links: ProjectedLink[];
}

/** Projects a ring run from its telemetry; null when the telemetry has no per-step data. */
export function projectRing(
  t: KernelTelemetry | undefined,
  links: Link[] = DEFAULT_LINKS,
): RingProjection | null {
  if (!t?.stepRankNs?.length || !t.ringSize) return null;
  const steps = t.stepRankNs.length;
  const perStepComputeMs = t.stepRankNs.map((ranks) => Math.max(0, ...ranks) / 1e6);
  const bytesPerStepAll = Array.from({ length: steps }, (_, s) =>
    Math.max(0, ...(t.stepRankBytesSent?.[s] ?? [0])),
  );
  const projected = links.map((link): ProjectedLink => {
    const bytesPerMs = (link.GBps * 1e9) / 1e3;
    const comm = bytesPerStepAll.map((b) => b / bytesPerMs);
    let wall = 0;
    let exposed = 0;
    perStepComputeMs.forEach((computeMs, s) => {
      const commMs = comm[s]!; // comm has one entry per step, as perStepComputeMs
      wall += Math.max(computeMs, commMs);
      if (commMs > computeMs) exposed++;
    });
    return {
      ...link,
      commMsPerStepAll: comm,
      commMsPerStep: Math.max(0, ...comm),
      projectedWallMs: wall,
      hidesCommunication: exposed === 0,
      exposedSteps: exposed,
    };
  });
  return {
    kind: 'projected',
    basis:
      'measured per-step, per-rank compute of the last timed iteration and the bytes each rank sends per step; communication = bytes / link bandwidth, overlapped with the next step',
    ringSize: t.ringSize,
    perStepComputeMs,
    maxStepComputeMs: Math.max(0, ...perStepComputeMs),
    bytesPerStepAll,
    bytesPerStepPerRank: Math.max(0, ...bytesPerStepAll),
    links: projected,
  };
}

/** afterMeasure hook: fills row.projected for ring rows (any suite whose options carry `links`). */
export function ringProjectionHook({
  row,
  options,
}: {
  row: ResultRow;
  options: { links?: Link[] };
}): void {
  const p = ringRowProjection(row, options);
  if (p) row.projected = { ...(row.projected ?? {}), ...p };
}

function ringRowProjection(row: ResultRow, options: { links?: Link[] }): RingProjection | null {
  if (!row.implementation.startsWith('ring')) return null;
  return projectRing(row.telemetry, options.links ?? DEFAULT_LINKS);
}

/** Element-wise median of several runs' per-step, per-rank compute times. */
export function medianTelemetry(runs: KernelTelemetry[]): KernelTelemetry {
  const first = runs[0];
  if (!first) throw new Error('medianTelemetry: no runs');
  if (runs.length === 1 || !first.stepRankNs) return first;
  return {
    ...first,
    stepRankNs: first.stepRankNs.map((ranks, t) =>
      ranks.map((_, p) => median(runs.map((r) => r.stepRankNs?.[t]?.[p] ?? 0))),
    ),
  };
}

/**
 * The ring suite's hook: the per-step times of one iteration are noisy, so it runs up to
 * `iterations - 1` more (only while they stay within `budgetMs`) and projects from the
 * element-wise median of their telemetry (row.telemetry keeps the median, with the count).
 */
export async function ringProjectionFromSession(
  m: {
    row: ResultRow;
    session: NativeSession;
    options: { links?: Link[] };
    cancel?: NativeCancelToken;
  },
  iterations = 5,
  budgetMs = 5000,
): Promise<void> {
  const { row, session } = m;
  if (
    !row.implementation.startsWith('ring') ||
    !row.telemetry?.stepRankNs ||
    typeof session.telemetry !== 'function'
  ) {
    ringProjectionHook(m);
    return;
  }
  const runs: KernelTelemetry[] = [row.telemetry];
  const per = row.stats?.medianMs ?? Infinity;
  let spent = 0;
  while (runs.length < iterations && spent + per <= budgetMs) {
    const ns = await session.sample(1, false, m.cancel);
    spent += ns[0]! / 1e6; // sample(1) returns one time
    const t = session.telemetry();
    if (t?.stepRankNs) runs.push(t);
  }
  row.telemetry = medianTelemetry(runs);
  const p = ringRowProjection(row, m.options);
  if (!p) return;
  p.basis =
    `element-wise median of ${runs.length} iteration(s): ` +
    p.basis.replace('of the last timed iteration', '');
  row.projected = { ...(row.projected ?? {}), ...p };
}
