// Scaling laws across sequence lengths and crossover points between implementations.
import { linearRegression } from 'simple-statistics';
import { studentTQuantile } from './distributions.js';
import type { PowerLawFit } from '../results/types.js';

export interface ScalingPoint {
  /** problem size (sequence length) */
  n: number;
  /** time (any unit, e.g. median ms) */
  time: number;
}

// time ~ a * n^k; embedded in bench files, so it lives in the schema
export type { PowerLawFit };

export type ComplexityName = 'N' | 'N log N' | 'N^2';

export interface ComplexityFit {
  /** the model with the smallest normalised RMS */
  best: ComplexityName;
  /** per model: coefficient c of time ~ c * f(n) (least squares) and RMS / mean(time) */
  models: Record<ComplexityName, { coefficient: number; nrms: number }>;
}

export interface Crossover {
  /** the two implementations compared */
  a: string;
  b: string;
  /** interpolated length where their times are equal */
  n: number;
  /** measured lengths bracketing the crossover */
  between: [number, number];
  /** the faster implementation below and above the crossover */
  fasterBelow: string;
  fasterAbove: string;
}

function validPoints(points: readonly ScalingPoint[]): ScalingPoint[] {
  return points
    .filter((p) => Number.isFinite(p.n) && Number.isFinite(p.time) && p.n > 0 && p.time > 0)
    .slice()
    .sort((p, q) => p.n - q.n);
}

/**
 * Least-squares fit of log(time) = log(a) + k log(n). The interval of k uses the t-distribution
 * with (points - 2) degrees of freedom.
 */
export function fitPowerLaw(points: readonly ScalingPoint[], confidence = 0.95): PowerLawFit {
  const pts = validPoints(points);
  const m = pts.length;
  if (m < 2) throw new RangeError(`fitPowerLaw needs at least 2 positive points, got ${m}`);
  if (new Set(pts.map((p) => p.n)).size < 2)
    throw new RangeError('fitPowerLaw needs at least 2 distinct sizes');
  const xy = pts.map((p) => [Math.log(p.n), Math.log(p.time)] as [number, number]);
  const { m: k, b } = linearRegression(xy);
  const xs = xy.map((p) => p[0]);
  const ys = xy.map((p) => p[1]);
  const xMean = xs.reduce((s, v) => s + v, 0) / m;
  const yMean = ys.reduce((s, v) => s + v, 0) / m;
  let sxx = 0;
  let sse = 0;
  let sst = 0;
  for (let i = 0; i < m; i++) {
    const x = xs[i] as number;
    const y = ys[i] as number;
    sxx += (x - xMean) ** 2;
    sse += (y - (b + k * x)) ** 2;
    sst += (y - yMean) ** 2;
  }
  const r2 = sst > 0 ? 1 - sse / sst : 1;
  let kCi95: [number, number] | null = null;
  let kStdError: number | null = null;
  if (m >= 3) {
    kStdError = Math.sqrt(sse / (m - 2) / sxx);
    const t = studentTQuantile(1 - (1 - confidence) / 2, m - 2);
    kCi95 = [k - t * kStdError, k + t * kStdError];
  }
  return { a: Math.exp(b), k, kCi95, kStdError, r2, points: m };
}

const COMPLEXITIES: Record<ComplexityName, (n: number) => number> = {
  N: (n) => n,
  'N log N': (n) => n * Math.log2(n),
  'N^2': (n) => n * n,
};

/**
 * Fits time = c * f(n) for f in {N, N log N, N^2} by least squares and picks the one with the
 * smallest RMS of residuals divided by the mean time (Google Benchmark's normalised RMS).
 */
export function bestComplexity(points: readonly ScalingPoint[]): ComplexityFit {
  const pts = validPoints(points);
  if (pts.length < 2)
    throw new RangeError(`bestComplexity needs at least 2 positive points, got ${pts.length}`);
  const meanTime = pts.reduce((s, p) => s + p.time, 0) / pts.length;
  const models = {} as ComplexityFit['models'];
  let best: ComplexityName = 'N';
  for (const name of Object.keys(COMPLEXITIES) as ComplexityName[]) {
    const f = COMPLEXITIES[name];
    let sft = 0;
    let sff = 0;
    for (const p of pts) {
      sft += f(p.n) * p.time;
      sff += f(p.n) ** 2;
    }
    const c = sft / sff;
    let ss = 0;
    for (const p of pts) ss += (p.time - c * f(p.n)) ** 2;
    const nrms = Math.sqrt(ss / pts.length) / meanTime;
    models[name] = { coefficient: c, nrms };
    if (nrms < models[best].nrms) best = name;
  }
  return { best, models };
}

/**
 * Lengths where implementation `a` and `b` swap places. Uses the sizes both were measured at;
 * between two consecutive common sizes where the sign of log(timeA / timeB) changes, the
 * crossover is interpolated linearly on log-log axes. Exactly equal times at a measured size
 * count as a crossover at that size only when the order differs on both sides.
 */
