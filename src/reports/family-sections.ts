// Markdown sections for the attention family (issue 3): validation, optimizations (pattern cache,
// memory pool, telemetry) and ring projections. Projections are labelled "projected" in every
// heading and column; only what ran is called measured.
import type { ResultRow } from '../results/types.js';
import { formatBytes } from '../config/units.js';
import type { RingProjection } from '../suite/ring-projection.js';
import { sideLabeller } from './side-sections.js';
import { distributedSections } from './distributed-section.js';
import { formatDuration } from './format.js';

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
function table(header: string[], rows: string[][]): string {
  return [
    `| ${header.map(cell).join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}
function len(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)}M`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024}K`;
  return String(n);
}
const ms = (v: number | undefined) =>
  v === undefined || !Number.isFinite(v)
    ? '-'
    : v >= 100
      ? v.toFixed(0)
      : v >= 1
        ? v.toFixed(2)
        : v.toPrecision(3);
const sci = (v: number) => (v === 0 ? '0' : v.toExponential(2));

export function familySections(rows: ResultRow[]): string[] {
  const out: string[] = [];
  // device and dtype beside the name when the rows have several (--compare-dtypes / --compare-devices)
  const label = sideLabeller(rows);
  const validated = rows.filter((r) => r.validation);
  if (validated.length) {
    const failed = validated.filter((r) => !r.validation!.passed).length;
    out.push('## Validation', '');
    out.push(
      `${validated.length - failed} of ${validated.length} cases passed${failed ? `, **${failed} FAILED**` : ''}.`,
      '',
    );
    out.push(
      table(
        [
          'Length',
          'Implementation',
          'Batch',
          'Against',
          'Max abs error',
          'Rel L2 error',
          'Tolerance (abs / relL2)',
          'Result',
        ],
        validated.map((r) => {
          const v = r.validation!;
          return [
            len(r.seqLen),
            label(r),
            String(r.batch),
            v.against,
            sci(v.maxAbsError),
            sci(v.relL2Error),
            `${sci(v.tolerance.maxAbs)} / ${sci(v.tolerance.relL2)}`,
            v.passed ? 'pass' : '**FAIL**',
          ];
        }),
      ),
      '',
    );
  }
  const impact = rows.filter((r) => r.params?.optimization);
  if (impact.length) {
    out.push('## Optimization impact (measured)', '');
    out.push(
      'Speedup = baseline median / configuration median; memory reduction = 1 - peak memory / baseline peak memory (same implementation, length and batch; baseline = no pattern cache, no memory pool).',
      '',
    );
    const pct = (v: number | null | undefined) =>
      v === null || v === undefined ? '-' : `${(v * 100).toFixed(1)}%`;
    out.push(
      table(
        [
          'Length',
          'Implementation',
          'Configuration',
          'Median ms',
          'Speedup',
          'Memory reduction',
          'Cache hit rate',
          'Pool hits / misses',
          'Pool peak reserved',
        ],
        impact.map((r) => {
          const o = r.params!.optimization as {
            configuration: string;
            speedupVsBaseline: number | null;
            memoryReductionVsBaseline: number | null;
            cacheHitRate: number | null;
            poolCacheHits: number | null;
            poolCacheMisses: number | null;
            poolPeakBytesReserved: number | null;
          };
          return [
            len(r.seqLen),
            label(r),
            o.configuration,
            r.status === 'ok' ? ms(r.stats?.medianMs) : r.status,
            o.speedupVsBaseline === null ? '-' : `${o.speedupVsBaseline.toFixed(2)}x`,
            pct(o.memoryReductionVsBaseline),
            pct(o.cacheHitRate),
            o.poolCacheHits === null ? '-' : `${o.poolCacheHits} / ${o.poolCacheMisses}`,
            o.poolPeakBytesReserved === null ? '-' : formatBytes(o.poolPeakBytesReserved),
          ];
        }),
      ),
      '',
    );
  }
  const opt = rows.filter(
    (r) =>
      r.status === 'ok' &&
      (r.patternCacheStats ||
        r.telemetry?.blocksTotal !== undefined ||
        r.telemetry?.decodeSteps !== undefined),
  );
  if (opt.length) {
    // details a reader can skip: folded
    out.push(
      '<details>',
      `<summary>Optimizations and kernel telemetry (${opt.length} points)</summary>`,
      '',
    );
    out.push('## Optimizations and kernel telemetry (measured)', '');
    out.push(
      table(
        [
          'Length',
          'Implementation',
          'Memory pool',
          'Pattern cache',
          'Cache hit rate',
          'Cache entries / bytes',
          'Pool hits / misses',
          'Telemetry',
        ],
        opt.map((r) => {
          const c = r.patternCacheStats;
          const t = r.telemetry;
          const tel: string[] = [];
          if (t?.sparsity !== undefined)
            tel.push(
              `sparsity ${(t.sparsity * 100).toFixed(1)}% (${t.blocksComputed}/${t.blocksTotal} blocks)`,
            );
          if (t?.decodeSteps !== undefined)
            tel.push(
              `prefill ${ms((t.prefillNs ?? 0) / 1e6)} ms, ${t.decodeSteps} decode steps ${ms((t.decodeNs ?? 0) / 1e6)} ms`,
            );
          return [
            len(r.seqLen),
            label(r),
            r.memoryPool === false ? 'off' : 'on',
            r.patternCache === false ? 'off' : 'on',
            c ? `${(c.hitRate * 100).toFixed(1)}% (${c.hits}/${c.hits + c.misses})` : '-',
            c ? `${c.entries} / ${formatBytes(c.bytes)}` : '-',
            r.pool ? `${r.pool.cacheHits} / ${r.pool.cacheMisses}` : '-',
            tel.join('; ') || '-',
          ];
        }),
      ),
      '',
      '</details>',
      '',
    );
  }
  // P = 1 sends nothing: no communication to project
  const ring = rows.filter(
    (r) =>
      (r.projected as { kind?: string } | undefined)?.kind === 'projected' &&
      (r.projected as { links?: unknown }).links &&
      (r.projected as { ringSize?: number }).ringSize !== 1,
  );
  if (ring.length) {
    out.push(
      '<details>',
      `<summary>Ring projections (projected, not measured; ${ring.length} rows)</summary>`,
      '',
    );
    out.push('## Ring projections (projected, not measured)', '');
    out.push(
      'Per-step compute is measured (slowest rank, last timed iteration); communication time, whether compute hides it and the wall time of a real P-device ring are **projected** from the bytes each rank sends per step and the link bandwidth: projected wall = sum over steps of max(compute, communication).',
      '',
    );
    const lines: string[][] = [];
    for (const r of ring) {
      // ResultRow.projected is an open record (any suite's projection); ring rows hold a RingProjection
      const p = r.projected as unknown as RingProjection & { measured?: boolean; fromRow?: string };
      for (const l of p.links) {
        lines.push([
          len(r.seqLen) + (r.status === 'ok' ? '' : ' (projected row)'),
          label(r),
          String(p.ringSize),
          ms(p.maxStepComputeMs),
          formatBytes(p.bytesPerStepPerRank),
          `${l.name} (${l.GBps} GB/s = ${l.gbps} Gbit/s)`,
          ms(l.commMsPerStep),
          l.hidesCommunication ? 'yes' : `no (${l.exposedSteps} steps exposed)`,
          formatDuration(l.projectedWallMs),
        ]);
      }
    }
    out.push(
      table(
        [
          'Length',
          'Implementation',
          'P',
          'Max step compute ms (measured)',
          'Bytes/step/rank',
          'Link',
          'Projected comm ms/step',
          'Projected: compute hides comm',
          'Projected wall time',
        ],
        lines,
      ),
      '',
      'P = 1 rows are left out: one rank sends nothing.',
      '',
      '</details>',
      '',
    );
  }
  out.push(...distributedSections(rows));
  return out;
}
