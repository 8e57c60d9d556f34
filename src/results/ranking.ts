// The one ranking rule of every report (suite Markdown, terminal summary, `dilbench report`, HTML):
// per length, exact dense attention is ranked only against itself; a winner is named only when
// its 95% interval excludes the runner-up's, otherwise the overlapping ones tie; a length is ranked
// only when every candidate has enough samples for an interval, and not at all when the run was
// interrupted there. Optimization-impact configurations are never ranked.
import type { ResultFile, ResultRow } from './types.js';
import { bootstrapMedianCi } from '../stats/summary.js';

const CANCELLED = 'ERR_DILBENCH_CANCELLED';

/**
 * Whether an implementation computes exact dense attention (attention-definitions.md: naive,
 * flash and ring give the same output; kv-cache and kv-cache-recompute decode it step by step,
 * which is dense attention only under a causal mask, so `causal` false leaves them out). The
 * frameworks' attention (`dilbench frameworks`) is dense too. dilated, dilated-grouped,
 * ring-dilated and block-sparse compute other functions. A report answers from the result file,
 * not from whichever addon the reading process has: a plugin row carries the answer its
 * descriptor gave at run time (`row.exactDense`); built-in rows answer from the list below, which
 * test/native/descriptors.test.ts checks against the built-in descriptors (native code).
 */
export function computesExactDense(name: string, causal = true, recorded?: boolean): boolean {
  // a plugin row records its descriptor's answer at run time
  if (recorded !== undefined) return recorded;
  const impl = name.replace(/^dilbench:/, '');
  if (['naive', 'flash', 'ring', 'onnxruntime-mha', 'onnxruntime-matmul', 'pytorch'].includes(impl))
    return true;
  return causal && (impl === 'kv-cache' || impl === 'kv-cache-recompute');
}

/**
 * Fewest samples a row needs to be ranked. Below 6 no pair of order statistics covers the median
 * with 95% probability (n = 5: [min, max] covers it with 1 - 2/32 = 93.75%), so an interval there
 * is a bootstrap of too few points and a "winner" would rest on noise.
 */
export const MIN_SAMPLES_TO_RANK = 6;

/** A point stopped by Ctrl-C / SIGTERM (the runner records it as failed with the cancel code). */
export function isInterrupted(r: Pick<ResultRow, 'status' | 'errorCode'>): boolean {
  return r.status === 'failed' && r.errorCode === CANCELLED;
}

/** `interrupted` for a point stopped by a signal, else the row's status. */
export function displayStatus(r: Pick<ResultRow, 'status' | 'errorCode'>): string {
  return isInterrupted(r) ? 'interrupted' : r.status;
}

/** A row measured under an optimization-impact configuration (pool or pattern cache switched off, or a configuration tag). */
export function isOptimizationVariant(
  r: Pick<ResultRow, 'memoryPool' | 'patternCache' | 'params'>,
): boolean {
  return (
    r.memoryPool === false ||
    r.patternCache === false ||
    (r.params !== undefined && r.params['optimization'] !== undefined)
  );
}

/** Whether a row takes part in the dense ranking at all (before statistics are looked at). */
export function isRankCandidate(r: ResultRow): boolean {
  // a projected ring row (params.measured false) never ran: not a candidate
  return (
    computesExactDense(r.implementation, r.causal, r.exactDense) &&
    !isOptimizationVariant(r) &&
    r.params?.['measured'] !== false
  );
}

export interface RankEntry {
  row: ResultRow;
  /** implementation, plus P when ring sizes differ at this length */
  label: string;
  /** tokens/s and its 95% interval (from the median's bootstrap interval) */
  rate: number;
  rateCi95: [number, number];
}

export type RankVerdict = 'winner' | 'tie' | 'only' | 'not-ranked' | 'incomplete';

