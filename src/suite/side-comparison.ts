// Precision and device comparisons of one run (--compare-dtypes, --compare-devices): each side
// against its baseline side, per (implementation, shape). The statistics are those of
// `dilbench compare` (src/compare: ratio of medians with a bootstrap 95% interval, two-sided
// Mann-Whitney U, the same verdict rule); this module only pairs the rows and adds memory.
import { compareResults, configKey, rowKey, type ComparisonSummary, type Verdict } from '../compare/compare.js';
import type { Environment, ResultFile, ResultRow, RowStatus } from '../results/types.js';
import { sameSide, sideKey, type RunSide } from './sides.js';

export const SIDE_COMPARISON_ALPHA = 0.05;
export const SIDE_COMPARISON_THRESHOLD = 0.05;

/** One side of a pair as the report shows it. */
export interface SideCell {
  status: RowStatus;
  /** why skipped or failed */
  reason: string | null;
  medianMs: number | null;
  medianCi95Ms: [number, number] | null;
  samples: number;
  batch: number;
  peakMemoryBytes: number | null;
}

export interface SideComparisonRow {
  implementation: string;
  seqLen: number;
  params?: Record<string, unknown>;
  baseline: SideCell;
  other: SideCell;
  /** other median / baseline median (< 1: the other side is faster); null when not compared */
  timeRatio: number | null;
  timeRatioCi95: [number, number] | null;
  /** two-sided Mann-Whitney U p-value of the two sample sets */
  pValue: number | null;
  /** p < alpha */
  significant: boolean | null;
  /** `dilbench compare`'s verdict for the other side: faster | slower | same | uncertain */
  verdict: Verdict | null;
  /** other peak memory / baseline peak memory */
  memoryRatio: number | null;
  /** why the times were not compared (a side skipped or failed, batches differ, ...) */
  note: string | null;
}

export interface SideComparison {
  kind: 'precision' | 'device';
  baseline: RunSide;
  other: RunSide;
  rows: SideComparisonRow[];
  /** verdict counts and the geometric mean of the time ratios with its bootstrap interval */
  summary: ComparisonSummary;
}

export interface SideComparisons {
  alpha: number;
  threshold: number;
  /** compareDtypes: each dtype against the first, per device */
  precision: SideComparison[];
  /** compareDevices: cuda against cpu, per dtype */
  device: SideComparison[];
}

/** Scalar parameters a suite's finalize sets per side (ring: measured or projected), not identity. */
const DERIVED_PARAMS = new Set(['measured']);

/**
 * The parameters that say which point a row is (segment lengths, ring size, configuration): the
 * scalar ones and lists of scalars. Objects (e.g. optimization-impact's speedups) and
 * DERIVED_PARAMS are what a suite derived per side, not identity.
 */
function pointParams(params: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!params) return undefined;
  const scalar = (v: unknown) => ['string', 'number', 'boolean'].includes(typeof v);
  const out = Object.fromEntries(
    Object.entries(params).filter(([k, v]) => !DERIVED_PARAMS.has(k) && (scalar(v) || (Array.isArray(v) && v.every(scalar)))),
  );
  return Object.keys(out).length ? out : undefined;
}

/** Pairs rows across sides: same implementation, length and point parameters. */
function identity(r: ResultRow): string {
  const p = pointParams(r.params);
  return JSON.stringify([r.implementation, r.seqLen, p ? Object.entries(p).sort(([a], [b]) => a.localeCompare(b)) : null]);
}

function cell(r: ResultRow | undefined): SideCell {
  if (!r) return { status: 'skipped', reason: 'no row', medianMs: null, medianCi95Ms: null, samples: 0, batch: 0, peakMemoryBytes: null };
  return {
    status: r.status,
    reason: r.reason,
    medianMs: r.status === 'ok' ? (r.stats?.medianMs ?? null) : null,
    medianCi95Ms: r.status === 'ok' ? (r.stats?.medianCi95Ms ?? null) : null,
    samples: r.samplesMs.length,
    batch: r.batch,
    peakMemoryBytes: r.status === 'ok' ? r.peakMemoryBytes : null,
  };
}

/** Why a pair's times cannot be compared, or null when they can. */
function notComparable(base: ResultRow | undefined, other: ResultRow | undefined, bs: RunSide, os: RunSide): string | null {
  const name = (s: RunSide) => sideKey(s);
  if (!base) return `no ${name(bs)} row`;
  if (!other) return `no ${name(os)} row`;
  if (base.status !== 'ok') return `${name(bs)} ${base.status}${base.reason ? `: ${base.reason}` : ''}`;
  if (other.status !== 'ok') return `${name(os)} ${other.status}${other.reason ? `: ${other.reason}` : ''}`;
  if (base.batch !== other.batch) return `batch ${base.batch} on ${name(bs)} but ${other.batch} on ${name(os)} (the planner lowered one to fit)`;
  if (base.effectiveSeqLen !== other.effectiveSeqLen) return `effective length ${base.effectiveSeqLen} on ${name(bs)} but ${other.effectiveSeqLen} on ${name(os)}`;
  if (!base.samplesMs.length || !other.samplesMs.length) return 'no raw samples';
  return null;
}

