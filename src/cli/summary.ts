// The plain-text summary table the CLI prints on stdout.
import type { ResultFile } from '../results/types.js';
import { formatBytes, formatCount, formatGflops } from '../reports/format.js';
import { BEST_PER_LENGTH_NOTE, bestPerLength, lengthLabel, medianWithRange } from '../reports/markdown.js';
import type { ResultRow } from '../results/types.js';

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
function shortStatus(r: ResultRow, notes: string[]): string {
  if (r.status !== 'ok') return `${r.status}: ${r.reason ?? ''}${r.errorCode ? ` [${r.errorCode}]` : ''}`;
  const own = [...(r.effectiveSeqLen !== r.seqLen ? [`ran at ${r.effectiveSeqLen}`] : []), ...(r.warnings ?? [])];
  if (own.length === 0) return 'ok';
  const refs = own.map((w) => {
    notes.push(`${r.implementation} @ ${lengthLabel(r.seqLen)}: ${w}`);
    return `[${notes.length}]`;
  });
  return `ok ${refs.join('')}`;
}

export function summaryText(file: ResultFile): string {
  const rows = [...file.results].sort((a, b) => a.seqLen - b.seqLen || a.implementation.localeCompare(b.implementation));
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
        r.implementation,
        String(r.batch),
        medianWithRange(r),
        r.peakMemoryBytes !== null ? formatBytes(r.peakMemoryBytes) : '-',
        formatCount(r.tokensPerSecond),
        formatGflops(r.gflops),
        ...(roof ? [r.roofline ? `${r.roofline.pctOfPeakCompute.toFixed(1)}%` : '-'] : []),
        shortStatus(r, notes),
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
            r.implementation,
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
    out.push('best per length: ' + best.map((b) => `${lengthLabel(b.seqLen)} ${b.best.implementation}`).join(', '));
    out.push(`  (${BEST_PER_LENGTH_NOTE})`);
  }
  if (file.interrupted) out.push('\ninterrupted: not every point ran');
  return out.join('\n') + '\n';
}
