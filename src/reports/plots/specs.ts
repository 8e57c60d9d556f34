// Vega-Lite specification builders. Each takes a result file (or history entries) and returns a
// plain Vega-Lite spec object with its data inlined, or null when the file has nothing to plot.
// Specs are plain JSON so they can be rendered in Node (render.ts) and inlined into the HTML report.
//
// Conventions for every chart:
// - seqLen on a log2 axis whose ticks are the measured lengths, labelled 1K, 2K, ... (K = 1024);
// - times in milliseconds, memory in MiB, throughput in tokens/s, all named in the axis titles;
// - Okabe-Ito palette plus point shapes (colour-blind safe, readable in greyscale);
// - title: what and which suite; subtitle: the machine (environment.cpuModel) and the configuration;
// - tooltips on every point (the HTML report shows them; static SVG/PNG ignore them).
//
// Ring plot data shape (produced by the ring implementation, issue 3). Read from `row.projected`
// first, then `row.params`; every field optional:
//   ringSize            P, the number of (simulated) ranks
//   perStepComputeMs    measured compute time of one ring step (critical path = slowest rank);
//                       a number, or an array with one entry per step (plotted as mean and min-max band)
//   bytesPerStepPerRank bytes each rank sends per step (defaults to the definitions formula
//                       2 * batch * kvHeads * (seqLen / P) * headDim * bytes(dtype))
//   links               [{ name, gbps | GBps, commMsPerStep?, projectedWallMs?, hidesCommunication? }]
//                       one projected link each; `gbps` is gigabits/s, `GBps` gigabytes/s
//   linkGbps / linkGBps  a single link, when `links` is absent
//   commMsPerStep       projected communication time per step for that single link
// Without per-step compute the measured median divided by P is used and labelled "estimated".
// Without any link, NVLink-class (300 GB/s) and InfiniBand-class (25 GB/s) presets are projected.
// The chart: x = seqLen (log), y = ms per ring step (log); measured compute solid, each projected
// link dashed. Where the compute line lies above a link's line, compute hides that communication.
import type { Environment, ResultFile, ResultRow } from '../../results/types.js';
import {
  LENGTH_LABEL_EXPR,
  MIB,
  implementationStyle,
  SHAPES as SHAPE_LIST,
  cyclicItem,
  formatBytes,
  formatLength,
  percentOfPeak,
  plotTitle,
  ringSizeOf,
  seriesLabeller,
} from './data.js';

import { sideComparisonSpec } from './side-comparison.js';
import { computesExactDense, displayStatus } from '../../results/ranking.js';

import { PLOT_CONFIG, PLOT_HEIGHT, PLOT_WIDTH, SCHEMA, type VlSpec } from './style.js';
export { PLOT_CONFIG, PLOT_HEIGHT, PLOT_WIDTH, type VlSpec };

/** Every plot kind writeSuitePlots can produce, in output order. */
export const PLOT_KINDS = [
  'latency',
  'memory',
  'throughput',
  'speedup',
  'optimization-impact',
  'ring',
  'side-comparison',
  'drift-sentinel',
] as const;
export type PlotKind = (typeof PLOT_KINDS)[number] | 'performance-over-time';

function top(title: VlSpec, values: unknown[], body: VlSpec): VlSpec {
  return { $schema: SCHEMA, title, data: { values }, config: PLOT_CONFIG, ...body };
}

function lengthAxis(lengths: number[]): VlSpec {
  const sorted = [...new Set(lengths)].sort((a, b) => a - b);
  return {
    field: 'seqLen',
    type: 'quantitative',
    title: 'Sequence length (tokens, log scale)',
    scale: { type: 'log', base: 2, nice: false, padding: 12 },
    axis: { values: sorted, labelExpr: LENGTH_LABEL_EXPR, grid: true },
  };
}

/** Colour, marker and (for several series of one implementation) dash of each series, from the one palette. */
interface SeriesStyle {
  series: string[];
  colors: string[];
  shapes: string[];
  /** null when every implementation has one series */
  dashes: number[][] | null;
}

const DASHES: readonly [number[], ...number[][]] = [
  [1, 0],
  [7, 4],
  [2, 3],
  [10, 3, 2, 3],
];

function seriesStyle(pairs: { series: string; implementation: string }[]): SeriesStyle {
  const series = uniqueSorted(pairs.map((p) => p.series));
  const implOf = new Map(pairs.map((p) => [p.series, p.implementation]));
  const impls = [...new Set(implOf.values())];
  const styles = series.map((s) => implementationStyle(implOf.get(s) ?? s, impls));
  const seen = new Map<string, number>();
  const dashIndex = series.map((s) => {
    const impl = implOf.get(s) ?? s;
    const i = seen.get(impl) ?? 0;
    seen.set(impl, i + 1);
    return i;
  });
  return {
    series,
    colors: styles.map((st) => st.color),
    shapes: styles.map((st) => st.shape),
    dashes: dashIndex.some((i) => i > 0) ? dashIndex.map((i) => cyclicItem(DASHES, i)) : null,
  };
}

function seriesColor(st: SeriesStyle): VlSpec {
  // symbolOpacity: the band layers share this legend; keep its symbols solid
  return {
    field: 'series',
    type: 'nominal',
    title: 'Implementation',
    scale: { domain: st.series, range: st.colors },
    sort: st.series,
    legend: { symbolOpacity: 1, symbolLimit: 0, labelLimit: 480 },
  };
}

