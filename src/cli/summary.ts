// The plain-text summary the CLI prints on stdout (compact; the Markdown has the details).
import type { ResultFile } from '../results/types.js';
import {
  formatCount,
  formatDuration,
  formatGflops,
  formatLength,
  formatMs,
  textTable,
} from '../reports/format.js';
import { nominalLabel } from '../config/ranges.js';
import { answerText } from '../reports/answer.js';
import { displayStatus, isInterrupted } from '../results/ranking.js';
import type { ResultRow } from '../results/types.js';
import { sideLabeller } from '../reports/side-sections.js';
import type { SideComparison } from '../suite/side-comparison.js';
import { pctOfPeakText } from '../roofline/index.js';

/** The first projected link's wall time of a projected ring row: "~4.6 h on nvlink (projected)". */
function projectedText(r: ResultRow): string | null {
  const p = r.projected as
    { kind?: string; links?: { name?: string; projectedWallMs?: number }[] } | undefined;
  const l = p?.links?.[0];
  if (r.status === 'ok' || p?.kind !== 'projected' || !l) return null;
  return `~${formatDuration(l.projectedWallMs)} on ${l.name ?? 'link'} (projected)`;
}

/** "1.23 [1.20, 1.26]" (ms, as the column says); a projection in a human unit. */
function timeText(r: ResultRow): string {
  const projected = projectedText(r);
  if (projected) return projected;
  const s = r.stats;
  if (!s) return '-';
  return s.medianCi95Ms
    ? `${formatMs(s.medianMs)} [${formatMs(s.medianCi95Ms[0])}, ${formatMs(s.medianCi95Ms[1])}]`
    : formatMs(s.medianMs);
}

/** The most frequent note texts, numbers taken out so "CV 7.1% exceeds 5%" and "CV 9.0% exceeds 5%" count together. */
function commonNotes(rows: ResultRow[]): string[] {
  const count = new Map<string, { n: number; example: string }>();
  for (const r of rows) {
    for (const w of r.warnings ?? []) {
      const key = w.replace(/\d+(\.\d+)?/g, '#').slice(0, 60);
      const c = count.get(key) ?? { n: 0, example: w };
      c.n++;
      count.set(key, c);
    }
  }
  return [...count.values()]
    .sort((a, b) => b.n - a.n)
    .map((c) => `${c.n}x "${c.example.length > 70 ? `${c.example.slice(0, 67)}...` : c.example}"`);
}

export interface SummaryOptions {
  /** the Markdown file the details are in (printed as the pointer) */
  markdownPath?: string;
}

/**
 * The terminal summary, in the style of llama-bench: one line per implementation and length
 * (median with its 95% interval), the answer (fastest exact attention per length, ties where the
 * intervals overlap), at most a few lines of notes and a pointer to the Markdown for the rest.
 */
