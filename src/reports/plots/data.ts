// Row helpers shared by the plot builders, the report aggregator and the HTML report.
// Pure functions over the committed result schema (src/results/types.ts); no I/O here.
import type { Environment, ResultFile, ResultRow } from '../../results/types.js';

/**
 * Okabe-Ito (colour-blind safe) without its yellow, which is unreadable on white; for categories
 * that are not implementations (inference modes, memory parts). Implementations: IMPLEMENTATION_STYLES.
 */
export const OKABE_ITO = [
  '#0072B2',
  '#E69F00',
  '#009E73',
  '#D55E00',
  '#CC79A7',
  '#56B4E9',
  '#000000',
];

/**
 * Point shapes used together with the palette so series stay distinguishable in greyscale. One
 * more shape than colours: both cycle, so (colour, shape) pairs stay unique for 8 x 9 = 72 series
 * (with equal lengths the 9th implementation would repeat the 1st exactly).
 */
export const SHAPES: readonly [string, ...string[]] = [
  'circle',
  'square',
  'triangle-up',
  'diamond',
  'cross',
  'triangle-down',
  'triangle-right',
  'triangle-left',
  'wedge',
];

export interface ImplementationStyle {
  color: string;
  shape: string;
}

/**
 * The one palette: every plot of every report draws an implementation in this colour with this
 * marker. Okabe-Ito without its yellow (unreadable on white) plus Tol's wine, olive and indigo;
 * all distinct in hue or lightness, and the markers keep them apart in greyscale.
 */
export const IMPLEMENTATION_STYLES: Readonly<Record<string, ImplementationStyle>> = {
  flash: { color: '#0072B2', shape: 'circle' },
  naive: { color: '#D55E00', shape: 'square' },
  ring: { color: '#009E73', shape: 'triangle-up' },
  'kv-cache': { color: '#CC79A7', shape: 'diamond' },
  'kv-cache-recompute': { color: '#882255', shape: 'triangle-down' },
  dilated: { color: '#E69F00', shape: 'cross' },
  'dilated-grouped': { color: '#56B4E9', shape: 'triangle-right' },
  'ring-dilated': { color: '#999933', shape: 'triangle-left' },
  // a star (SVG path in vega's unit square): vega's 'wedge' is too thin to see at point size
  'block-sparse': {
    color: '#332288',
    shape:
      'M0,-1L0.24,-0.33L0.95,-0.31L0.38,0.12L0.59,0.81L0,0.4L-0.59,0.81L-0.38,0.12L-0.95,-0.31L-0.24,-0.33Z',
  },
  'onnxruntime-mha': { color: '#000000', shape: 'square' },
  'onnxruntime-matmul': { color: '#777777', shape: 'diamond' },
  pytorch: { color: '#AA4499', shape: 'circle' },
};

/** Colours for names outside the table (plugins), by sorted name: none of the table's. */
const EXTRA_COLORS: readonly [string, ...string[]] = [
  '#44AA99',
  '#661100',
  '#6699CC',
  '#117733',
  '#AA4466',
  '#4B0092',
];

/** The style of an implementation (`dilbench:flash` is flash); unknown names get a stable extra colour. */
export function implementationStyle(
  name: string,
  others: readonly string[] = [],
): ImplementationStyle {
  const impl = name.replace(/^dilbench:/, '');
  const known = IMPLEMENTATION_STYLES[impl];
  if (known) return known;
  const unknown = [...new Set([...others.map((o) => o.replace(/^dilbench:/, '')), impl])]
    .filter((o) => !IMPLEMENTATION_STYLES[o])
    .sort();
  const i = Math.max(0, unknown.indexOf(impl));
  return { color: cyclicItem(EXTRA_COLORS, i), shape: cyclicItem(SHAPES, i) };
}

/** Item i of a list taken round and round (colours, shapes and dashes repeat past the end). */
export function cyclicItem<T>(items: readonly [T, ...T[]], i: number): T {
  return items[i % items.length] ?? items[0];
}

export const MIB = 1024 * 1024;

