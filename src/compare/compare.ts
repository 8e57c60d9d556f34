// Comparing two result files row by row: ratio of medians with a bootstrap interval, a two-sided
// Mann-Whitney U test, and a verdict that calls a change only when it is significant AND large.
import type { Environment, ResultFile, ResultRow } from '../results/types.js';
import { createRng } from '../stats/random.js';
import { percentileInterval } from '../stats/summary.js';
import {
  bootstrapPValue,
  hierarchicalLogReplicates,
  repetitionEstimate,
} from '../stats/hierarchical.js';
import type { Verdict, ComparisonSummary } from '../results/types.js';
export type { Verdict, ComparisonSummary };
import { compareSamples } from '../stats/sample-ratio.js';

/**
 * The smallest change a comparison of two single runs may call, when no history says otherwise.
 * Two runs' samples give an interval for *their* medians only; between runs of identical code
 * the median moves with memory layout, clock and background load. On a quiet machine that
 * run-to-run spread is a few percent (the simulation in test/compare/noise-gate.test.ts uses a 3%
 * standard deviation per run, so a ratio of two runs has about 4.2%); 10% is about 2.3 of those
 * standard deviations, which keeps false `slower` verdicts of A/A pairs near 1%. With
 * `--repetitions` the spread is measured instead and no floor is applied.
 */
export const DEFAULT_NOISE_FLOOR = 0.1;
/** The history-derived floor: half-width of a 95% interval of the ratio of two runs, 1.96 x sqrt(2) sd of log medians */
export const HISTORY_FLOOR_FACTOR = 1.96 * Math.SQRT2;
/** runs of the same configuration a history needs before it replaces the default floor */
export const HISTORY_MIN_RUNS = 3;

export interface CompareOptions {
  /** significance level of the Mann-Whitney test (default 0.05) */
  alpha?: number;
  /** relative change that matters (default 0.05 = 5%) */
  threshold?: number;
  /** compare rows whose dtype, device or shapes differ (default false: refuse them) */
  allowMismatch?: boolean;
  /** bootstrap seed (default 0x5eed); each row derives its own from it and its configuration */
  seed?: number;
  /** bootstrap resamples (default 2000) */
  resamples?: number;
  /**
   * Rows without repetitions on both sides: the smallest relative change that may be called
   * (default DEFAULT_NOISE_FLOOR), or per row key (rowKey) from a history of the same configuration.
   */
  noiseFloor?: number;
  noiseFloors?: ReadonlyMap<string, number>;
}

export interface RowConfig {
  implementation: string;
  device: string;
  dtype: string;
  batch: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  seqLen: number;
  causal: boolean;
  params?: Record<string, unknown>;
}

export interface RowComparison {
  label: string;
  config: RowConfig;
  baselineMedianMs: number;
  currentMedianMs: number;
  baselineSamples: number;
  currentSamples: number;
  /** current median / baseline median: > 1 is slower */
  ratio: number;
  ratioCi95: [number, number];
  pValue: number;
  /** exact / normal: Mann-Whitney on the samples; bootstrap: hierarchical bootstrap over repetitions */
  test: 'exact' | 'normal' | 'bootstrap';
  /** repetitions: interval from resampling repetitions and samples; samples: from one run's samples each */
  method: 'repetitions' | 'samples';
  /** repetitions used on each side (flagged ones left out when enough remain) */
  repetitions?: { baseline: number; current: number };
  /** samples method: the run-to-run noise floor applied (max with --threshold), and where it came from */
  noiseFloor?: { value: number; source: 'default' | 'history' | 'option' };
  /** a side measured under interference (its row, or all but one of its repetitions, flagged) */
  interference?: { baseline: boolean; current: boolean };
  verdict: Verdict;
  /** e.g. the differences compared despite --allow-mismatch */
  notes: string[];
}

export interface RefusedRow {
  label: string;
  reasons: string[];
}

