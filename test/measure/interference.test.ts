// Interference detection (issue 14 item 1): other processes' CPU from /proc/stat minus our own
// rusage, steal, clock; per point and per run in the result file; --require-quiet.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { sequenceRanges } from '../../src/suites/sequence-ranges.js';
import {
  OTHER_CPU_FLAG_PCT,
  interferenceBetween,
  parseProcStat,
  takeSnapshot,
  readExtras,
  type CpuSnapshot,
  type InterferenceProbe,
  type WindowExtras,
} from '../../src/measure/interference.js';
import { constantRate } from '../../src/plan/calibrate.js';
import { MachineBusyError, runSuite } from '../../src/suite/runner.js';
import { toMarkdown } from '../../src/reports/markdown.js';
import { summaryText } from '../../src/cli/summary.js';
import { reportError, EXIT_RETRY } from '../../src/cli/errors.js';
import { createFakeBinding } from '../helpers/fake-binding.js';

const GiB = 1024 ** 3;
const NO_EXTRAS: WindowExtras = { loadAvg: 1, freqMHz: null, maxFreqMHz: null };

function snap(
  atMs: number,
  busy: number,
  idle: number,
  ownCpuUs: number,
  steal = 0,
  cpus = 2,
): CpuSnapshot {
  return { atMs, stat: { busy, idle, steal, total: busy + idle + steal }, ownCpuUs, cpus };
}

describe('parseProcStat', () => {
  it('sums the busy fields, keeps steal apart, and ignores guest time (already inside user)', () => {
    const text =
      'cpu  12847 3 4575 18508 104 7 104 100 55 0\ncpu0 6299 0 2247 9492 10 0 22 56 0 0\nintr 1\n';
    expect(parseProcStat(text)).toEqual({
      busy: 12847 + 3 + 4575 + 7 + 104,
      idle: 18508 + 104,
      steal: 100,
      total: 12847 + 3 + 4575 + 7 + 104 + 18508 + 104 + 100,
    });
  });
  it('returns null without an aggregate cpu line or with garbage', () => {
    expect(parseProcStat('cpu0 1 2 3 4\n')).toBeNull();
    expect(parseProcStat('cpu  a b c d\n')).toBeNull();
  });
});

