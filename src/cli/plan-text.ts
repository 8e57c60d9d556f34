// The plan of a suite as text: `--dry-run` prints it whole; every run prints its one-line total.
import { formatBytes, formatLength, formatSeconds } from '../config/units.js';
import { nominalLabel } from '../config/ranges.js';
import type { PlanEntry, ResultFile } from '../results/types.js';
import { textTable } from '../reports/format.js';

const label = (n: number): string => nominalLabel(n) ?? formatLength(n);

/** "36 points: 30 to run (about 14.2 min), 6 skipped" */
export function planTotalLine(points: readonly PlanEntry[]): string {
  const run = points.filter((p) => p.action === 'run');
  const skipped = points.filter((p) => p.action === 'skip').length;
  const failing = points.filter((p) => p.action === 'fail').length;
  const seconds = run.reduce((a, p) => a + p.estimatedSeconds, 0);
  return (
    `${points.length} point${points.length === 1 ? '' : 's'}: ${run.length} to run (estimated ${formatSeconds(seconds)})` +
    (skipped ? `, ${skipped} skipped` : '') +
    (failing ? `, ${failing} refused by the native core` : '')
  );
}

export function planText(file: ResultFile): string {
  const points = file.plan ?? [];
  const several = new Set(points.map((p) => `${p.device}/${p.dtype}`)).size > 1;
  const out: string[] = [];
  out.push(
    `dilbench ${file.suite} --dry-run: the plan on ${file.environment.cpuModel} (${file.environment.simdLevel}, ${String(file.config.threads ?? '?')} threads); nothing was measured`,
  );
  out.push('');
  out.push(
    textTable(
      [
        'length',
        'implementation',
        ...(several ? ['side'] : []),
        'batch',
        'memory',
        'estimated',
        'action',
      ],
      points.map((p) => [
        label(p.seqLen),
        p.implementation,
        ...(several ? [`${p.device}/${p.dtype}`] : []),
        p.requestedBatch !== p.batch ? `${p.batch} (of ${p.requestedBatch})` : String(p.batch),
        p.memoryBytes !== null ? formatBytes(p.memoryBytes) : '-',
        p.action === 'run' ? formatSeconds(p.estimatedSeconds) : '-',
        p.action === 'run'
          ? p.reason
            ? `run: ${p.reason}`
            : 'run'
          : `${p.action === 'skip' ? 'skip' : 'fails'}: ${p.reason ?? ''}`,
      ]),
      [true, false, ...(several ? [false] : []), true, true, true, false],
    ),
  );
  out.push('');
  out.push(planTotalLine(points));
  out.push(
    `Estimates come from a short calibration run and the sampling limits (--max-time ${String(file.config.maxTimeSeconds ?? '?')} s per point covers its cold call and warm-up; a point always takes at least its cold call and one sample).`,
  );
  return out.join('\n') + '\n';
}
