// `dilbench inference` and `dilbench scaling` write one result file in the suites' schema through
// the results store, and the files they promise are views of it: re-deriving the views from the
// stored result file alone gives exactly what was written.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  METRICS_JSON,
  runInferenceBenchmark,
  type InferenceMetricsFile,
} from '../../src/inference/benchmark.js';
import { inferenceMetricsOf } from '../../src/inference/metrics-file.js';
import { parseResultFile } from '../../src/reports/json.js';
import { runScaling, scalingFileOf } from '../../src/scaling/run.js';
import { createFakeCudaModelBinding } from './fake-cuda-binding.js';

const dir = mkdtempSync(join(tmpdir(), 'dilbench-model-result-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the result file of the whole-model commands', () => {
  it('inference: one row per side, prompt and mode; inference_metrics.json is its view', async () => {
    const out = join(dir, 'inf');
    const r = await runInferenceBenchmark({
      model: 'gpt2',
      prompt: 'Hello world',
      maxLength: 4,
      runs: 2,
      warmup: 0,
      threads: 1,
      benchmarkDir: out,
      plots: false,
      compareDtypes: 'fp32,bf16',
      compareDevices: true,
      binding: createFakeCudaModelBinding(),
      warn: () => undefined,
    });
    const name = readdirSync(out).find((n) => /^inference_\d.*\.json$/.test(n))!;
    expect(r.files.result).toBe(join(out, name));
    for (const ext of ['csv', 'md']) expect(readdirSync(out)).toContain(name.replace('json', ext));
    const file = parseResultFile(readFileSync(join(out, name), 'utf8'));
    expect(file).toMatchObject({ suite: 'inference', command: 'inference', runId: r.runId });
    expect(file.model!.config.name).toBe('gpt2');
    // cpu/bf16 cannot run (the CPU model is fp32): a side with the reason, no rows
    expect(file.sides!.map((s) => `${s.device}/${s.dtype} ${s.status}`)).toEqual([
      'cpu/fp32 ok',
      'cpu/bf16 skipped',
      'cuda/fp32 ok',
      'cuda/bf16 ok',
    ]);
    expect(file.results.map((x) => `${x.device}/${x.dtype} ${x.model!.mode}`)).toEqual([
      'cpu/fp32 recompute',
      'cpu/fp32 kv-cache',
      'cuda/fp32 recompute',
      'cuda/fp32 kv-cache',
      'cuda/bf16 recompute',
      'cuda/bf16 kv-cache',
    ]);
    for (const row of file.results) {
      expect(row.samplesMs).toHaveLength(2);
      expect(row.model!.prefillSamplesMs).toHaveLength(2);
      expect(row.model!.tokens).toHaveLength(4);
      expect(row.stats!.medianMs).toBeGreaterThan(0);
    }
    // each side after the first against cpu/fp32: precision on cpu (none ran), device on cuda
    expect(file.comparisons!.device.map((c) => `${c.other.device}/${c.other.dtype}`)).toEqual([
      'cuda/fp32',
      'cuda/bf16',
    ]);
    const view = inferenceMetricsOf(file);
    const stored = JSON.parse(
      readFileSync(join(out, METRICS_JSON), 'utf8'),
    ) as InferenceMetricsFile;
    expect(stored.runs).toEqual(view.records);
    expect(stored.comparisons).toEqual(view.comparisons);
    expect(stored.side_comparisons).toEqual(view.sideComparisons);
    expect(stored.invocations).toEqual([view.invocation]);
    // the Markdown view tells the modes apart and says what a sample timed
    const md = readFileSync(join(out, name.replace('json', 'md')), 'utf8');
    expect(md).toContain('Median time of one request');
    for (const mode of ['recompute', 'kv-cache'])
      expect(md).toMatch(new RegExp(`\\| flash \\(cpu, fp32\\) \\[${mode}, [^\\]]+\\] \\|`));
  });

  it('scaling: one row per side and context length; inference_scaling_<time>.json is its view', async () => {
    const out = join(dir, 'scal');
    const r = await runScaling({
      config: {
        name: 'enc',
        arch: 'encoder',
        model: 'bert-base',
        context_lengths: [8, 16],
        num_tokens: 0,
        num_runs: 2,
        warmup_runs: 0,
        implementation: 'flash',
      },
      out,
      threads: 1,
      plots: false,
      compareDevices: true,
      binding: createFakeCudaModelBinding(),
    });
    expect(r.files.result).toMatch(/results[\\/]scaling_.*\.json$/);
    const file = parseResultFile(readFileSync(r.files.result, 'utf8'));
    expect(file).toMatchObject({ suite: 'scaling', command: 'scaling' });
    expect(file.results.map((x) => `${x.device} ${x.seqLen}`)).toEqual([
      'cpu 8',
      'cpu 16',
      'cuda 8',
      'cuda 16',
    ]);
    // an encoder forward reports no memory: no measured peak, the estimate flagged
    for (const row of file.results) {
      expect(row.peakMemoryBytes).toBeNull();
      expect(row.estimatedMemoryBytes).toBeGreaterThan(0);
      expect(row.model!.memoryEstimated).toBe(true);
    }
    expect(JSON.parse(readFileSync(r.files.json, 'utf8'))).toEqual(scalingFileOf(file));
    expect(scalingFileOf(file).side_comparisons).toHaveLength(2);
  });
});
