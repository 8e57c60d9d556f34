import { spawn } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
  existsSync,
  appendFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appendHistory,
  historyPath,
  readHistory,
  readHistoryDetailed,
} from '../../src/history/index.js';
import { acquireFileLock, lockPathOf } from '../../src/results/lock.js';
import type { ResultFile } from '../../src/results/types.js';
import { loadFixture } from '../reports/helpers.js';

const HISTORY_SRC = fileURLToPath(new URL('../../src/history/index.ts', import.meta.url));

/**
 * Child processes run plain `node`, which cannot import .ts: transpile the history module and the
 * modules it imports at run time with the TypeScript compiler, into a directory under the package's
 * node_modules so that their package imports (proper-lockfile) resolve.
 */
function transpileHistoryModule(dir: string): string {
  // laid out as under src/
  const srcRoot = join(HISTORY_SRC, '..', '..');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  for (const rel of [
    'history/index.ts',
    'results/output-dir.ts',
    'results/lock.ts',
    'config/errors.ts',
  ]) {
    const out = ts.transpileModule(readFileSync(join(srcRoot, rel), 'utf8'), {
      compilerOptions: {
        module: ts.ModuleKind.ES2022,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: false,
      },
      fileName: rel,
    });
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel.replace(/\.ts$/, '.js')), out.outputText);
  }
  return join(dir, 'history', 'index.js');
}

function resultFile(runId: string, rows: number): ResultFile {
  const base = loadFixture('sequence-ranges_2026-11-20');
  const row = base.results[0]!;
  return {
    ...base,
    runId,
    results: Array.from({ length: rows }, (_, i) => ({
      ...row,
      seqLen: 1000 + i,
      samplesMs: [1, 2, 3],
    })),
  };
}

describe('history.jsonl', () => {
  let work: string;
  let modulePath: string;
  beforeAll(() => {
    const cache = fileURLToPath(new URL('../../node_modules/.cache', import.meta.url));
    mkdirSync(cache, { recursive: true });
    work = mkdtempSync(join(cache, 'dilbench-history-'));
    modulePath = transpileHistoryModule(work);
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('appends one JSON line per row with run id, timestamp, commit and environment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dilbench-h1-'));
    const file = loadFixture('sequence-ranges_2026-11-20');
    expect(await appendHistory(file, dir)).toBe(file.results.length);
    expect(await appendHistory(loadFixture('sequence-ranges_2026-11-21'), dir)).toBe(
      file.results.length,
    );
    const lines = readFileSync(historyPath(dir), 'utf8').split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines).toHaveLength(2 * file.results.length + 1);
    const entries = readHistory(dir);
    expect(entries).toHaveLength(2 * file.results.length);
    const e = entries[0]!;
    expect(e.runId).toBe(file.runId);
    expect(e.timestamp).toBe(file.createdAt);
    expect(e.gitCommit).toBe(file.environment.gitCommit);
    expect(e.environment.cpuModel).toBe(file.environment.cpuModel);
    expect(e.environment.simdLevel).toBe('avx512');
    expect(e.row.implementation).toBe(file.results[0]!.implementation);
    expect(e.row.stats).toEqual(file.results[0]!.stats);
    expect(e.row.sampleCount).toBe(file.results[0]!.samplesMs.length);
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
  await appendHistory(file, dir);
}
`,
    );
    const writers = 6;
    const codes = await Promise.all(
      Array.from(
        { length: writers },
        (_, w) =>
          new Promise<number>((resolve, reject) => {
            const p = spawn(process.execPath, [child, dir, fixture, String(w)], {
              stdio: ['ignore', 'inherit', 'inherit'],
            });
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
      const e = JSON.parse(line) as {
        row: { params: { writer: number; batch: number; index: number } };
      };
      seen.add(`${e.row.params.writer}/${e.row.params.batch}/${e.row.params.index}`);
    }
    expect(seen.size).toBe(writers * 50);
    const { entries, skippedLines } = readHistoryDetailed(dir);
    expect(entries).toHaveLength(writers * 50);
    expect(skippedLines).toEqual([]);
    expect(existsSync(`${historyPath(dir)}.lock`)).toBe(false);
  }, 120_000);

  it('a torn last line is skipped when reading and never overwritten', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dilbench-h3-'));
    await appendHistory(resultFile('first', 2), dir);
    appendFileSync(historyPath(dir), '{"runId":"torn","row":{"implem'); // a writer died mid-line
    const before = readFileSync(historyPath(dir), 'utf8');
    expect(readHistoryDetailed(dir).skippedLines).toEqual([3]);
    await appendHistory(resultFile('second', 3), dir);
    const after = readFileSync(historyPath(dir), 'utf8');
    expect(after.startsWith(before)).toBe(true); // nothing rewritten
    const { entries, skippedLines } = readHistoryDetailed(dir);
    expect(entries.map((e) => e.runId)).toEqual(['first', 'first', 'second', 'second', 'second']);
    expect(skippedLines).toEqual([3]);
  });

  it('takes over a stale lock (not refreshed: its holder died) and times out on a live one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dilbench-h4-'));
    const lock = lockPathOf(historyPath(dir));
    // what a process that died holding the lock leaves: the lock, no longer refreshed
    mkdirSync(lock);
    const old = new Date(Date.now() - 120_000);
    utimesSync(lock, old, old);
    expect(await appendHistory(resultFile('after-dead', 1), dir, { timeoutMs: 5000 })).toBe(1);
    expect(existsSync(lock)).toBe(false);

    const release = await acquireFileLock(historyPath(dir)); // held (and refreshed) by this live process
    try {
      const t0 = Date.now();
      await expect(
        appendHistory(resultFile('blocked', 1), dir, { timeoutMs: 300 }),
      ).rejects.toThrowError(expect.objectContaining({ code: 'ERR_DILBENCH_LOCKED' }));
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    } finally {
      await release();
    }
    expect(existsSync(lock)).toBe(false);
    expect(await appendHistory(resultFile('after-release', 1), dir, { timeoutMs: 5000 })).toBe(1);
    expect(readHistory(dir).map((e) => e.runId)).toEqual(['after-dead', 'after-release']);
  });
});
