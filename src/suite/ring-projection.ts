// Ring projections (issue 3): from what a ring run measured per step and rank (compute time) and
// counted (bytes each rank sends after each step), project a real P-device ring over a link:
//   comm_t       = bytes_t / link bandwidth         (bytes_t = max over ranks of the bytes sent after step t)
//   compute_t    = max over ranks of the measured compute of step t
//   projectedWall = sum_t max(compute_t, comm_t)     (the send after step t overlaps step t+1's compute)
//   hidesCommunication = compute_t >= comm_t at every step
// Everything here is a projection and is stored under row.projected with `kind: 'projected'`, in the
// layout the ring plot reads (src/reports/plots/specs.ts).
import type { KernelTelemetry } from '../native/binding.js';
import type { ResultRow } from '../results/types.js';
import { LINK_PRESETS, type Link } from '../config/impl-params.js';

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
export function projectRing(t: KernelTelemetry | undefined, links: Link[] = DEFAULT_LINKS): RingProjection | null {
  if (!t?.stepRankNs?.length || !t.ringSize) return null;
  const steps = t.stepRankNs.length;
  const perStepComputeMs = t.stepRankNs.map((ranks) => Math.max(0, ...ranks) / 1e6);
  const bytesPerStepAll = Array.from({ length: steps }, (_, s) => Math.max(0, ...(t.stepRankBytesSent?.[s] ?? [0])));
  const projected = links.map((link): ProjectedLink => {
    const bytesPerMs = link.GBps * 1e9 / 1e3;
    const comm = bytesPerStepAll.map((b) => b / bytesPerMs);
    let wall = 0;
    let exposed = 0;
    for (let s = 0; s < steps; s++) {
      wall += Math.max(perStepComputeMs[s], comm[s]);
      if (comm[s] > perStepComputeMs[s]) exposed++;
    }
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
    basis: 'measured per-step, per-rank compute of the last timed iteration and the bytes each rank sends per step; communication = bytes / link bandwidth, overlapped with the next step',
    ringSize: t.ringSize,
    perStepComputeMs,
    maxStepComputeMs: Math.max(0, ...perStepComputeMs),
    bytesPerStepAll,
    bytesPerStepPerRank: Math.max(0, ...bytesPerStepAll),
    links: projected,
  };
}

/** afterMeasure hook: fills row.projected for ring rows (any suite whose options carry `links`). */
export function ringProjectionHook({ row, options }: { row: ResultRow; options: { links?: Link[] } }): void {
  if (!row.implementation.startsWith('ring')) return;
  const p = projectRing(row.telemetry, options.links ?? DEFAULT_LINKS);
  if (p) row.projected = { ...(row.projected ?? {}), ...p };
}
