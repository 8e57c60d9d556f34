// A peak you can divide by (issue 14 item 6): repeated measurements with their spread, % of peak
// with its uncertainty, figures over 100% explained, and suites that measure a missing peak.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runBenchmark, type RunBenchmarkOptions } from '../../src/api/run.js';
import { runPeak } from '../../src/cli/commands/peak.js';
import type { NativeBinding } from '../../src/native/binding.js';
import { Dilbench } from '../../src/native/dilbench.js';
import { constantRate } from '../../src/plan/calibrate.js';
import {
  overPeakNote,
  pctOfPeakText,
  rooflinePoint,
  streamShareText,
} from '../../src/roofline/index.js';
import { toMarkdown } from '../../src/reports/markdown.js';
import { summaryText } from '../../src/cli/summary.js';
import { createFakeBinding } from '../helpers/fake-binding.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'dilbench-peak-spread-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('dilbench peak --repeats', () => {
  it('keeps every repeat: the FMA peak is the best, the stream bandwidth the median, with their ranges', async () => {
    const fma = [90, 100, 95, 60, 99];
    const stream = [29, 33, 34, 28.9, 31];
    let k = 0;
    const dilbench = new Dilbench({
      binding: {
        async measurePeak(threads: number) {
          const i = k++;
          return { fmaGflops: fma[i], streamGBps: stream[i], threads, simdLevel: 'avx2' };
        },
        info: () => ({ cuda: { compiled: false, deviceCount: 0, devices: [] } }),
      } as unknown as NativeBinding,
    });
    let out = '';
    const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => true } };
    const dir = tmp();
    const res = await runPeak(dilbench, { threads: 2, duration: 0.1, outputDir: dir }, io);
    expect(k).toBe(5);
    expect(res).toMatchObject({
      fmaGflops: 100,
      streamGBps: 31,
      repeats: 5,
      fmaGflopsRange: [60, 100],
      streamGBpsRange: [28.9, 34],
    });
    expect(res.fmaGflopsRuns).toEqual(fma);
    expect(out).toMatch(/100\.0 GFLOP\/s \(best of 5; repeats 60\.0-100\.0\)/);
    expect(out).toMatch(/31\.0 GB\/s \(median of 5; repeats 28\.9-34\.0\)/);
    expect(JSON.parse(readFileSync(join(dir, 'peak.json'), 'utf8')).streamGBpsRuns).toEqual(stream);
    await expect(runPeak(dilbench, { repeats: '0' }, io)).rejects.toMatchObject({ exitCode: 2 });
  });
});