export function findCrossovers(
  a: string,
  pointsA: readonly ScalingPoint[],
  b: string,
  pointsB: readonly ScalingPoint[],
): Crossover[] {
  const mapB = new Map(validPoints(pointsB).map((p) => [p.n, p.time]));
  const common = validPoints(pointsA)
    .filter((p) => mapB.has(p.n))
    .map((p) => ({ n: p.n, d: Math.log(p.time) - Math.log(mapB.get(p.n) as number) }));
  // drop exact ties, remembering them as candidate crossover sizes
  const out: Crossover[] = [];
  let prev: { n: number; d: number } | null = null;
  let tieSince: number | null = null;
  for (const cur of common) {
    if (cur.d === 0) {
      if (tieSince === null) tieSince = cur.n;
      continue;
    }
    if (prev && Math.sign(prev.d) !== Math.sign(cur.d)) {
      let n: number;
      if (tieSince !== null) n = tieSince;
      else {
        const l0 = Math.log(prev.n);
        const l1 = Math.log(cur.n);
        n = Math.exp(l0 + (prev.d / (prev.d - cur.d)) * (l1 - l0));
      }
      out.push({
        a,
        b,
        n,
        between: [prev.n, cur.n],
        fasterBelow: prev.d < 0 ? a : b,
        fasterAbove: cur.d < 0 ? a : b,
      });
    }
    prev = cur;
    tieSince = null;
  }
  return out;
}

/** Crossovers for every pair of implementations in `series` (name -> points). */
export function findAllCrossovers(
  series: ReadonlyMap<string, readonly ScalingPoint[]>,
): Crossover[] {
  const names = [...series.keys()].sort();
  const out: Crossover[] = [];
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const a = names[i] as string;
      const b = names[j] as string;
      out.push(...findCrossovers(a, series.get(a) ?? [], b, series.get(b) ?? []));
    }
  }
  return out.sort((p, q) => p.n - q.n);
}

/** The fields of a result row the scaling analysis reads (a structural subset of ResultRow). */
export interface ScalingRow {
  implementation: string;
  status: string;
  seqLen: number;
  effectiveSeqLen?: number;
  device?: string;
  dtype?: string;
  batch?: number;
  heads?: number;
  kvHeads?: number;
  headDim?: number;
  causal?: boolean;
  stats: { medianMs: number } | null;
}

export interface ScalingSeries {
  implementation: string;
  /** the shared configuration (device, dtype, batch, heads, kvHeads, headDim, causal) */
  group: string;
  points: ScalingPoint[];
  /** null below 2 distinct lengths */
  powerLaw: PowerLawFit | null;
  complexity: ComplexityFit | null;
}

export interface ScalingAnalysis {
  series: ScalingSeries[];
  /** crossovers between implementations of the same group */
  crossovers: Array<Crossover & { group: string }>;
}

/** The configuration group a row is fitted in (device, dtype, batch, heads, kv heads, head dim, mask). */
export function scalingGroup(
  r: Omit<ScalingRow, 'implementation' | 'status' | 'seqLen' | 'stats'>,
): string {
  return [
    r.device,
    r.dtype,
    `b${r.batch}`,
    `h${r.heads}`,
    `kv${r.kvHeads}`,
    `d${r.headDim}`,
    r.causal ? 'causal' : 'full',
  ]
    .map(String)
    .join(' ');
}

/**
 * The exponent k that each complexity has over the measured range [n1, n2] (time ~ n^k between the
 * ends): N is 1, N^2 is 2, N log N is 1 + log(log n2 / log n1) / log(n2 / n1) (about 1.1 over 1K-16K).
 */
export function complexityExponents(n1: number, n2: number): Record<ComplexityName, number> {
  const nlogn =
    n2 > n1 && n1 > 1 ? 1 + Math.log(Math.log(n2) / Math.log(n1)) / Math.log(n2 / n1) : 1;
  return { N: 1, 'N log N': nlogn, 'N^2': 2 };
}

/**
 * The complexities whose exponent over the measured range lies inside the 95% interval of the
 * fitted k: one name when the interval singles it out, several when it cannot tell them apart,
 * none when k fits none of them. Empty without an interval.
 */
export function complexitiesInInterval(fit: PowerLawFit, n1: number, n2: number): ComplexityName[] {
  if (!fit.kCi95) return [];
  const [lo, hi] = fit.kCi95;
  const ex = complexityExponents(n1, n2);
  return (Object.keys(ex) as ComplexityName[]).filter((c) => ex[c] >= lo && ex[c] <= hi);
}

/**
 * Fits every implementation's median time against the length it actually ran
 * (effectiveSeqLen), per configuration group, and finds where implementations of a group
 * overtake one another. Rows that are not ok or have no median are ignored.
 */
export function analyzeScaling(rows: readonly ScalingRow[]): ScalingAnalysis {
  const groups = new Map<string, Map<string, ScalingPoint[]>>();
  for (const r of rows) {
    if (r.status !== 'ok' || !r.stats || !(r.stats.medianMs > 0)) continue;
    const group = scalingGroup(r);
    const byImpl = groups.get(group) ?? new Map<string, ScalingPoint[]>();
    groups.set(group, byImpl);
    const pts = byImpl.get(r.implementation) ?? [];
    byImpl.set(r.implementation, pts);
    pts.push({ n: r.effectiveSeqLen ?? r.seqLen, time: r.stats.medianMs });
  }
  const series: ScalingSeries[] = [];
  const crossovers: ScalingAnalysis['crossovers'] = [];
  for (const [group, byImpl] of groups) {
    for (const [implementation, points] of byImpl) {
      const distinct = new Set(points.map((p) => p.n)).size;
      series.push({
        implementation,
        group,
        points: validPoints(points),
        powerLaw: distinct >= 2 ? fitPowerLaw(points) : null,
        complexity: distinct >= 2 ? bestComplexity(points) : null,
      });
    }
    for (const c of findAllCrossovers(byImpl)) crossovers.push({ ...c, group });
  }
  return { series, crossovers };
}