export interface LengthRanking {
  seqLen: number;
  device: string;
  dtype: string;
  causal: boolean;
  /** winner: one implementation whose interval excludes the runner-up's; tie: the leaders overlap;
   *  only: one implementation ran; not-ranked: statistics do not allow it; incomplete: interrupted here */
  verdict: RankVerdict;
  /** fastest first; empty when not ranked */
  entries: RankEntry[];
  /** the winner, or the tied leaders (fastest first); empty when not ranked */
  leaders: RankEntry[];
  /** first entry after the leaders */
  next?: RankEntry;
  /** fastest rate / the rate of the first entry after the leaders (> 1), with a conservative interval from the two intervals */
  margin?: { ratio: number; ci95: [number, number] };
  /** why not ranked / incomplete; also notes on candidates that did not run (skipped, failed) */
  reason?: string;
  notes: string[];
}

function groupKey(r: ResultRow): string {
  return JSON.stringify([r.seqLen, r.device, r.dtype, r.causal, r.heads, r.kvHeads, r.headDim]);
}

function ringSize(r: ResultRow): number | undefined {
  const v = r.params?.['ringSize'];
  return typeof v === 'number' ? v : undefined;
}

/** The median's 95% interval: the recorded one, or (files written before it was recorded) bootstrapped from the raw samples. */
function medianCi(r: ResultRow): [number, number] | null {
  if (r.stats?.medianCi95Ms) return r.stats.medianCi95Ms;
  if (r.samplesMs.length < MIN_SAMPLES_TO_RANK) return null;
  return bootstrapMedianCi(r.samplesMs);
}

function rateOf(r: ResultRow): { rate: number; ci: [number, number] } | null {
  const s = r.stats;
  const ci = medianCi(r);
  if (!s || r.tokensPerSecond === null || !(r.tokensPerSecond > 0) || !ci || !(s.medianMs > 0))
    return null;
  // tokens/s is inversely proportional to time: map the median's interval through it (fair when the planner lowered a batch)
  const k = r.tokensPerSecond * s.medianMs;
  return { rate: r.tokensPerSecond, ci: [k / ci[1], k / ci[0]] };
}

function overlaps(a: [number, number], b: [number, number]): boolean {
  return a[0] <= b[1] && b[0] <= a[1];
}

export interface RankOptions {
  /** implementations the run meant to measure (config.implementations): a missing one marks an interrupted length incomplete */
  implementations?: string[];
  /** lengths the run meant to measure (config.lengths) */
  lengths?: number[];
  /** the run was interrupted (file.interrupted) */
  interrupted?: boolean;
}

/** Ranking options read from a result file. */
export function rankOptionsOf(file: Pick<ResultFile, 'config' | 'interrupted'>): RankOptions {
  const impls = file.config?.['implementations'];
  const lengths = file.config?.['lengths'];
  return {
    implementations: Array.isArray(impls)
      ? impls.filter((x): x is string => typeof x === 'string')
      : undefined,
    lengths: Array.isArray(lengths)
      ? lengths.filter((x): x is number => typeof x === 'number')
      : undefined,
    interrupted: file.interrupted === true,
  };
}

/** The ranking of every length (and device, dtype, causal, shape) that has a dense-attention candidate. */
export function rankLengths(rows: ResultRow[], options: RankOptions = {}): LengthRanking[] {
  const groups = new Map<string, [ResultRow, ...ResultRow[]]>();
  for (const r of rows) {
    if (!isRankCandidate(r)) continue;
    const k = groupKey(r);
    const group = groups.get(k);
    if (group) group.push(r);
    else groups.set(k, [r]);
  }
  const out: LengthRanking[] = [];
  for (const list of groups.values()) out.push(rankGroup(list, options));
  // lengths the run planned but never reached (interrupted before them)
  if (options.interrupted && options.lengths) {
    const seen = new Set(rows.map((r) => r.seqLen));
    for (const n of options.lengths) {
      if (seen.has(n)) continue;
      const ref = rows[0];
      out.push({
        seqLen: n,
        device: ref?.device ?? 'cpu',
        dtype: ref?.dtype ?? 'fp32',
        causal: ref?.causal ?? false,
        verdict: 'incomplete',
        entries: [],
        leaders: [],
        notes: [],
        reason: 'interrupted before this length ran',
      });
    }
  }
  return out.sort(
    (a, b) =>
      a.seqLen - b.seqLen ||
      a.device.localeCompare(b.device) ||
      a.dtype.localeCompare(b.dtype) ||
      Number(a.causal) - Number(b.causal),
  );
}