describe('interferenceBetween', () => {
  it('subtracts this process own CPU time from the system busy time', () => {
    // 10 s on 2 CPUs = 2000 ticks; 1500 busy, of which 1400 (14 s of CPU) are ours
    const i = interferenceBetween(snap(0, 0, 0, 0), snap(10_000, 1500, 500, 14e6), NO_EXTRAS);
    expect(i.otherCpuPct).toBeCloseTo(5, 5);
    expect(i.windowSeconds).toBe(10);
    // 5% raw, minus the 4-tick rounding allowance: not above the 5% threshold
    expect(i.flagged).toBe(false);
    expect(i.reason).toBeNull();
    const busy = interferenceBetween(snap(0, 0, 0, 0), snap(10_000, 1500, 500, 10e6), NO_EXTRAS);
    expect(busy.otherCpuPct).toBeCloseTo(25, 5);
    expect(busy.flagged).toBe(true);
    expect(busy.reason).toMatch(/other processes used 25% of the CPUs \(flag above 5%\)/);
  });
  it('counts other processes only beyond the CPUs the run leaves idle', () => {
    // 10 s on 2 CPUs; others use 40% of the CPUs (800 ticks), we use 1 CPU (1000 ticks)
    const a = snap(0, 0, 0, 0);
    const b = snap(10_000, 1800, 200, 10e6);
    const twoThreads = interferenceBetween(a, b, NO_EXTRAS, 2);
    expect(twoThreads.otherCpuPct).toBeCloseTo(40, 5);
    expect(twoThreads.flagged).toBe(true);
    // others held 40% of the CPUs the run used: at most 1 / 0.6 slower
    expect(twoThreads.maxSlowdown).toBeCloseTo(1 / 0.6, 3);
    const oneThread = interferenceBetween(a, b, NO_EXTRAS, 1);
    expect(oneThread.otherCpuPct).toBeCloseTo(40, 5);
    expect(oneThread.idleCpuPct).toBe(50);
    expect(oneThread.flagged).toBe(false);
    expect(oneThread.maxSlowdown).toBe(1);
    // 60% of the CPUs by others with one thread: 10% beyond the idle half
    const crowded = interferenceBetween(a, snap(10_000, 2000, 0, 8e6), NO_EXTRAS, 1);
    expect(crowded.otherCpuPct).toBeCloseTo(60, 5);
    expect(crowded.flagged).toBe(true);
    // 10% of the machine beyond the idle half = 20% of the run's CPU
    expect(crowded.maxSlowdown).toBeCloseTo(1.25, 3);
    expect(crowded.reason).toMatch(/beyond the 50% the run's 1 thread\(s\) left idle/);
  });

  it('does not flag a short window on tick rounding alone', () => {
    // 100 ms on 2 CPUs = 20 ticks; 4 ticks unaccounted are within the rounding allowance
    const i = interferenceBetween(snap(0, 0, 0, 0), snap(100, 14, 6, 100_000), NO_EXTRAS);
    expect(i.otherCpuPct).toBeCloseTo(20, 5);
    expect(i.flagged).toBe(false);
  });
  it('flags steal time and a throttled clock, and says why', () => {
    const steal = interferenceBetween(
      snap(0, 0, 0, 0),
      snap(10_000, 1000, 800, 10e6, 0),
      NO_EXTRAS,
    );
    expect(steal.flagged).toBe(false);
    const stolen = interferenceBetween(
      snap(0, 0, 0, 0),
      snap(10_000, 1000, 700, 10e6, 300),
      NO_EXTRAS,
    );
    expect(stolen.stealPct).toBeCloseTo(15, 5);
    expect(stolen.flagged).toBe(true);
    expect(stolen.reason).toMatch(/steal time 15%/);
    const slow = interferenceBetween(snap(0, 0, 0, 0), snap(10_000, 1000, 1000, 10e6), {
      loadAvg: 1,
      freqMHz: 1200,
      maxFreqMHz: 3000,
    });
    expect(slow.flagged).toBe(true);
    expect(slow.reason).toMatch(/CPU clock 1200 MHz, below 75% of its 3000 MHz maximum/);
    expect(slow.freqMHz).toBe(1200);
  });
  it('says when it cannot measure (no /proc/stat) and flags nothing', () => {
    const a: CpuSnapshot = { atMs: 0, stat: null, ownCpuUs: 0, cpus: 2 };
    const i = interferenceBetween(a, { ...a, atMs: 1000 }, NO_EXTRAS);
    expect(i).toMatchObject({ otherCpuPct: null, stealPct: null, flagged: false });
    expect(i.reason).toMatch(/not measurable/);
  });
});

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

describe('on this machine', () => {
  const linux = existsSync('/proc/stat');
  if (!linux) console.log('skipping the real interference check: no /proc/stat (not Linux)');
  it.skipIf(!linux)(
    'sees busy loops in other processes as other CPU, and flags the window',
    async () => {
      // one busy loop per CPU: the window's busy time is (almost) all other processes', whatever else runs
      const cpus = takeSnapshot().cpus;
      for (let k = 0; k < cpus; k++) {
        children.push(
          spawn(
            process.execPath,
            ['-e', 'const end = Date.now() + 4000; while (Date.now() < end) {}'],
            { stdio: 'ignore' },
          ),
        );
      }
      await new Promise((r) => setTimeout(r, 300));
      const a = takeSnapshot();
      await new Promise((r) => setTimeout(r, 1000));
      const i = interferenceBetween(a, takeSnapshot(), readExtras());
      expect(i.otherCpuPct).toBeGreaterThan(60);
      expect(i.flagged).toBe(true);
      expect(i.loadAvg).toBeGreaterThan(0);
    },
  );
});

/** A scripted machine: other processes use `otherShare` of 2 CPUs from the moment `busy()` is true. */
function scriptedProbe(busy: () => boolean): InterferenceProbe {
  let t = 0;
  let busyTicks = 0;
  let idleTicks = 0;
  return {
    snapshot() {
      // each reading advances the clock by 1 s (200 ticks on 2 CPUs)
      t += 1000;
      const other = busy() ? 100 : 0;
      busyTicks += other;
      idleTicks += 200 - other;
      return {
        atMs: t,
        stat: { busy: busyTicks, idle: idleTicks, steal: 0, total: busyTicks + idleTicks },
        ownCpuUs: 0,
        cpus: 2,
      };
    },
    extras: () => NO_EXTRAS,
  };
}

describe('the runner records interference', () => {
  it('flags exactly the points measured after other processes started, per point and in the run summary', async () => {
    let ended = 0;
    const binding = createFakeBinding();
    const options = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128,256,512,1024',
      runs: 3,
      warmup: 1,
    });
    // busy from the third length on (the run's implementations of a length are one interleaved group)
    const probe = scriptedProbe(() => ended >= 4);
    const file = await runSuite(sequenceRanges, options, {
      binding,
      rates: constantRate(1e10),
      availableMemoryBytes: 8 * GiB,
      interference: probe,
      onProgress: (e) => {
        if (e.type === 'point-end') ended++;
      },
    });
    const flagged = file.results.map((r) => [r.seqLen, r.interference?.flagged]);
    expect(flagged).toEqual([
      [128, false],
      [128, false],
      [256, false],
      [256, false],
      [512, true],
      [512, true],
      [1024, true],
      [1024, true],
    ]);
    expect(file.results[4]!.interference?.otherCpuPct).toBe(50);
    expect(file.results[4]!.interference?.reason).toMatch(/other processes used 50% of the CPUs/);
    expect(file.results[0]!.interference?.reason).toBeNull();
    // the terminal's compact table marks the flagged points; the run's sentence says why
    expect(summaryText(file)).toMatch(/512\s+flash\s.*ok, contended/);
    expect(summaryText(file)).not.toMatch(/256\s+flash\s.*contended/);
    expect(toMarkdown(file)).toMatch(/\| 512 \| flash \|.*ok \(under contention\)/);
    expect(file.interference).toMatchObject({
      measuredPoints: 8,
      flaggedPoints: 4,
      thresholds: { otherCpuPct: OTHER_CPU_FLAG_PCT },
    });
    expect(file.interference!.summary).toMatch(
      /4 of 8 points ran under contention and are flagged/,
    );
    expect(toMarkdown(file)).toContain('## Interference');
    expect(toMarkdown(file)).toContain('4 of 8 points ran under contention');
    expect(summaryText(file)).toMatch(
      /interference: other processes used [\d.]+% of the CPUs during the run; 4 of 8 points/,
    );
    // the JSON round-trips
    const back = JSON.parse(JSON.stringify(file));
    expect(back.results[7].interference.flagged).toBe(true);
  });

  it('--require-quiet refuses to start on a busy machine after its bounded wait, with exit 75', async () => {
    const slept: number[] = [];
    const options = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128',
      runs: 2,
      requireQuiet: '3',
    });
    expect(options.requireQuiet).toBe(3);
    const run = runSuite(sequenceRanges, options, {
      binding: createFakeBinding(),
      rates: constantRate(1e10),
      availableMemoryBytes: 8 * GiB,
      interference: scriptedProbe(() => true),
      sleep: async (ms) => void slept.push(ms),
    });
    await expect(run).rejects.toBeInstanceOf(MachineBusyError);
    await expect(run).rejects.toThrow(/did not become quiet within 3 s; not started/);
    expect(slept).toEqual([1000, 1000, 1000]);
    const err = await run.catch((e: unknown) => e);
    const stderr = {
      text: '',
      write(s: string) {
        this.text += s;
        return true;
      },
    };
    expect(reportError(err, false, stderr as unknown as NodeJS.WritableStream)).toBe(EXIT_RETRY);
    expect(EXIT_RETRY).toBe(75);
  });

  it('--require-quiet waits for the machine to become quiet, then runs', async () => {
    let probes = 0;
    const options = sequenceRanges.parseOptions({
      range: 'custom',
      customLengths: '128',
      runs: 2,
      requireQuiet: true,
    });
    expect(options.requireQuiet).toBe(60);
    const notes: string[] = [];
    const file = await runSuite(sequenceRanges, options, {
      binding: createFakeBinding(),
      rates: constantRate(1e10),
      availableMemoryBytes: 8 * GiB,
      // busy for the first two probe windows (4 readings), quiet after
      interference: scriptedProbe(() => ++probes <= 4),
      sleep: async () => undefined,
      onProgress: (e) => e.type === 'note' && notes.push(e.message),
    });
    expect(file.results.every((r) => r.status === 'ok')).toBe(true);
    expect(notes.join('\n')).toMatch(/--require-quiet: machine busy .* waiting up to 60 s/);
    expect(file.config.requireQuietSeconds).toBe(60);
  });

  it('rejects a bad --require-quiet value naming the field', () => {
    expect(() =>
      sequenceRanges.parseOptions({ range: 'custom', customLengths: '128', requireQuiet: 'soon' }),
    ).toThrow(/requireQuiet|require-quiet/);
    expect(() =>
      sequenceRanges.parseOptions({ range: 'custom', customLengths: '128', requireQuiet: '-1' }),
    ).toThrow(/0\.\.3600/);
  });
});

