// The answer a reader looks for first, in the words of every report: per length the fastest exact
// dense attention (or the tie), its time with interval, GFLOP/s and % of peak, and the margin over
// the next; the sparse and dilated variants against dense in their own table. Built on
// src/results/ranking.ts (the one ranking rule).
import type { Environment, ResultFile, ResultRow } from '../results/types.js';
import {
  RANKING_RULE,
  incompleteLengths,
  rankFile,
  rankableRows,
  sparseVsDense,
  verdictText,
  type LengthRanking,
  type SparseComparison,
} from '../results/ranking.js';
import { formatGflops, formatLength, formatMs, markdownTable } from './format.js';
import { percentOfPeak } from './plots/data.js';

/** "12.3 [12.1, 12.6]" */
export function msWithCi(r: ResultRow | undefined): string {
  const s = r?.stats;
  if (!s) return '-';
  return s.medianCi95Ms
    ? `${formatMs(s.medianMs)} [${formatMs(s.medianCi95Ms[0])}, ${formatMs(s.medianCi95Ms[1])}]`
    : formatMs(s.medianMs);
}

function ratio(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** "1.32x [1.25, 1.40] faster than naive" ("1.32x [1.25, 1.40] over naive" when short), or '-' when nothing is behind the leaders. */
export function marginText(r: LengthRanking, short = false): string {
  if (!r.margin || !r.next) return '-';
  const who = r.verdict === 'tie' && !short ? 'the tied ones ' : '';
  return `${who}${ratio(r.margin.ratio)}x [${ratio(r.margin.ci95[0])}, ${ratio(r.margin.ci95[1])}] ${short ? 'over' : 'faster than'} ${r.next.label}`;
}

/** % of peak, never bare over 100%: 'full' adds the roofline's reason, 'short' points to the
 *  note under "Over 100% of peak" (the wording of roofline/index.ts pctOfPeakText). */
export function answerPercentOfPeak(
  r: ResultRow | undefined,
  env: Environment | undefined,
  note: 'full' | 'short' = 'short',
): string {
  if (!r) return '-';
  const p = percentOfPeak(r, env);
  if (p === null) return '-';
  const reason = p > 100 ? r.roofline?.overPeakNote : undefined;
  if (!reason) return `${p.toFixed(1)}%`;
  return note === 'full' ? `${p.toFixed(1)}%: ${reason}` : `${p.toFixed(1)}% over peak, see note`;
}

function sideOf(r: LengthRanking): string {
  return `${r.device} ${r.dtype}${r.causal ? ' causal' : ''}`;
}

/** One row of the answer table per ranked length. */
function answerRows(
  ranks: LengthRanking[],
  env: Environment | undefined,
  withSide: boolean,
): string[][] {
  return ranks.map((r) => {
    const top = r.leaders[0]?.row;
    return [
      formatLength(r.seqLen),
      ...(withSide ? [sideOf(r)] : []),
      verdictText(r),
      msWithCi(top),
      formatGflops(top?.gflops),
      answerPercentOfPeak(top, env),
      marginText(r),
    ];
  });
}

/**
 * One sentence when points were measured under contention or drift (issue 14): said beside the
 * answer, since a ranking of flagged points may reflect the machine rather than the kernels.
 */
export function contentionCaution(
  file: Pick<ResultFile, 'results'> & {
    interference?: ResultFile['interference'];
    driftSentinel?: ResultFile['driftSentinel'];
  },
): string | null {
  const flagged = file.results.filter((r) => r.interference?.flagged || r.drift?.flagged).length;
  if (flagged === 0) return null;
  const why = [
    file.interference?.flaggedPoints
      ? `other processes loaded the machine while ${file.interference.flaggedPoints} of them ran`
      : null,
    file.driftSentinel?.flaggedPoints
      ? `the machine's speed moved, by the drift sentinel, next to ${file.driftSentinel.flaggedPoints} of them`
      : null,
  ].filter(Boolean);
  return `${flagged} of ${file.results.length} points are flagged (${why.join('; ') || 'interference or drift'}); these figures and their ranking may reflect the machine rather than the kernels. Re-run on a quiet machine (\`--require-quiet\`) or compare with \`--repetitions\`.`;
}

/**
 * The Markdown answer: a heading at `level`, the rule in one line, the table, the incomplete
 * lengths, and the sparse/dilated comparison. Empty when the file has no dense-attention row.
 */
export function answerMarkdown(
  file: Pick<
    ResultFile,
    | 'results'
    | 'config'
    | 'interrupted'
    | 'environment'
    | 'suite'
    | 'interference'
    | 'driftSentinel'
  >,
  level = 2,
): string[] {
  const ranks = rankFile(file);
  const h = '#'.repeat(level);
  const out: string[] = [];
  if (ranks.length) {
    const withSide = new Set(ranks.map(sideOf)).size > 1;
    out.push(`${h} Fastest exact attention per length`, '');
    out.push(
      markdownTable(
        [
          'Length',
          ...(withSide ? ['Side'] : []),
          'Fastest',
          'Median ms [95% CI]',
          'GFLOP/s',
          '% of peak',
          'Margin over the next',
        ],
        answerRows(ranks, file.environment, withSide),
        ['r', ...(withSide ? (['l'] as const) : []), 'l', 'r', 'r', 'r', 'l'],
      ),
      '',
    );
    const few = ranks.filter(
      (r) => r.verdict === 'not-ranked' && r.reason?.startsWith('too few samples'),
    ).length;
    if (few)
      out.push(
        `${few} length(s) not ranked for too few samples: give points more time (\`--max-time\`) or a fixed \`--runs 6\` or more.`,
        '',
      );
    const incomplete = incompleteLengths(ranks);
    if (incomplete.length)
      out.push(
        `**Interrupted:** ${incomplete.map(formatLength).join(', ')} ${incomplete.length === 1 ? 'is' : 'are'} incomplete and not ranked.`,
        '',
      );
    const notes = ranks.flatMap((r) => r.notes.map((n) => `${formatLength(r.seqLen)}: ${n}`));
    if (notes.length) out.push(`Not in the ranking: ${notes.join('; ')}.`, '');
    const caution = contentionCaution(file);
    if (caution) out.push(`**Caution:** ${caution}`, '');
    out.push(`_${RANKING_RULE}_`, '');
  }
  out.push(...sparseMarkdown(rankableRows(file), level));
  return out;
}

/**
 * Sparse, dilated and other variants against the fastest dense attention of their length, as a
 * pivot (one row per implementation, one column per length) so it stays short.
 */
export function sparseMarkdown(rows: ResultRow[], level = 2): string[] {
  const cmp = sparseVsDense(rows);
  if (!cmp.length) return [];
  const h = '#'.repeat(level);
  const cols = [
    ...new Map(cmp.map((c) => [`${c.row.seqLen}|${c.row.device}|${c.row.dtype}`, c])).values(),
  ].sort(
    (a, b) =>
      a.row.seqLen - b.row.seqLen ||
      a.row.device.localeCompare(b.row.device) ||
      a.row.dtype.localeCompare(b.row.dtype),
  );
  const sides = new Set(cols.map((c) => `${c.row.device} ${c.row.dtype}`)).size > 1;
  const colKey = (c: SparseComparison) => `${c.row.seqLen}|${c.row.device}|${c.row.dtype}`;
  const impls = [...new Set(cmp.map((c) => c.row.implementation))].sort();
  return [
    `${h} Sparse, dilated and other variants vs dense attention`,
    '',
    'These compute other functions than dense attention (attention-definitions.md; kv-cache without a causal mask is prefix attention), so they are not ranked with it. ' +
      'Per length: speed as a multiple of the fastest dense attention there (named in the header), then the share of its FLOPs they do, and the blocks skipped for block-sparse.',
    '',
    markdownTable(
      [
        'Implementation',
        ...cols.map(
          (c) =>
            `${formatLength(c.row.seqLen)}${sides ? ` ${c.row.device} ${c.row.dtype}` : ''} (vs ${c.dense.implementation})`,
        ),
      ],
      impls.map((impl) => [
        impl,
        ...cols.map((col) => {
          const c = cmp.find((x) => x.row.implementation === impl && colKey(x) === colKey(col));
          if (!c) return '';
          return `${ratio(c.speedup)}x, ${(c.workFraction * 100).toFixed(0)}% work${c.sparsity !== undefined ? `, ${(c.sparsity * 100).toFixed(0)}% skipped` : ''}`;
        }),
      ]),
      ['l', ...cols.map(() => 'r' as const)],
    ),
    '',
  ];
}

/** Terminal lines: "  1K: flash, 1.32x faster than naive", "  2K: tie: flash, ring; 1.8x faster than naive". */
export function answerText(
  file: Pick<ResultFile, 'results' | 'config' | 'interrupted' | 'suite'>,
): string[] {
  const ranks = rankFile(file);
  if (!ranks.length) return [];
  const withSide = new Set(ranks.map(sideOf)).size > 1;
  const out = [
    'fastest exact attention per length (a winner only where the 95% intervals separate):',
  ];
  for (const r of ranks) {
    const margin =
      r.margin && r.next
        ? `${r.verdict === 'tie' ? ';' : ','} ${ratio(r.margin.ratio)}x faster than ${r.next.label}`
        : '';
    out.push(
      `  ${formatLength(r.seqLen)}${withSide ? ` ${sideOf(r)}` : ''}: ${verdictText(r)}${margin}`,
    );
  }
  const few = ranks.filter(
    (r) => r.verdict === 'not-ranked' && r.reason?.startsWith('too few samples'),
  ).length;
  if (few)
    out.push(
      `  (${few} length(s) not ranked for too few samples: give points more time, --max-time, or a fixed --runs 6 or more)`,
    );
  return out;
}
