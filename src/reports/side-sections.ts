// Markdown of a run with several sides (--compare-dtypes, --compare-devices): row labels that
// say the device and dtype where they vary, and the "Precision comparison" / "Device comparison"
// sections built from file.comparisons (src/suite/side-comparison.ts).
import type { ResultFile, ResultRow } from '../results/types.js';
import type { SideCell, SideComparison, SideComparisonRow } from '../suite/side-comparison.js';
import { formatBytes, formatMs, markdownTable as table } from './format.js';

/**
 * Labels rows by implementation plus the device and dtype when the rows have more than one of
 * them ("flash (bf16)", "naive (cuda, fp16)"); the plain implementation name otherwise.
 */
export function sideLabeller(
  rows: Pick<ResultRow, 'device' | 'dtype'>[],
): (r: Pick<ResultRow, 'implementation' | 'device' | 'dtype'>) => string {
  const devices = new Set(rows.map((r) => r.device)).size > 1;
  const dtypes = new Set(rows.map((r) => r.dtype)).size > 1;
  return (r) => {
    const extra = [...(devices ? [r.device] : []), ...(dtypes ? [r.dtype] : [])];
    return extra.length ? `${r.implementation} (${extra.join(', ')})` : r.implementation;
  };
}

/** "configuration=both, ringSize=4" from a row's parameters (scalars only). */
export function paramsText(params: Record<string, unknown> | undefined): string {
  if (!params) return '';
  return Object.entries(params)
    .filter(([, v]) => ['string', 'number', 'boolean'].includes(typeof v))
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ');
}

function lengthText(n: number): string {
  if (n >= 1048576 && n % 1048576 === 0) return `${n / 1048576}M`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024}K`;
  return String(n);
}

function median(c: SideCell): string {
  if (c.status !== 'ok') return `${c.status}${c.reason ? `: ${c.reason}` : ''}`;
  if (c.medianMs === null) return '-';
  return c.medianCi95Ms
    ? `${formatMs(c.medianMs)} [${formatMs(c.medianCi95Ms[0])}, ${formatMs(c.medianCi95Ms[1])}]`
    : formatMs(c.medianMs);
}

function ratio(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(3);
}

function pValue(p: number | null): string {
  if (p === null) return '-';
  return p < 1e-4 ? p.toExponential(1) : p.toFixed(4);
}

function comparisonRow(r: SideComparisonRow): string[] {
  const params = paramsText(r.params);
  const timeRatio =
    r.timeRatio !== null && r.timeRatioCi95
      ? `${ratio(r.timeRatio)} [${ratio(r.timeRatioCi95[0])}, ${ratio(r.timeRatioCi95[1])}]`
      : r.note && r.baseline.status === 'ok' && r.other.status === 'ok'
        ? `not compared: ${r.note}`
        : '-';
  return [
    lengthText(r.seqLen),
    params ? `${r.implementation} (${params})` : r.implementation,
    median(r.baseline),
    median(r.other),
    timeRatio,
    pValue(r.pValue),
    r.significant === null ? '-' : r.significant ? 'yes' : 'no',
    r.verdict ?? '-',
    r.baseline.peakMemoryBytes !== null ? formatBytes(r.baseline.peakMemoryBytes) : '-',
    r.other.peakMemoryBytes !== null ? formatBytes(r.other.peakMemoryBytes) : '-',
    r.memoryRatio !== null ? ratio(r.memoryRatio) : '-',
  ];
}

function comparisonTable(c: SideComparison, h: string): string[] {
  const b = c.kind === 'precision' ? c.baseline.dtype : c.baseline.device;
  const o = c.kind === 'precision' ? c.other.dtype : c.other.device;
  const title =
    c.kind === 'precision'
      ? `${o} vs ${b} on ${c.baseline.device}`
      : `${o} vs ${b} (${c.baseline.dtype})`;
  const rows = [...c.rows].sort(
    (x, y) => x.seqLen - y.seqLen || x.implementation.localeCompare(y.implementation),
  );
  const out = [`${h}# ${title}`, ''];
  out.push(
    table(
      [
        'Length',
        'Implementation',
        `${b} median ms [95% CI]`,
        `${o} median ms [95% CI]`,
        `Time ratio ${o}/${b} [95% CI]`,
        'p',
        'Significant',
        `Verdict (${o})`,
        `${b} peak memory`,
        `${o} peak memory`,
        `Memory ratio ${o}/${b}`,
      ],
      rows.map(comparisonRow),
      ['r', 'l', 'r', 'r', 'r', 'r', 'l', 'l', 'r', 'r', 'r'],
    ),
  );
  out.push('');
  const s = c.summary;
  if (s.rows > 0 && s.geomeanRatio !== null && s.geomeanCi95) {
    out.push(
      `Geometric mean of the time ratios over ${s.rows} compared row(s): ${ratio(s.geomeanRatio)} [${ratio(s.geomeanCi95[0])}, ${ratio(s.geomeanCi95[1])}] (${s.geomeanVerdict}); ` +
        `${o} is faster in ${s.faster}, slower in ${s.slower}, the same in ${s.same}, uncertain in ${s.uncertain}.`,
    );
  } else {
    out.push(`No (implementation, length) pair ran on both ${b} and ${o}; the rows above say why.`);
  }
  out.push('');
  return out;
}

function sectionIntro(alpha: number, threshold: number, what: string): string {
  return (
    `${what} Time ratio = the other side's median / the baseline's (< 1: the other side is faster), with its 95% bootstrap interval; ` +
    `p: two-sided Mann-Whitney U on the raw samples (significant: p < ${alpha}); verdict as \`dilbench compare\` gives it ` +
    `(faster or slower only when significant and the whole interval lies beyond ±${(threshold * 100).toFixed(0)}%, same when it lies within). ` +
    "Peak memory is the memory pool's peak of each side. A side that could not run a pair is shown with its reason."
  );
}

/**
 * The Precision comparison and Device comparison sections (empty for a one-side run), headed at
 * `level` (2: `##`; the aggregated report nests them under a run at 3).
 */
export function sideComparisonSections(file: Pick<ResultFile, 'comparisons'>, level = 2): string[] {
  const c = file.comparisons;
  if (!c) return [];
  const h = '#'.repeat(level);
  const out: string[] = [];
  if (c.precision.length) {
    out.push(`${h} Precision comparison`, '');
    out.push(
      sectionIntro(
        c.alpha,
        c.threshold,
        'Each dtype against the first one listed in --compare-dtypes, on the same device, per implementation and length.',
      ),
      '',
    );
    for (const x of c.precision) out.push(...comparisonTable(x, h));
  }
  if (c.device.length) {
    out.push(`${h} Device comparison`, '');
    out.push(
      sectionIntro(
        c.alpha,
        c.threshold,
        'cuda against cpu in the same dtype, per implementation and length.',
      ),
      '',
    );
    for (const x of c.device) out.push(...comparisonTable(x, h));
  }
  return out;
}
