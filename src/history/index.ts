// Result history: every suite run appends one JSON line per result row to
// `<dir>/history.jsonl`, so results accumulate across runs and machines.
//
// Concurrency protocol (several dilbench processes may append at once):
// - a writer takes the lock of the file (results/lock.ts: the one lock rule of accumulated files);
// - it appends the whole batch of lines with ONE write on a descriptor opened with O_APPEND,
//   looping only if the kernel wrote less than asked, then fsyncs and closes;
// - then it releases the lock.
// If the previous writer died mid-write and left a last line without '\n', the next writer starts its
// batch with '\n' so its own lines stay whole; readers skip any line that is not valid JSON. The file is
// never rewritten or truncated.
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  writeSync,
  fstatSync,
} from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ResultFile, ResultRow } from '../results/types.js';
import { makeDirectory } from '../results/output-dir.js';
import { withFileLock, type LockOptions } from '../results/lock.js';

export type { LockOptions } from '../results/lock.js';

export const HISTORY_FILE = 'history.jsonl';
export const HISTORY_SCHEMA_VERSION = 1;

/** The environment fields kept with every history entry. */
export interface HistoryEnvironment {
  cpuModel: string;
  cpuCores: number;
  simdLevel: string;
  os: string;
  nodeVersion: string;
  dilbenchVersion: string;
  buildType: string;
  totalMemoryBytes: number;
  hostname?: string;
  gpu?: unknown;
  peakFmaGflops?: number;
}

/** One line of history.jsonl. `row` is the result row without its raw samples (kept in the result file). */
export interface HistoryEntry {
  historySchemaVersion: number;
  runId: string;
  /** when the run was made (the result file's createdAt) */
  timestamp: string;
  /** when the row was appended */
  appendedAt: string;
  suite: string;
  gitCommit: string | null;
  environment: HistoryEnvironment;
  row: Omit<ResultRow, 'samplesMs'> & { sampleCount: number };
}

export function historyPath(dir: string): string {
  return join(dir, HISTORY_FILE);
}

export function toHistoryEntries(
  file: ResultFile,
  appendedAt = new Date().toISOString(),
): HistoryEntry[] {
  const env = file.environment ?? ({} as ResultFile['environment']);
  const environment: HistoryEnvironment = {
    cpuModel: env.cpuModel,
    cpuCores: env.cpuCores,
    simdLevel: env.simdLevel,
    os: env.os,
    nodeVersion: env.nodeVersion,
    dilbenchVersion: env.dilbenchVersion,
    buildType: env.buildType,
    totalMemoryBytes: env.totalMemoryBytes,
  };
  if (env.hostname !== undefined) environment.hostname = env.hostname;
  if (env.gpu !== undefined) environment.gpu = env.gpu;
  if (env.peak?.fmaGflops !== undefined) environment.peakFmaGflops = env.peak.fmaGflops;
  return file.results.map((r) => {
    const { samplesMs, ...rest } = r;
    return {
      historySchemaVersion: HISTORY_SCHEMA_VERSION,
      runId: file.runId || `${file.suite}_${file.createdAt}`,
      timestamp: file.createdAt,
      appendedAt,
      suite: file.suite,
      gitCommit: env.gitCommit ?? null,
      environment,
      row: { ...rest, sampleCount: Array.isArray(samplesMs) ? samplesMs.length : 0 },
    };
  });
}

/** True when the file is non-empty and its last byte is not '\n' (a torn last line). */
function endsTorn(fd: number): boolean {
  const size = fstatSync(fd).size;
  if (size === 0) return false;
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, size - 1);
  return b[0] !== 0x0a;
}

/**
 * True when `file` exists, is not empty and its first line is not a JSON object: not a history
 * file we may append to (garbage, another format). A torn *last* line is normal and is not this.
 */
function unparsableHistory(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return false; // missing: created by the append
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return false;
    const buf = Buffer.alloc(Math.min(size, 1 << 20));
    const n = readSync(fd, buf, 0, buf.length, 0);
    const text = buf.subarray(0, n).toString('utf8');
    const nl = text.indexOf('\n');
    if (nl < 0 && n < size) return true; // a first "line" over 1 MiB
    const first = nl < 0 ? text : text.slice(0, nl);
    // one line without '\n': a writer that died during the first append left a JSON prefix
    if (nl < 0) return !first.startsWith('{');
    try {
      const v = JSON.parse(first) as unknown;
      return !(v && typeof v === 'object' && !Array.isArray(v));
    } catch {
      return true;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Append already-serialised JSON lines (no newlines inside) as one locked batch. An existing
 * file that is not a history file is never appended to nor overwritten: it is moved aside to
 * `<file>.corrupt-<timestamp>` with a warning (process warning DILBENCH_HISTORY_MOVED).
 */
export async function appendLines(
  file: string,
  lines: string[],
  options: LockOptions = {},
): Promise<void> {
  if (lines.length === 0) return;
  for (const l of lines)
    if (l.includes('\n')) throw new Error('history lines must not contain newlines');
  await withFileLock(
    file,
    () => {
      if (unparsableHistory(file)) {
        const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`;
        renameSync(file, aside);
        process.emitWarning(
          `${file} does not parse as a history file; moved it aside to ${aside} and started a new one`,
          {
            code: 'DILBENCH_HISTORY_MOVED',
          },
        );
      }
      const fd = openSync(file, 'a+');
      try {
        const prefix = endsTorn(fd) ? '\n' : '';
        const data = Buffer.from(prefix + lines.join('\n') + '\n', 'utf8');
        let off = 0;
        while (off < data.length) off += writeSync(fd, data, off, data.length - off);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    },
    options,
  );
}

/**
 * Append every row of `resultFile` to `<dir>/history.jsonl` (created with its directory when
 * missing). Safe with concurrent writers; returns the number of rows appended.
 */
export async function appendHistory(
  resultFile: ResultFile,
  dir = 'benchmark_results',
  options: LockOptions = {},
): Promise<number> {
  makeDirectory(dir);
  const entries = toHistoryEntries(resultFile);
  await appendLines(
    historyPath(dir),
    entries.map((e) => JSON.stringify(e)),
    options,
  );
  return entries.length;
}

export interface ReadHistoryResult {
  entries: HistoryEntry[];
  /** 1-based line numbers skipped because they were not whole JSON objects (torn writes) */
  skippedLines: number[];
}

/** Read a history file, skipping torn or invalid lines. A missing file reads as empty. */
export function readHistoryDetailed(fileOrDir: string): ReadHistoryResult {
  let path = fileOrDir;
  try {
    if (statSync(fileOrDir).isDirectory()) path = historyPath(fileOrDir);
  } catch {
    return { entries: [], skippedLines: [] };
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return { entries: [], skippedLines: [] };
  }
  const entries: HistoryEntry[] = [];
  const skippedLines: number[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const v = JSON.parse(line) as HistoryEntry;
      if (v && typeof v === 'object' && v.row && typeof v.runId === 'string') entries.push(v);
      else skippedLines.push(i + 1);
    } catch {
      skippedLines.push(i + 1);
    }
  });
  return { entries, skippedLines };
}

export function readHistory(fileOrDir: string): HistoryEntry[] {
  return readHistoryDetailed(fileOrDir).entries;
}