function seriesShape(st: SeriesStyle): VlSpec {
  return {
    field: 'series',
    type: 'nominal',
    title: 'Implementation',
    scale: { domain: st.series, range: st.shapes },
    sort: st.series,
  };
}

/** The line encoding: colour, plus a dash per series when one implementation has several (dtype, device, P). */
function lineEncoding(st: SeriesStyle): VlSpec {
  return {
    color: seriesColor(st),
    ...(st.dashes
      ? {
          strokeDash: {
            field: 'series',
            type: 'nominal',
            title: 'Implementation',
            scale: { domain: st.series, range: st.dashes },
            sort: st.series,
          },
        }
      : {}),
  };
}

function uniqueSorted(values: string[]): string[] {
  return [...new Set(values)].sort();
}

const okRows = (rows: ResultRow[]): ResultRow[] =>
  rows.filter((r) => r.status === 'ok' && r.stats !== null);

function baseDatum(row: ResultRow, series: string) {
  return {
    series,
    implementation: row.implementation,
    seqLen: row.seqLen,
    seqLenLabel: formatLength(row.seqLen),
    effectiveSeqLen: row.effectiveSeqLen,
    batch: row.batch,
    // a point stopped by Ctrl-C is drawn as 'interrupted', not 'failed'
    status: displayStatus(row),
  };
}

/**
 * One label per length for the points that did not run ("skipped", "2 skipped, 1 failed"), in grey
 * above the highest such marker: per-series labels at the same spot printed over each other. The
 * markers keep their series colour; the tooltip names each one.
 */
function statusLabel(filter: string, yField: string): VlSpec {
  const part = (st: string) =>
    `(datum.${st} > 0 ? (datum.n > 1 ? datum.${st} + ' ' : '') + '${st}' : '')`;
  return {
    mark: { type: 'text', fontSize: 11, fontStyle: 'italic', color: '#444', dy: -13 },
    transform: [
      { filter },
      ...['skipped', 'failed', 'interrupted'].map((st) => ({
        calculate: `datum.status == '${st}' ? 1 : 0`,
        as: `is_${st}`,
      })),
      {
        aggregate: [
          { op: 'count', as: 'n' },
          { op: 'max', field: yField, as: yField },
          ...['skipped', 'failed', 'interrupted'].map((st) => ({
            op: 'sum',
            field: `is_${st}`,
            as: st,
          })),
        ],
        groupby: ['seqLen'],
      },
      {
        calculate: `join([${['skipped', 'failed', 'interrupted'].map(part).join(', ')}], ', ')`,
        as: 'joined',
      },
      {
        calculate:
          "replace(replace(replace(datum.joined, /^(, )+/, ''), /(, )+$/, ''), /(, ){2,}/, ', ')",
        as: 'label',
      },
    ],
  };
}

// ---------------------------------------------------------------- latency

/**
 * Median time vs seqLen per implementation, log-log, p10-p90 band; skipped and failed points are
 * drawn as hollow markers at the planner's time estimate (or at the bottom of the axis when there
 * is none) with their reason in the tooltip.
 */
export function latencySpec(file: ResultFile): VlSpec | null {
  const rows = file.results;
  const ok = okRows(rows);
  if (ok.length === 0) return null;
  const label = seriesLabeller(rows);
  const style = seriesStyle(
    rows.map((r) => ({ series: label(r), implementation: r.implementation })),
  );
  const minMs = Math.min(...ok.map((r) => Math.max(r.stats!.p10Ms, 1e-6)));
  const values = rows.map((r) => {
    const d = baseDatum(r, label(r));
    if (r.status === 'ok' && r.stats) {
      return {
        ...d,
        medianMs: r.stats.medianMs,
        p10Ms: Math.max(r.stats.p10Ms, 1e-9),
        p90Ms: r.stats.p90Ms,
        samples: r.samplesMs.length,
      };
    }
    const est =
      r.estimatedSeconds !== undefined && r.estimatedSeconds > 0 ? r.estimatedSeconds * 1000 : null;
    return {
      ...d,
      markerMs: est ?? minMs,
      markerNote: est !== null ? 'planner estimate' : 'not measured (drawn at axis floor)',
      reason: r.reason ?? '',
    };
  });
  const hasNotMeasured = rows.some((r) => r.status !== 'ok');
  const x = lengthAxis(rows.map((r) => r.seqLen));
  const yScale = { type: 'log', nice: false, padding: 10 };
  const y = {
    field: 'medianMs',
    type: 'quantitative',
    title: 'Median time per call (ms, log scale)',
    scale: yScale,
  };
  return top(plotTitle('Latency vs sequence length (median, p10-p90 band)', file, rows), values, {
    width: PLOT_WIDTH,
    height: PLOT_HEIGHT,
    layer: [
      {
        name: 'band',
        mark: { type: 'area', opacity: 0.18 },
        transform: [{ filter: "datum.status == 'ok'" }],
        encoding: {
          x,
          y: {
            field: 'p10Ms',
            type: 'quantitative',
            title: 'Median time per call (ms, log scale)',
            scale: yScale,
          },
          y2: { field: 'p90Ms' },
          color: seriesColor(style),
        },
      },
      {
        name: 'line',
        mark: { type: 'line', point: false },
        transform: [{ filter: "datum.status == 'ok'" }],
        encoding: { x, y, ...lineEncoding(style) },
      },
      {
        name: 'points',
        mark: { type: 'point', filled: true },
        transform: [{ filter: "datum.status == 'ok'" }],
        encoding: {
          x,
          y,
          color: seriesColor(style),
          shape: seriesShape(style),
          tooltip: [
            { field: 'series', title: 'implementation' },
            { field: 'seqLen', title: 'seqLen', format: ',' },
            { field: 'medianMs', title: 'median (ms)', format: '.3f' },
            { field: 'p10Ms', title: 'p10 (ms)', format: '.3f' },
            { field: 'p90Ms', title: 'p90 (ms)', format: '.3f' },
            { field: 'samples', title: 'samples' },
          ],
        },
      },
      ...(hasNotMeasured
        ? [
            {
              name: 'not-measured',
              mark: {
                type: 'point',
                filled: false,
                shape: 'cross',
                size: 140,
                strokeWidth: 2.5,
                opacity: 0.95,
              },
              transform: [{ filter: "datum.status != 'ok'" }],
              encoding: {
                x,
                y: { field: 'markerMs', type: 'quantitative', scale: yScale },
                color: seriesColor(style),
                tooltip: [
                  { field: 'series', title: 'implementation' },
                  { field: 'seqLen', title: 'seqLen', format: ',' },
                  { field: 'status', title: 'status' },
                  { field: 'reason', title: 'reason' },
                  { field: 'markerNote', title: 'position' },
                ],
              },
            },
            {
              name: 'not-measured-label',
              ...statusLabel("datum.status != 'ok'", 'markerMs'),
              encoding: {
                x,
                y: { field: 'markerMs', type: 'quantitative', scale: yScale },
                text: { field: 'label' },
              },
            },
          ]
        : []),
    ],
    resolve: { scale: { y: 'shared' } },
  });
}

