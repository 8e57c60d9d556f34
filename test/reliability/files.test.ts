// Nothing lost (issue 8): several dilbench processes writing one output directory and its
// history at once lose no row and tear no line; an existing file is never overwritten; an
// unparsable history file is moved aside with a warning.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI_READY, readResults, runCli, smallRun, tempDir } from './helpers.js';
import { at } from '../helpers/at.js';

const PROCESSES = 4;
const LENGTHS = ['64', '96', '128'];

interface HistoryLine {
  runId: string;
  row: { seqLen: number; implementation: string; status: string };
}

function readHistoryStrict(dir: string): HistoryLine[] {
  const text = readFileSync(join(dir, 'history.jsonl'), 'utf8');
  expect(text.endsWith('\n'), 'history ends with a whole line').toBe(true);
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as HistoryLine); // a torn line would throw here
}

describe.skipIf(!CLI_READY)('files', () => {
  it(`${PROCESSES} processes writing one --output-dir at once: every file parses, no row lost`, async () => {
    const dir = tempDir('concurrent');
    const runs = await Promise.all(
      Array.from({ length: PROCESSES }, (_, i) =>
        runCli([...smallRun(dir, LENGTHS.join(','), 2), '--seed', String(i + 1), '--quiet']),
      ),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);

    const results = readResults(dir);
    expect(results, 'one result file per process, none overwritten').toHaveLength(PROCESSES);
    const runIds = new Set(results.map((r) => r.json.runId));
    expect(runIds.size).toBe(PROCESSES);
    let rows = 0;
    for (const { json } of results) {
      expect(json.results.map((r) => String(r.seqLen)).sort()).toEqual([...LENGTHS].sort());
      rows += json.results.length;
    }
    expect(rows).toBe(PROCESSES * LENGTHS.length);
    for (const f of results) {
      const base = f.file.replace(/\.json$/, '');
      expect(existsSync(join(dir, `${base}.csv`))).toBe(true);
      expect(existsSync(join(dir, `${base}.md`))).toBe(true);
    }

    if (existsSync(join(dir, 'history.jsonl'))) {
      const history = readHistoryStrict(dir);
      // every row of every result file is in the history, exactly once
      expect(history).toHaveLength(rows);
      for (const { json } of results) {
        const mine = history.filter((h) => h.runId === json.runId);
        expect(mine.map((h) => String(h.row.seqLen)).sort()).toEqual(
          json.results.map((r) => String(r.seqLen)).sort(),
        );
      }
    }
    // no temporary or lock file left behind
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.endsWith('.lock'))).toEqual([]);
    console.log(`[concurrency] ${PROCESSES} processes, ${rows} rows written, 0 lost`);
  });

  it('an unparsable history.jsonl is moved aside with a warning, never overwritten', async () => {
    const dir = tempDir('corrupt');
    const garbage = 'this is not a history file\n\u0000\u0001\u0002 garbage {{{\n';
    writeFileSync(join(dir, 'history.jsonl'), garbage);
    const r = await runCli(smallRun(dir, '64', 2));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/history\.jsonl.*moved it aside/);
    const aside = readdirSync(dir).filter((f) => f.startsWith('history.jsonl.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(dir, aside[0]!), 'utf8')).toBe(garbage); // kept byte for byte
    const history = readHistoryStrict(dir);
    expect(history).toHaveLength(1);
    expect(readResults(dir)).toHaveLength(1);
  });

  it('a torn last history line is kept and the next rows still land on lines of their own', async () => {
    const dir = tempDir('torn');
    const first = await runCli(smallRun(dir, '64', 2));
    expect(first.code, first.stderr).toBe(0);
    const path = join(dir, 'history.jsonl');
    writeFileSync(path, readFileSync(path, 'utf8') + '{"runId":"torn-wri', { flag: 'w' });
    const second = await runCli(smallRun(dir, '64', 2));
    expect(second.code, second.stderr).toBe(0);
    const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
    expect(lines).toHaveLength(3);
    expect(() => JSON.parse(lines[1]!)).toThrow(); // the torn one, untouched
    expect(JSON.parse(lines[2]!).row.seqLen).toBe(64);
    expect(readdirSync(dir).some((f) => f.includes('.corrupt-'))).toBe(false);
  });

  it('result files are never overwritten: the same run written twice gets a second name', async () => {
    const dir = tempDir('noclobber');
    const r = await runCli(smallRun(dir, '64', 2));
    expect(r.code, r.stderr).toBe(0);
    const { file, json } = at(readResults(dir), 0, 'result file');
    const { writeResultFiles } = await import('../../src/reports/write.js');
    // a corrupt file already holds the name the next write would take
    const corrupt = join(dir, file.replace(/\.json$/, '-2.json'));
    writeFileSync(corrupt, '{ not json');
    const again = await writeResultFiles(json as never, dir);
    expect(again.json).not.toBe(join(dir, file));
    expect(again.json).not.toBe(corrupt);
    expect(readFileSync(corrupt, 'utf8')).toBe('{ not json');
    expect(JSON.parse(readFileSync(again.json, 'utf8')).runId).toBe(json.runId);
    expect(JSON.parse(readFileSync(join(dir, file), 'utf8')).runId).toBe(json.runId);
  });
});
