// `dilbench report` keeps distributed ring rows of different P and layout apart (issue 19): the
// configuration key includes the ring size, the chunk layout and whether the row was measured
// across processes, so each is its own configuration with its own latest row, and the tables say
// which is which.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { aggregate, generateReport, loadResultFiles } from '../../src/reports/report/index.js';
import { configurationKey, seriesLabeller } from '../../src/reports/plots/data.js';
import type { ResultFile, ResultRow } from '../../src/results/types.js';
import { loadFixture } from './helpers.js';

const env = loadFixture('ring_').environment;

function row(medianMs: number, params: Record<string, unknown>): ResultRow {
  return {
    implementation: 'ring',
    device: 'cpu',
    dtype: 'fp32',
    batch: 1,
    heads: 2,
    kvHeads: 2,
    headDim: 32,
    seqLen: 4096,
    effectiveSeqLen: 4096,
    causal: true,
    status: 'ok',
    reason: null,
    samplesMs: [medianMs],
    stats: { medianMs, meanMs: medianMs, p10Ms: medianMs, p90Ms: medianMs, stdMs: 0 },
    peakMemoryBytes: null,
    estimatedMemoryBytes: 0,
    tokensPerSecond: 4096 / (medianMs / 1e3),
    gflops: 1,
    flopsPerIteration: 1e9,
    bytesPerIteration: 0,
    threads: 1,
    simdLevel: null,
    params,
  } as unknown as ResultRow;
}

function file(suite: string, createdAt: string, rows: ResultRow[]): ResultFile {
  return {
    schemaVersion: 1,
    suite,
    runId: `${suite}-${createdAt}`,
    createdAt,
    environment: env,
    config: {},
    results: rows,
  };
}

const dist = (P: number, layout: string, ms: number) =>
  row(ms, { ringSize: P, measured: true, distributed: true, layout });
const files = [
  file('ring-distributed', '2026-12-07T05:00:00.000Z', [
    dist(2, 'zigzag', 100),
    dist(2, 'plain', 150),
  ]),
  file('ring-distributed', '2026-12-07T05:10:00.000Z', [
    dist(4, 'zigzag', 200),
    dist(4, 'plain', 260),
  ]),
  // the simulated ring at the same P and length
  file('ring', '2026-12-07T05:20:00.000Z', [row(90, { ringSize: 2 })]),
];

describe('report: distributed ring rows', () => {
  it('have one configuration key per P, layout and measured-across-processes', () => {
    const rows = files.flatMap((f) => f.results);
    const keys = rows.map(configurationKey);
    expect(new Set(keys).size).toBe(rows.length);
    // the key is stable: the same configuration in a later file has the same key
    expect(configurationKey(dist(2, 'zigzag', 1))).toBe(keys[0]);
  });

  it('are each the latest of their configuration, not one row for all', () => {
    const loaded = files.map((f) => ({ path: `${f.runId}.json`, expId: f.runId, file: f }));
    const table = aggregate(loaded);
    expect(table).toHaveLength(5);
    expect(table.every((r) => r.latest)).toBe(true);
    expect(table.map((r) => [r.ringSize, r.layout, r.distributed])).toEqual([
      [2, 'zigzag', true],
      [2, 'plain', true],
      [4, 'zigzag', true],
      [4, 'plain', true],
      [2, '', false],
    ]);
    // a later run of one configuration supersedes only that configuration
    const later = file('ring-distributed', '2026-12-07T05:30:00.000Z', [dist(2, 'zigzag', 110)]);
    const table2 = aggregate([...loaded, { path: 'later.json', expId: later.runId, file: later }]);
    expect(
      table2
        .filter((r) => r.latest)
        .map((r) => r.medianMs)
        .sort((a, b) => a! - b!),
    ).toEqual([90, 110, 150, 200, 260]);
  });

  it('get labels that tell them apart in plots', () => {
    const rows = files.flatMap((f) => f.results);
    const label = seriesLabeller(rows);
    expect(new Set(rows.map(label)).size).toBe(rows.length);
    expect(label(rows[1]!)).toBe('ring (P=2, plain, distributed)');
  });

  const dir = mkdtempSync(join(tmpdir(), 'dilbench-report-dist-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('show up as separate latest rows in latest.csv of `dilbench report`', async () => {
    const results = join(dir, 'results');
    const out = join(dir, 'report');
    mkdirSync(results, { recursive: true });
    for (const f of files)
      writeFileSync(join(results, `${f.runId.replace(/:/g, '-')}.json`), JSON.stringify(f));
    expect(loadResultFiles(results).files).toHaveLength(3);
    await generateReport({ resultsDir: results, outDir: out, formats: ['csv'] });
    const [head, ...lines] = readFileSync(join(out, 'tables', 'latest.csv'), 'utf8')
      .trim()
      .split('\n');
    const cols = head!.split(','); // split always yields at least one part
    const at = (l: string, c: string) => l.split(',')[cols.indexOf(c)];
    expect(lines).toHaveLength(5);
    expect(
      lines.map((l) => `${at(l, 'ringSize')}|${at(l, 'layout')}|${at(l, 'distributed')}`).sort(),
    ).toEqual(
      ['2||false', '2|plain|true', '2|zigzag|true', '4|plain|true', '4|zigzag|true'].sort(),
    );
  });
});
