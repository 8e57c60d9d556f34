// Markdown and JSON views of a comparison report.
import { EXIT_UNRELIABLE, type ComparisonReport } from './compare.js';

function ms(v: number): string {
  if (v >= 100) return v.toFixed(1);
  if (v >= 1) return v.toFixed(3);
  return v.toPrecision(3);
}

function ratio(v: number): string {
  return v.toFixed(3);
}

function pct(v: number): string {
  const d = (v - 1) * 100;
  return `${d >= 0 ? '+' : ''}${d.toFixed(1)}%`;
}

function pval(p: number): string {
  if (p < 1e-4) return p.toExponential(1);
  return p.toFixed(4);
}

function esc(s: string): string {
  return s.replace(/\|/g, '\\|');
}

export interface FileInfo {
  baseline: string;
  current: string;
}

export function formatMarkdown(report: ComparisonReport, files?: FileInfo): string {
  const lines: string[] = ['# dilbench compare', ''];
  if (files) {
    lines.push(`- baseline: \`${files.baseline}\``, `- current: \`${files.current}\``);
  }
  lines.push(
    `- ratio = current median / baseline median (> 1 is slower), 95% bootstrap interval; two-sided Mann-Whitney U p-value`,
    `- a row is slower/faster only when p < ${report.alpha} and the whole interval lies beyond ±${(report.threshold * 100).toFixed(1)}%; same when the interval lies within it`,
    `- rows with --repetitions on both sides: median = geometric mean of the repetitions' medians; interval and p from a hierarchical bootstrap (repetitions, then samples), so run-to-run variance counts`,
    `- rows from one run each: the interval ignores run-to-run variance, so the change must also exceed the noise floor (see each row)`,
    `- unreliable: it would be slower, but a side was measured under interference (other processes, steal, clock); never a regression, exit ${EXIT_UNRELIABLE}`,
    '',
  );
  if (report.rows.length > 0) {
    lines.push(
      '| row | baseline median (ms) | current median (ms) | ratio | 95% CI | change | p | verdict |',
    );
    lines.push('|---|---:|---:|---:|---|---:|---:|---|');
    for (let r of report.rows) {
      const v = r.verdict === 'slower' || r.verdict === 'faster' ? `**${r.verdict}**` : r.verdict;
      const how =
        r.method === 'repetitions'
          ? `${r.repetitions!.baseline} vs ${r.repetitions!.current} repetitions`
          : `one run each, noise floor ${+(r.noiseFloor!.value * 100).toFixed(1)}% (${r.noiseFloor!.source})`;
      r = { ...r, notes: [how, ...r.notes] };
      lines.push(
        `| ${esc(r.label)} | ${ms(r.baselineMedianMs)} (n=${r.baselineSamples}) | ${ms(r.currentMedianMs)} (n=${r.currentSamples}) | ${ratio(r.ratio)} | [${ratio(r.ratioCi95[0])}, ${ratio(r.ratioCi95[1])}] | ${pct(r.ratio)} | ${pval(r.pValue)} | ${v}${r.notes.length ? ` (${esc(r.notes.join('; '))})` : ''} |`,
      );
    }
    const s = report.summary;
    if (s.geomeanRatio !== null && s.geomeanCi95) {
      lines.push(
        `| **geometric mean** (${s.rows} rows) | | | ${ratio(s.geomeanRatio)} | [${ratio(s.geomeanCi95[0])}, ${ratio(s.geomeanCi95[1])}] | ${pct(s.geomeanRatio)} | | ${s.geomeanVerdict} |`,
      );
    }
    lines.push('');
  } else {
    lines.push('No rows could be compared.', '');
  }
  const s = report.summary;
  lines.push(
    `**Result:** ${s.slower} slower, ${s.faster} faster, ${s.same} same, ${s.uncertain} uncertain, ${s.unreliable} unreliable.`,
  );
  if (report.exitCode === 1) lines.push('', 'Regression: at least one row is slower.');
  if (report.exitCode === EXIT_UNRELIABLE) {
    lines.push(
      '',
      `Unreliable: the only slowdowns were measured under interference; retry on a quiet machine (exit ${EXIT_UNRELIABLE}).`,
    );
  }
  const list = (title: string, items: string[]) => {
    if (items.length === 0) return;
    lines.push('', `## ${title}`, '', ...items.map((i) => `- ${i}`));
  };
  list(
    'Refused (dtype, device or shapes differ)',
    report.refused.map((r) => `${r.label}: ${r.reasons.join('; ')}`),
  );
  list(
    'Not compared',
    report.notComparable.map((r) => `${r.label}: ${r.reason}`),
  );
  list('Only in baseline', report.onlyInBaseline);
  list('Only in current', report.onlyInCurrent);
  list('Warnings', report.warnings);
  return lines.join('\n') + '\n';
}

export function formatJson(report: ComparisonReport, files?: FileInfo): string {
  return (
    JSON.stringify({ kind: 'dilbench-compare', version: 1, ...(files ?? {}), ...report }, null, 2) +
    '\n'
  );
}
