// The grouped chart of a --compare-dtypes / --compare-devices run: per length, one bar per
// implementation (and comparison) with the time ratio other side / baseline side on a log axis,
// its 95% bootstrap interval as an error bar and a rule at 1 (< 1: the other side is faster).
// Pairs that were not compared (a side skipped or failed) have no bar; the Markdown says why.
import type { ResultFile } from '../../results/types.js';
import type { SideComparison } from '../../suite/side-comparison.js';
import { formatLength, implementationStyle, plotTitle } from './data.js';
import { PLOT_CONFIG, PLOT_HEIGHT, PLOT_WIDTH, type VlSpec } from './style.js';

function comparisonName(c: SideComparison): string {
  return c.kind === 'precision'
    ? `${c.other.dtype}/${c.baseline.dtype} on ${c.baseline.device}`
    : `${c.other.device}/${c.baseline.device} in ${c.baseline.dtype}`;
}

function paramsLabel(params: Record<string, unknown> | undefined): string {
  const parts = Object.entries(params ?? {})
    .filter(([, v]) => ['string', 'number', 'boolean'].includes(typeof v))
    .map(([k, v]) => `${k}=${String(v)}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

export function sideComparisonSpec(file: ResultFile): VlSpec | null {
  const all = [...(file.comparisons?.precision ?? []), ...(file.comparisons?.device ?? [])];
  const several = all.filter((c) => c.rows.some((r) => r.timeRatio !== null)).length > 1;
  const values = all.flatMap((c) =>
    c.rows
      .filter((r) => r.timeRatio !== null && r.timeRatioCi95)
      .map((r) => {
        const impl = `${r.implementation}${paramsLabel(r.params)}`;
        return {
          series: several ? `${impl}: ${comparisonName(c)}` : impl,
          comparison: comparisonName(c),
          implementation: impl,
          baseImplementation: r.implementation,
          seqLen: r.seqLen,
          seqLenLabel: formatLength(r.seqLen),
          ratio: r.timeRatio,
          low: r.timeRatioCi95![0],
          high: r.timeRatioCi95![1],
          pValue: r.pValue,
          verdict: r.verdict,
          baselineMs: r.baseline.medianMs,
          otherMs: r.other.medianMs,
        };
      }),
  );
  if (values.length === 0) return null;
  const series = [...new Set(values.map((v) => v.series))].sort();
  const lengths = [...new Set(values.map((v) => v.seqLen))].sort((a, b) => a - b).map(formatLength);
  const names = [...new Set(values.map((v) => v.comparison))];
  const x = {
    field: 'seqLenLabel',
    type: 'ordinal',
    title: 'Sequence length (tokens)',
    sort: lengths,
    axis: { labelAngle: 0 },
  };
  const xOffset = { field: 'series', type: 'nominal', sort: series };
  const y = {
    field: 'ratio',
    type: 'quantitative',
    title: `Time ratio ${names.length === 1 && names[0] ? names[0].split(' ')[0] : 'other / baseline'} (median, log scale; < 1 faster)`,
    scale: { type: 'log' },
    stack: null,
  };
  // the one palette: an implementation's colour (src/reports/plots/data.ts), whatever the comparison
  const implOf = new Map(values.map((v) => [v.series, v.baseImplementation]));
  const impls = [...new Set(implOf.values())];
  const color = {
    field: 'series',
    type: 'nominal',
    title: several ? 'Implementation: ratio' : 'Implementation',
    scale: {
      domain: series,
      range: series.map((s) => implementationStyle(implOf.get(s) ?? s, impls).color),
    },
    sort: series,
  };
  const rows = file.results.filter((r) => r.status === 'ok');
  const title = plotTitle(`Time ratio ${names.join('; ')} with 95% interval`, file, rows);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values },
    config: PLOT_CONFIG,
    width: PLOT_WIDTH,
    height: PLOT_HEIGHT,
    layer: [
      {
        name: 'bars',
        mark: { type: 'bar' },
        encoding: {
          x,
          xOffset,
          y,
          color,
          tooltip: [
            { field: 'implementation' },
            { field: 'comparison' },
            { field: 'seqLen', format: ',' },
            { field: 'ratio', title: 'time ratio', format: '.3f' },
            { field: 'low', title: '95% CI low', format: '.3f' },
            { field: 'high', title: '95% CI high', format: '.3f' },
            { field: 'pValue', title: 'Mann-Whitney p', format: '.4f' },
            { field: 'verdict' },
            { field: 'baselineMs', title: 'baseline median (ms)', format: '.3f' },
            { field: 'otherMs', title: 'other median (ms)', format: '.3f' },
          ],
        },
      },
      {
        name: 'interval',
        mark: { type: 'rule', color: '#333', strokeWidth: 1.5 },
        encoding: {
          x,
          xOffset,
          y: { field: 'low', type: 'quantitative', scale: { type: 'log' } },
          y2: { field: 'high' },
        },
      },
      {
        name: 'parity',
        data: { values: [{ one: 1 }] },
        mark: { type: 'rule', color: '#333', strokeDash: [4, 3] },
        encoding: { y: { field: 'one', type: 'quantitative' } },
      },
    ],
  };
}
