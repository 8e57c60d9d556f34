// What a distributed ring run measured (the rank executable's JSON, native/distributed), reduced
// to the figures of issue 19, per layout:
//   - per step and rank: compute ms, wait ms (in MPI_Waitall after the compute), bytes sent
//     (element-wise median over the timed iterations)
//   - ring wall ms per iteration: max over ranks of barrier-to-last-wait
//   - link bandwidth measured by the ping-pong at the step's message size (one-way time = half
//     the round trip)
//   - achieved link bandwidth per rank: bytes sent / (compute + polls + wait) over the communicating
//     steps. A lower bound: a transfer that finished before the wait began took less.
//   - overlap efficiency: the share of the communication (bytes / ping-pong bandwidth) that did
//     not show up as waiting: 1 - sum min(wait, comm) / sum comm, over every rank's communicating
//     steps. 1 = fully hidden, 0 = fully exposed.
//   - load imbalance: max over ranks of total compute / mean over ranks (1 = balanced); also per step.
import { median } from '../stats/summary.js';
import type { StepMeasurement, RankMeasurement, DistributedMeasurement } from '../results/types.js';
export type { StepMeasurement, RankMeasurement, DistributedMeasurement };

export interface RawRankIteration {
  /** without the progress polls */
  computeNs: number[];
  /** inside MPI_Testall during the compute */
  pollNs: number[];
  waitNs: number[];
  bytesSent: number[];
  wallNs: number;
}

export interface RawLayout {
  layout: 'plain' | 'zigzag';
  chunks: [number, number][][];
  pingPong: { bytes: number; oneWayNs: number[] };
  iterations: { ranks: RawRankIteration[] }[];
  check: {
    against: string;
    reason: string;
    maxAbsError: number;
    relL2Error: number;
    finite: boolean;
  };
}

export interface RawRingRun {
  format: 'dilbench-ring-rank/1';
  /** 'mpi' (CPU ranks), 'nccl' or 'cuda-aware-mpi' (GPU ranks); absent in files of the first version */
  transport?: 'mpi' | 'nccl' | 'cuda-aware-mpi';
  /** absent in files of the first version (ring only) */
  implementation?: 'ring' | 'ring-dilated';
  /** ring-dilated: the resolved pairs (segment lengths shrunk to seqLen) */
  segmentLengths?: number[];
  dilationRates?: number[];
  /** as the single-process kernel counts them; absent in files of the first version */
  flopsPerIteration?: number;
  ranks: number;
  batch: number;
  heads: number;
  kvHeads: number;
  seqLen: number;
  headDim: number;
  causal: boolean;
  seed: number;
  iterations: number;
  warmup: number;
  progressPolls: boolean;
  threadsPerRank: number;
  simdLevel: string;
  mpiLibrary: string;
  rank0Host: string;
  layouts: RawLayout[];
}

export const DEFINITIONS =
  'computeMs (without polls)/pollMs (MPI_Testall during compute)/waitMs/bytesSent: per step and rank, element-wise median over timed iterations; wall: max over ranks of barrier-to-last-wait; ' +
  'pingPong: one-way time = half the round trip at the step message size; achievedLinkGBps: bytes / (compute + polls + wait) over communicating steps, a lower bound; ' +
  'overlapEfficiency: 1 - sum min(wait, bytes/pingPongGBps) / sum bytes/pingPongGBps; loadImbalance: max/mean over ranks of total compute (1 = balanced)';

function maxOverMean(xs: number[]): number {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return mean > 0 ? Math.max(...xs) / mean : 1;
}

/** Entry i of a per-rank or per-step array of the rank program's output (P of each, by its format). */
function rankEntry<T>(xs: readonly T[], i: number, what: string): T {
  const v = xs[i];
  if (v === undefined)
    throw new Error(`dilbench-ring-rank output: ${what}[${i}] is missing (${xs.length} entries)`);
  return v;
}

export function analyzeLayout(raw: RawRingRun, l: RawLayout): DistributedMeasurement {
  const P = raw.ranks;
  const its = l.iterations;
  const rank = (it: { ranks: RawRankIteration[] }, r: number) => rankEntry(it.ranks, r, 'ranks');
  const med = (f: (it: { ranks: RawRankIteration[] }) => number) => median(its.map(f));
  const perStep: StepMeasurement[] = [];
  for (let s = 0; s < P; s++) {
    const computeMs = Array.from(
      { length: P },
      (_, r) => med((it) => rankEntry(rank(it, r).computeNs, s, 'computeNs')) / 1e6,
    );
    const waitMs = Array.from(
      { length: P },
      (_, r) => med((it) => rankEntry(rank(it, r).waitNs, s, 'waitNs')) / 1e6,
    );
    const pollMs = Array.from(
      { length: P },
      (_, r) => med((it) => rank(it, r).pollNs?.[s] ?? 0) / 1e6,
    );
    const first = its[0];
    const bytesSent = Array.from({ length: P }, (_, r) =>
      first ? rankEntry(rank(first, r).bytesSent, s, 'bytesSent') : 0,
    );
    perStep.push({
      step: s,
      computeMs,
      pollMs,
      waitMs,
      bytesSent,
      loadImbalance: maxOverMean(computeMs),
    });
  }
  const oneWayMs = l.pingPong.oneWayNs.map((ns) => ns / 1e6);
  const GBps = oneWayMs.map((ms) => (ms > 0 ? l.pingPong.bytes / (ms * 1e6) : Infinity));
  const linkGBps = GBps.length ? median(GBps) : null;
  let commAll = 0;
  let exposedAll = 0;
  // Every perStep array has P entries (built above), so [r] with r < P is defined.
  const perRank: RankMeasurement[] = Array.from({ length: P }, (_, r) => {
    let bytes = 0;
    let busyMs = 0;
    let comm = 0;
    let exposed = 0;
    for (const st of perStep) {
      const b = st.bytesSent[r]!;
      if (b <= 0) continue;
      bytes += b;
      busyMs += st.computeMs[r]! + st.pollMs[r]! + st.waitMs[r]!;
      if (linkGBps) {
        const c = b / (linkGBps * 1e6);
        comm += c;
        exposed += Math.min(st.waitMs[r]!, c);
      }
    }
    commAll += comm;
    exposedAll += exposed;
    return {
      rank: r,
      computeMs: perStep.reduce((a, st) => a + st.computeMs[r]!, 0),
      pollMs: perStep.reduce((a, st) => a + st.pollMs[r]!, 0),
      waitMs: perStep.reduce((a, st) => a + st.waitMs[r]!, 0),
      bytesSent: bytes,
      achievedLinkGBps: bytes > 0 && busyMs > 0 ? bytes / (busyMs * 1e6) : null,
      overlapEfficiency: comm > 0 ? 1 - exposed / comm : null,
    };
  });
  const wallMs = its.map((it) => Math.max(...it.ranks.map((r) => r.wallNs)) / 1e6);
  const achieved = perRank.map((r) => r.achievedLinkGBps).filter((x): x is number => x !== null);
  return {
    kind: 'measured',
    layout: l.layout,
    ranks: P,
    iterations: its.length,
    wallMs,
    medianWallMs: median(wallMs),
    perStep,
    perRank,
    pingPong: { bytes: l.pingPong.bytes, oneWayMs, GBps, medianGBps: linkGBps },
    achievedLinkGBps: achieved.length ? median(achieved) : null,
    overlapEfficiency: commAll > 0 ? 1 - exposedAll / commAll : null,
    loadImbalance: maxOverMean(perRank.map((r) => r.computeMs)),
    definitions: DEFINITIONS,
  };
}
