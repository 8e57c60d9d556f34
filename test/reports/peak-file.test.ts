// `dilbench report` reads benchmark_results/peak.json as the machine peak it is: no "not a
// dilbench result file" warning, and % of peak for runs measured without a peak of their own.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateReport } from '../../src/reports/report/index.js';
import { savePeak } from '../../src/roofline/peak-store.js';
import { loadFixture } from './helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('report and peak.json', () => {
  it('reads peak.json as a peak and uses it for % of peak', async () => {
    const results = mkdtempSync(join(tmpdir(), 'dilbench-peakfile-'));
    const out = mkdtempSync(join(tmpdir(), 'dilbench-peakfile-out-'));
    dirs.push(results, out);
    const file = loadFixture('sequence-ranges_2026-11-20');
    const threads = file.results[0]!.threads;
    const simd = file.environment.simdLevel;
    delete file.environment.peak;
    writeFileSync(join(results, 'sequence-ranges_run.json'), JSON.stringify(file));
    await savePeak(
      {
        fmaGflops: 400,
        streamGBps: 20,
        threads,
        simdLevel: simd,
        durationSeconds: 2,
        measuredAt: '2026-11-20T09:00:00Z',
      },
      results,
    );
    const lines: string[] = [];
    const r = await generateReport({
      resultsDir: results,
      outDir: out,
      formats: ['json', 'md'],
      log: (l) => lines.push(l),
    });
    expect(r.resultFiles).toBe(1);
    expect(r.warnings.join('\n')).not.toMatch(/peak\.json/);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).not.toMatch(/not a dilbench result file/);
    expect(lines.join('\n')).toMatch(
      /peak: .*peak\.json \(400\.0 GFLOP\/s FMA, 20\.0 GB\/s.*used for 1 result file/,
    );
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as {
      rows: { gflops: number | null; percentOfPeak: number | null; status: string }[];
    };
    const ok = json.rows.filter((row) => row.status === 'ok' && row.gflops !== null);
    expect(ok.length).toBeGreaterThan(0);
    for (const row of ok)
      expect(row.percentOfPeak).toBeCloseTo(((row.gflops as number) / 400) * 100, 1);
  });
});
