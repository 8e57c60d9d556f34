// Vega-Lite specs of `dilbench inference` (issue 7): optimization_comparison (four panels:
// tokens/s, time per token, total time, memory by mode) and performance_over_time (tokens/s of
// each mode across the accumulated runs, one line per model, device/dtype side and mode).
import { OKABE_ITO } from './data.js';
import { PLOT_CONFIG, type VlSpec } from './style.js';
import { storedSideKey } from '../../suite/sides.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/** The fields of an inference record the plots read. */
export interface InferencePlotRecord {
  run_id: string;
  timestamp: string;
  model: string;
  mode: 'recompute' | 'kv-cache';
  prompt_label: string;
  prompt_tokens: number;
  new_tokens: number;
  tokens_per_second: number;
  time_per_token_ms: number;
  total_time_ms: number;
  first_token_latency_ms: number;
  weights_mb: number;
  kv_cache_mb: number;
  workspace_mb: number;
  peak_memory_mb: number;
  /** the side that produced the record (absent in old records: cpu/fp32) */
  device?: string;
  dtype?: string;
}

/** ", cuda/bf16" for a record not on cpu/fp32, '' otherwise (old records have no side: cpu/fp32). */
function sideSuffix(r: { device?: string; dtype?: string }): string {
  const side = storedSideKey(r);
  return side === 'cpu/fp32' ? '' : `, ${side}`;
}

const MODE_LABEL: Record<string, string> = {
  recompute: 'no cache (recompute)',
  'kv-cache': 'KV cache',
};
const modeColor = {
  field: 'modeLabel',
  type: 'nominal',
  title: 'Mode',
  scale: {
    domain: [MODE_LABEL.recompute, MODE_LABEL['kv-cache']],
    range: [OKABE_ITO[1], OKABE_ITO[0]],
  },
};

function panel(title: string, field: string, axisTitle: string): VlSpec {
  return {
    title,
    width: 300,
    height: 220,
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: {
        field: 'prompt_label',
        type: 'nominal',
        title: 'Prompt',
        axis: { labelAngle: -20, labelLimit: 140 },
      },
      xOffset: { field: 'modeLabel', type: 'nominal' },
      y: { field, type: 'quantitative', title: axisTitle },
      color: modeColor,
    },
  };
}

/** Four panels for the records of one invocation (both modes of every prompt). Null when empty. */
export function optimizationComparisonSpec(
  records: InferencePlotRecord[],
  subtitle = '',
): VlSpec | null {
  if (!records.length) return null;
  const values = records.map((r) => ({ ...r, modeLabel: MODE_LABEL[r.mode] ?? r.mode }));
  const memory = values.flatMap((r) => [
    { prompt_label: r.prompt_label, modeLabel: r.modeLabel, part: 'weights', mb: r.weights_mb },
    { prompt_label: r.prompt_label, modeLabel: r.modeLabel, part: 'KV cache', mb: r.kv_cache_mb },
    { prompt_label: r.prompt_label, modeLabel: r.modeLabel, part: 'workspace', mb: r.workspace_mb },
  ]);
  const first = records[0] as InferencePlotRecord;
  return {
    $schema: SCHEMA,
    title: {
      text: `KV cache vs recompute - ${first.model}, ${first.new_tokens} new tokens`,
      subtitle,
    },
    config: PLOT_CONFIG,
    columns: 2,
    resolve: {
      scale: { color: 'independent', xOffset: 'independent' },
      legend: { color: 'independent' },
    },
    concat: [
      {
        data: { values },
        ...panel('Throughput (higher is better)', 'tokens_per_second', 'Tokens/s'),
      },
      {
        data: { values },
        ...panel('Time per token (lower is better)', 'time_per_token_ms', 'Time per token (ms)'),
      },
      {
        data: { values },
        ...panel('Total generation time (lower is better)', 'total_time_ms', 'Total time (ms)'),
      },
      {
        title: 'Peak memory by part (left bar: recompute, right: KV cache)',
        width: 300,
        height: 220,
        data: { values: memory },
        mark: { type: 'bar', tooltip: true },
        encoding: {
          x: {
            field: 'prompt_label',
            type: 'nominal',
            title: 'Prompt',
            axis: { labelAngle: -20, labelLimit: 140 },
          },
          xOffset: {
            field: 'modeLabel',
            type: 'nominal',
            scale: { domain: [MODE_LABEL.recompute, MODE_LABEL['kv-cache']] },
          },
          y: { field: 'mb', type: 'quantitative', title: 'Memory (MiB), stacked', stack: 'zero' },
          color: {
            field: 'part',
            type: 'nominal',
            title: 'Memory',
            scale: {
              domain: ['weights', 'KV cache', 'workspace'],
              range: [OKABE_ITO[5], OKABE_ITO[0], OKABE_ITO[1]],
            },
          },
        },
      },
    ],
  };
}

/** Tokens/s of each mode and model across runs, in time order. Null when empty. */
export function inferenceOverTimeSpec(
  records: InferencePlotRecord[],
  subtitle = '',
): VlSpec | null {
  if (!records.length) return null;
  const values = records
    .map((r) => ({
      ...r,
      modeLabel: MODE_LABEL[r.mode] ?? r.mode,
      series: `${r.model}${sideSuffix(r)} - ${MODE_LABEL[r.mode] ?? r.mode}`,
    }))
    .sort((a, b) => a.timestamp.localeCompare(b.timestamp));
  return {
    $schema: SCHEMA,
    title: { text: 'Generation throughput over time', subtitle },
    config: PLOT_CONFIG,
    width: 560,
    height: 300,
    data: { values },
    mark: { type: 'line', point: true, tooltip: true },
    encoding: {
      x: { field: 'timestamp', type: 'temporal', title: 'Run time' },
      y: { field: 'tokens_per_second', type: 'quantitative', title: 'Tokens/s' },
      color: { field: 'series', type: 'nominal', title: 'Model (side) - mode' },
      detail: { field: 'prompt_label', type: 'nominal' },
    },
  };
}