export interface UncomparedRow {
  label: string;
  reason: string;
}

export interface ComparisonReport {
  alpha: number;
  threshold: number;
  allowMismatch: boolean;
  rows: RowComparison[];
  summary: ComparisonSummary;
  onlyInBaseline: string[];
  onlyInCurrent: string[];
  refused: RefusedRow[];
  notComparable: UncomparedRow[];
  warnings: string[];
  /**
   * 1 when any row is slower; else 75 (EXIT_RETRY) when a row is unreliable (would be slower
   * (or faster), but the run that could have caused it was measured under interference); 2 when
   * rows were refused and none could be compared; else 0
   */
  exitCode: 0 | 1 | 2 | 75;
}

const SHAPE_FIELDS = [
  'device',
  'dtype',
  'batch',
  'heads',
  'kvHeads',
  'headDim',
  'causal',
  'effectiveSeqLen',
] as const;

function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .sort()
    .filter((k) => obj[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`)
    .join(',')}}`;
}

/** The fields of a row that say which configuration it measured (rowKey's input). */
export type RowIdentity = Pick<ResultRow, keyof RowConfig>;

function configOf(row: RowIdentity): RowConfig {
  const c: RowConfig = {
    implementation: row.implementation,
    device: row.device,
    dtype: row.dtype,
    batch: row.batch,
    heads: row.heads,
    kvHeads: row.kvHeads,
    headDim: row.headDim,
    seqLen: row.seqLen,
    causal: row.causal,
  };
  if (row.params && Object.keys(row.params).length > 0) c.params = row.params;
  return c;
}

/** Full configuration key: rows match when all of it is equal. */
export function rowKey(row: RowIdentity): string {
  return configKey(configOf(row));
}

/** rowKey of a row with this configuration (RowComparison.config). */
export function configKey(config: RowConfig): string {
  return canonical(config);
}

/** Loose identity (implementation, length, parameters): pairs rows whose shapes differ. */
function identityKey(row: ResultRow): string {
  return canonical({
    implementation: row.implementation,
    seqLen: row.seqLen,
    params: row.params ?? {},
  });
}

export function rowLabel(row: ResultRow): string {
  const parts = [
    `${row.implementation}`,
    `N=${row.seqLen}${row.effectiveSeqLen !== undefined && row.effectiveSeqLen !== row.seqLen ? `(${row.effectiveSeqLen})` : ''}`,
    `b${row.batch}`,
    `h${row.heads}${row.kvHeads !== row.heads ? `/kv${row.kvHeads}` : ''}`,
    `d${row.headDim}`,
    row.dtype,
    row.device,
  ];
  if (row.causal) parts.push('causal');
  if (row.params && Object.keys(row.params).length > 0) parts.push(canonical(row.params));
  return parts.join(' ');
}

function shapeDifferences(a: ResultRow, b: ResultRow): string[] {
  const out: string[] = [];
  for (const f of SHAPE_FIELDS) {
    const va = a[f];
    const vb = b[f];
    if (va === undefined || vb === undefined) continue;
    if (canonical(va) !== canonical(vb))
      out.push(`${f} differs: ${String(va)} in baseline, ${String(vb)} in current`);
  }
  return out;
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The verdict rule. slower: p < alpha and the whole interval of the ratio above 1 + threshold;
 * faster: p < alpha and the whole interval below 1 - threshold; same: the interval within
 * [1 - threshold, 1 + threshold]; otherwise uncertain.
 */
export function verdictOf(
  ci: [number, number],
  p: number | null,
  alpha: number,
  threshold: number,
): Verdict {
  const significant = p === null || p < alpha;
  if (significant && ci[0] > 1 + threshold) return 'slower';
  if (significant && ci[1] < 1 - threshold) return 'faster';
  if (ci[0] >= 1 - threshold && ci[1] <= 1 + threshold) return 'same';
  return 'uncertain';
}

interface Pair {
  base: ResultRow;
  cur: ResultRow;
  notes: string[];
}

function environmentWarnings(a: Environment | undefined, b: Environment | undefined): string[] {
  if (!a || !b)
    return [
      'environment missing from ' +
        (!a ? 'baseline' : 'current') +
        ' file: cannot check the machines match',
    ];
  const out: string[] = [];
  const fields: Array<[keyof Environment, string]> = [
    ['cpuModel', 'CPU model'],
    ['cpuCores', 'CPU cores'],
    ['simdLevel', 'SIMD level'],
    ['dilbenchVersion', 'dilbench version'],
    ['buildType', 'build type'],
    ['os', 'OS'],
    ['nodeVersion', 'Node version'],
  ];
  for (const [f, name] of fields) {
    const va = a[f];
    const vb = b[f];
    if (va !== undefined && vb !== undefined && canonical(va) !== canonical(vb)) {
      out.push(`environments differ: ${name} ${String(va)} (baseline) vs ${String(vb)} (current)`);
    }
  }
  if (a.peak && b.peak && a.peak.threads !== b.peak.threads) {
    out.push(
      `environments differ: peak measured on ${a.peak.threads} threads (baseline) vs ${b.peak.threads} (current)`,
    );
  }
  return out;
}

/** compare's exit code when its only slowdowns were measured under interference (sysexits EX_TEMPFAIL: retry) */
export const EXIT_UNRELIABLE = 75;

function isFlagged(i: { flagged?: boolean } | undefined): boolean {
  return i?.flagged === true;
}

/**
 * The repetitions a row may be judged on: the unflagged ones when at least two are left,
 * otherwise all of them with the row counted as flagged. A row without repetitions: its own flag.
 */
function usableRepetitions(row: ResultRow): {
  samples: number[][];
  flagged: boolean;
  left: number;
} {
  const reps = (row.repetitions ?? []).filter(
    (r) => Array.isArray(r.samplesMs) && r.samplesMs.length > 0,
  );
  if (reps.length < 2) return { samples: [], flagged: isFlagged(row.interference), left: 0 };
  const quiet = reps.filter((r) => !isFlagged(r.interference));
  if (quiet.length >= 2)
    return {
      samples: quiet.map((r) => r.samplesMs),
      flagged: false,
      left: reps.length - quiet.length,
    };
  return {
    samples: reps.map((r) => r.samplesMs),
    flagged: reps.some((r) => isFlagged(r.interference)),
    left: 0,
  };
}

function interferenceReason(row: ResultRow): string {
  const i =
    row.interference ?? row.repetitions?.find((r) => isFlagged(r.interference))?.interference;
  return i?.reason ?? 'flagged';
}

function describeFloors(rows: RowComparison[]): string {
  const bySource = new Map<string, number[]>();
  for (const r of rows)
    if (r.noiseFloor)
      bySource.set(r.noiseFloor.source, [
        ...(bySource.get(r.noiseFloor.source) ?? []),
        r.noiseFloor.value,
      ]);
  const pct = (v: number) => `${+(v * 100).toFixed(1)}%`;
  return [...bySource.entries()]
    .map(([src, vs]) => {
      const lo = Math.min(...vs);
      const hi = Math.max(...vs);
      return `${lo === hi ? pct(lo) : `${pct(lo)}-${pct(hi)}`} ${src === 'default' ? 'documented default' : src === 'history' ? 'from the history of the same configuration' : 'from --noise-floor'}`;
    })
    .join(', ');
}

/** Compares two parsed result files. Pure (reproducible for a given seed). */
export function compareResults(
  baseline: ResultFile,
  current: ResultFile,
  options: CompareOptions = {},
): ComparisonReport {
  const alpha = options.alpha ?? 0.05;
  const threshold = options.threshold ?? 0.05;
  const allowMismatch = options.allowMismatch ?? false;
  const seed = options.seed ?? 0x5eed;
  const resamples = options.resamples ?? 2000;
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
  if (!(threshold >= 0 && threshold < 1))
    throw new RangeError(`threshold must be in [0, 1), got ${threshold}`);

  const warnings = environmentWarnings(baseline.environment, current.environment);
  if (baseline.interrupted)
    warnings.push('the baseline run was interrupted: some of its points never ran');
  if (current.interrupted)
    warnings.push('the current run was interrupted: some of its points never ran');
  if (
    baseline.schemaVersion !== undefined &&
    current.schemaVersion !== undefined &&
    baseline.schemaVersion !== current.schemaVersion
  ) {
    warnings.push(
      `schema versions differ: ${baseline.schemaVersion} (baseline) vs ${current.schemaVersion} (current)`,
    );
  }

  // 1. exact configuration matches (in file order for duplicates)
  const curByKey = new Map<string, ResultRow[]>();
  for (const r of current.results) {
    const k = rowKey(r);
    curByKey.set(k, [...(curByKey.get(k) ?? []), r]);
  }
  const pairs: Pair[] = [];
  const baseLeft: ResultRow[] = [];
  for (const r of baseline.results) {
    const list = curByKey.get(rowKey(r));
    if (list && list.length > 0) pairs.push({ base: r, cur: list.shift() as ResultRow, notes: [] });
    else baseLeft.push(r);
  }
  const curLeft: ResultRow[] = [...curByKey.values()].flat();
  // keep current file order
  const curOrder = new Map(current.results.map((r, i) => [r, i]));
  curLeft.sort((x, y) => (curOrder.get(x) ?? 0) - (curOrder.get(y) ?? 0));

  // 2. same identity but different dtype / device / shapes: refused unless allowed
  const refused: RefusedRow[] = [];
  const curLeftById = new Map<string, ResultRow[]>();
  for (const r of curLeft) {
    const k = identityKey(r);
    curLeftById.set(k, [...(curLeftById.get(k) ?? []), r]);
  }
  const onlyInBaseline: string[] = [];
  for (const r of baseLeft) {
    const list = curLeftById.get(identityKey(r));
    if (list && list.length > 0) {
      const cur = list.shift() as ResultRow;
      const reasons = shapeDifferences(r, cur);
      if (allowMismatch)
        pairs.push({ base: r, cur, notes: reasons.map((d) => `compared despite mismatch: ${d}`) });
      else refused.push({ label: `${rowLabel(r)} vs ${rowLabel(cur)}`, reasons });
    } else onlyInBaseline.push(rowLabel(r));
  }
  const onlyInCurrent = [...curLeftById.values()]
    .flat()
    .sort((x, y) => (curOrder.get(x) ?? 0) - (curOrder.get(y) ?? 0))
    .map(rowLabel);

  // exact matches whose effective length differs are mismatches too
  const rows: RowComparison[] = [];
  const notComparable: UncomparedRow[] = [];
  const logReplicates: Float64Array[] = [];
  const threadDiffs: string[] = [];
  let samplesOnly = 0;
  const cacheDiffs: string[] = [];
  for (const pair of pairs) {
    const { base, cur } = pair;
    const label = rowLabel(base);
    if (pair.notes.length === 0) {
      const diffs = shapeDifferences(base, cur);
      if (diffs.length > 0) {
        if (!allowMismatch) {
          refused.push({ label, reasons: diffs });
          continue;
        }
        pair.notes.push(...diffs.map((d) => `compared despite mismatch: ${d}`));
      }
    }
    if (base.status !== 'ok' || cur.status !== 'ok') {
      const which = base.status !== 'ok' ? `baseline ${base.status}` : `current ${cur.status}`;
      const why = base.status !== 'ok' ? base.reason : cur.reason;
      notComparable.push({ label, reason: `${which}${why ? `: ${why}` : ''}` });
      continue;
    }
    const bs = base.samplesMs ?? [];
    const cs = cur.samplesMs ?? [];
    if (bs.length === 0 || cs.length === 0) {
      notComparable.push({
        label,
        reason: `no raw samples in the ${bs.length === 0 ? 'baseline' : 'current'} file`,
      });
      continue;
    }
    if (base.threads !== undefined && cur.threads !== undefined && base.threads !== cur.threads) {
      threadDiffs.push(`${label}: ${base.threads} vs ${cur.threads}`);
    }
    if (base.cacheMode && cur.cacheMode && base.cacheMode !== cur.cacheMode) {
      cacheDiffs.push(`${label}: ${base.cacheMode} vs ${cur.cacheMode}`);
    }
    const rng = createRng((seed ^ hashString(rowKey(base))) >>> 0);
    const bReps = usableRepetitions(base);
    const cReps = usableRepetitions(cur);
    const flagged = { baseline: bReps.flagged, current: cReps.flagged };
    const notes = [...pair.notes];
    let bMed: number;
    let cMed: number;
    let ci: [number, number];
    let pValue: number;
    let test: RowComparison['test'];
    let method: RowComparison['method'];
    let floor: RowComparison['noiseFloor'];
    let logs: Float64Array;
    if (bReps.samples.length >= 2 && cReps.samples.length >= 2) {
      // between-run variance measured: resample repetitions, then samples within them
      method = 'repetitions';
      bMed = repetitionEstimate(bReps.samples);
      cMed = repetitionEstimate(cReps.samples);
      const bl = hierarchicalLogReplicates(bReps.samples, resamples, rng);
      const cl = hierarchicalLogReplicates(cReps.samples, resamples, rng);
      logs = new Float64Array(resamples);
      for (let i = 0; i < resamples; i++) logs[i] = (cl[i] as number) - (bl[i] as number);
      ci = percentileInterval(logs.map(Math.exp), 0.95);
      pValue = bootstrapPValue(logs);
      test = 'bootstrap';
      if (bReps.left + cReps.left > 0)
        notes.push(`${bReps.left + cReps.left} repetition(s) measured under interference left out`);
    } else {
      method = 'samples';
      const sr = compareSamples(bs, cs, rng, resamples);
      bMed = sr.baseMedian;
      cMed = sr.otherMedian;
      logs = sr.logReplicates;
      ci = sr.ratioCi95;
      pValue = sr.pValue;
      test = sr.test;
      const fromHistory = options.noiseFloors?.get(rowKey(base));
      floor =
        fromHistory !== undefined
          ? { value: fromHistory, source: 'history' }
          : {
              value: options.noiseFloor ?? DEFAULT_NOISE_FLOOR,
              source: options.noiseFloor !== undefined ? 'option' : 'default',
            };
      samplesOnly++;
    }
    logReplicates.push(logs);
    const gate = method === 'samples' ? Math.max(threshold, floor!.value) : threshold;
    let verdict = verdictOf(ci, pValue, alpha, gate);
    // Interference slows what it hits: a flagged current run can fake a slowdown and is never the
    // basis of `slower` (how much it slows a kernel has no useful bound: a fork-join kernel waits
    // for its slowest thread, and short iterations wait on scheduling), a flagged baseline can
    // fake a speed-up; the other way round it only hides one.
    if (verdict === 'slower' && flagged.current) {
      verdict = 'unreliable';
      notes.push(
        `would be slower, but the current run was measured under interference (${interferenceReason(cur)}): retry on a quiet machine`,
      );
    } else if (verdict === 'faster' && flagged.baseline) {
      verdict = 'unreliable';
      notes.push(
        `would be faster, but the baseline was measured under interference (${interferenceReason(base)})`,
      );
    } else if (flagged.baseline || flagged.current) {
      notes.push(
        `${flagged.baseline && flagged.current ? 'both runs' : flagged.baseline ? 'the baseline' : 'the current run'} measured under interference`,
      );
    }
    rows.push({
      label,
      config: configOf(base),
      baselineMedianMs: bMed,
      currentMedianMs: cMed,
      baselineSamples: bs.length,
      currentSamples: cs.length,
      ratio: cMed / bMed,
      ratioCi95: ci,
      pValue,
      test,
      method,
      ...(method === 'repetitions'
        ? { repetitions: { baseline: bReps.samples.length, current: cReps.samples.length } }
        : {}),
      ...(floor ? { noiseFloor: floor } : {}),
      ...(flagged.baseline || flagged.current ? { interference: flagged } : {}),
      verdict,
      notes,
    });
  }
  if (threadDiffs.length > 0) {
    warnings.push(
      `thread counts differ on ${threadDiffs.length} row(s): ${threadDiffs.slice(0, 3).join('; ')}${threadDiffs.length > 3 ? '; ...' : ''}`,
    );
  }
  if (cacheDiffs.length > 0) {
    warnings.push(
      `cache modes differ on ${cacheDiffs.length} row(s): ${cacheDiffs.slice(0, 3).join('; ')}${cacheDiffs.length > 3 ? '; ...' : ''}`,
    );
  }
  if (refused.length > 0 && !allowMismatch) {
    warnings.push(
      `${refused.length} row(s) refused: dtype, device or shapes differ (use --allow-mismatch to compare them anyway)`,
    );
  }

  // geometric mean: per replicate, mean of the rows' log ratios
  let geomeanRatio: number | null = null;
  let geomeanCi95: [number, number] | null = null;
  let geomeanVerdict: Verdict | null = null;
  if (rows.length > 0) {
    geomeanRatio = Math.exp(rows.reduce((s, r) => s + Math.log(r.ratio), 0) / rows.length);
    const g = new Float64Array(resamples);
    for (const logs of logReplicates)
      for (let i = 0; i < resamples; i++) g[i] = (g[i] as number) + (logs[i] as number);
    for (let i = 0; i < resamples; i++) g[i] = Math.exp((g[i] as number) / rows.length);
    geomeanCi95 = percentileInterval(g, 0.95);
    // any row from single runs: the geometric mean cannot beat that row's noise floor either
    const floors = rows.filter((r) => r.noiseFloor).map((r) => r.noiseFloor!.value);
    geomeanVerdict = verdictOf(geomeanCi95, null, alpha, Math.max(threshold, ...floors));
    if (geomeanVerdict === 'slower' && rows.some((r) => r.interference?.current))
      geomeanVerdict = 'unreliable';
    if (geomeanVerdict === 'faster' && rows.some((r) => r.interference?.baseline))
      geomeanVerdict = 'unreliable';
  }
  const count = (v: Verdict) => rows.filter((r) => r.verdict === v).length;
  const summary: ComparisonSummary = {
    rows: rows.length,
    faster: count('faster'),
    slower: count('slower'),
    same: count('same'),
    uncertain: count('uncertain'),
    unreliable: count('unreliable'),
    geomeanRatio,
    geomeanCi95,
    geomeanVerdict,
  };
  if (samplesOnly > 0) {
    warnings.push(
      `${samplesOnly} row(s) compared from one run each: their intervals ignore run-to-run variance, so a change must exceed the noise floor ` +
        `(${describeFloors(rows)}) to be called; --repetitions R on both runs measures that variance instead`,
    );
  }
  const exitCode: 0 | 1 | 2 | 75 =
    summary.slower > 0
      ? 1
      : summary.unreliable > 0
        ? EXIT_UNRELIABLE
        : rows.length === 0 && refused.length > 0
          ? 2
          : 0;
  return {
    alpha,
    threshold,
    allowMismatch,
    rows,
    summary,
    onlyInBaseline,
    onlyInCurrent,
    refused,
    notComparable,
    warnings,
    exitCode,
  };
}
