// The plain-text summary table the CLI prints on stdout.
import type { ResultFile } from '../results/types.js';
import { formatBytes, formatCount, formatGflops } from '../reports/format.js';
import { BEST_PER_LENGTH_NOTE, bestPerLength, lengthLabel, medianWithRange } from '../reports/markdown.js';
import type { ResultRow } from '../results/types.js';
import { sideLabeller } from '../reports/side-sections.js';
import type { SideComparison } from '../suite/side-comparison.js';
import { interferenceNote } from '../measure/interference.js';
import { pctOfPeakText } from '../roofline/index.js';

export function textTable(header: string[], rows: string[][], rightAlign: boolean[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (rightAlign[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Short status for the terminal: notes go below the table, numbered. */
function shortStatus(r: ResultRow, notes: string[], label: (r: ResultRow) => string = (x) => x.implementation): string {
  if (r.status !== 'ok') return `${r.status}: ${r.reason ?? ''}${r.errorCode ? ` [${r.errorCode}]` : ''}`;
  const contended = r.interference ? interferenceNote(r.interference) : null;
  const overPeak = r.roofline?.overPeakNote ? `over 100% of peak: ${r.roofline.overPeakNote}` : null;
  const drifted = r.drift?.flagged ? `drift: the sentinel had moved ${r.drift.movePct > 0 ? '+' : ''}${r.drift.movePct}% from the run's start around this point` : null;
  const own = [...(r.effectiveSeqLen !== r.seqLen ? [`ran at ${r.effectiveSeqLen}`] : []), ...(r.warnings ?? []), ...(contended ? [contended] : []), ...(drifted ? [drifted] : []), ...(overPeak ? [overPeak] : [])];
  if (own.length === 0) return 'ok';
  const refs = own.map((w) => {
    notes.push(`${label(r)} @ ${lengthLabel(r.seqLen)}: ${w}`);
    return `[${notes.length}]`;
  });
  return `ok ${refs.join('')}`;
}

export function summaryText(file: ResultFile): string {
  const rows = [...file.results].sort((a, b) => a.seqLen - b.seqLen || a.implementation.localeCompare(b.implementation));
  const label = sideLabeller(rows);
  const out: string[] = [];
  out.push(`dilbench ${file.suite}: ${rows.length} points on ${file.environment.cpuModel} (${file.environment.simdLevel}, ${rows[0]?.threads ?? '?'} threads)`);
  out.push('');
  const notes: string[] = [];
  const roof = rows.some((r) => r.roofline);
  out.push(
    textTable(
      ['length', 'implementation', 'batch', 'median ms (p10-p90)', 'peak mem', 'tokens/s', 'GFLOP/s', ...(roof ? ['% peak'] : []), 'status'],
      rows.map((r) => [
        lengthLabel(r.seqLen),
        label(r),
        String(r.batch),
        medianWithRange(r),
        r.peakMemoryBytes !== null ? formatBytes(r.peakMemoryBytes) : '-',
        formatCount(r.tokensPerSecond),
        formatGflops(r.gflops),
        ...(roof ? [r.roofline ? pctOfPeakText(r.roofline) : '-'] : []),
        shortStatus(r, notes, label),
      ]),
      [true, false, true, true, true, true, true, ...(roof ? [true] : []), false],
    ),
  );
  if (notes.length) {
    out.push('');
    notes.forEach((n, i) => out.push(`[${i + 1}] ${n}`));
  }
  const validated = rows.filter((r) => r.validation);
  if (validated.length) {
    out.push('');
    out.push('numerical validation (max |o - expected| and relative L2 error):');
    out.push(
      textTable(
        ['length', 'implementation', 'against', 'max abs', 'rel L2', 'tolerance (abs / relL2)', 'result'],
        validated.map((r) => {
          const v = r.validation!;
          return [
            lengthLabel(r.seqLen),
            label(r),
            v.against,
            v.maxAbsError.toExponential(2),
            v.relL2Error.toExponential(2),
            `${v.tolerance.maxAbs.toExponential(0)} / ${v.tolerance.relL2.toExponential(0)}`,
            v.passed ? 'pass' : 'FAIL',
          ];
        }),
        [true, false, false, true, true, true, false],
      ),
    );
    const failed = validated.filter((r) => !r.validation!.passed).length;
    out.push(`validation: ${validated.length - failed} passed, ${failed} failed`);
  }
  const best = bestPerLength(rows);
  if (best.length) {
    out.push('');
    out.push('best per length: ' + best.map((b) => `${lengthLabel(b.seqLen)} ${label(b.best)}`).join(', '));
    out.push(`  (${BEST_PER_LENGTH_NOTE})`);
  }
  const comparisons = [...(file.comparisons?.precision ?? []), ...(file.comparisons?.device ?? [])];
  if (comparisons.length) {
    out.push('');
    for (const c of comparisons) out.push(comparisonLine(c));
  }
  if (file.interference) out.push(`\ninterference: ${file.interference.summary}`);
  if (file.driftSentinel) out.push(`${file.interference ? '' : '\n'}drift: ${file.driftSentinel.summary}`);
  if (file.interrupted) out.push('\ninterrupted: not every point ran');
  return out.join('\n') + '\n';
}

/** One line per side comparison: the geometric mean time ratio and the verdict counts. */
export function comparisonLine(c: SideComparison): string {
  const [b, o] = c.kind === 'precision' ? [c.baseline.dtype, c.other.dtype] : [c.baseline.device, c.other.device];
  const where = c.kind === 'precision' ? `on ${c.baseline.device}` : `in ${c.baseline.dtype}`;
  const s = c.summary;
  const skipped = c.rows.length - s.rows;
  const tail = skipped > 0 ? `; ${skipped} pair(s) not compared (see the status column)` : '';
  if (s.rows === 0 || s.geomeanRatio === null || !s.geomeanCi95) return `${c.kind} comparison ${o} vs ${b} ${where}: no pair ran on both sides${tail}`;
  return (
    `${c.kind} comparison ${o} vs ${b} ${where}: time ratio ${o}/${b} geometric mean ${s.geomeanRatio.toFixed(3)} ` +
    `[${s.geomeanCi95[0].toFixed(3)}, ${s.geomeanCi95[1].toFixed(3)}] over ${s.rows} pair(s): ${s.faster} faster, ${s.slower} slower, ${s.same} same, ${s.uncertain} uncertain${tail}`
  );
}
