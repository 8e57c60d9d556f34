// Precision and device comparisons of one run (--compare-dtypes, --compare-devices): each side
// against its baseline side, per (implementation, shape). The statistics are those of
// `dilbench compare` (src/compare: ratio of medians with a bootstrap 95% interval, two-sided
// Mann-Whitney U, the same verdict rule); this module only pairs the rows and adds memory.
import { compareResults, configKey, rowKey } from '../compare/compare.js';
import type { Environment, ResultFile, ResultRow } from '../results/types.js';
import { summarize } from '../stats/summary.js';
import { sameSide, sideKey, type RunSide } from './sides.js';
import type {
  SideCell,
  SideComparisonRow,
  SideComparison,
  SideComparisons,
} from '../results/types.js';
export type { SideCell, SideComparisonRow, SideComparison, SideComparisons };

export const SIDE_COMPARISON_ALPHA = 0.05;
export const SIDE_COMPARISON_THRESHOLD = 0.05;

/** Scalar parameters a suite's finalize sets per side (ring: measured or projected), not identity. */
const DERIVED_PARAMS = new Set(['measured']);

/**
 * The parameters that say which point a row is (segment lengths, ring size, configuration): the
 * scalar ones and lists of scalars. Objects (e.g. optimization-impact's speedups) and
 * DERIVED_PARAMS are what a suite derived per side, not identity.
 */
function pointParams(
  params: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  if (!params) return undefined;
  const scalar = (v: unknown) => ['string', 'number', 'boolean'].includes(typeof v);
  const out = Object.fromEntries(
    Object.entries(params).filter(
      ([k, v]) => !DERIVED_PARAMS.has(k) && (scalar(v) || (Array.isArray(v) && v.every(scalar))),
    ),
  );
  return Object.keys(out).length ? out : undefined;
}

/** Pairs rows across sides: same implementation, length and point parameters. */
function identity(r: ResultRow): string {
  const p = pointParams(r.params);
  return JSON.stringify([
    r.implementation,
    r.seqLen,
    p ? Object.entries(p).sort(([a], [b]) => a.localeCompare(b)) : null,
  ]);
}