function rankGroup(list: [ResultRow, ...ResultRow[]], options: RankOptions): LengthRanking {
  const first = list[0];
  const base = {
    seqLen: first.seqLen,
    device: first.device,
    dtype: first.dtype,
    causal: first.causal,
  };
  const ringSizes = new Set(list.filter((r) => r.implementation.startsWith('ring')).map(ringSize));
  const label = (r: ResultRow): string =>
    ringSizes.size > 1 && ringSize(r) !== undefined
      ? `${r.implementation} (P=${ringSize(r)})`
      : r.implementation;
  const notes: string[] = [];
  for (const r of list) {
    if (r.status === 'ok' || isInterrupted(r)) continue;
    notes.push(`${label(r)} ${r.status}${r.reason ? ` (${r.reason})` : ''}`);
  }
  const interruptedHere = list.filter(isInterrupted).map(label);
  if (options.interrupted) {
    const present = new Set(list.map((r) => r.implementation));
    for (const impl of options.implementations ?? []) {
      if (computesExactDense(impl, first.causal) && !present.has(impl))
        interruptedHere.push(`${impl} (not run)`);
    }
  }
  if (interruptedHere.length) {
    return {
      ...base,
      verdict: 'incomplete',
      entries: [],
      leaders: [],
      notes,
      reason: `interrupted: ${interruptedHere.join(', ')}`,
    };
  }
  const ok = list.filter((r) => r.status === 'ok');
  if (ok.length === 0)
    return {
      ...base,
      verdict: 'not-ranked',
      entries: [],
      leaders: [],
      notes,
      reason: 'no dense-attention point ran',
    };
  const few = ok.filter((r) => r.samplesMs.length < MIN_SAMPLES_TO_RANK || !rateOf(r));
  if (few.length) {
    const what = few.map((r) => `${label(r)} ${r.samplesMs.length}`).join(', ');
    return {
      ...base,
      verdict: 'not-ranked',
      entries: [],
      leaders: [],
      notes,
      reason: `too few samples (${what}; ${MIN_SAMPLES_TO_RANK} needed for a 95% interval)`,
    };
  }
  const entries: RankEntry[] = ok
    .map((row) => {
      const r = rateOf(row)!;
      return { row, label: label(row), rate: r.rate, rateCi95: r.ci };
    })
    .sort((a, b) => b.rate - a.rate || a.label.localeCompare(b.label));
  if (entries.length === 1) return { ...base, verdict: 'only', entries, leaders: entries, notes };
  const top = entries[0]!; // ok is not empty (checked above), so neither is entries
  const leaders = entries.filter((e) => e === top || overlaps(e.rateCi95, top.rateCi95));
  const next = entries.find((e) => !leaders.includes(e));
  const margin = next
    ? {
        ratio: top.rate / next.rate,
        ci95: [top.rateCi95[0] / next.rateCi95[1], top.rateCi95[1] / next.rateCi95[0]] as [
          number,
          number,
        ],
      }
    : undefined;
  return {
    ...base,
    verdict: leaders.length === 1 ? 'winner' : 'tie',
    entries,
    leaders,
    next,
    margin,
    notes,
  };
}

/**
 * The rows of a file that rankings may use: none of an optimization-impact run (every row there is
 * one of its configurations, including "both", which reads like a default row), nor of a command
 * that times whole models (inference, scaling: a row is a model request, not one attention).
 */
