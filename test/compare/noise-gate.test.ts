// The compare gate that knows run-to-run noise (issue 14 item 5): hierarchical bootstrap over
// repetitions, a noise floor for single runs, interference => unreliable (exit 75).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  compareResults,
  DEFAULT_NOISE_FLOOR,
  EXIT_UNRELIABLE,
  rowKey,
  type Verdict,
} from '../../src/compare/compare.js';
import { noiseFloorsOf } from '../../src/compare/noise-floor.js';
import { runCompare } from '../../src/cli/commands/compare.js';
import { toHistoryEntries } from '../../src/history/index.js';
import { createRng, type Rng } from '../../src/stats/random.js';
import { median } from '../../src/stats/summary.js';
import type { ResultFile, ResultRow } from '../../src/results/types.js';
import type { Interference } from '../../src/measure/interference.js';

function normal(rng: Rng): number {
  // Box-Muller
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/**
 * One run's samples of a 10 ms kernel: a run-level offset (log-normal, sd `runSd`: layout,
 * clock, background), then per-sample log-normal noise (sd 5%) with 5% of samples 20-60% slow
 * (preemptions), the right skew real timings have.
 */
function runSamples(rng: Rng, factor: number, runSd: number, n: number): number[] {
  const offset = Math.exp(runSd * normal(rng));
  return Array.from({ length: n }, () => {
    const spike = rng() < 0.05 ? 1.2 + 0.4 * rng() : 1;
    return 10 * factor * offset * Math.exp(0.05 * normal(rng)) * spike;
  });
}

const flaggedInterference: Interference = {
  otherCpuPct: 48,
  stealPct: 0,
  loadAvg: 3,
  windowSeconds: 2,
  flagged: true,
  reason: 'other processes used 48% of the CPUs (flag above 5%)',
};
const quietInterference: Interference = {
  ...flaggedInterference,
  otherCpuPct: 0.4,
  flagged: false,
  reason: null,
};

function row(samplesMs: number[], extra: Partial<ResultRow> = {}): ResultRow {
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
    samplesMs,
    stats: {
      medianMs: median(samplesMs),
      meanMs: 0,
      stdMs: 0,
      minMs: 0,
      maxMs: 0,
      p10Ms: 0,
      p90Ms: 0,
    },
    peakMemoryBytes: null,
    estimatedMemoryBytes: 0,
    tokensPerSecond: null,
    gflops: null,
    flopsPerIteration: 0,
    bytesPerIteration: 0,
    threads: 2,
    simdLevel: 'avx2',
    ...extra,
  };
}

function withRepetitions(reps: number[][], flagged: boolean[] = []): ResultRow {
  return row(reps.flat(), {
    repetitions: reps.map((s, k) => ({
      index: k + 1,
      samplesMs: s,
      medianMs: median(s),
      interference: flagged[k] ? flaggedInterference : quietInterference,
    })),
  });
}

let runCount = 0;
function file(rows: ResultRow[]): ResultFile {
  return {
    schemaVersion: 1,
    suite: 'sequence-ranges',
    runId: `run-${++runCount}`,
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, runCount)).toISOString(),
    environment: {
      cpuModel: 'test',
      cpuCores: 2,
      simdLevel: 'avx2',
      totalMemoryBytes: 1,
      freeMemoryBytes: 1,
      os: 'linux',
      nodeVersion: 'v20',
      dilbenchVersion: '0',
      gitCommit: null,
      buildType: 'Release',
    },
    config: {},
    results: rows,
  };
}

function verdictOf(base: ResultRow, cur: ResultRow): Verdict {
  return compareResults(file([base]), file([cur]), { resamples: 500 }).rows[0]!.verdict;
}

/** `pairs` simulated comparisons; returns the share called slower. */
function slowerRate(
  pairs: number,
  factor: number,
  simulate: (rng: Rng, factor: number) => [ResultRow, ResultRow],
  seed: number,
): number {
  const rng = createRng(seed);
  let slower = 0;
  for (let k = 0; k < pairs; k++) {
    const [b, c] = simulate(rng, factor);
    if (verdictOf(b, c) === 'slower') slower++;
  }
  return slower / pairs;
}

// realistic run-to-run spread on a quiet machine: 3% sd of a run's median (see DEFAULT_NOISE_FLOOR)
const RUN_SD = 0.03;
const REPS = 5;
const PAIRS = 200;
const repeated = (rng: Rng, factor: number): [ResultRow, ResultRow] => [
  withRepetitions(Array.from({ length: REPS }, () => runSamples(rng, 1, RUN_SD, 20))),
  withRepetitions(Array.from({ length: REPS }, () => runSamples(rng, factor, RUN_SD, 20))),
];
const single = (rng: Rng, factor: number): [ResultRow, ResultRow] => [
  row(runSamples(rng, 1, RUN_SD, 100)),
  row(runSamples(rng, factor, RUN_SD, 100)),
];