/** 1024 -> "1K", 12288 -> "12K", 1048576 -> "1M", 50000 -> "50000". */
export function formatLength(n: number): string {
  if (n >= 1048576 && n % 1048576 === 0) return `${n / 1048576}M`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024}K`;
  return String(n);
}

/** The same formatting as a vega expression over `datum.value` (for axis labelExpr). */
export const LENGTH_LABEL_EXPR =
  "datum.value >= 1048576 && datum.value % 1048576 == 0 ? (datum.value / 1048576) + 'M' : " +
  "datum.value >= 1024 && datum.value % 1024 == 0 ? (datum.value / 1024) + 'K' : format(datum.value, ',')";

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

/** Configuration attributes that identify a measured point apart from implementation and length. */
export const CONFIG_KEYS = [
  'device',
  'dtype',
  'batch',
  'heads',
  'kvHeads',
  'headDim',
  'causal',
  'memoryPool',
  'patternCache',
] as const;

function configValue(row: ResultRow, key: (typeof CONFIG_KEYS)[number]): unknown {
  return row[key];
}

export function ringSizeOf(row: ResultRow): number | undefined {
  const p = row.params ?? {};
  const q = row.projected ?? {};
  const v = p['ringSize'] ?? q['ringSize'] ?? p['P'];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Whether a row was measured across real processes (`ring --distributed`), not simulated. */
export function isDistributedRow(row: ResultRow): boolean {
  return row.params?.['distributed'] === true;
}

/** Chunk layout of a distributed ring row (plain | zigzag); undefined for other rows. */
export function ringLayoutOf(row: ResultRow): string | undefined {
  const v = row.params?.['layout'];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * Stable key of a configuration: implementation, length, every config attribute, the ring size P,
 * and for distributed rows the chunk layout and that they were measured across processes (a
 * distributed P=2 zigzag row, a distributed P=2 plain row and a simulated P=2 row are three
 * configurations).
 */
export function configurationKey(row: ResultRow): string {
  const parts: string[] = [row.implementation, String(row.seqLen)];
  for (const k of CONFIG_KEYS) parts.push(`${k}=${String(configValue(row, k) ?? '')}`);
  const ring = ringSizeOf(row);
  if (ring !== undefined) parts.push(`ringSize=${ring}`);
  if (isDistributedRow(row)) parts.push('distributed');
  const layout = ringLayoutOf(row);
  if (layout !== undefined) parts.push(`layout=${layout}`);
  return parts.join('|');
}

function describeAttr(key: string, value: unknown): string {
  switch (key) {
    case 'causal':
      return value ? 'causal' : 'non-causal';
    case 'memoryPool':
      return value ? 'pool on' : 'pool off';
    case 'patternCache':
      return value ? 'cache on' : 'cache off';
    case 'batch':
      return `batch ${String(value)}`;
    case 'heads':
      return `${String(value)} heads`;
    case 'kvHeads':
      return `${String(value)} kv heads`;
    case 'headDim':
      return `d=${String(value)}`;
    default:
      return String(value);
  }
}

/**
 * Label of the series a row belongs to: the implementation, plus the configuration attributes that
 * vary among `rows` (so a file with causal and non-causal runs gets two lines per implementation).
 */
export function seriesLabeller(rows: ResultRow[]): (row: ResultRow) => string {
  // distributed ring rows: the chunk layout, and measured-across-processes beside simulated rows
  const layoutVaries = new Set(rows.map((r) => String(ringLayoutOf(r) ?? ''))).size > 1;
  const distributedVaries = new Set(rows.map(isDistributedRow)).size > 1;
  const varying = CONFIG_KEYS.filter((k) => {
    if (k === 'batch') return false; // the planner may lower the batch per point; not a series of its own
    // rows without the attribute (a skipped point records no pool/cache flags) do not make it vary
    const values = new Set(
      rows
        .map((r) => configValue(r, k))
        .filter((v) => v !== undefined)
        .map(String),
    );
    return values.size > 1;
  });
  // P only when rows that have a ring size have several (ring P=1 beside flash needs no P)
  const ringVaries = new Set(rows.map(ringSizeOf).filter((v) => v !== undefined)).size > 1;
  return (row) => {
    const extra = varying
      .filter((k) => configValue(row, k) !== undefined)
      .map((k) => describeAttr(k, configValue(row, k)));
    const ring = ringSizeOf(row);
    if (ringVaries && ring !== undefined) extra.push(`P=${ring}`);
    const layout = ringLayoutOf(row);
    if (layoutVaries && layout !== undefined) extra.push(layout);
    if (distributedVaries && isDistributedRow(row)) extra.push('distributed');
    return extra.length ? `${row.implementation} (${extra.join(', ')})` : row.implementation;
  };
}

/** Human summary of the configuration shared by all rows ("batch 1, 8 heads, d=64, causal, fp32, cpu"). */
export function describeConfiguration(rows: ResultRow[]): string {
  const parts: string[] = [];
  const uniform = (k: (typeof CONFIG_KEYS)[number] | 'ringSize'): unknown[] => {
    const vals = [
      ...new Set(rows.map((r) => (k === 'ringSize' ? ringSizeOf(r) : configValue(r, k)))),
    ];
    return vals.filter((v) => v !== undefined);
  };
  for (const k of ['batch', 'heads', 'kvHeads', 'headDim', 'causal', 'dtype', 'device'] as const) {
    const vals = uniform(k);
    if (vals.length === 0) continue;
    if (k === 'kvHeads') {
      const heads = uniform('heads');
      if (vals.length === 1 && heads.length === 1 && vals[0] === heads[0]) continue; // not grouped-query
    }
    if (vals.length === 1) parts.push(describeAttr(k, vals[0]));
    else if (k === 'causal') parts.push('causal and non-causal');
    else if (k === 'batch') parts.push(`batch ${vals.map(String).join('/')}`);
    else parts.push(`${k} ${vals.map(String).join('/')}`);
  }
  return parts.join(', ');
}

/** "Intel Xeon ... (2 cores, avx512)" */
export function describeMachine(env: Environment | undefined): string {
  if (!env) return 'unknown machine';
  const bits: string[] = [];
  if (env.cpuCores) bits.push(`${env.cpuCores} cores`);
  if (env.simdLevel) bits.push(env.simdLevel);
  const gpu = env.gpu as { name?: unknown } | undefined;
  const gpuName =
    gpu && typeof gpu === 'object' && typeof gpu.name === 'string' ? gpu.name : undefined;
  const head = gpuName ? `${gpuName} / ${env.cpuModel}` : env.cpuModel || 'unknown CPU';
  return bits.length ? `${head} (${bits.join(', ')})` : head;
}

export function plotTitle(
  what: string,
  file: Pick<ResultFile, 'suite' | 'environment'>,
  rows: ResultRow[],
): { text: string; subtitle: string[] } {
  const cfg = describeConfiguration(rows);
  return {
    text: `${what} - ${file.suite}`,
    subtitle: [describeMachine(file.environment), cfg].filter((s) => s.length > 0),
  };
}

/**
 * Achieved % of the measured compute peak: the row's own roofline when it has one (CUDA rows: the
 * GPU peak of their dtype), else the machine's FP32 FMA peak for CPU rows; null when unknown.
 */
export function percentOfPeak(row: ResultRow, env: Environment | undefined): number | null {
  if (row.roofline) return row.roofline.pctOfPeakCompute;
  if (row.device === 'cuda') return null; // the CPU's peak says nothing about a GPU row
  const peak = env?.peak?.fmaGflops;
  if (
    !peak ||
    !Number.isFinite(peak) ||
    peak <= 0 ||
    row.gflops === null ||
    row.gflops === undefined
  )
    return null;
  return (row.gflops / peak) * 100;
}

/** Id of a run for tables: the runId, else suite_createdAt. */
export function experimentId(file: ResultFile): string {
  return file.runId || `${file.suite}_${file.createdAt}`;
}

/** A run as people name it: "sequence-ranges 2026-12-07 04:17 UTC" (suite and start time, not its UUID). */
export function runLabel(
  file: Pick<ResultFile, 'suite' | 'createdAt'>,
  withSeconds = false,
): string {
  const t = file.createdAt.replace('T', ' ').replace(/\.\d+Z?$|Z$/, '');
  return `${file.suite} ${withSeconds ? t.slice(0, 19) : t.slice(0, 16)} UTC`;
}

/** Labels for a list of runs: suite and minute, with seconds where two runs would read the same. */
export function runLabels(files: Pick<ResultFile, 'suite' | 'createdAt'>[]): string[] {
  const short = files.map((f) => runLabel(f));
  const clash = (s: string) => short.filter((x) => x === s).length > 1;
  const out = files.map((f) => (clash(runLabel(f)) ? runLabel(f, true) : runLabel(f)));
  // still equal (same second): number them
  return out.map((s, i) =>
    out.filter((x) => x === s).length > 1
      ? `${s} #${out.slice(0, i + 1).filter((x) => x === s).length}`
      : s,
  );
}

/** A file-name-safe form of a run label: "sequence-ranges_2026-12-07_0417". */
export function runFileStem(label: string): string {
  return label
    .replace(/ UTC/, '')
    .replace(/[: ]/g, (c) => (c === ' ' ? '_' : ''))
    .replace(/[^A-Za-z0-9._#-]+/g, '-')
    .replace(/#/g, 'n');
}
