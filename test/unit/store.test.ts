import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CSV_COLUMNS, toCsv } from '../../src/reports/csv.js';
import { toMarkdown } from '../../src/reports/markdown.js';
import { parseResultFile } from '../../src/reports/json.js';
import { fileTimestamp } from '../../src/results/store.js';
import { writeResultFiles } from '../../src/reports/write.js';
import { SCHEMA_VERSION, type ResultFile, type ResultRow } from '../../src/results/types.js';

/** Minimal RFC 4180 parser (quoted fields, doubled quotes, commas and newlines inside quotes). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else if (c !== '\r') field += c;
  }
  if (field.length || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

function row(over: Partial<ResultRow>): ResultRow {
  return {
    implementation: 'flash',
    device: 'cpu',
    dtype: 'fp32',
    batch: 1,
    heads: 8,
    kvHeads: 8,
    headDim: 64,
    seqLen: 1024,
    effectiveSeqLen: 1024,
    causal: false,
    status: 'ok',
    reason: null,
    samplesMs: [1.9, 2, 2.1],
    stats: { medianMs: 2, meanMs: 2, stdMs: 0.1, minMs: 1.9, maxMs: 2.1, p10Ms: 1.92, p90Ms: 2.08 },
    peakMemoryBytes: 5 * 1024 * 1024,
    estimatedMemoryBytes: 5 * 1024 * 1024,
    tokensPerSecond: 512000,
    gflops: 1073.7,
    flopsPerIteration: 2147483648,
    bytesPerIteration: 8388608,
    threads: 2,
    simdLevel: 'avx2',
    ...over,
  };
}

export function sampleFile(): ResultFile {
  return {
    schemaVersion: SCHEMA_VERSION,
    suite: 'sequence-ranges',
    runId: '00000000-0000-4000-8000-000000000000',
    createdAt: '2026-11-22T21:04:05.123Z',
    environment: {
      cpuModel: 'Test CPU',
      cpuCores: 2,
      simdLevel: 'avx2',
      totalMemoryBytes: 8 * 1024 ** 3,
      freeMemoryBytes: 4 * 1024 ** 3,
      os: 'Linux 6 x64',
      nodeVersion: 'v20.0.0',
      dilbenchVersion: '0.1.0',
      gitCommit: null,
      buildType: 'Release',
    },
    config: {
      range: 'custom',
      implementations: ['naive', 'flash'],
      threads: 2,
      warmup: 1,
      runs: 3,
    },
    results: [
      row({}),
      row({
        implementation: 'naive',
        stats: {
          medianMs: 4,
          meanMs: 4,
          stdMs: 0.2,
          minMs: 3.8,
          maxMs: 4.2,
          p10Ms: 3.9,
          p90Ms: 4.1,
        },
        tokensPerSecond: 256000,
        gflops: 536.9,
      }),
      row({ seqLen: 2048, effectiveSeqLen: 2048 }),
      row({
        implementation: 'naive',
        seqLen: 2048,
        effectiveSeqLen: 2048,
        status: 'failed',
        reason: 'out of memory, "pool" exhausted, retry, later',
        errorCode: 'ERR_DILBENCH_OUT_OF_MEMORY',
        samplesMs: [],
        stats: null,
        peakMemoryBytes: null,
        tokensPerSecond: null,
        gflops: null,
      }),
      row({
        implementation: 'naive',
        seqLen: 49152,
        effectiveSeqLen: 49152,
        status: 'skipped',
        reason: 'needs 72.0 GiB, budget 2.0 GiB',
        samplesMs: [],
        stats: null,
        peakMemoryBytes: null,
        tokensPerSecond: null,
        gflops: null,
      }),
    ],
  };
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('result store', () => {
  it('writes <suite>_<timestamp>.json|.csv|.md atomically, and nothing else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dilbench-store-'));
    dirs.push(dir);
    const file = sampleFile();
    const out = await writeResultFiles(file, join(dir, 'nested', 'results'));
    const stamp = fileTimestamp(file.createdAt);
    expect(stamp).toBe('2026-11-22T21-04-05-123Z');
    expect(out.json).toBe(join(dir, 'nested', 'results', `sequence-ranges_${stamp}.json`));
    expect(readdirSync(join(dir, 'nested', 'results')).sort()).toEqual([
      `sequence-ranges_${stamp}.csv`,
      `sequence-ranges_${stamp}.json`,
      `sequence-ranges_${stamp}.md`,
    ]);

    const parsed = parseResultFile(readFileSync(out.json, 'utf8'));
    expect(parsed).toEqual(file);

    const csv = parseCsv(readFileSync(out.csv, 'utf8'));
    expect(csv[0]).toEqual([...CSV_COLUMNS]);
    expect(csv.length).toBe(1 + file.results.length);
    const col = (name: string) => CSV_COLUMNS.indexOf(name as (typeof CSV_COLUMNS)[number]);
    expect(csv[1]![col('implementation')]).toBe('flash');
    expect(Number(csv[1]![col('medianMs')])).toBe(2);
    expect(Number(csv[1]![col('p90Ms')])).toBe(2.08);
    expect(csv[1]![col('samplesMs')]).toBe('1.9 2 2.1');
    expect(csv[4]![col('status')]).toBe('failed');
    expect(csv[4]![col('reason')]).toBe('out of memory, "pool" exhausted, retry, later');
    expect(csv[4]![col('medianMs')]).toBe('');
    expect(csv[5]![col('reason')]).toBe('needs 72.0 GiB, budget 2.0 GiB');

    const md = readFileSync(out.markdown, 'utf8');
    expect(md).toBe(toMarkdown(file));
  });

  it('markdown has the answer first, then the pivot, the table and the reasons', () => {
    const md = toMarkdown(sampleFile());
    expect(md).toContain(
      '| Length | Implementation | Batch | Median ms [95% CI] | Samples (stop) | Cold start ms | Peak memory | Tokens/s | GFLOP/s | Status |',
    );
    // no bootstrap interval in this fixture: the p10-p90 range stands in
    expect(md).toMatch(
      /\| 1K \(1024\) \| flash \| 1 \| 2\.00 \(p10-p90 1\.92-2\.08\) \| 3 \| - \| 5\.0 MiB \| 512\.0K \| 1074 \| ok \|/,
    );
    expect(md).toContain('## Median ms by implementation and length');
    expect(md).toContain('| Implementation | 1K | 2K | 49K |');
    // three samples each: too few to name a winner (a 95% interval of the median needs 6)
    expect(md).toContain('## Fastest exact attention per length');
    expect(md.indexOf('## Fastest exact attention per length')).toBeLessThan(
      md.indexOf('## Median ms by implementation and length'),
    );
    expect(md.indexOf('## Median ms by implementation and length')).toBeLessThan(
      md.indexOf('## Results'),
    );
    expect(md).toMatch(
      /\| 1K \| not ranked: too few samples \(flash 3, naive 3; 6 needed for a 95% interval\) \|/,
    );
    expect(md).toContain('skipped: needs 72.0 GiB, budget 2.0 GiB');
    expect(md).toContain('49K (49152)');
    expect(md).toContain('failed: out of memory');
    expect(md).toContain('[ERR_DILBENCH_OUT_OF_MEMORY]');
    expect(md).toContain('5 points, 3 ok, 1 skipped, 1 failed.');
  });

  it('csv escapes pipes, quotes and newlines in reasons', () => {
    const f = sampleFile();
    f.results[0]!.reason = 'a "b"\nc';
    const csv = parseCsv(toCsv(f));
    expect(csv[1]![CSV_COLUMNS.indexOf('reason')]).toBe('a "b"\nc');
  });
});