describe('simulation: many A/A pairs with run-level offsets', () => {
  it(`with ${REPS} repetitions: at most 5% false slower, and a true 20% slowdown detected at least 95% of the time`, () => {
    const falseSlower = slowerRate(PAIRS, 1, repeated, 11);
    const detected = slowerRate(PAIRS, 1.2, repeated, 12);
    console.log(
      `hierarchical bootstrap, ${REPS} vs ${REPS} repetitions x 20 samples, run sd ${RUN_SD * 100}%: A/A false slower ${(falseSlower * 100).toFixed(1)}%, 20% slowdown detected ${(detected * 100).toFixed(1)}% (${PAIRS} pairs each)`,
    );
    expect(falseSlower).toBeLessThanOrEqual(0.05);
    expect(detected).toBeGreaterThanOrEqual(0.95);
  });

  it('one run each: the noise floor keeps false slower verdicts at most 5%, fewer than the samples alone give, and still sees most 20% slowdowns', () => {
    const gated = slowerRate(PAIRS, 1, single, 21);
    const detected = slowerRate(PAIRS, 1.2, single, 22);
    // the old gate (threshold 5%, no floor) on the same pairs
    const rng = createRng(21);
    let old = 0;
    for (let k = 0; k < PAIRS; k++) {
      const [b, c] = single(rng, 1);
      if (
        compareResults(file([b]), file([c]), { resamples: 500, noiseFloor: 0 }).rows[0]!.verdict ===
        'slower'
      )
        old++;
    }
    console.log(
      `one run each, 100 samples, run sd ${RUN_SD * 100}%: A/A false slower ${(gated * 100).toFixed(1)}% with the ${DEFAULT_NOISE_FLOOR * 100}% floor vs ${((old / PAIRS) * 100).toFixed(1)}% without; 20% slowdown detected ${(detected * 100).toFixed(1)}%`,
    );
    expect(gated).toBeLessThanOrEqual(0.05);
    expect(gated).toBeLessThan(old / PAIRS);
    // one run per side cannot see its own run-level offset: the floor trades some power for that
    // (--repetitions is the way to both; the test above)
    expect(detected).toBeGreaterThanOrEqual(0.85);
  });
});