export function rankableRows(
  file: Pick<ResultFile, 'results'> &
    Partial<Pick<ResultFile, 'config' | 'command'>> & { suite?: string },
): ResultRow[] {
  if (file.suite === 'optimization-impact' || file.command !== undefined) return [];
  // rows computed with another mask than the run asked for (kv-cache decodes causally in a
  // non-causal run) answer another question: they stay in the tables, not in the ranking
  const causal = file.config?.['causal'];
  return typeof causal === 'boolean'
    ? file.results.filter((r) => r.causal === causal)
    : file.results;
}

/** The ranking of a result file (its own configuration says what was planned). */
export function rankFile(
  file: Pick<ResultFile, 'results' | 'config' | 'interrupted'> & { suite?: string },
): LengthRanking[] {
  return rankLengths(rankableRows(file), rankOptionsOf(file));
}

/** One line: "flash (1.32x faster than naive)", "tie: flash, ring", "not ranked: ...". */
export function verdictText(r: LengthRanking): string {
  switch (r.verdict) {
    // these two verdicts are given with exactly one leader
    case 'winner':
      return r.leaders[0]!.label;
    case 'only':
      return `${r.leaders[0]!.label} (only one ran)`;
    case 'tie':
      return `tie: ${r.leaders.map((e) => e.label).join(', ')}`;
    case 'incomplete':
      return `incomplete (${r.reason ?? 'interrupted'})`;
    default:
      return `not ranked: ${r.reason ?? ''}`;
  }
}

/** Lengths whose ranking is incomplete because the run was interrupted. */
export function incompleteLengths(rankings: LengthRanking[]): number[] {
  return [...new Set(rankings.filter((r) => r.verdict === 'incomplete').map((r) => r.seqLen))];
}

export const RANKING_RULE =
  'Ranked among implementations of exact dense attention only (naive, flash, ring; kv-cache when causal); dilated, dilated-grouped, ring-dilated and block-sparse compute other functions and are compared with dense attention separately. ' +
  `A winner is named only when its 95% interval excludes the next one's; otherwise the overlapping ones tie. Lengths where an implementation has fewer than ${MIN_SAMPLES_TO_RANK} samples are not ranked.`;

export interface SparseComparison {
  row: ResultRow;
  /** the fastest dense-attention row at the same length, device, dtype, mask and shape */
  dense: ResultRow;
  /** row's tokens/s / dense's tokens/s (> 1: faster than dense) */
  speedup: number;
  /** flops per batch element relative to the dense row's (the share of dense work it does) */
  workFraction: number;
  /** block-sparse: the kernel's share of skipped blocks */
  sparsity?: number;
}

/**
 * The implementations that compute another function than dense attention (dilated, dilated-grouped,
 * ring-dilated, block-sparse), each against the fastest dense attention of its length: how much
 * faster, for what share of the dense work. Optimization-impact variants are left out.
 */
export function sparseVsDense(rows: ResultRow[]): SparseComparison[] {
  const dense = new Map<string, ResultRow>();
  for (const r of rows) {
    if (r.status !== 'ok' || !isRankCandidate(r) || !(r.tokensPerSecond! > 0)) continue;
    const k = groupKey(r);
    const cur = dense.get(k);
    if (!cur || r.tokensPerSecond! > cur.tokensPerSecond!) dense.set(k, r);
  }
  const out: SparseComparison[] = [];
  for (const r of rows) {
    if (
      r.status !== 'ok' ||
      computesExactDense(r.implementation, r.causal, r.exactDense) ||
      isOptimizationVariant(r) ||
      !(r.tokensPerSecond! > 0)
    )
      continue;
    const d = dense.get(groupKey(r));
    if (!d) continue;
    const sparsity = r.telemetry?.sparsity;
    out.push({
      row: r,
      dense: d,
      speedup: r.tokensPerSecond! / d.tokensPerSecond!,
      workFraction: r.flopsPerIteration / r.batch / (d.flopsPerIteration / d.batch),
      ...(typeof sparsity === 'number' ? { sparsity } : {}),
    });
  }
  return out.sort(
    (a, b) =>
      a.row.seqLen - b.row.seqLen || a.row.implementation.localeCompare(b.row.implementation),
  );
}
