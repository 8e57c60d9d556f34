// Aggregation of any number of result files (and the history) into flat table rows.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { ResultFile, ResultRow } from '../../results/types.js';
import { readHistoryDetailed, type HistoryEntry } from '../../history/index.js';
import { configurationKey, experimentId, percentOfPeak } from '../plots/data.js';
import { displayStatus } from '../../results/ranking.js';
import type { HistoryPoint } from '../plots/specs.js';
import type { StoredPeak } from '../../roofline/peak-store.js';
import { isDistributedRow, ringLayoutOf, ringSizeOf } from '../plots/data.js';

function isStoredPeak(v: unknown): v is StoredPeak {
  const o = v as Partial<StoredPeak> | null;
  return !!o && typeof o === 'object' && typeof o.fmaGflops === 'number' && typeof o.streamGBps === 'number' && typeof o.threads === 'number' && typeof o.simdLevel === 'string';
}

/**
 * Gives each result file without a peak of its own the stored peak measured on the same thread
 * count and SIMD level (as the suites do when they run), so % of peak is there in the report.
 * Returns how many files it was given to.
 */
export function applyStoredPeaks(files: LoadedResultFile[], peaks: LoadResult['peaks']): number {
  let applied = 0;
  for (const f of files) {
    const env = f.file.environment;
    if (!env || env.peak) continue;
    const threads = f.file.results.find((r) => r.device !== 'cuda')?.threads;
    const match = peaks.find(({ peak }) => peak.threads === threads && peak.simdLevel === env.simdLevel);
    if (!match) continue;
    env.peak = { fmaGflops: match.peak.fmaGflops, streamGBps: match.peak.streamGBps, threads: match.peak.threads, simdLevel: env.simdLevel };
    applied++;
  }
  return applied;
}

export interface LoadedResultFile {
  path: string;
  expId: string;
  file: ResultFile;
}

export interface LoadResult {
  files: LoadedResultFile[];
  /** peak.json files of `dilbench peak`, read as the machine peak they are */
  peaks: { path: string; peak: StoredPeak }[];
  /** files that looked like JSON but are not result files, with why */
  ignored: { path: string; reason: string }[];
}

function isResultFile(v: unknown): v is ResultFile {
  const o = v as Partial<ResultFile> | null;
  return !!o && typeof o === 'object' && Array.isArray(o.results) && typeof o.suite === 'string' && typeof o.createdAt === 'string';
}

/**
 * Every result file (`*.json` with `suite`, `createdAt` and `results[]`) under `dir`, recursively
 * (two levels), sorted by createdAt. Other JSON files are listed in `ignored`.
 */
export function loadResultFiles(dir: string, depth = 2): LoadResult {
  const out: LoadResult = { files: [], peaks: [], ignored: [] };
  const walk = (d: string, level: number): void => {
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const p = join(d, name);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (level < depth && name !== 'node_modules' && !name.startsWith('.')) walk(p, level + 1);
        continue;
      }
      if (!name.endsWith('.json')) continue;
      // files of `dilbench scaling` / `dilbench inference` (read by src/scaling/report.ts): not result files; peak.json is read below as the peak it is
      if (name.startsWith('inference_scaling_') || name === 'inference_metrics.json') continue;
      try {
        const v: unknown = JSON.parse(readFileSync(p, 'utf8'));
        // a whole-model command's own result file: its section reads the views it wrote beside it
        if (isResultFile(v) && v.command) continue;
        if (isResultFile(v)) out.files.push({ path: p, expId: experimentId(v), file: v });
        else if (isStoredPeak(v)) out.peaks.push({ path: p, peak: v });
        else out.ignored.push({ path: p, reason: name.startsWith('bench_') ? 'an `npm run bench` file, not a suite result' : 'not a dilbench result file' });
      } catch (err) {
        out.ignored.push({ path: p, reason: `invalid JSON: ${(err as Error).message}` });
      }
    }
  };
  walk(dir, 0);
  // the same run may be present twice (a copy in a sub-folder): keep the first
  const seen = new Set<string>();
  out.files = out.files.filter((f) => {
    const k = `${f.expId}|${f.file.createdAt}`;
    if (seen.has(k)) {
      out.ignored.push({ path: f.path, reason: `duplicate of run ${f.expId}` });
      return false;
    }
    seen.add(k);
    return true;
  });
  out.files.sort((a, b) => a.file.createdAt.localeCompare(b.file.createdAt) || basename(a.path).localeCompare(basename(b.path)));
  return out;
}

/** One table row: one implementation, length and run. */
export interface TableRow {
  exp_id: string;
  suite: string;
  createdAt: string;
  latest: boolean;
  implementation: string;
  device: string;
  dtype: string;
  batch: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  seqLen: number;
  effectiveSeqLen: number;
  causal: boolean;
  memoryPool: boolean | null;
  patternCache: boolean | null;
  /** ring / ring-dilated: ranks P (null for other implementations) */
  ringSize: number | null;
  /** distributed ring rows: chunk layout (plain | zigzag); '' otherwise */
  layout: string;
  /** measured across real processes (ring --distributed) */
  distributed: boolean;
  status: string;
  reason: string;
  medianMs: number | null;
  p10Ms: number | null;
  p90Ms: number | null;
  meanMs: number | null;
  stdMs: number | null;
  samples: number;
  tokensPerSecond: number | null;
  gflops: number | null;
  percentOfPeak: number | null;
  peakMemoryBytes: number | null;
  estimatedMemoryBytes: number | null;
  threads: number | null;
  simdLevel: string;
  cpuModel: string;
  gitCommit: string;
  configKey: string;
  /** measured while other processes loaded the machine (src/measure/interference.ts); null: not recorded */
  interferenceFlagged: boolean | null;
  /** % of peak: the interval (percentOfPeakLow-High) and, over 100%, why (never shown bare) */
  percentOfPeakLow: number | null;
  percentOfPeakHigh: number | null;
  overPeakNote: string;
}

