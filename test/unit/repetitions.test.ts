// --repetitions R (issue 14 item 5): R independent runs of the plan, merged per row with each
// repetition's own samples; the real worker processes in the e2e case below.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runBenchmark } from '../../src/api/run.js';
import { constantRate } from '../../src/plan/calibrate.js';
import { getSuite } from '../../src/api/suites.js';
import { runSuite } from '../../src/suite/runner.js';
import { mergeRepetitions, type RepetitionRunner } from '../../src/suite/repetitions.js';
import { compareResults } from '../../src/compare/compare.js';
import type { Interference } from '../../src/measure/interference.js';
import type { ResultFile } from '../../src/results/types.js';
import { createFakeBinding } from '../helpers/fake-binding.js';

const GiB = 1024 ** 3;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Repetitions in this process on the fake binding (the default runner forks the real addon). */
const inProcess = (flagRepetition?: number): RepetitionRunner => {
  let n = 0;
  return async (req) => {
    n++;
    const suite = getSuite(req.suite);
    const file = await runSuite(suite, suite.parseOptions({ ...req.options, repetitions: 1 }), {
      binding: createFakeBinding(),
      rates: constantRate(1e10),
      availableMemoryBytes: 8 * GiB,
    });
    const i: Interference = {
      otherCpuPct: n === flagRepetition ? 40 : 0,
      stealPct: 0,
      loadAvg: 1,
      windowSeconds: 1,
      flagged: n === flagRepetition,
      reason: n === flagRepetition ? 'other processes used 40% of the CPUs (flag above 5%)' : null,
    };
    for (const r of file.results) if (r.status === 'ok') r.interference = i;
    return file;
  };
};

describe('--repetitions', () => {
  it('runs the plan R times and keeps each repetition per row, pooled statistics on top', async () => {
    const notes: string[] = [];
    const file = await runBenchmark({
      suite: 'sequence-ranges',
      range: 'custom',
      customLengths: [128, 256],
      runs: 5,
      warmup: 1,
      repetitions: 3,
      outputDir: null,
      runRepetition: inProcess(),
      onProgress: (e) => e.type === 'note' && notes.push(e.message),
    });
    expect(notes.filter((n) => /^repetition \d of 3/.test(n))).toHaveLength(3);
    expect(file.config).toMatchObject({ repetitions: 3, repetitionsInFreshProcesses: true });
    expect(file.results).toHaveLength(4);
    for (const r of file.results) {
      expect(r.status).toBe('ok');
      expect(r.repetitions!.map((x) => x.index)).toEqual([1, 2, 3]);
      expect(r.repetitions!.every((x) => x.samplesMs.length === 5)).toBe(true);
      expect(r.samplesMs).toEqual(r.repetitions!.flatMap((x) => x.samplesMs));
      expect(r.stats!.medianMs).toBeGreaterThan(0);
      expect(r.gflops).toBeCloseTo(r.flopsPerIteration / (r.stats!.medianMs / 1000) / 1e9, 6);
    }
    // compare resamples the repetitions
    const cmp = compareResults(file, file);
    expect(cmp.rows.every((r) => r.method === 'repetitions' && r.repetitions?.baseline === 3)).toBe(
      true,
    );
  });

  it('a repetition flagged for interference flags the row and is named; compare leaves it out', async () => {
    const file = await runBenchmark({
      suite: 'sequence-ranges',
      range: 'custom',
      customLengths: [128],
      runs: 4,
      warmup: 1,
      repetitions: 3,
      outputDir: null,
      runRepetition: inProcess(2),
    });
    const r = file.results[0]!;
    expect(r.interference?.flagged).toBe(true);
    expect(r.interference?.reason).toMatch(/^in 1 of 3 repetitions: other processes used 40%/);
    expect(compareResults(file, file).rows[0]!.repetitions).toEqual({ baseline: 2, current: 2 });
  });

  it('a row that failed in one repetition keeps the others and says so', () => {
    const mk = (ok: boolean): ResultFile => ({
      schemaVersion: 1,
      suite: 's',
      runId: 'x',
      createdAt: 't',
      config: { seed: 1 },
      environment: {
        cpuModel: 'c',
        cpuCores: 2,
        simdLevel: 'avx2',
        totalMemoryBytes: 1,
        freeMemoryBytes: 1,
        os: 'l',
        nodeVersion: 'v',
        dilbenchVersion: '0',
        gitCommit: null,
        buildType: 'R',
      },
      results: [
        {
          implementation: 'flash',
          device: 'cpu',
          dtype: 'fp32',
          batch: 1,
          heads: 1,
          kvHeads: 1,
          headDim: 64,
          seqLen: 64,
          effectiveSeqLen: 64,
          causal: false,
          status: ok ? 'ok' : 'failed',
          reason: ok ? null : 'kernel exploded',
          samplesMs: ok ? [1, 2, 3] : [],
          stats: null,
          peakMemoryBytes: null,
          estimatedMemoryBytes: 0,
          tokensPerSecond: null,
          gflops: null,
          flopsPerIteration: 1e6,
          bytesPerIteration: 1,
          threads: 2,
          simdLevel: 'avx2',
        },
      ],
    });
    const m = mergeRepetitions([mk(true), mk(false), mk(true)]);
    expect(m.results[0]!.status).toBe('ok');
    expect(m.results[0]!.repetitions!.map((r) => r.index)).toEqual([1, 3]);
    expect(m.results[0]!.warnings?.join(' ')).toMatch(
      /1 of 3 repetitions did not run: kernel exploded/,
    );
  });

  it('rejects a bad value naming the field', async () => {
    await expect(
      runBenchmark({
        suite: 'sequence-ranges',
        range: 'custom',
        customLengths: [128],
        repetitions: 0,
        outputDir: null,
      }),
    ).rejects.toThrow(/repetitions/);
  });

  it('real addon: each repetition in its own worker process, merged into one file (CLI)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dilbench-reps-'));
    dirs.push(dir);
    const out = execFileSync(
      process.execPath,
      [
        'bin/dilbench.js',
        'sequence-ranges',
        '--custom-lengths',
        '128',
        '--implementations',
        'naive,flash',
        '--heads',
        '2',
        '--repetitions',
        '2',
        '--max-time',
        '0.2',
        '--min-samples',
        '5',
        '--output-dir',
        dir,
        '--no-plots',
        '--json',
        '--quiet',
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    const file = JSON.parse(out) as ResultFile;
    expect(file.config.repetitions).toBe(2);
    expect(file.results).toHaveLength(2);
    for (const r of file.results) {
      expect(r.status).toBe('ok');
      expect(r.repetitions).toHaveLength(2);
      expect(
        r.repetitions!.every((x) => x.samplesMs.length >= 3 && x.interference !== undefined),
      ).toBe(true);
    }
    expect(file.interference?.measuredPoints).toBe(2);
    const written = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(written).toHaveLength(1);
    expect(
      JSON.parse(readFileSync(join(dir, written[0]!), 'utf8')).results[0].repetitions,
    ).toHaveLength(2);
  });
});