export function summaryText(file: ResultFile, options: SummaryOptions = {}): string {
  const rows = [...file.results].sort(
    (a, b) =>
      a.seqLen - b.seqLen ||
      a.implementation.localeCompare(b.implementation) ||
      ringP(a) - ringP(b),
  );
  const label = sideLabeller(rows);
  const out: string[] = [];
  out.push(
    `dilbench ${file.suite}: ${rows.length} points on ${file.environment.cpuModel} (${file.environment.simdLevel}, ${rows[0]?.threads ?? '?'} threads)`,
  );
  out.push('');
  const roof = rows.some((r) => r.roofline);
  const ring = rows.some((r) => r.params?.['ringSize'] !== undefined);
  out.push(
    textTable(
      [
        'length',
        'implementation',
        ...(ring ? ['P'] : []),
        'batch',
        'median ms [95% CI]',
        'tokens/s',
        'GFLOP/s',
        ...(roof ? ['% peak'] : []),
        'status',
      ],
      rows.map((r) => [
        shortLength(r.seqLen),
        label(r),
        ...(ring
          ? [r.params?.['ringSize'] !== undefined ? String(r.params['ringSize']) : '-']
          : []),
        String(r.batch),
        timeText(r),
        formatCount(r.tokensPerSecond),
        formatGflops(r.gflops),
        ...(roof ? [r.roofline ? pctOfPeakText(r.roofline) : '-'] : []),
        r.status === 'ok'
          ? r.interference?.flagged
            ? 'ok, contended'
            : r.warnings?.length || r.drift?.flagged || r.roofline?.overPeakNote
              ? 'ok*'
              : 'ok'
          : projectedText(r)
            ? 'projected'
            : displayStatus(r),
      ]),
      [
        true,
        false,
        ...(ring ? [true] : []),
        true,
        true,
        true,
        true,
        ...(roof ? [true] : []),
        false,
      ],
    ),
  );
  const validated = rows.filter((r) => r.validation);
  if (validated.length) {
    out.push('');
    out.push('numerical validation (max |o - expected| and relative L2 error):');
    out.push(
      textTable(
        [
          'length',
          'implementation',
          'against',
          'max abs',
          'rel L2',
          'tolerance (abs / relL2)',
          'result',
        ],
        validated.map((r) => {
          const v = r.validation!;
          return [
            shortLength(r.seqLen),
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
  const answer = answerText(file);
  if (answer.length) out.push('', ...answer);
  const comparisons = [...(file.comparisons?.precision ?? []), ...(file.comparisons?.device ?? [])];
  if (comparisons.length) {
    out.push('');
    for (const c of comparisons) out.push(comparisonLine(c));
  }
  // at most a few lines of notes; the rest is in the Markdown
  const notes: string[] = [];
  const noted = rows.filter((r) => r.warnings?.length);
  if (noted.length)
    notes.push(
      `* ${noted.length} point(s) with notes, most often ${commonNotes(noted).slice(0, 2).join(', ')}`,
    );
  const notRun = rows.filter((r) => r.status !== 'ok' && !projectedText(r) && !isInterrupted(r));
  const first = notRun[0];
  if (first) {
    notes.push(
      `${notRun.length} point(s) skipped or failed, e.g. ${label(first)} @ ${shortLength(first.seqLen)}: ${(first.reason ?? first.status).slice(0, 90)}`,
    );
  }
  // what else the machine did, and whether its speed moved (issue 14): one line each
  if (file.interference) notes.push(`interference: ${file.interference.summary}`);
  if (file.driftSentinel) notes.push(`drift: ${file.driftSentinel.summary}`);
  if (file.interrupted)
    notes.push('interrupted: not every point ran (incomplete lengths are not ranked)');
  const where = options.markdownPath
    ? `: ${options.markdownPath}`
    : ' (the .md beside the results)';
  if (notes.length || options.markdownPath) {
    out.push('');
    out.push(...notes, `details, every note and reason${where}`);
  }
  return out.join('\n') + '\n';
}

/** 1K, 16K, 1M; other lengths of a million and more as 1e9 / 1.5e6 (a 10-digit count is unreadable) */
function shortLength(n: number): string {
  const label = nominalLabel(n) ?? formatLength(n);
  return label === String(n) && n >= 1e6
    ? n
        .toExponential()
        .replace('e+', 'e')
        .replace(/\.?0+e/, 'e')
    : label;
}

function ringP(r: ResultRow): number {
  const p = r.params?.['ringSize'];
  return typeof p === 'number' ? p : 0;
}

/** One line per side comparison: the geometric mean time ratio and the verdict counts. */
export function comparisonLine(c: SideComparison): string {
  const [b, o] =
    c.kind === 'precision'
      ? [c.baseline.dtype, c.other.dtype]
      : [c.baseline.device, c.other.device];
  const where = c.kind === 'precision' ? `on ${c.baseline.device}` : `in ${c.baseline.dtype}`;
  const s = c.summary;
  const skipped = c.rows.length - s.rows;
  const tail = skipped > 0 ? `; ${skipped} pair(s) not compared (see the status column)` : '';
  if (s.rows === 0 || s.geomeanRatio === null || !s.geomeanCi95)
    return `${c.kind} comparison ${o} vs ${b} ${where}: no pair ran on both sides${tail}`;
  return (
    `${c.kind} comparison ${o} vs ${b} ${where}: time ratio ${o}/${b} geometric mean ${s.geomeanRatio.toFixed(3)} ` +
    `[${s.geomeanCi95[0].toFixed(3)}, ${s.geomeanCi95[1].toFixed(3)}] over ${s.rows} pair(s): ${s.faster} faster, ${s.slower} slower, ${s.same} same, ${s.uncertain} uncertain${tail}`
  );
}