const NO_ENV = {} as Environment;

function asFile(rows: ResultRow[], environment: Environment): ResultFile {
  return { schemaVersion: 1, suite: 'side', runId: '', createdAt: '', environment, config: {}, results: rows };
}

/** One side against its baseline side, row by row. */
export function compareSides(
  rows: ResultRow[],
  baseline: RunSide,
  other: RunSide,
  kind: SideComparison['kind'],
  opts: { alpha?: number; threshold?: number; seed?: number } = {},
): SideComparison {
  const alpha = opts.alpha ?? SIDE_COMPARISON_ALPHA;
  const threshold = opts.threshold ?? SIDE_COMPARISON_THRESHOLD;
  const baseRows = rows.filter((r) => sameSide(r, baseline));
  const otherById = new Map<string, ResultRow[]>();
  for (const r of rows.filter((x) => sameSide(x, other))) otherById.set(identity(r), [...(otherById.get(identity(r)) ?? []), r]);

  const pairs: { base?: ResultRow; other?: ResultRow }[] = [];
  for (const b of baseRows) pairs.push({ base: b, other: otherById.get(identity(b))?.shift() });
  for (const left of otherById.values()) for (const o of left) pairs.push({ other: o });

  // the comparable pairs go through `dilbench compare`'s engine, the other side relabelled as the
  // baseline's device and dtype so that rows match on their whole configuration
  const comparable = pairs.filter((p) => notComparable(p.base, p.other, baseline, other) === null);
  const asBase = (r: ResultRow): ResultRow => ({ ...r, device: baseline.device, dtype: baseline.dtype, params: pointParams(r.params) });
  const report = compareResults(asFile(comparable.map((p) => asBase(p.base!)), NO_ENV), asFile(comparable.map((p) => asBase(p.other!)), NO_ENV), {
    alpha,
    threshold,
    seed: opts.seed,
  });
  const byKey = new Map(report.rows.map((r) => [configKey(r.config), r]));

  const out: SideComparisonRow[] = pairs.map((p) => {
    const ref = (p.base ?? p.other)!;
    const note = notComparable(p.base, p.other, baseline, other);
    const rc = note === null ? byKey.get(rowKey(asBase(p.base!))) : undefined;
    const bc = cell(p.base);
    const oc = cell(p.other);
    const memoryRatio = bc.peakMemoryBytes && oc.peakMemoryBytes !== null && bc.batch === oc.batch ? oc.peakMemoryBytes / bc.peakMemoryBytes : null;
    return {
      implementation: ref.implementation,
      seqLen: ref.seqLen,
      ...(pointParams(ref.params) ? { params: pointParams(ref.params) } : {}),
      baseline: bc,
      other: oc,
      timeRatio: rc?.ratio ?? null,
      timeRatioCi95: rc?.ratioCi95 ?? null,
      pValue: rc?.pValue ?? null,
      significant: rc ? rc.pValue < alpha : null,
      verdict: rc?.verdict ?? null,
      memoryRatio,
      note: note ?? (rc ? null : 'not compared'),
    };
  });
  return { kind, baseline, other, rows: out, summary: report.summary };
}

/**
 * Every comparison of a run with several sides: per device each dtype against the first
 * (precision), per dtype cuda against cpu (device). Null for a single-side run.
 */
export function buildSideComparisons(rows: ResultRow[], sides: RunSide[], opts: { alpha?: number; threshold?: number; seed?: number } = {}): SideComparisons | null {
  if (sides.length < 2) return null;
  const devices = [...new Set(sides.map((s) => s.device))];
  const dtypes = [...new Set(sides.map((s) => s.dtype))];
  const precision: SideComparison[] = [];
  const device: SideComparison[] = [];
  // the first side listed is each comparison's baseline
  const [baseDtype, ...otherDtypes] = dtypes;
  const [baseDevice, ...otherDevices] = devices;
  if (baseDtype !== undefined) {
    for (const d of devices) {
      for (const t of otherDtypes) precision.push(compareSides(rows, { device: d, dtype: baseDtype }, { device: d, dtype: t }, 'precision', opts));
    }
  }
  if (baseDevice !== undefined) {
    for (const t of dtypes) {
      for (const d of otherDevices) device.push(compareSides(rows, { device: baseDevice, dtype: t }, { device: d, dtype: t }, 'device', opts));
    }
  }
  return { alpha: opts.alpha ?? SIDE_COMPARISON_ALPHA, threshold: opts.threshold ?? SIDE_COMPARISON_THRESHOLD, precision, device };
}