// ---------------------------------------------------------------- memory

/** Peak memory vs seqLen per implementation, log-log; skipped points at the planner's estimate. */
export function memorySpec(file: ResultFile): VlSpec | null {
  const rows = file.results;
  const measured = rows.filter(
    (r) => r.status === 'ok' && r.peakMemoryBytes !== null && r.peakMemoryBytes > 0,
  );
  if (measured.length === 0) return null;
  const label = seriesLabeller(rows);
  const style = seriesStyle(
    rows.map((r) => ({ series: label(r), implementation: r.implementation })),
  );
  const values = rows
    .map((r) => {
      const d = baseDatum(r, label(r));
      if (r.status === 'ok' && r.peakMemoryBytes !== null && r.peakMemoryBytes > 0) {
        return {
          ...d,
          memMiB: r.peakMemoryBytes / MIB,
          memText: formatBytes(r.peakMemoryBytes),
          kind: 'measured',
        };
      }
      if (r.status !== 'ok' && r.estimatedMemoryBytes > 0) {
        return {
          ...d,
          memMiB: r.estimatedMemoryBytes / MIB,
          memText: `${formatBytes(r.estimatedMemoryBytes)} (planner estimate)`,
          kind: 'estimate',
          reason: r.reason ?? '',
        };
      }
      return null;
    })
    .filter((v) => v !== null);
  const x = lengthAxis(rows.map((r) => r.seqLen));
  const y = {
    field: 'memMiB',
    type: 'quantitative',
    title: 'Peak memory (MiB, log scale)',
    scale: { type: 'log', nice: false, padding: 10 },
  };
  const tooltip = [
    { field: 'series', title: 'implementation' },
    { field: 'seqLen', title: 'seqLen', format: ',' },
    { field: 'memText', title: 'peak memory' },
    { field: 'status', title: 'status' },
  ];
  return top(plotTitle('Peak memory vs sequence length', file, rows), values, {
    width: PLOT_WIDTH,
    height: PLOT_HEIGHT,
    layer: [
      {
        name: 'line',
        mark: { type: 'line' },
        transform: [{ filter: "datum.kind == 'measured'" }],
        encoding: { x, y, ...lineEncoding(style) },
      },
      {
        name: 'points',
        mark: { type: 'point', filled: true },
        transform: [{ filter: "datum.kind == 'measured'" }],
        encoding: { x, y, color: seriesColor(style), shape: seriesShape(style), tooltip },
      },
      ...(values.some((v) => v.kind === 'estimate')
        ? [
            {
              name: 'not-measured',
              mark: { type: 'point', filled: false, shape: 'cross', size: 140, strokeWidth: 2.5 },
              transform: [{ filter: "datum.kind == 'estimate'" }],
              encoding: {
                x,
                y,
                color: seriesColor(style),
                tooltip: [...tooltip, { field: 'reason', title: 'reason' }],
              },
            },
            {
              name: 'not-measured-label',
              ...statusLabel("datum.kind == 'estimate'", 'memMiB'),
              encoding: { x, y, text: { field: 'label' } },
            },
          ]
        : []),
    ],
  });
}

// ---------------------------------------------------------------- throughput + % of peak

