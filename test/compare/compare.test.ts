import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { compareResults, verdictOf } from '../../src/compare/compare.js';
import { register, runCompare } from '../../src/cli/commands/compare.js';
import type { ResultFile, ResultRow } from '../../src/results/types.js';
import { createRng } from '../../src/stats/random.js';

const dir = mkdtempSync(join(tmpdir(), 'dilbench-compare-'));

function gaussian(rng: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

function samples(seed: number, medianMs: number, n = 30, cv = 0.02): number[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => medianMs * Math.exp(cv * gaussian(rng)));
}

function row(
  impl: string,
  seqLen: number,
  samplesMs: number[],
  over: Partial<ResultRow> = {},
): ResultRow {
  return {
    implementation: impl,
    device: 'cpu',
    dtype: 'fp32',
    batch: 1,
    heads: 8,
    kvHeads: 8,
    headDim: 64,
    seqLen,
    effectiveSeqLen: seqLen,
    causal: false,
    status: 'ok',
    reason: null,
    samplesMs,
    stats: null,
    peakMemoryBytes: null,
    estimatedMemoryBytes: 0,
    tokensPerSecond: null,
    gflops: null,
    flopsPerIteration: 1,
    bytesPerIteration: 1,
    threads: 2,
    simdLevel: 'avx512',
    ...over,
  };
}

function file(rows: ResultRow[], env: Partial<ResultFile['environment']> = {}): ResultFile {
  return {
    schemaVersion: 1,
    suite: 'sequence-ranges',
    runId: 'test',
    createdAt: '2026-01-01T00:00:00Z',
    environment: {
      cpuModel: 'Test CPU',
      cpuCores: 2,
      simdLevel: 'avx512',
      totalMemoryBytes: 1,
      freeMemoryBytes: 1,
      os: 'linux',
      nodeVersion: 'v20',
      dilbenchVersion: '0.1.0',
      gitCommit: null,
      buildType: 'Release',
      ...env,
    },
    config: {},
    results: rows,
  };
}

function write(name: string, content: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}

function capture() {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
    },
    get out() {
      return out;
    },
    get err() {
      return err;
    },
  };
}

const lengths = [1024, 2048, 4096];
const baseRows = lengths.map((n, i) => row('flash', n, samples(100 + i, n / 100)));

describe('verdict rule', () => {
  it('needs significance and the whole interval beyond the threshold', () => {
    expect(verdictOf([1.1, 1.3], 0.001, 0.05, 0.05)).toBe('slower');
    expect(verdictOf([1.1, 1.3], 0.2, 0.05, 0.05)).toBe('uncertain');
    expect(verdictOf([1.03, 1.3], 0.001, 0.05, 0.05)).toBe('uncertain');
    expect(verdictOf([0.7, 0.9], 0.001, 0.05, 0.05)).toBe('faster');
    expect(verdictOf([0.97, 1.04], 0.5, 0.05, 0.05)).toBe('same');
    expect(verdictOf([0.97, 1.04], 0.01, 0.05, 0.05)).toBe('same');
    expect(verdictOf([0.9, 1.1], 0.5, 0.05, 0.05)).toBe('uncertain');
  });
});