describe('dilbench report shows interference', () => {
  it('HTML: the run sentence and "under contention" in the status of a flagged row; Markdown table too', async () => {
    const { renderTable, renderHtmlReport } = await import('../../src/reports/html/index.js');
    const row = {
      exp_id: 'r1',
      createdAt: 't',
      latest: true,
      implementation: 'flash',
      seqLen: 512,
      effectiveSeqLen: 512,
      batch: 1,
      heads: 8,
      kvHeads: 8,
      headDim: 64,
      causal: false,
      dtype: 'fp32',
      device: 'cpu',
      memoryPool: true,
      patternCache: true,
      status: 'ok',
      reason: '',
      medianMs: 2,
      p10Ms: 1.9,
      p90Ms: 2.1,
      tokensPerSecond: 1,
      gflops: 1,
      percentOfPeak: null,
      peakMemoryBytes: 1,
      interferenceFlagged: true,
    };
    expect(renderTable([row])).toContain('ok, under contention');
    expect(renderTable([{ ...row, interferenceFlagged: false }])).not.toContain('under contention');
    const html = renderHtmlReport({
      title: 't',
      generatedAt: 'now',
      resultsDir: 'd',
      latest: [row],
      overview: [],
      notes: [],
      runs: [
        {
          name: 'sequence-ranges t',
          ranking: [],
          sparse: [],
          expId: 'r1',
          suite: 'sequence-ranges',
          createdAt: 't',
          path: 'p',
          environment: undefined as never,
          config: {},
          charts: [],
          rows: [row],
          interference:
            'other processes used 48% of the CPUs during the run; 1 of 1 points ran under contention and are flagged',
        },
      ],
    });
    expect(html).toContain(
      'Interference: other processes used 48% of the CPUs during the run; 1 of 1 points ran under contention and are flagged.',
    );
  });
});