describe('% of peak with its uncertainty', () => {
  const peak = {
    fmaGflops: 100,
    streamGBps: 20,
    fmaGflopsRange: [80, 100] as [number, number],
    streamGBpsRange: [18, 22] as [number, number],
    repeats: 5,
  };
  it('spans the median interval against the spread of the peak repeats', () => {
    // 1e9 flops in 20 ms = 50 GFLOP/s; interval 19-21 ms
    const r = rooflinePoint({ flops: 1e9, bytes: 1e8, timeMs: 20, timeCi95Ms: [19, 21] }, peak);
    expect(r.pctOfPeakCompute).toBeCloseTo(50, 6);
    expect(r.pctOfPeakComputeRange![0]).toBeCloseTo((100 * (1e9 / 0.021 / 1e9)) / 100, 6);
    expect(r.pctOfPeakComputeRange![1]).toBeCloseTo((100 * (1e9 / 0.019 / 1e9)) / 80, 6);
    expect(r.overPeakNote).toBeUndefined();
    expect(pctOfPeakText(r)).toBe('50.0% (48-66)');
  });
  it('explains a figure over 100% and never prints it bare', () => {
    // 105 GFLOP/s against a best-of peak of 100 whose repeats went down to 80: within the uncertainty
    const within = rooflinePoint(
      { flops: 1.05e9, bytes: 1e8, timeMs: 10, timeCi95Ms: [9.9, 10.8] },
      peak,
    );
    expect(within.overPeakNote).toBe(
      '105% of the FMA peak is within the uncertainty of the two (97-133%)',
    );
    expect(pctOfPeakText(within)).toBe('105.0% (97-133) over peak, see note');
    // the slowest end of the interval against the best repeat still over 100%: not noise, said why
    const tight = rooflinePoint(
      { flops: 1.05e9, bytes: 1e8, timeMs: 10, timeCi95Ms: [9.9, 10.1] },
      peak,
    );
    expect(tight.overPeakNote).toMatch(
      /^105% of the FMA peak: the peak \(100\.0 GFLOP\/s; its 5 repeats spread 80\.0-100\.0 GFLOP\/s\) was measured lower than this machine can do/,
    );
    // far beyond: the peak was measured too low, or the flop count is not what runs
    expect(overPeakNote(150, [140, 160], 10, peak)).toMatch(
      /or the kernel executes fewer flops than its definition counts$/,
    );
    // bandwidth: cached bytes
    expect(overPeakNote(10, [9, 11], 119, peak)).toMatch(
      /119% of the stream bandwidth: .*served from caches/,
    );
    // inference's weight-read bandwidth against the stream peak
    expect(streamShareText(23.8, peak)).toMatch(
      /^119% \(108-132% over the peak's 5 repeats\) of the 20\.0 GB\/s stream bandwidth \(dilbench peak\); over 100%: .*served from caches.*read \+ write mix$/,
    );
    expect(streamShareText(10, { streamGBps: 20 })).toBe(
      '50% of the 20.0 GB/s stream bandwidth (dilbench peak)',
    );
  });
});

describe('suites measure a missing peak', () => {
  const GiB = 1024 ** 3;
  const base = {
    suite: 'sequence-ranges',
    range: 'custom',
    customLengths: [128],
    runs: 3,
    warmup: 1,
    plots: false,
    history: false,
    rates: constantRate(1e10),
  } satisfies Partial<RunBenchmarkOptions>;
  it('measures one first when there is no peak.json, says so, records it, and reports % of peak with its range', async () => {
    const dir = tmp();
    const notes: string[] = [];
    const file = await runBenchmark({
      ...base,
      outputDir: dir,
      binding: createFakeBinding(),
      onProgress: (e) => e.type === 'note' && notes.push(e.message),
    });
    expect(notes.join('\n')).toMatch(
      /no peak\.json in .*: measuring the machine peak for % of peak \(about 1 s on 2 threads; `dilbench peak` measures and stores a longer one, --no-peak skips\)/,
    );
    // recorded in the result, no file added to the output directory
    expect(existsSync(join(dir, 'peak.json'))).toBe(false);
    expect(file.environment.peak).toMatchObject({
      fmaGflops: 200,
      repeats: 3,
      fmaGflopsRange: [200, 200],
      measuredBy: 'sequence-ranges (no peak.json was found)',
    });
    const r = file.results.find((x) => x.status === 'ok')!;
    expect(r.roofline?.pctOfPeakComputeRange).toHaveLength(2);
    expect(summaryText(file)).toMatch(/% peak/);
    expect(toMarkdown(file)).toMatch(/% of peak/);
    // a stored peak.json (`dilbench peak`) is used instead of measuring
    writeFileSync(
      join(dir, 'peak.json'),
      JSON.stringify({
        fmaGflops: 150,
        streamGBps: 20,
        threads: 2,
        simdLevel: 'avx2',
        durationSeconds: 1,
        measuredAt: 'x',
      }),
    );
    const again: string[] = [];
    const second = await runBenchmark({
      ...base,
      outputDir: dir,
      binding: createFakeBinding(),
      onProgress: (e) => e.type === 'note' && again.push(e.message),
    });
    expect(again.join('\n')).not.toMatch(/measuring the machine peak/);
    expect(second.environment.peak?.fmaGflops).toBe(150);
    void GiB;
  });
  it('--no-peak skips it', async () => {
    const dir = tmp();
    const file = await runBenchmark({
      ...base,
      outputDir: dir,
      peak: false,
      binding: createFakeBinding(),
    });
    expect(existsSync(join(dir, 'peak.json'))).toBe(false);
    expect(file.environment.peak).toBeUndefined();
  });
});

describe('dilbench report tables', () => {
  it('% of peak with its interval, and over 100% with the reason, in Markdown and HTML', async () => {
    const { percentCell } = await import('../../src/reports/report/index.js');
    const { renderTable } = await import('../../src/reports/html/index.js');
    expect(
      percentCell({
        percentOfPeak: 50,
        percentOfPeakLow: 48,
        percentOfPeakHigh: 66,
        overPeakNote: '',
      }),
    ).toBe('50.0% (48-66)');
    const over = {
      percentOfPeak: 119,
      percentOfPeakLow: 108,
      percentOfPeakHigh: 132,
      overPeakNote: '119% of the FMA peak: the peak was measured lower',
    };
    expect(percentCell(over)).toBe(
      '119.0% (108-132): 119% of the FMA peak: the peak was measured lower',
    );
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
      peakMemoryBytes: 1,
      ...over,
    };
    expect(renderTable([row])).toContain(
      '119.0% (108-132): 119% of the FMA peak: the peak was measured lower',
    );
  });
});