describe('compareResults', () => {
  it('a 20% slowdown with 30 samples is slower; geometric mean too', () => {
    const cur = lengths.map((n, i) => row('flash', n, samples(200 + i, (1.2 * n) / 100)));
    const rep = compareResults(file(baseRows), file(cur));
    expect(rep.rows).toHaveLength(3);
    for (const r of rep.rows) {
      expect(r.verdict).toBe('slower');
      expect(r.ratio).toBeGreaterThan(1.1);
      expect(r.ratioCi95[0]).toBeGreaterThan(1.05);
      expect(r.ratioCi95[0]).toBeLessThanOrEqual(r.ratio);
      expect(r.ratioCi95[1]).toBeGreaterThanOrEqual(r.ratio);
      expect(r.pValue).toBeLessThan(0.001);
    }
    expect(rep.summary.slower).toBe(3);
    expect(rep.summary.geomeanRatio).toBeGreaterThan(1.15);
    expect(rep.summary.geomeanVerdict).toBe('slower');
    expect(rep.exitCode).toBe(1);
  });

  it('a 20% speed-up is faster and exits 0', () => {
    const cur = lengths.map((n, i) => row('flash', n, samples(300 + i, (0.8 * n) / 100)));
    const rep = compareResults(file(baseRows), file(cur));
    expect(rep.rows.every((r) => r.verdict === 'faster')).toBe(true);
    expect(rep.exitCode).toBe(0);
  });

  it('identical distributions are same or uncertain, never slower/faster', () => {
    for (let t = 0; t < 5; t++) {
      const cur = lengths.map((n, i) => row('flash', n, samples(400 + 10 * t + i, n / 100)));
      const rep = compareResults(file(baseRows), file(cur));
      for (const r of rep.rows) expect(['same', 'uncertain']).toContain(r.verdict);
      expect(rep.exitCode).toBe(0);
    }
  });

  it('is reproducible (seeded bootstrap)', () => {
    const cur = lengths.map((n, i) => row('flash', n, samples(500 + i, n / 100)));
    expect(compareResults(file(baseRows), file(cur))).toEqual(
      compareResults(file(baseRows), file(cur)),
    );
  });

  it('lists rows present in one file only, without comparing them', () => {
    const cur = [row('flash', 1024, samples(600, 10.24)), row('naive', 1024, samples(601, 30))];
    const rep = compareResults(file(baseRows), file(cur));
    expect(rep.rows).toHaveLength(1);
    expect(rep.onlyInBaseline).toHaveLength(2);
    expect(rep.onlyInCurrent).toEqual([expect.stringContaining('naive')]);
  });

  it('refuses rows whose shapes, dtype or device differ, saying why; --allow-mismatch compares them', () => {
    const cur = lengths.map((n, i) =>
      row('flash', n, samples(700 + i, n / 100), { heads: 16, dtype: 'fp16' }),
    );
    const rep = compareResults(file(baseRows), file(cur));
    expect(rep.rows).toHaveLength(0);
    expect(rep.refused).toHaveLength(3);
    expect(rep.refused[0]!.reasons.join(' ')).toMatch(
      /dtype differs: fp32 in baseline, fp16 in current/,
    );
    expect(rep.refused[0]!.reasons.join(' ')).toMatch(
      /heads differs: 8 in baseline, 16 in current/,
    );
    expect(rep.exitCode).toBe(2);
    const allowed = compareResults(file(baseRows), file(cur), { allowMismatch: true });
    expect(allowed.rows).toHaveLength(3);
    expect(allowed.rows[0]!.notes.join(' ')).toMatch(/despite mismatch/);
    expect(allowed.exitCode).toBe(0);
  });

  it('refuses exact matches whose effective length differs', () => {
    const cur = [row('flash', 1024, samples(800, 10.24), { effectiveSeqLen: 1032 })];
    const rep = compareResults(file([baseRows[0]!]), file(cur));
    expect(rep.refused[0]!.reasons[0]).toMatch(/effectiveSeqLen/);
  });

  it('skipped or failed rows are listed as not compared', () => {
    const cur = [
      row('flash', 1024, [], { status: 'skipped', reason: 'needs 34.4 GiB, budget 11.5 GiB' }),
    ];
    const rep = compareResults(file([baseRows[0]!]), file(cur));
    expect(rep.notComparable[0]!.reason).toMatch(/current skipped: needs 34.4 GiB/);
  });

  it('warns when the environments differ (CPU, SIMD, threads, version)', () => {
    const cur = lengths.map((n, i) => row('flash', n, samples(900 + i, n / 100), { threads: 4 }));
    const rep = compareResults(
      file(baseRows),
      file(cur, { cpuModel: 'Other CPU', simdLevel: 'avx2', dilbenchVersion: '0.2.0' }),
    );
    const w = rep.warnings.join('\n');
    expect(w).toMatch(/CPU model Test CPU \(baseline\) vs Other CPU/);
    expect(w).toMatch(/SIMD level/);
    expect(w).toMatch(/dilbench version/);
    expect(w).toMatch(/thread counts differ on 3 row/);
  });

  it('params are part of the configuration', () => {
    const b = [row('dilated', 4096, samples(1, 5), { params: { segmentLengths: [1024, 2048] } })];
    const c = [row('dilated', 4096, samples(2, 5), { params: { segmentLengths: [512, 1024] } })];
    const rep = compareResults(file(b), file(c));
    expect(rep.rows).toHaveLength(0);
    expect(rep.onlyInBaseline).toHaveLength(1);
    expect(rep.onlyInCurrent).toHaveLength(1);
  });
});

