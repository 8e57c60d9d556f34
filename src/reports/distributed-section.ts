// Markdown section of `ring --distributed` rows (issue 19): what the real ring (CPU or GPU ranks) measured,
// beside the single-process projection and its error. Measured columns say measured.
import type { ResultRow } from '../results/types.js';
import { DEFINITIONS } from '../distributed/analysis.js';

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
const num = (v: number | null | undefined, d = 2) =>
  v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d);

export function distributedSections(rows: ResultRow[]): string[] {
  const dist = rows.filter((r) => r.distributed);
  if (!dist.length) return [];
  const header = [
    'Length',
    'Implementation',
    'Layout',
    'P',
    'Device (transport)',
    'Wall ms (measured, median)',
    'Wall ms (projected)',
    'Projection error',
    'Ping-pong GB/s (measured)',
    'Achieved GB/s (measured, lower bound)',
    'Overlap efficiency (measured)',
    'Load imbalance (measured)',
    'Max step wait ms (measured)',
  ];
  const lines = dist.map((r) => {
    const m = r.distributed!;
    const p = r.projected as
      { projectedWallMs?: number; projectionError?: number; skipped?: string } | undefined;
    return [
      String(r.seqLen),
      r.implementation,
      m.layout,
      String(m.ranks),
      `${r.device} (${String(r.params?.transportKind ?? 'mpi')})`,
      num(m.medianWallMs),
      p?.projectedWallMs !== undefined ? num(p.projectedWallMs) : `- (${p?.skipped ?? 'none'})`,
      p?.projectionError !== undefined ? `${(p.projectionError * 100).toFixed(0)}%` : '-',
      num(m.pingPong.medianGBps),
      num(m.achievedLinkGBps),
      num(m.overlapEfficiency),
      num(m.loadImbalance),
      num(Math.max(...m.perStep.flatMap((s) => s.waitMs))),
    ];
  });
  return [
    '## Distributed ring (measured)',
    '',
    'A real ring over MPI ranks (one process per rank: on CPUs one thread each, MPI point-to-point; on GPUs one CUDA device each, NCCL send/recv or CUDA-aware MPI). Projection: the simulated kernel of the same implementation (ring or ring-dilated) at the same P on one thread (GPU ranks: on one GPU), projected onto the ping-pong bandwidth; error = (measured - projected) / projected. ' +
      DEFINITIONS +
      '.',
    '',
    [
      `| ${header.map(cell).join(' | ')} |`,
      `|${header.map(() => '---').join('|')}|`,
      ...lines.map((l) => `| ${l.map(cell).join(' | ')} |`),
    ].join('\n'),
    '',
  ];
}