/** Two panels: tokens/s vs seqLen, and achieved % of the measured FP32 FMA peak (or GFLOP/s). */
export function throughputSpec(file: ResultFile): VlSpec | null {
  const rows = file.results;
  const ok = okRows(rows).filter((r) => r.tokensPerSecond !== null && r.tokensPerSecond > 0);
  if (ok.length === 0) return null;
  const label = seriesLabeller(rows);
  const style = seriesStyle(
    ok.map((r) => ({ series: label(r), implementation: r.implementation })),
  );
  const env: Environment | undefined = file.environment;
  const hasPeak = ok.some((r) => percentOfPeak(r, env) !== null);
  const values = ok.map((r) => ({
    ...baseDatum(r, label(r)),
    tokensPerSecond: r.tokensPerSecond,
    gflops: r.gflops,
    percentOfPeak: percentOfPeak(r, env),
  }));
  const x = lengthAxis(ok.map((r) => r.seqLen));
  const tooltip = [
    { field: 'series', title: 'implementation' },
    { field: 'seqLen', title: 'seqLen', format: ',' },
    { field: 'tokensPerSecond', title: 'tokens/s', format: ',.0f' },
    { field: 'gflops', title: 'GFLOP/s', format: ',.1f' },
    ...(hasPeak ? [{ field: 'percentOfPeak', title: '% of FMA peak', format: '.1f' }] : []),
  ];
  // a long panel title widens the layout (vega estimates text widths in Node and places the legend
  // past them), so the figures go in a subtitle of their own
  const panel = (
    name: string,
    title: string | { text: string; subtitle: string },
    y: VlSpec,
  ): VlSpec => ({
    name,
    width: Math.round(PLOT_WIDTH * 0.8),
    height: PLOT_HEIGHT,
    title,
    layer: [
      { mark: { type: 'line' }, encoding: { x, y, ...lineEncoding(style) } },
      {
        mark: { type: 'point', filled: true },
        encoding: { x, y, color: seriesColor(style), shape: seriesShape(style), tooltip },
      },
    ],
  });
  const peak = env?.peak;
  // CUDA rows are placed on the GPU peak of their dtype (src/roofline), CPU rows on the FMA peak
  const gpuPeak = ok.some((r) => r.device === 'cuda' && percentOfPeak(r, env) !== null)
    ? env?.gpuPeak
    : undefined;
  const right = hasPeak
    ? panel(
        'percent-of-peak',
        gpuPeak || !peak
          ? `Achieved % of measured peak${gpuPeak ? ` (GPU ${gpuPeak.name}: compute rate of the row's dtype)` : ''}`
          : {
              text: 'Achieved % of FP32 FMA peak',
              subtitle: `peak ${peak.fmaGflops.toFixed(0)} GFLOP/s on ${peak.threads} threads`,
            },
        {
          field: 'percentOfPeak',
          type: 'quantitative',
          title: gpuPeak || !peak ? '% of measured peak' : '% of measured FP32 FMA peak',
          scale: { zero: true, nice: true },
        },
      )
    : panel('gflops', 'Achieved GFLOP/s (no measured peak in this file)', {
        field: 'gflops',
        type: 'quantitative',
        title: 'GFLOP/s',
        scale: { zero: true },
      });
  return top(plotTitle('Throughput and % of peak', file, rows), values, {
    hconcat: [
      panel(
        'tokens-per-second',
        { text: 'Throughput', subtitle: 'tokens per second' },
        {
          field: 'tokensPerSecond',
          type: 'quantitative',
          title: 'Throughput (tokens/s, log scale)',
          scale: { type: 'log', nice: false, padding: 10 },
        },
      ),
      right,
    ],
    resolve: { scale: { color: 'shared', shape: 'shared' } },
  });
}

// ---------------------------------------------------------------- speedup

/**
 * Speedup of every implementation over `baseline` (median time ratio, > 1 = faster than baseline)
 * at each length, matched on the full configuration. Log-scaled y with a rule at 1x. Bars of
 * implementations that compute another function than the baseline (sparse, dilated against dense)
 * are faded and named so in the legend and the subtitle: their "speedup" is less work, not a faster
 * kernel. No value labels on the bars (they collide when bars are narrow): the tooltip and the
 * Markdown carry the numbers.
 */
export function speedupSpec(file: ResultFile, baseline = 'naive'): VlSpec | null {
  const rows = okRows(file.results);
  const key = (r: ResultRow): string =>
    [
      r.seqLen,
      r.batch,
      r.heads,
      r.kvHeads,
      r.headDim,
      r.causal,
      r.dtype,
      r.device,
      r.memoryPool,
      r.patternCache,
    ].join('|');
  const base = new Map<string, ResultRow>();
  for (const r of rows) if (r.implementation === baseline) base.set(key(r), r);
  if (base.size === 0) return null;
  const label = seriesLabeller(file.results);
  const baseDense = computesExactDense(baseline, true);
  const sameFunction = (r: ResultRow): boolean =>
    computesExactDense(r.implementation, r.causal, r.exactDense) === baseDense;
  const values = rows
    .filter((r) => r.implementation !== baseline && base.has(key(r)))
    .map((r) => {
      const b = base.get(key(r))!;
      const same = sameFunction(r);
      return {
        ...baseDatum(r, same ? label(r) : `${label(r)} (other function)`),
        speedup: b.stats!.medianMs / r.stats!.medianMs,
        medianMs: r.stats!.medianMs,
        baselineMs: b.stats!.medianMs,
        comparable: same ? 'yes' : 'no: computes another function (less work)',
      };
    });
  if (values.length === 0) return null;
  const style = seriesStyle(
    values.map((v) => ({ series: v.series, implementation: v.implementation })),
  );
  const series = style.series;
  const lengths = [...new Set(values.map((v) => v.seqLen))].sort((a, b) => a - b).map(formatLength);
  const x = {
    field: 'seqLenLabel',
    type: 'ordinal',
    title: 'Sequence length (tokens)',
    sort: lengths,
    axis: { labelAngle: 0 },
  };
  const y = {
    field: 'speedup',
    type: 'quantitative',
    title: `Speedup vs ${baseline} (x, log scale)`,
    scale: { type: 'log' },
    stack: null,
  };
  const title = plotTitle(`Speedup vs ${baseline} (median time ratio)`, file, file.results);
  const others = values.some((v) => v.comparable !== 'yes');
  if (others)
    title.subtitle = [
      ...title.subtitle,
      `Faded bars: not ${baseDense ? 'dense' : 'the same'} attention; faster by doing less work, not comparable as a speedup`,
    ];
  return top(title, values, {
    width: PLOT_WIDTH,
    height: PLOT_HEIGHT,
    layer: [
      {
        name: 'bars',
        mark: { type: 'bar' },
        encoding: {
          x,
          xOffset: { field: 'series', type: 'nominal', sort: series },
          y,
          color: seriesColor(style),
          opacity: { condition: { test: "datum.comparable == 'yes'", value: 1 }, value: 0.35 },
          tooltip: [
            { field: 'series', title: 'implementation' },
            { field: 'seqLen', title: 'seqLen', format: ',' },
            { field: 'speedup', title: `speedup vs ${baseline}`, format: '.2f' },
            { field: 'medianMs', title: 'median (ms)', format: '.3f' },
            { field: 'baselineMs', title: `${baseline} median (ms)`, format: '.3f' },
            { field: 'comparable', title: `same function as ${baseline}` },
          ],
        },
      },
      {
        name: 'parity',
        data: { values: [{ one: 1 }] },
        mark: { type: 'rule', color: '#333', strokeDash: [4, 3] },
        encoding: { y: { field: 'one', type: 'quantitative' } },
      },
    ],
  });
}

// ---------------------------------------------------------------- optimization impact

export const OPTIMIZATION_CONFIGS = [
  'baseline',
  'pattern cache only',
  'memory pool only',
  'both',
] as const;

/** Configurations are not implementations: greys, so no colour here means an implementation. */
const CONFIGURATION_GREYS = ['#c8c8c8', '#969696', '#646464', '#1e1e1e'];

export function optimizationConfigName(row: ResultRow): (typeof OPTIMIZATION_CONFIGS)[number] {
  const pool = row.memoryPool === true;
  const cache = row.patternCache === true;
  if (pool && cache) return 'both';
  if (pool) return 'memory pool only';
  if (cache) return 'pattern cache only';
  return 'baseline';
}

/**
 * The four configurations (baseline, pattern cache only, memory pool only, both) per implementation
 * and length: a time panel and a memory panel. Only rows carrying memoryPool/patternCache flags, and
 * only when at least two configurations are present.
 */
export function optimizationImpactSpec(file: ResultFile): VlSpec | null {
  const flagged = okRows(file.results).filter(
    (r) => r.memoryPool !== undefined || r.patternCache !== undefined,
  );
  if (new Set(flagged.map(optimizationConfigName)).size < 2) return null;
  const baseKey = (r: ResultRow): string =>
    [r.implementation, r.seqLen, r.batch, r.heads, r.kvHeads, r.headDim, r.causal].join('|');
  const baselines = new Map<string, ResultRow>();
  for (const r of flagged)
    if (optimizationConfigName(r) === 'baseline') baselines.set(baseKey(r), r);
  const values = flagged.map((r) => {
    const b = baselines.get(baseKey(r));
    return {
      ...baseDatum(r, r.implementation),
      group: `${r.implementation} @ ${formatLength(r.seqLen)}`,
      configuration: optimizationConfigName(r),
      medianMs: r.stats!.medianMs,
      memMiB: r.peakMemoryBytes !== null ? r.peakMemoryBytes / MIB : null,
      memText: formatBytes(r.peakMemoryBytes),
      speedup: b ? b.stats!.medianMs / r.stats!.medianMs : null,
      memoryReduction:
        b && b.peakMemoryBytes && r.peakMemoryBytes !== null
          ? 1 - r.peakMemoryBytes / b.peakMemoryBytes
          : null,
      cacheHitRate: r.pool && r.pool.allocations > 0 ? r.pool.cacheHits / r.pool.allocations : null,
    };
  });
  const groups = [
    ...new Set(
      flagged
        .sort((a, b) => a.implementation.localeCompare(b.implementation) || a.seqLen - b.seqLen)
        .map((r) => `${r.implementation} @ ${formatLength(r.seqLen)}`),
    ),
  ];
  const configs = [...OPTIMIZATION_CONFIGS];
  const color = {
    field: 'configuration',
    type: 'nominal',
    title: 'Configuration',
    scale: { domain: configs, range: CONFIGURATION_GREYS },
    sort: configs,
  };
  const x = {
    field: 'group',
    type: 'nominal',
    title: 'Implementation @ sequence length',
    sort: groups,
    axis: { labelAngle: -30 },
  };
  const tooltip = [
    { field: 'implementation' },
    { field: 'seqLen', format: ',' },
    { field: 'configuration' },
    { field: 'medianMs', title: 'median (ms)', format: '.3f' },
    { field: 'memText', title: 'peak memory' },
    { field: 'speedup', title: 'speedup vs baseline', format: '.2f' },
    { field: 'memoryReduction', title: 'memory reduction vs baseline', format: '.1%' },
    { field: 'cacheHitRate', title: 'pool cache hit rate', format: '.1%' },
  ];
  const width = Math.max(PLOT_WIDTH * 0.8, groups.length * 70);
  return top(plotTitle('Optimization impact (pattern cache, memory pool)', file, flagged), values, {
    vconcat: [
      {
        name: 'time',
        title: 'Median time per call',
        width,
        height: PLOT_HEIGHT * 0.75,
        mark: { type: 'bar' },
        encoding: {
          x: { ...x, title: null },
          xOffset: { field: 'configuration', type: 'nominal', sort: configs },
          y: { field: 'medianMs', type: 'quantitative', title: 'Median time (ms)' },
          color,
          tooltip,
        },
      },
      {
        name: 'memory',
        title: 'Peak memory',
        width,
        height: PLOT_HEIGHT * 0.75,
        transform: [{ filter: 'datum.memMiB != null' }],
        mark: { type: 'bar' },
        encoding: {
          x,
          xOffset: { field: 'configuration', type: 'nominal', sort: configs },
          y: { field: 'memMiB', type: 'quantitative', title: 'Peak memory (MiB)' },
          color,
          tooltip,
        },
      },
    ],
    resolve: { scale: { color: 'shared' } },
  });
}

// ---------------------------------------------------------------- ring

interface RingLink {
  name: string;
  GBps: number;
  commMsPerStep?: number;
}

const DEFAULT_LINKS: RingLink[] = [
  { name: 'NVLink-class 300 GB/s', GBps: 300 },
  { name: 'InfiniBand-class 25 GB/s', GBps: 25 },
];

const DTYPE_BYTES: Record<string, number> = { fp32: 4, fp16: 2, bf16: 2 };

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function ringLinks(src: Record<string, unknown>): RingLink[] {
  const out: RingLink[] = [];
  const links = src['links'];
  if (Array.isArray(links)) {
    for (const l of links as Record<string, unknown>[]) {
      const GBps =
        num(l['GBps']) ?? (num(l['gbps']) !== undefined ? num(l['gbps'])! / 8 : undefined);
      const commMsPerStep = num(l['commMsPerStep']);
      if (GBps === undefined && commMsPerStep === undefined) continue;
      const name = typeof l['name'] === 'string' ? l['name'] : `${GBps ?? '?'} GB/s link`;
      out.push({ name, GBps: GBps ?? NaN, commMsPerStep });
    }
  }
  if (out.length) return out;
  const GBps =
    num(src['linkGBps']) ??
    (num(src['linkGbps']) !== undefined ? num(src['linkGbps'])! / 8 : undefined);
  const comm = num(src['commMsPerStep']);
  if (GBps !== undefined || comm !== undefined) {
    const name =
      typeof src['linkName'] === 'string'
        ? src['linkName']
        : GBps !== undefined
          ? `link ${+GBps.toFixed(1)} GB/s`
          : 'link';
    return [{ name, GBps: GBps ?? NaN, commMsPerStep: comm }];
  }
  return [];
}

/** Per-step measured compute vs projected communication for ring rows. See the header comment. */
export function ringSpec(file: ResultFile): VlSpec | null {
  const rings = okRows(file.results).filter(
    (r) => r.implementation.startsWith('ring') || r.projected?.['perStepComputeMs'] !== undefined,
  );
  if (rings.length === 0) return null;
  const values: Record<string, unknown>[] = [];
  for (const r of rings) {
    const src: Record<string, unknown> = { ...(r.params ?? {}), ...(r.projected ?? {}) };
    const P = ringSizeOf(r) ?? 1;
    let computeMs: number;
    let computeLo: number;
    let computeHi: number;
    let computeNote = 'measured';
    const pc = src['perStepComputeMs'];
    if (Array.isArray(pc) && pc.length > 0 && pc.every((v) => typeof v === 'number')) {
      const arr = pc;
      computeMs = arr.reduce((a, b) => a + b, 0) / arr.length;
      computeLo = Math.min(...arr);
      computeHi = Math.max(...arr);
    } else if (num(pc) !== undefined) {
      computeMs = computeLo = computeHi = num(pc)!;
    } else {
      computeMs = computeLo = computeHi = r.stats!.medianMs / P;
      computeNote = 'estimated (median / P)';
    }
    const bytes =
      num(src['bytesPerStepPerRank']) ??
      2 * r.batch * r.kvHeads * (r.effectiveSeqLen / P) * r.headDim * (DTYPE_BYTES[r.dtype] ?? 4);
    const series = `${r.implementation} P=${P}`;
    const common = {
      implementation: r.implementation,
      ringSize: `P=${P}`,
      seqLen: r.seqLen,
      seqLenLabel: formatLength(r.seqLen),
      bytesText: formatBytes(bytes),
    };
    values.push({
      ...common,
      series,
      line: `${series}: compute`,
      kind: `compute per step (${computeNote})`,
      ms: computeMs,
      lo: computeLo,
      hi: computeHi,
    });
    const links = ringLinks(src);
    // P = 1 sends nothing: no line, and so no legend entry, for it
    for (const link of P > 1 ? (links.length ? links : DEFAULT_LINKS) : []) {
      const ms =
        link.commMsPerStep ??
        (Number.isFinite(link.GBps) && link.GBps > 0
          ? (bytes / (link.GBps * 1e9)) * 1e3
          : undefined);
      if (ms === undefined || !(ms > 0)) continue;
      values.push({
        ...common,
        series,
        line: `${series}: ${link.name}`,
        kind: `communication per step, projected (${link.name})`,
        ms,
        hides: computeMs >= ms ? 'yes' : 'no',
      });
    }
  }
  // one colour per implementation (the palette), a dash per kind of line, a marker per ring size: every legend entry is drawn
  const impls = uniqueSorted(values.map((v) => v.implementation as string));
  const kinds = [...new Set(values.map((v) => v.kind as string))].sort(
    (a, b) =>
      Number(b.startsWith('compute')) - Number(a.startsWith('compute')) || a.localeCompare(b),
  );
  const sizes = [...new Set(values.map((v) => v.ringSize as string))].sort(
    (a, b) => Number(a.slice(2)) - Number(b.slice(2)),
  );
  const x = lengthAxis(rings.map((r) => r.seqLen));
  const y = {
    field: 'ms',
    type: 'quantitative',
    title: 'Time per ring step (ms, log scale)',
    scale: { type: 'log', nice: false, padding: 10 },
  };
  const color = {
    field: 'implementation',
    type: 'nominal',
    title: 'Implementation',
    scale: { domain: impls, range: impls.map((i) => implementationStyle(i, impls).color) },
    sort: impls,
    legend: { symbolOpacity: 1 },
  };
  const dash = {
    field: 'kind',
    type: 'nominal',
    title: 'Line',
    scale: { domain: kinds, range: kinds.map((_, i) => cyclicItem(DASHES, i)) },
    sort: kinds,
    legend: { orient: 'bottom', columns: 1, labelLimit: 700, symbolStrokeColor: '#333' },
  };
  const shape = {
    field: 'ringSize',
    type: 'nominal',
    title: 'Ring size',
    scale: { domain: sizes, range: SHAPE_LIST.slice(0, sizes.length) },
    sort: sizes,
  };
  const tooltip = [
    { field: 'series', title: 'series' },
    { field: 'kind', title: 'line' },
    { field: 'seqLen', format: ',' },
    { field: 'ms', title: 'ms per step', format: '.4f' },
    { field: 'bytesText', title: 'bytes sent per rank per step' },
    { field: 'hides', title: 'compute hides this communication' },
  ];
  // a ring of one rank sends nothing: then there is no communication line, and the title says so
  const communicates = values.some((v) => String(v.kind).startsWith('communication'));
  const title = communicates
    ? 'Ring: per-step compute (measured) vs communication (projected)'
    : 'Ring: compute per step (measured; P = 1 sends nothing)';
  return top(plotTitle(title, file, rings), values, {
    width: PLOT_WIDTH,
    height: PLOT_HEIGHT,
    layer: [
      {
        name: 'compute-band',
        mark: { type: 'area', opacity: 0.18 },
        transform: [{ filter: "indexof(datum.kind, 'compute') == 0" }],
        encoding: {
          x,
          y: { field: 'lo', type: 'quantitative', scale: y.scale, title: y.title },
          y2: { field: 'hi' },
          color,
          detail: { field: 'line' },
        },
      },
      {
        name: 'lines',
        mark: { type: 'line' },
        encoding: { x, y, color, strokeDash: dash, detail: { field: 'line' } },
      },
      {
        name: 'points',
        mark: { type: 'point', filled: true },
        encoding: { x, y, color, shape, tooltip },
      },
    ],
  });
}

// ---------------------------------------------------------------- performance over time

/** One history entry as stored in history.jsonl (see src/history). Only the fields plots need. */
export interface HistoryPoint {
  runId: string;
  timestamp: string;
  gitCommit: string | null;
  environment?: { cpuModel?: string; cpuCores?: number; simdLevel?: string };
  row: Pick<ResultRow, 'implementation' | 'seqLen' | 'status'> & Partial<ResultRow>;
}

/**
 * Median time per run over time, one line per implementation, one panel per length. Only the default
 * configuration of each implementation is drawn (memory pool and pattern cache on or not recorded):
 * the optimization-impact variants would otherwise crowd the panels; they stay in the history table.
 */
export function performanceOverTimeSpec(
  entries: HistoryPoint[],
  options: { title?: string } = {},
): VlSpec | null {
  const ok = entries.filter(
    (e) =>
      e.row.status === 'ok' &&
      e.row.stats &&
      Number.isFinite(e.row.stats.medianMs) &&
      e.row.memoryPool !== false &&
      e.row.patternCache !== false,
  );
  if (ok.length === 0) return null;
  // the flags are all on (or absent) here: leave them out of the series names
  const unflag = (r: HistoryPoint['row']): ResultRow =>
    ({ ...r, memoryPool: undefined, patternCache: undefined }) as ResultRow;
  const label = seriesLabeller(ok.map((e) => unflag(e.row)));
  const values = ok.map((e) => ({
    series: label(unflag(e.row)),
    implementation: e.row.implementation,
    seqLen: e.row.seqLen,
    seqLenLabel: `seqLen ${formatLength(e.row.seqLen)}`,
    timestamp: e.timestamp,
    runId: e.runId,
    gitCommit: e.gitCommit ? e.gitCommit.slice(0, 10) : 'unknown',
    medianMs: e.row.stats!.medianMs,
    p10Ms: e.row.stats!.p10Ms,
    p90Ms: e.row.stats!.p90Ms,
    machine: e.environment?.cpuModel ?? '',
  }));
  const style = seriesStyle(values);
  const panels = [...new Set(ok.map((e) => e.row.seqLen))]
    .sort((a, b) => a - b)
    .map((n) => `seqLen ${formatLength(n)}`);
  const machines = [...new Set(values.map((v) => v.machine).filter((m) => m))];
  const x = {
    field: 'timestamp',
    type: 'temporal',
    title: 'Run time (UTC)',
    scale: { padding: 12 },
    axis: { format: '%Y-%m-%d %H:%M', labelAngle: -30 },
  };
  const y = {
    field: 'medianMs',
    type: 'quantitative',
    title: 'Median time (ms, log scale)',
    scale: { type: 'log', nice: false, padding: 10 },
    axis: { tickCount: 5 },
  };
  const color = lineEncoding(style);
  return {
    $schema: SCHEMA,
    title: {
      text: options.title ?? 'Performance over time (median per run)',
      subtitle: [
        machines.length === 1
          ? machines[0]
          : machines.length
            ? `${machines.length} machines`
            : 'unknown machine',
        `${ok.length} measured rows, ${new Set(ok.map((e) => e.runId)).size} runs`,
      ],
    },
    data: { values },
    config: PLOT_CONFIG,
    facet: { field: 'seqLenLabel', type: 'nominal', title: null, sort: panels },
    columns: Math.min(3, panels.length),
    spec: {
      width: 300,
      height: 200,
      layer: [
        { mark: { type: 'line' }, encoding: { x, y, ...color } },
        {
          mark: { type: 'point', filled: true },
          encoding: {
            x,
            y,
            color: color.color,
            shape: seriesShape(style),
            tooltip: [
              { field: 'series', title: 'implementation' },
              { field: 'seqLen', format: ',' },
              { field: 'timestamp', type: 'temporal', format: '%Y-%m-%d %H:%M:%S' },
              { field: 'runId' },
              { field: 'gitCommit', title: 'commit' },
              { field: 'medianMs', title: 'median (ms)', format: '.3f' },
            ],
          },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  };
}

/** The drift sentinel's GFLOP/s over the run, with its start reference and the band beyond which points are flagged. */
export function driftSentinelSpec(file: ResultFile): VlSpec | null {
  const d = file.driftSentinel;
  if (!d || d.readings.length === 0) return null;
  // a band wider than the reference (a very noisy start) would reach below zero GFLOP/s
  const lo = Math.max(0, d.referenceGflops * (1 - d.thresholdPct / 100));
  const hi = d.referenceGflops * (1 + d.thresholdPct / 100);
  const values = d.readings.map((r) => ({
    seconds: r.seconds,
    gflops: r.gflops,
    at: r.at === 'start' ? 'start' : `after point group ${r.at}`,
  }));
  return top(
    {
      text: 'Drift sentinel over the run',
      subtitle: [
        `FMA loop GFLOP/s; band: reference ${d.referenceGflops} +/- ${d.thresholdPct}%`,
        'points next to a reading outside the band are flagged',
      ],
    },
    values,
    {
      width: 640,
      height: 240,
      layer: [
        {
          data: { values: [{ lo, hi }] },
          mark: { type: 'rect', opacity: 0.15, color: '#0072B2' },
          encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
        },
        {
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'seconds', type: 'quantitative', title: 'Seconds since the run started' },
            y: {
              field: 'gflops',
              type: 'quantitative',
              title: 'Sentinel GFLOP/s',
              scale: { zero: false },
            },
            tooltip: [{ field: 'at' }, { field: 'seconds' }, { field: 'gflops' }],
          },
        },
      ],
    },
  );
}

/** Every spec for one result file, keyed by plot kind (kinds with nothing to show are left out). */
export function buildSuiteSpecs(
  file: ResultFile,
  options: { baseline?: string } = {},
): Partial<Record<PlotKind, VlSpec>> {
  const out: Partial<Record<PlotKind, VlSpec>> = {};
  const add = (k: PlotKind, s: VlSpec | null): void => {
    if (s) out[k] = s;
  };
  add('latency', latencySpec(file));
  add('memory', memorySpec(file));
  add('throughput', throughputSpec(file));
  add('speedup', speedupSpec(file, options.baseline ?? 'naive'));
  add('optimization-impact', optimizationImpactSpec(file));
  add('ring', ringSpec(file));
  add('side-comparison', sideComparisonSpec(file));
  add('drift-sentinel', driftSentinelSpec(file));
  return out;
}

export type { ResultRow };
