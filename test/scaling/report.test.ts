// `dilbench report` picks up `dilbench scaling` experiments: tables/inference_results.csv,
// figs/latency_curve.png and an "Inference scaling" section in report.md, without warnings.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runScaling } from '../../src/scaling/run.js';
import { generateReport } from '../../src/reports/report/index.js';
import { createFakeModelBinding } from '../helpers/fake-model.js';

const dir = mkdtempSync(join(tmpdir(), 'dilbench-scaling-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dilbench report with scaling results', () => {
  it('writes the scaling table, the latency curve and a report.md section', async () => {
    const results = join(dir, 'benchmark_results');
    const binding = createFakeModelBinding();
    for (const [arch, model, tokens] of [
      ['encoder', 'bert-base', 0],
      ['decoder', 'gpt2', 3],
    ] as const) {
      await runScaling({
        config: {
          name: `r_${arch}`,
          arch,
          model,
          context_lengths: [8, 16],
          num_tokens: tokens,
          num_runs: 2,
          warmup_runs: 0,
          implementation: 'flash',
        },
        out: results,
        binding,
        threads: 1,
        plots: false,
      });
    }
    const out = join(dir, 'report');
    const r = await generateReport({
      resultsDir: results,
      outDir: out,
      formats: ['md', 'csv'],
      figureFormats: ['png'],
    });
    expect(r.warnings).toEqual([]);
    const csv = readFileSync(join(out, 'tables', 'inference_results.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(csv).toHaveLength(1 + 4);
    expect(existsSync(join(out, 'figs', 'latency_curve.png'))).toBe(true);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('## Inference scaling');
    expect(md).toContain('figs/latency_curve.png');
    expect(md).toMatch(/\| r_decoder_.* \| gpt2 \| decoder \| cpu\/fp32 \| 16 \|/);
  });
});
