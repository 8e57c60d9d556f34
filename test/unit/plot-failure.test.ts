// A plot that cannot be written is a warning: the result files and the history are kept.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runBenchmark, type FilesWritten } from '../../src/api/run.js';
import { constantRate } from '../../src/plan/calibrate.js';
import { createFakeBinding } from '../helpers/fake-binding.js';

vi.mock('../../src/reports/plots/index.js', () => ({
  writeSuitePlots: vi.fn(async () => {
    throw new Error('renderer exploded');
  }),
}));

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('runBenchmark with a failing plot renderer', () => {
  it('keeps the results and history and reports the failure as a warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dilbench-plotfail-'));
    dirs.push(dir);
    let written: FilesWritten | undefined;
    const file = await runBenchmark({
      suite: 'sequence-ranges',
      range: 'custom',
      customLengths: '128',
      runs: 2,
      warmup: 0,
      outputDir: dir,
      binding: createFakeBinding(),
      rates: constantRate(1e10),
      onFilesWritten: (w) => (written = w),
    });
    expect(file.results.every((r) => r.status === 'ok')).toBe(true);
    expect(written!.plots).toEqual([]);
    expect(written!.warnings).toEqual(['could not write the plots: renderer exploded']);
    const names = readdirSync(dir);
    expect(names.filter((n) => /\.(json|csv|md)$/.test(n))).toHaveLength(3);
    expect(names).toContain('history.jsonl');
  });
});
