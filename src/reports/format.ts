// Number and table (Markdown, plain text) formatting shared by the reports, the CLI and `npm run bench`.
export { formatBytes, formatLength } from '../config/units.js';

/** A plain-text table for the terminal, columns padded; `rightAlign[i]` right-aligns column i. */
export function textTable(header: string[], rows: string[][], rightAlign: boolean[] = []): string {
  // one width per header column; a row's cell beyond them is never padded
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (rightAlign[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A Markdown table cell: pipes escaped, line breaks as spaces. */
function markdownCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** A Markdown table; `align` 'r' right-aligns a column (default left). */
export function markdownTable(header: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const sep = header.map((_, i) => ((align?.[i] ?? 'l') === 'r' ? '---:' : '---'));
  return [header, sep, ...rows].map((r) => `| ${r.map(markdownCell).join(' | ')} |`).join('\n');
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms >= 1000) return ms.toFixed(0);
  if (ms >= 100) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toPrecision(3);
}

/** 1234567 -> "1.23M" */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (abs >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (abs >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return n.toFixed(0);
}

export function formatGflops(g: number | null | undefined): string {
  if (g === null || g === undefined || !Number.isFinite(g)) return '-';
  return g >= 100 ? g.toFixed(0) : g.toFixed(1);
}

/** A duration for people: "850 ms", "12.3 s", "4.6 min", "4.6 h", "3.2 days", "1403 years" (projections of 1e9 tokens reach years). */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  const s = ms / 1000;
  const one = (v: number, unit: string) => `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${unit}`;
  if (s < 1) return `${ms >= 100 ? ms.toFixed(0) : formatMs(ms)} ms`;
  if (s < 60) return one(s, 's');
  if (s < 3600) return one(s / 60, 'min');
  if (s < 86400 * 2) return one(s / 3600, 'h');
  if (s < 86400 * 365 * 2) return one(s / 86400, 'days');
  return one(s / (86400 * 365.25), 'years');
}
