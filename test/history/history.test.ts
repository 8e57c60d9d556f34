import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync, existsSync, appendFileSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { acquireLock, appendHistory, historyPath, readHistory, readHistoryDetailed } from '../../src/history/index.js';
import type { ResultFile } from '../../src/results/types.js';
import { loadFixture } from '../reports/helpers.js';

const HISTORY_SRC = fileURLToPath(new URL('../../src/history/index.ts', import.meta.url));

/**
 * Child processes run plain `node`, which cannot import .ts: transpile the history module (it imports
 * only Node built-ins and types) to a standalone .mjs with the TypeScript compiler.
 */
function transpileHistoryModule(dir: string): string {
  // the history module and the modules it imports at run time, laid out as under src/
  const srcRoot = join(HISTORY_SRC, '..', '..');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  for (const rel of ['history/index.ts', 'results/output-dir.ts', 'config/errors.ts']) {
    const out = ts.transpileModule(readFileSync(join(srcRoot, rel), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
      fileName: rel,
    });
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel.replace(/\.ts$/, '.js')), out.outputText);
  }
  return join(dir, 'history', 'index.js');
}

function resultFile(runId: string, rows: number): ResultFile {
  const base = loadFixture('sequence-ranges_2026-11-20');
  const row = base.results[0];
  return {
    ...base,
    runId,
    results: Array.from({ length: rows }, (_, i) => ({ ...row, seqLen: 1000 + i, samplesMs: [1, 2, 3] })),
  };
}

describe('history.jsonl', () => {
  let work: string;
  let modulePath: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'dilbench-history-'));
    modulePath = transpileHistoryModule(work);
  });

  it('appends one JSON line per row with run id, timestamp, commit and environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dilbench-h1-'));
    const file = loadFixture('sequence-ranges_2026-11-20');
    expect(appendHistory(file, dir)).toBe(file.results.length);
    expect(appendHistory(loadFixture('sequence-ranges_2026-11-21'), dir)).toBe(file.results.length);
    const lines = readFileSync(historyPath(dir), 'utf8').split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines).toHaveLength(2 * file.results.length + 1);
    const entries = readHistory(dir);
    expect(entries).toHaveLength(2 * file.results.length);
    const e = entries[0];
    expect(e.runId).toBe(file.runId);
    expect(e.timestamp).toBe(file.createdAt);
    expect(e.gitCommit).toBe(file.environment.gitCommit);
    expect(e.environment.cpuModel).toBe(file.environment.cpuModel);
    expect(e.environment.simdLevel).toBe('avx512');
    expect(e.row.implementation).toBe(file.results[0].implementation);
    expect(e.row.stats).toEqual(file.results[0].stats);
    expect(e.row.sampleCount).toBe(file.results[0].samplesMs.length);
    expect(existsSync(`${historyPath(dir)}.lock`)).toBe(false);
  });

  it('loses no row and tears no line with 6 processes appending at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dilbench-h2-'));
    const fixture = join(work, 'result.json');
    writeFileSync(fixture, JSON.stringify(resultFile('x', 5)));
    const child = join(work, 'writer.mjs');
    writeFileSync(
      child,
      `import { readFileSync } from 'node:fs';
import { appendHistory } from ${JSON.stringify(modulePath)};
const [dir, fixture, writer] = process.argv.slice(2);
const base = JSON.parse(readFileSync(fixture, 'utf8'));
// 10 batches of 5 rows = 50 rows per writer; a long reason makes every line several KiB (> PIPE_BUF)
for (let b = 0; b < 10; b++) {
  const file = { ...base, runId: 'w' + writer + '-b' + b, results: base.results.map((r, i) => ({ ...r, reason: 'x'.repeat(5000), params: { writer: Number(writer), batch: b, index: i } })) };
  appendHistory(file, dir);
}
`,
    );
    const writers = 6;
    const codes = await Promise.all(
      Array.from({ length: writers }, (_, w) =>
        new Promise<number>((resolve, reject) => {
          const p = spawn(process.execPath, [child, dir, fixture, String(w)], { stdio: ['ignore', 'inherit', 'inherit'] });
          p.on('error', reject);
          p.on('exit', (code) => resolve(code ?? -1));
        }),
      ),
    );
    expect(codes).toEqual(Array(writers).fill(0));
    const text = readFileSync(historyPath(dir), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.split('\n').filter((l) => l.length > 0);
    expect(lines).toHaveLength(writers * 50);
    const seen = new Set<string>();
    for (const line of lines) {
      const e = JSON.parse(line) as { row: { params: { writer: number; batch: number; index: number } } };
      seen.add(`${e.row.params.writer}/${e.row.params.batch}/${e.row.params.index}`);
    }
    expect(seen.size).toBe(writers * 50);
    const { entries, skippedLines } = readHistoryDetailed(dir);
    expect(entries).toHaveLength(writers * 50);
    expect(skippedLines).toEqual([]);
    expect(existsSync(`${historyPath(dir)}.lock`)).toBe(false);
  }, 120_000);

  it('a torn last line is skipped when reading and never overwritten', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dilbench-h3-'));
    appendHistory(resultFile('first', 2), dir);
    appendFileSync(historyPath(dir), '{"runId":"torn","row":{"implem'); // a writer died mid-line
    const before = readFileSync(historyPath(dir), 'utf8');
    expect(readHistoryDetailed(dir).skippedLines).toEqual([3]);
    appendHistory(resultFile('second', 3), dir);
    const after = readFileSync(historyPath(dir), 'utf8');
    expect(after.startsWith(before)).toBe(true); // nothing rewritten
    const { entries, skippedLines } = readHistoryDetailed(dir);
    expect(entries.map((e) => e.runId)).toEqual(['first', 'first', 'second', 'second', 'second']);
    expect(skippedLines).toEqual([3]);
  });

  it('breaks a stale lock (dead holder, or too old) and times out on a live one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dilbench-h4-'));
    const lock = `${historyPath(dir)}.lock`;
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout);
    writeFileSync(lock, JSON.stringify({ pid: deadPid, hostname: hostname(), token: 'dead', createdAt: new Date().toISOString() }));
    expect(appendHistory(resultFile('after-dead', 1), dir, { timeoutMs: 5000 })).toBe(1);
    expect(existsSync(lock)).toBe(false);

    writeFileSync(lock, JSON.stringify({ pid: process.pid, hostname: 'another-host', token: 'old', createdAt: '2020-01-01T00:00:00Z' }));
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    expect(appendHistory(resultFile('after-old', 1), dir, { timeoutMs: 5000 })).toBe(1);

    const release = acquireLock(lock); // held by this (live) process
    try {
      const t0 = Date.now();
      expect(() => appendHistory(resultFile('blocked', 1), dir, { timeoutMs: 300 })).toThrowError(
        expect.objectContaining({ code: 'ERR_DILBENCH_HISTORY_LOCKED' }),
      );
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    } finally {
      release();
    }
    expect(existsSync(lock)).toBe(false);
    expect(readHistory(dir).map((e) => e.runId)).toEqual(['after-dead', 'after-old']);
  });
});
