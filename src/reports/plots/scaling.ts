// Vega-Lite spec of `dilbench scaling` (issue 7): latency vs context length and peak memory vs
// context length, one curve per architecture (and model, and device/dtype side when several), with a band from the fastest to the
// slowest measured run.
import { LENGTH_LABEL_EXPR } from './data.js';
import { PLOT_CONFIG, type VlSpec } from './style.js';
import { storedSideKey } from '../../suite/sides.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** One row of tables/inference_results.csv, as the plot reads it. */
export interface ScalingPlotRow {
  exp_id: string;
  model: string;
  arch: string;
  context_length: number;
  latency_ms: number;
  latency_min_ms: number;
  latency_max_ms: number;
  max_memory_gb: number;
  /** the side that produced the row (absent in old rows: cpu/fp32) */
  device?: string;
  dtype?: string;
}

/** Null when there are no rows. */
export function latencyCurveSpec(rows: ScalingPlotRow[], subtitle = ''): VlSpec | null {
  if (!rows.length) return null;
  // one curve per architecture x device/dtype side; the side is named only when rows have several
  const manySides = new Set(rows.map(storedSideKey)).size > 1;
  const values = rows.map((r) => ({
    ...r,
    series: manySides ? `${r.arch} (${r.model}, ${storedSideKey(r)})` : `${r.arch} (${r.model})`,
  }));
  const lengths = [...new Set(rows.map((r) => r.context_length))].sort((a, b) => a - b);
  const x = {
    field: 'context_length',
    type: 'quantitative',
    title: 'Context length (tokens, log scale)',
    scale: { type: 'log', base: 2, nice: false, padding: 12 },
    axis: { values: lengths, labelExpr: LENGTH_LABEL_EXPR, grid: true },
  };
  const color = {
    field: 'series',
    type: 'nominal',
    title: manySides ? 'Architecture (model, side)' : 'Architecture (model)',
    legend: { titleLimit: 400, symbolOpacity: 1 },
  };
  return {
    $schema: SCHEMA,
    title: { text: 'Inference latency and memory vs context length', subtitle },
    config: PLOT_CONFIG,
    data: { values },
    hconcat: [
      {
        title: 'Latency (band: fastest to slowest run)',
        width: 380,
        height: 280,
        layer: [
          {
            mark: { type: 'area', opacity: 0.2 },
            encoding: {
              x,
              y: {
                field: 'latency_min_ms',
                type: 'quantitative',
                title: 'Latency (ms): median line, min-max band',
              },
              y2: { field: 'latency_max_ms' },
              color,
            },
          },
          {
            mark: { type: 'line', point: true, tooltip: true },
            encoding: {
              x,
              y: {
                field: 'latency_ms',
                type: 'quantitative',
                title: 'Latency (ms): median line, min-max band',
              },
              color,
            },
          },
        ],
      },
      {
        title: 'Peak memory',
        width: 380,
        height: 280,
        mark: { type: 'line', point: true, tooltip: true },
        encoding: {
          x,
          y: { field: 'max_memory_gb', type: 'quantitative', title: 'Peak memory (GB)' },
          color,
        },
      },
    ],
  };
}