describe('compare with repetitions and interference', () => {
  it('uses the hierarchical bootstrap when both sides have repetitions, and says so', () => {
    const rng = createRng(5);
    const [b, c] = repeated(rng, 1.5);
    const r = compareResults(file([b]), file([c])).rows[0]!;
    expect(r.method).toBe('repetitions');
    expect(r.test).toBe('bootstrap');
    expect(r.repetitions).toEqual({ baseline: REPS, current: REPS });
    expect(r.noiseFloor).toBeUndefined();
    expect(r.ratio).toBeGreaterThan(1.3);
    expect(r.ratioCi95[0]).toBeLessThan(r.ratio);
    expect(r.ratioCi95[1]).toBeGreaterThan(r.ratio);
    expect(r.verdict).toBe('slower');
  });

  it('a slowdown measured under interference is unreliable (exit 75), never slower; a clean one still exits 1', () => {
    const rng = createRng(6);
    const base = row(runSamples(rng, 1, 0, 100));
    const slowFlagged = row(runSamples(rng, 1.4, 0, 100), { interference: flaggedInterference });
    const report = compareResults(file([base]), file([slowFlagged]));
    expect(report.rows[0]!.verdict).toBe('unreliable');
    expect(report.rows[0]!.interference).toEqual({ baseline: false, current: true });
    expect(report.rows[0]!.notes.join(' ')).toMatch(
      /would be slower, but the current run was measured under interference \(other processes used 48%/,
    );
    expect(report.summary).toMatchObject({ slower: 0, unreliable: 1 });
    expect(report.exitCode).toBe(EXIT_UNRELIABLE);
    expect(EXIT_UNRELIABLE).toBe(75);
    // a flagged current run that is faster: interference cannot fake that, the verdict stands
    const fastFlagged = row(runSamples(rng, 0.6, 0, 100), { interference: flaggedInterference });
    expect(compareResults(file([base]), file([fastFlagged])).rows[0]!.verdict).toBe('faster');
    // a flagged baseline: it can fake a speed-up (unreliable) but only hide a slowdown (slower stands)
    const baseFlagged = { ...base, interference: flaggedInterference };
    expect(
      compareResults(file([baseFlagged]), file([row(runSamples(rng, 0.6, 0, 100))])).rows[0]!
        .verdict,
    ).toBe('unreliable');
    const slowAgainstFlagged = compareResults(
      file([baseFlagged]),
      file([row(runSamples(rng, 1.4, 0, 100))]),
    );
    expect(slowAgainstFlagged.rows[0]!.verdict).toBe('slower');
    expect(slowAgainstFlagged.exitCode).toBe(1);
    // a clean slow row wins over an unreliable one: exit 1
    const other = (r: ResultRow) => ({ ...r, seqLen: 2048, effectiveSeqLen: 2048 });
    const mixed = compareResults(
      file([base, other(base)]),
      file([slowFlagged, other(row(runSamples(rng, 1.4, 0, 100)))]),
    );
    expect(mixed.rows.map((r) => r.verdict)).toEqual(['unreliable', 'slower']);
    expect(mixed.exitCode).toBe(1);
  });

  it('a flagged current run is never the basis of slower, however large the slowdown (a busy loop can halve a fork-join kernel and more)', () => {
    const rng = createRng(10);
    const base = row(runSamples(rng, 1, 0, 100));
    const mild = { ...flaggedInterference, otherCpuPct: 20, maxSlowdown: 1.25 };
    for (const factor of [1.15, 2, 2.6]) {
      const r = compareResults(
        file([base]),
        file([row(runSamples(rng, factor, 0, 100), { interference: mild })]),
      );
      expect(r.rows[0]!.verdict, `x${factor}`).toBe('unreliable');
      expect(r.rows[0]!.notes.join(' ')).toMatch(
        /would be slower, but the current run was measured under interference .*: retry on a quiet machine/,
      );
      expect(r.exitCode).toBe(75);
    }
  });

  it('leaves flagged repetitions out when two or more clean ones remain', () => {
    const rng = createRng(7);
    const base = withRepetitions(Array.from({ length: 3 }, () => runSamples(rng, 1, 0.01, 20)));
    // the third current repetition ran under a busy loop, 2x slower
    const cur = withRepetitions(
      [runSamples(rng, 1, 0.01, 20), runSamples(rng, 1, 0.01, 20), runSamples(rng, 2, 0.01, 20)],
      [false, false, true],
    );
    const r = compareResults(file([base]), file([cur])).rows[0]!;
    expect(r.repetitions).toEqual({ baseline: 3, current: 2 });
    expect(r.verdict).not.toBe('slower');
    expect(r.verdict).not.toBe('unreliable');
    expect(r.notes.join(' ')).toMatch(/1 repetition\(s\) measured under interference left out/);
  });

  it('derives the noise floor from the history of the same configuration', () => {
    const rng = createRng(8);
    // eight earlier runs whose medians spread by about 1% (sd of log medians)
    const history = Array.from({ length: 8 }, () =>
      toHistoryEntries(file([row(runSamples(rng, 1, 0.005, 50))])),
    ).flat();
    const floors = noiseFloorsOf(history);
    const key = rowKey(row([1]));
    expect(floors.has(key)).toBe(true);
    expect(floors.get(key)!).toBeGreaterThan(0);
    expect(floors.get(key)!).toBeLessThan(0.06);
    // fewer than 3 runs: no floor from history
    expect(noiseFloorsOf(history.slice(0, 2)).size).toBe(0);
    const r = compareResults(
      file([row(runSamples(rng, 1, 0, 100))]),
      file([row(runSamples(rng, 1.08, 0, 100))]),
      { noiseFloors: floors },
    ).rows[0]!;
    expect(r.noiseFloor?.source).toBe('history');
    // 8% is beyond the history floor (< 6%) and the 5% threshold, within the 10% default floor (same)
    expect(r.verdict).toBe('slower');
    const d = compareResults(
      file([row(runSamples(rng, 1, 0, 100))]),
      file([row(runSamples(rng, 1.08, 0, 100))]),
    ).rows[0]!;
    expect(d.noiseFloor).toEqual({ value: DEFAULT_NOISE_FLOOR, source: 'default' });
    // within the 10% floor on both ends of its interval: indistinguishable from run-to-run noise
    expect(d.verdict).toBe('same');
  });
});

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('dilbench compare CLI', () => {
  it('exits 75 with a message when the only slowdowns were measured under interference; --format md says unreliable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dilbench-gate-'));
    dirs.push(dir);
    const rng = createRng(9);
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    writeFileSync(a, JSON.stringify(file([row(runSamples(rng, 1, 0, 60))])));
    writeFileSync(
      b,
      JSON.stringify(
        file([row(runSamples(rng, 1.5, 0, 60), { interference: flaggedInterference })]),
      ),
    );
    let out = '';
    let err = '';
    const io = {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
    };
    expect(await runCompare(a, b, {}, io)).toBe(75);
    expect(out).toMatch(/0 slower, 0 faster, 0 same, 0 uncertain, 1 unreliable/);
    expect(out).toMatch(/one run each, noise floor 10% \(default\)/);
    expect(err).toMatch(
      /unreliable: 1 row\(s\) would be slower but were measured under interference/,
    );
    expect(await runCompare(a, b, { noiseFloor: 'lots' }, io)).toBe(2);
    expect(err).toMatch(/invalid --noise-floor/);
    expect(await runCompare(a, b, { history: join(dir, 'missing.jsonl') }, io)).toBe(2);
    expect(err).toMatch(/cannot read --history .*missing\.jsonl/);
  });
});