describe('dilbench compare (command)', () => {
  const basePath = write('base.json', file(baseRows));
  const slowPath = write(
    'slow.json',
    file(lengths.map((n, i) => row('flash', n, samples(200 + i, (1.2 * n) / 100)))),
  );
  const samePath = write(
    'same.json',
    file(lengths.map((n, i) => row('flash', n, samples(1200 + i, n / 100)))),
  );

  it('20% slower: markdown report and exit 1', async () => {
    const c = capture();
    const code = await runCompare(basePath, slowPath, {}, c.io);
    expect(code).toBe(1);
    expect(c.out).toMatch(/\| flash N=1024 .*\*\*slower\*\*/);
    expect(c.out).toMatch(/geometric mean/);
    expect(c.out).toMatch(/3 slower/);
  });

  it('identical distributions: exit 0', async () => {
    const c = capture();
    expect(await runCompare(basePath, samePath, {}, c.io)).toBe(0);
    expect(c.out).not.toMatch(/\*\*slower\*\*/);
  });

  it('JSON format and --output', async () => {
    const out = join(dir, 'report.json');
    const c = capture();
    const code = await runCompare(
      basePath,
      slowPath,
      { format: 'json', output: out, threshold: '5%' },
      c.io,
    );
    expect(code).toBe(1);
    const rep = JSON.parse(readFileSync(out, 'utf8'));
    expect(rep.kind).toBe('dilbench-compare');
    expect(rep.rows).toHaveLength(3);
    expect(rep.summary.slower).toBe(3);
    expect(c.out).toMatch(/3 slower/);
  });

  it('a large threshold turns the slowdown into uncertain / exit 0', async () => {
    const c = capture();
    expect(await runCompare(basePath, slowPath, { threshold: 0.5 }, c.io)).toBe(0);
  });

  it('usage errors exit 2 naming the file or flag', async () => {
    const bad = write('bad.json', '{ not json');
    const notResult = write('other.json', { hello: 1 });
    let c = capture();
    expect(await runCompare(bad, basePath, {}, c.io)).toBe(2);
    expect(c.err).toContain(bad);
    expect(c.err).toMatch(/does not parse/);
    c = capture();
    expect(await runCompare(basePath, join(dir, 'missing.json'), {}, c.io)).toBe(2);
    expect(c.err).toMatch(/missing\.json: no such file/);
    c = capture();
    expect(await runCompare(basePath, notResult, {}, c.io)).toBe(2);
    expect(c.err).toMatch(/other\.json is not a dilbench result file: results/);
    c = capture();
    expect(await runCompare(basePath, samePath, { alpha: '2' }, c.io)).toBe(2);
    expect(c.err).toMatch(/--alpha/);
    c = capture();
    expect(await runCompare(basePath, samePath, { format: 'html' }, c.io)).toBe(2);
  });

  it('mismatched shapes are refused with the reason (exit 2), compared with --allow-mismatch', async () => {
    const mm = write(
      'mm.json',
      file(lengths.map((n, i) => row('flash', n, samples(1300 + i, n / 100), { headDim: 128 }))),
    );
    let c = capture();
    expect(await runCompare(basePath, mm, {}, c.io)).toBe(2);
    expect(c.out).toMatch(/headDim differs: 64 in baseline, 128 in current/);
    expect(c.err).toMatch(/refused/);
    c = capture();
    expect(await runCompare(basePath, mm, { allowMismatch: true }, c.io)).toBe(0);
  });

  it('registers on a commander program; exit code travels as CliExit', async () => {
    const program = new Command().exitOverride();
    register(program);
    const orig = process.stdout.write.bind(process.stdout);
    process.stdout.write = () => true;
    try {
      await expect(
        program.parseAsync([
          'node',
          'dilbench',
          'compare',
          basePath,
          slowPath,
          '--threshold',
          '0.05',
        ]),
      ).rejects.toMatchObject({
        exitCode: 1,
      });
      await expect(
        program.parseAsync(['node', 'dilbench', 'compare', basePath, samePath]),
      ).resolves.toBeDefined();
    } finally {
      process.stdout.write = orig;
    }
  });
});

describe('file-level warnings', () => {
  it('interrupted runs and schema versions are flagged', () => {
    const b = { ...file(baseRows), interrupted: true };
    const c = { ...file(baseRows), schemaVersion: 2 };
    const w = compareResults(b, c).warnings.join('\n');
    expect(w).toMatch(/baseline run was interrupted/);
    expect(w).toMatch(/schema versions differ: 1 \(baseline\) vs 2/);
  });
  it('the same file against itself: every row same, exit 0', () => {
    const rep = compareResults(file(baseRows), file(baseRows));
    expect(rep.rows.every((r) => r.verdict === 'same' && r.ratio === 1)).toBe(true);
    expect(rep.exitCode).toBe(0);
  });
});
