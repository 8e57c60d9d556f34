// Spawning the built CLI (bin/dilbench.js -> dist/) for the reliability tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll } from 'vitest';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/dilbench.js');
/** The CLI needs the compiled TypeScript and the addon. */
export const CLI_READY = existsSync(join(ROOT, 'dist/src/cli/main.js'));

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** ms from spawn to exit */
  ms: number;
}

export interface Running {
  child: ChildProcess;
  done: Promise<Finished>;
  stderrSoFar(): string;
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const t0 = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env, NO_COLOR: '1', FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<Finished>((res) => {
    child.on('close', (code, signal) => res({ code, signal, stdout, stderr, ms: Date.now() - t0 }));
  });
  return { child, done, stderrSoFar: () => stderr };
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Finished> {
  return spawnCli(args, env).done;
}

const created: string[] = [];
// registered at import, i.e. at the top level of each test file that uses these helpers
afterAll(() => {
  if (process.env.DILBENCH_KEEP_TEST_DIRS) return;
  for (const d of created.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A fresh directory, removed after the test file (DILBENCH_KEEP_TEST_DIRS=1 keeps it). */
export function tempDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `dilbench-${tag}-`));
  created.push(d);
  return d;
}

export interface ResultRow {
  seqLen: number;
  implementation: string;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  errorCode?: string;
  samplesMs?: number[];
  peakMemoryBytes?: number;
}
export interface ResultJson {
  runId?: string;
  interrupted?: boolean;
  results: ResultRow[];
}

/** Every result JSON in `dir` (each must parse). */
export function readResults(dir: string): { file: string; json: ResultJson }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
    .sort()
    .map((f) => ({ file: f, json: JSON.parse(readFileSync(join(dir, f), 'utf8')) as ResultJson }));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Common flags of a small, deterministic CPU run (no plots: they cost seconds). */
export function smallRun(outputDir: string, lengths: string, runs = 3): string[] {
  return [
    'sequence-ranges',
    '--range',
    'custom',
    '--custom-lengths',
    lengths,
    '--implementations',
    'naive',
    '--runs',
    String(runs),
    '--warmup',
    '1',
    '--threads',
    '1',
    '--heads',
    '2',
    '--head-dim',
    '32',
    '--output-dir',
    outputDir,
    '--no-plots',
  ];
}