export const TABLE_COLUMNS: (keyof TableRow)[] = [
  'exp_id', 'suite', 'createdAt', 'latest', 'implementation', 'device', 'dtype', 'batch', 'heads', 'kvHeads', 'headDim',
  'seqLen', 'effectiveSeqLen', 'causal', 'memoryPool', 'patternCache', 'ringSize', 'layout', 'distributed', 'status', 'reason', 'medianMs', 'p10Ms', 'p90Ms',
  'meanMs', 'stdMs', 'samples', 'tokensPerSecond', 'gflops', 'percentOfPeak', 'peakMemoryBytes', 'estimatedMemoryBytes',
  'threads', 'simdLevel', 'cpuModel', 'gitCommit', 'interferenceFlagged',
  'percentOfPeakLow', 'percentOfPeakHigh', 'overPeakNote',
];

function round(v: number | null | undefined, digits = 6): number | null {
  if (v === null || v === undefined || !Number.isFinite(v)) return null;
  return Number(v.toPrecision(digits));
}

export function toTableRow(expId: string, file: ResultFile, r: ResultRow): TableRow {
  return {
    exp_id: expId,
    suite: file.suite,
    createdAt: file.createdAt,
    latest: false,
    implementation: r.implementation,
    device: r.device,
    dtype: r.dtype,
    batch: r.batch,
    heads: r.heads,
    kvHeads: r.kvHeads,
    headDim: r.headDim,
    ringSize: ringSizeOf(r) ?? null,
    layout: ringLayoutOf(r) ?? '',
    distributed: isDistributedRow(r),
    seqLen: r.seqLen,
    effectiveSeqLen: r.effectiveSeqLen,
    causal: r.causal,
    memoryPool: r.memoryPool ?? null,
    patternCache: r.patternCache ?? null,
    // a point stopped by Ctrl-C reads 'interrupted', not 'failed'
    status: displayStatus(r),
    reason: r.reason ?? '',
    medianMs: round(r.stats?.medianMs),
    p10Ms: round(r.stats?.p10Ms),
    p90Ms: round(r.stats?.p90Ms),
    meanMs: round(r.stats?.meanMs),
    stdMs: round(r.stats?.stdMs),
    samples: Array.isArray(r.samplesMs) ? r.samplesMs.length : 0,
    tokensPerSecond: round(r.tokensPerSecond),
    gflops: round(r.gflops),
    percentOfPeak: round(percentOfPeak(r, file.environment), 4),
    peakMemoryBytes: r.peakMemoryBytes ?? null,
    estimatedMemoryBytes: r.estimatedMemoryBytes ?? null,
    threads: r.threads ?? null,
    simdLevel: r.simdLevel ?? '',
    cpuModel: file.environment?.cpuModel ?? '',
    gitCommit: file.environment?.gitCommit ?? '',
    configKey: configurationKey(r),
    interferenceFlagged: r.interference ? r.interference.flagged : null,
    percentOfPeakLow: round(r.roofline?.pctOfPeakComputeRange?.[0], 4),
    percentOfPeakHigh: round(r.roofline?.pctOfPeakComputeRange?.[1], 4),
    overPeakNote: r.roofline?.overPeakNote ?? '',
  };
}

/**
 * Flatten all files into table rows and mark, for every configuration (implementation, length and
 * all config attributes), the row of the most recent run as `latest`.
 */
export function aggregate(files: LoadedResultFile[]): TableRow[] {
  const rows: TableRow[] = [];
  for (const f of files) for (const r of f.file.results) rows.push(toTableRow(f.expId, f.file, r));
  const latest = new Map<string, TableRow>();
  for (const row of rows) {
    const cur = latest.get(row.configKey);
    if (!cur || row.createdAt >= cur.createdAt) latest.set(row.configKey, row);
  }
  for (const row of latest.values()) row.latest = true;
  return rows;
}

/**
 * History points for the performance-over-time plot: the history file's entries plus the rows of
 * every result file not already in it (same runId and configuration).
 */
export function historyPoints(history: HistoryEntry[], files: LoadedResultFile[]): HistoryPoint[] {
  const points: HistoryPoint[] = history.map((e) => ({
    runId: e.runId,
    timestamp: e.timestamp,
    gitCommit: e.gitCommit,
    environment: e.environment,
    row: e.row,
  }));
  const seen = new Set(points.map((p) => `${p.runId}|${configurationKey(p.row as ResultRow)}`));
  for (const f of files) {
    for (const r of f.file.results) {
      const k = `${f.expId}|${configurationKey(r)}`;
      if (seen.has(k)) continue;
      seen.add(k);
      points.push({ runId: f.expId, timestamp: f.file.createdAt, gitCommit: f.file.environment?.gitCommit ?? null, environment: f.file.environment, row: r });
    }
  }
  return points.sort((a, b) => a.timestamp.localeCompare(b.timestamp));
}

export function loadHistory(dir: string): { entries: HistoryEntry[]; skippedLines: number[] } {
  return readHistoryDetailed(dir);
}

/** RFC 4180 CSV of `rows` with the given columns. */
export function toCsv<T extends object>(rows: T[], columns: (keyof T)[]): string {
  const cell = (v: unknown): string => {
    if (v === null || v === undefined) return '';
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns.map(String).join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}
