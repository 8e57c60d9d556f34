// Result history: every suite run appends one JSON line per result row to
// `<dir>/history.jsonl`, so results accumulate across runs and machines.
//
// Concurrency protocol (several dilbench processes may append at once):
// - a writer takes the lock file `<history>.lock` with open(O_CREAT | O_EXCL) ('wx'); the lock holds
//   `{ pid, hostname, token, createdAt }`;
// - it appends the whole batch of lines with ONE write on a descriptor opened with O_APPEND,
//   looping only if the kernel wrote less than asked, then fsyncs and closes;
// - it releases the lock by unlinking it, only if the lock still holds its own token;
// - while the lock is taken it retries with exponential backoff and jitter (up to `timeoutMs`);
// - a lock is stale when its holder is a dead process on this host, or when it is older than
//   `staleMs` (a live holder keeps it for milliseconds). A stale lock is broken by renaming it to a
//   unique name first, so two processes that both judge it stale cannot both remove a fresh lock:
//   only one rename succeeds, and the winner re-checks what it took before deleting it.
// If the previous writer died mid-write and left a last line without '\n', the next writer starts its
// batch with '\n' so its own lines stay whole; readers skip any line that is not valid JSON. The file is
// never rewritten or truncated.
//
// This module imports nothing but Node built-ins (and types), so tests can transpile it alone and
// run it in child processes.
import { closeSync, fsyncSync, openSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeSync, fstatSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ResultFile, ResultRow } from '../results/types.js';
import { makeDirectory } from '../results/output-dir.js';

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

export interface LockOptions {
  /** give up after this long waiting for the lock (default 30 s) */
  timeoutMs?: number;
  /** a lock older than this is stale whatever its holder (default 30 s) */
  staleMs?: number;
}

export function historyPath(dir: string): string {
  return join(dir, HISTORY_FILE);
}

export function toHistoryEntries(file: ResultFile, appendedAt = new Date().toISOString()): HistoryEntry[] {
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

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isStale(lockPath: string, staleMs: number): boolean {
  let text: string;
  let mtimeMs: number;
  try {
    mtimeMs = statSync(lockPath).mtimeMs;
    text = readFileSync(lockPath, 'utf8');
  } catch {
    return false; // gone already: not ours to break, just retry
  }
  if (Date.now() - mtimeMs > staleMs) return true;
  try {
    const info = JSON.parse(text) as { pid?: number; hostname?: string };
    if (info.hostname === osHostname() && typeof info.pid === 'number' && info.pid !== process.pid) return !processAlive(info.pid);
  } catch {
    // a lock being written right now has no content yet: give it until staleMs
  }
  return false;
}

function breakStaleLock(lockPath: string, staleMs: number): void {
  const aside = `${lockPath}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(lockPath, aside);
  } catch {
    return; // someone else broke or released it
  }
  // We own `aside` now. If what we took was a fresh lock (replaced between our check and the
  // rename), put it back when the name is free; otherwise delete it.
  if (isStale(aside, staleMs) || !restoreIfFree(aside, lockPath)) {
    try {
      unlinkSync(aside);
    } catch {
      /* ignore */
    }
  }
}

function restoreIfFree(aside: string, lockPath: string): boolean {
  try {
    const fd = openSync(lockPath, 'wx');
    const content = readFileSync(aside);
    writeSync(fd, content);
    closeSync(fd);
    unlinkSync(aside);
    return true;
  } catch {
    return false;
  }
}

/** Take `lockPath` (create-exclusive), waiting with backoff; returns the release function. */
export function acquireLock(lockPath: string, options: LockOptions = {}): () => void {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const staleMs = options.staleMs ?? 30_000;
  const token = randomBytes(8).toString('hex');
  const content = JSON.stringify({ pid: process.pid, hostname: osHostname(), token, createdAt: new Date().toISOString() });
  const start = Date.now();
  let delay = 1;
  for (;;) {
    try {
      const fd = openSync(lockPath, 'wx');
      try {
        writeSync(fd, content);
      } finally {
        closeSync(fd);
      }
      return () => {
        try {
          if (readFileSync(lockPath, 'utf8').includes(token)) unlinkSync(lockPath);
        } catch {
          /* already gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (isStale(lockPath, staleMs)) {
      breakStaleLock(lockPath, staleMs);
      continue;
    }
    if (Date.now() - start > timeoutMs) {
      throw Object.assign(new Error(`could not lock ${lockPath} within ${timeoutMs} ms`), { code: 'ERR_DILBENCH_HISTORY_LOCKED' });
    }
    sleepSync(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 50);
  }
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
export function appendLines(file: string, lines: string[], options: LockOptions = {}): void {
  if (lines.length === 0) return;
  for (const l of lines) if (l.includes('\n')) throw new Error('history lines must not contain newlines');
  const release = acquireLock(`${file}.lock`, options);
  try {
    if (unparsableHistory(file)) {
      const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`;
      renameSync(file, aside);
      process.emitWarning(`${file} does not parse as a history file; moved it aside to ${aside} and started a new one`, {
        code: 'DILBENCH_HISTORY_MOVED',
      });
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
  } finally {
    release();
  }
}

/**
 * Append every row of `resultFile` to `<dir>/history.jsonl` (created with its directory when
 * missing). Safe with concurrent writers; returns the number of rows appended.
 */
export function appendHistory(resultFile: ResultFile, dir = 'benchmark_results', options: LockOptions = {}): number {
  makeDirectory(dir);
  const entries = toHistoryEntries(resultFile);
  appendLines(historyPath(dir), entries.map((e) => JSON.stringify(e)), options);
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