function cell(r: ResultRow | undefined): SideCell {
  if (!r)
    return {
      status: 'skipped',
      reason: 'no row',
      medianMs: null,
      medianCi95Ms: null,
      samples: 0,
      batch: 0,
      peakMemoryBytes: null,
    };
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
function notComparable(
  base: ResultRow | undefined,
  other: ResultRow | undefined,
  bs: RunSide,
  os: RunSide,
): string | null {
  const name = (s: RunSide) => sideKey(s);
  if (!base) return `no ${name(bs)} row`;
  if (!other) return `no ${name(os)} row`;
  if (base.status !== 'ok')
    return `${name(bs)} ${base.status}${base.reason ? `: ${base.reason}` : ''}`;
  if (other.status !== 'ok')
    return `${name(os)} ${other.status}${other.reason ? `: ${other.reason}` : ''}`;
  if (base.batch !== other.batch)
    return `batch ${base.batch} on ${name(bs)} but ${other.batch} on ${name(os)} (the planner lowered one to fit)`;
  if (base.effectiveSeqLen !== other.effectiveSeqLen)
    return `effective length ${base.effectiveSeqLen} on ${name(bs)} but ${other.effectiveSeqLen} on ${name(os)}`;
  if (!base.samplesMs.length || !other.samplesMs.length) return 'no raw samples';
  return null;
}

const NO_ENV = {} as Environment;

function asFile(rows: ResultRow[], environment: Environment): ResultFile {
  return {
    schemaVersion: 1,
    suite: 'side',
    runId: '',
    createdAt: '',
    environment,
    config: {},
    results: rows,
  };
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
  for (const r of rows.filter((x) => sameSide(x, other)))
    otherById.set(identity(r), [...(otherById.get(identity(r)) ?? []), r]);

  const pairs: { base?: ResultRow; other?: ResultRow }[] = [];
  for (const b of baseRows) pairs.push({ base: b, other: otherById.get(identity(b))?.shift() });
  for (const left of otherById.values()) for (const o of left) pairs.push({ other: o });

  // the comparable pairs go through `dilbench compare`'s engine, the other side relabelled as the
  // baseline's device and dtype so that rows match on their whole configuration
  const comparable = pairs.filter((p) => notComparable(p.base, p.other, baseline, other) === null);
  const asBase = (r: ResultRow): ResultRow => ({
    ...r,
    device: baseline.device,
    dtype: baseline.dtype,
    params: pointParams(r.params),
  });
  const report = compareResults(
    asFile(
      comparable.map((p) => asBase(p.base!)),
      NO_ENV,
    ),
    asFile(
      comparable.map((p) => asBase(p.other!)),
      NO_ENV,
    ),
    {
      alpha,
      threshold,
      seed: opts.seed,
    },
  );
  const byKey = new Map(report.rows.map((r) => [configKey(r.config), r]));

  const out: SideComparisonRow[] = pairs.map((p) => {
    const ref = (p.base ?? p.other)!;
    const note = notComparable(p.base, p.other, baseline, other);
    const rc = note === null ? byKey.get(rowKey(asBase(p.base!))) : undefined;
    const bc = cell(p.base);
    const oc = cell(p.other);
    const memoryRatio =
      bc.peakMemoryBytes && oc.peakMemoryBytes !== null && bc.batch === oc.batch
        ? oc.peakMemoryBytes / bc.peakMemoryBytes
        : null;
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
export function buildSideComparisons(
  rows: ResultRow[],
  sides: RunSide[],
  opts: { alpha?: number; threshold?: number; seed?: number } = {},
): SideComparisons | null {
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
      for (const t of otherDtypes)
        precision.push(
          compareSides(
            rows,
            { device: d, dtype: baseDtype },
            { device: d, dtype: t },
            'precision',
            opts,
          ),
        );
    }
  }
  if (baseDevice !== undefined) {
    for (const t of dtypes) {
      for (const d of otherDevices)
        device.push(
          compareSides(
            rows,
            { device: baseDevice, dtype: t },
            { device: d, dtype: t },
            'device',
            opts,
          ),
        );
    }
  }
  return {
    alpha: opts.alpha ?? SIDE_COMPARISON_ALPHA,
    threshold: opts.threshold ?? SIDE_COMPARISON_THRESHOLD,
    precision,
    device,
  };
}

/**
 * A measured point of a command that is not a suite (inference: a prompt and mode; scaling: a
 * context length) on one side. `name`, `length` and `params` say which point it is, the same on
 * every side.
 */
export interface SidePoint {
  side: RunSide;
  name: string;
  length: number;
  params?: Record<string, string | number | boolean>;
  samplesMs: number[];
  peakMemoryBytes: number | null;
  threads: number;
}

/** A SidePoint as the result row compareSides reads (a model run has no attention shape: 0). */
function pointRow(p: SidePoint): ResultRow {
  return {
    implementation: p.name,
    device: p.side.device,
    dtype: p.side.dtype,
    batch: 1,
    heads: 0,
    kvHeads: 0,
    headDim: 0,
    seqLen: p.length,
    effectiveSeqLen: p.length,
    causal: false,
    status: 'ok',
    reason: null,
    samplesMs: p.samplesMs,
    stats: p.samplesMs.length ? summarize(p.samplesMs) : null,
    peakMemoryBytes: p.peakMemoryBytes,
    estimatedMemoryBytes: 0,
    tokensPerSecond: null,
    gflops: null,
    flopsPerIteration: 0,
    bytesPerIteration: 0,
    threads: p.threads,
    simdLevel: null,
    ...(p.params ? { params: p.params } : {}),
  };
}

/**
 * Every side after `baseline` against it, point by point, with the statistics every side
 * comparison uses (compareSides): `dilbench inference` and `dilbench scaling` compare their sides
 * here, then keep the figures their files promise.
 */
export function compareSidePoints(
  points: SidePoint[],
  baseline: RunSide,
  opts: { alpha?: number; threshold?: number; seed?: number } = {},
): SideComparison[] {
  return compareWithBaseline(points.map(pointRow), baseline, opts);
}

/**
 * Every other side of `rows` (in the order they first appear) against `baseline`: a precision
 * comparison on the baseline's device, a device comparison elsewhere.
 */
export function compareWithBaseline(
  rows: ResultRow[],
  baseline: RunSide,
  opts: { alpha?: number; threshold?: number; seed?: number } = {},
): SideComparison[] {
  const others: RunSide[] = [];
  for (const r of rows)
    if (!sameSide(r, baseline) && !others.some((o) => sameSide(o, r)))
      others.push({ device: r.device, dtype: r.dtype });
  return others.map((o) =>
    compareSides(rows, baseline, o, o.device === baseline.device ? 'precision' : 'device', opts),
  );
}
