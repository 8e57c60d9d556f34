// `dilbench inference` end to end with the fake ModelBinding: files written and parse, CSV rows,
// PNGs decode, the identical-token check reported, the two modes compared; accumulation and a
// corrupt metrics file moved aside; option errors name the flag.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Resvg } from '@resvg/resvg-js';
import {
  runInferenceBenchmark,
  METRICS_CSV,
  METRICS_JSON,
  type InferenceMetricsFile,
} from '../../src/inference/benchmark.js';
import { Dilbench } from '../../src/native/dilbench.js';
import { run } from '../../src/cli/main.js';
import { captureOutput } from '../helpers/capture-output.js';
import { createFakeModelBinding, type FakeModelCall } from '../helpers/fake-model.js';

const dir = mkdtempSync(join(tmpdir(), 'dilbench-inference-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TINY_YAML =
  'name: tiny\narch: decoder\nvocabSize: 300\nmaxPositions: 64\nhidden: 16\nlayers: 2\nheads: 2\nkvHeads: 1\nintermediate: 32\nnorm: rmsnorm\nactivation: swiglu\npositional: rope\nropeTheta: 10000\ntiedEmbeddings: true\n';

function pngSize(path: string): { w: number; h: number } {
  const b = readFileSync(path);
  expect(b.subarray(1, 4).toString('latin1')).toBe('PNG');
  // decodes: resvg accepts it as an <image> href
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="data:image/png;base64,${b.toString('base64')}" width="10" height="10"/></svg>`;
  expect(new Resvg(svg).render().width).toBe(10);
  return { w: b.readUInt32BE(16), h: b.readUInt32BE(20) };
}

function parseCsv(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (q) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') q = false;
      else cell += c;
    } else if (c === '"') q = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  const [head, ...body] = rows;
  return body.map((r) => Object.fromEntries(head!.map((h, i) => [h, r[i] ?? ''])));
}

describe('inference benchmark (fake model binding)', () => {
  it('runs both modes per prompt, compares them and writes json, csv and two PNGs', async () => {
    const out = join(dir, 'a');
    const prompts = join(dir, 'prompts.txt');
    writeFileSync(
      prompts,
      'The future of artificial intelligence\n\nMachine learning is transforming\n',
    );
    const calls: FakeModelCall[] = [];
    const r = await runInferenceBenchmark({
      model: 'gpt2',
      promptsFile: prompts,
      maxLength: 12,
      runs: 2,
      warmup: 1,
      threads: 1,
      benchmarkDir: out,
      binding: createFakeModelBinding({ calls }),
    });
    // 2 prompts x 2 modes x (1 warm-up + 2 runs)
    expect(calls.filter((c) => c.kind === 'generate')).toHaveLength(12);
    expect(calls.filter((c) => c.useCache === false)).toHaveLength(6);
    expect(r.records).toHaveLength(4);
    expect(r.allIdentical).toBe(true);
    const [base, opt] = r.records;
    expect(base!.mode).toBe('recompute');
    expect(opt!.mode).toBe('kv-cache');
    expect(opt!.speedup).toBeGreaterThan(1);
    expect(opt!.kv_cache_mb).toBeGreaterThan(0);
    expect(base!.kv_cache_mb).toBe(0);
    expect(opt!.weights_mb).toBeCloseTo((124.44e6 * 4) / 1048576, -1);
    expect(opt!.tokens_per_second / (12 / (opt!.total_time_ms / 1000))).toBeCloseTo(1, 3);
    expect(opt!.time_per_token_ms / (opt!.total_time_ms / 12)).toBeCloseTo(1, 3);
    expect(opt!.first_token_latency_ms).toBeGreaterThan(0);
    expect(opt!.generated_text).toEqual(expect.any(String)); // GPT-2 vocabulary: decoded text
    expect(r.comparisons[0]).toMatchObject({ tokens_identical: true, first_mismatch: null });

    const json = JSON.parse(readFileSync(join(out, METRICS_JSON), 'utf8')) as InferenceMetricsFile;
    expect(json.kind).toBe('dilbench-inference-metrics');
    expect(json.runs).toHaveLength(4);
    expect(json.invocations[0]!.environment.cpuModel).toEqual(expect.any(String));
    const rows = parseCsv(readFileSync(join(out, METRICS_CSV), 'utf8'));
    expect(rows).toHaveLength(4);
    expect(rows.map((x) => x.mode)).toEqual(['recompute', 'kv-cache', 'recompute', 'kv-cache']);
    expect(rows[1]!.tokens_identical).toBe('true');
    expect(Number(rows[1]!.speedup)).toBeGreaterThan(1);
    expect(rows[0]!.prompt_label).toContain('p1: The future');
    const cmp = pngSize(join(out, 'optimization_comparison.png'));
    expect(cmp.w).toBeGreaterThan(600);
    pngSize(join(out, 'performance_over_time.png'));

    // a second run accumulates
    const r2 = await runInferenceBenchmark({
      model: 'gpt2',
      promptLength: 5,
      maxLength: 4,
      runs: 1,
      warmup: 0,
      threads: 1,
      benchmarkDir: out,
      binding: createFakeModelBinding(),
    });
    expect(r2.records[0]!.prompt_tokens).toBe(5);
    expect(
      (JSON.parse(readFileSync(join(out, METRICS_JSON), 'utf8')) as InferenceMetricsFile).runs,
    ).toHaveLength(6);
    expect(parseCsv(readFileSync(join(out, METRICS_CSV), 'utf8'))).toHaveLength(6);
  });

  it('reports tokens that differ between the modes', async () => {
    const out = join(dir, 'b');
    const warnings: string[] = [];
    const r = await runInferenceBenchmark({
      model: 'gpt2',
      prompt: 'Hello',
      maxLength: 6,
      runs: 1,
      warmup: 0,
      threads: 1,
      benchmarkDir: out,
      plots: false,
      binding: createFakeModelBinding({ divergeAt: 3 }),
      warn: (w) => warnings.push(w),
    });
    expect(r.allIdentical).toBe(false);
    expect(r.comparisons[0]).toMatchObject({ tokens_identical: false, first_mismatch: 3 });
    expect(warnings.join('\n')).toMatch(
      /different tokens \(first difference at generated token 3\)/,
    );
    expect(existsSync(join(out, 'optimization_comparison.png'))).toBe(false);
  });

  it('moves an unparsable metrics file aside with a warning', async () => {
    const out = join(dir, 'c');
    const tiny = join(dir, 'tiny.yaml');
    writeFileSync(tiny, TINY_YAML);
    await runInferenceBenchmark({
      model: tiny,
      prompt: 'x',
      maxLength: 2,
      runs: 1,
      warmup: 0,
      threads: 1,
      benchmarkDir: out,
      plots: false,
      binding: createFakeModelBinding(),
    });
    writeFileSync(join(out, METRICS_JSON), '{"runs": [ torn');
    const warnings: string[] = [];
    await runInferenceBenchmark({
      model: tiny,
      prompt: 'x',
      maxLength: 2,
      runs: 1,
      warmup: 0,
      threads: 1,
      benchmarkDir: out,
      plots: false,
      binding: createFakeModelBinding(),
      warn: (w) => warnings.push(w),
    });
    expect(warnings.join('\n')).toMatch(/DILBENCH_METRICS_MOVED/);
    const names = readdirSync(out);
    expect(names.some((n) => n.startsWith(`${METRICS_JSON}.corrupt-`))).toBe(true);
    expect(names.some((n) => n.startsWith(`${METRICS_CSV}.corrupt-`))).toBe(true);
    expect(
      (JSON.parse(readFileSync(join(out, METRICS_JSON), 'utf8')) as InferenceMetricsFile).runs,
    ).toHaveLength(2);
  });

  it('the CLI runs end to end and bad flags exit 2 naming the flag', async () => {
    const dilbench = new Dilbench({ models: createFakeModelBinding() });
    const runOnFake = (argv: string[]) => run(argv, dilbench);
    const out = join(dir, 'cli');
    const { result: codes, text } = await captureOutput(async () => [
      await runOnFake([
        'node',
        'dilbench',
        'inference',
        '--model',
        'gpt2',
        '--prompt',
        'Hello there',
        '--max-length',
        '5',
        '--runs',
        '1',
        '--warmup',
        '0',
        '--threads',
        '1',
        '--benchmark-dir',
        out,
        '--no-plots',
      ]),
      await runOnFake([
        'node',
        'dilbench',
        'inference',
        '--max-length',
        'lots',
        '--benchmark-dir',
        out,
      ]),
      await runOnFake(['node', 'dilbench', 'inference', '--model', 'nope', '--benchmark-dir', out]),
      await runOnFake([
        'node',
        'dilbench',
        'inference',
        '--model',
        'bert-base',
        '--benchmark-dir',
        out,
      ]),
      await runOnFake([
        'node',
        'dilbench',
        'inference',
        '--prompt-length',
        '1000',
        '--max-length',
        '100',
        '--benchmark-dir',
        out,
      ]),
    ]);
    expect(codes).toEqual([0, 2, 2, 2, 2]);
    expect(text).toMatch(/KV cache speedup [\d.]+x, memory [+-][\d.]+%, tokens identical/);
    expect(text).toContain('invalid --max-length: "lots"');
    expect(text).toContain('invalid --model: "nope"');
    expect(text).toMatch(/invalid --model: "bert-base".*decoder or encoder-decoder/);
    expect(text).toMatch(/invalid --max-length: 100; allowed: at most 24/);
    expect(parseCsv(readFileSync(join(out, METRICS_CSV), 'utf8'))).toHaveLength(2);
  });
});

describe('inference metrics under concurrency', () => {
  it('concurrent runs on one directory lose no records', async () => {
    const out = join(dir, 'concurrent');
    const one = () =>
      runInferenceBenchmark({
        model: 'gpt2',
        promptLength: 3,
        maxLength: 2,
        runs: 1,
        warmup: 0,
        threads: 1,
        benchmarkDir: out,
        plots: false,
        binding: createFakeModelBinding(),
      });
    await Promise.all([one(), one(), one(), one()]);
    const json = JSON.parse(readFileSync(join(out, METRICS_JSON), 'utf8')) as InferenceMetricsFile;
    expect(json.runs).toHaveLength(8);
    expect(new Set(json.runs.map((r) => r.run_id)).size).toBe(4);
    expect(json.runs[1]!.decode_weights_gbps).toBeGreaterThan(0);
    expect(readdirSync(out).filter((n) => n.includes('.lock'))).toEqual([]);
  });
});

describe('inference interrupted', () => {
  it('writes only prompts finished in both modes', async () => {
    const controller = new AbortController();
    const calls: FakeModelCall[] = [];
    const binding = createFakeModelBinding({
      calls,
      beforeGenerate: () => {
        if (calls.length === 2) controller.abort(); // during the second prompt
      },
    });
    const prompts = join(dir, 'int-prompts.txt');
    writeFileSync(prompts, 'one\ntwo\nthree\n');
    const out = join(dir, 'int');
    const r = await runInferenceBenchmark({
      model: 'gpt2',
      promptsFile: prompts,
      maxLength: 2,
      runs: 1,
      warmup: 0,
      threads: 1,
      benchmarkDir: out,
      plots: false,
      binding,
      signal: controller.signal,
    });
    expect(r.interrupted).toBe(true);
    expect(r.records.map((x) => x.prompt_label)).toEqual(['p1: one', 'p1: one']);
    expect(
      (JSON.parse(readFileSync(join(out, METRICS_JSON), 'utf8')) as InferenceMetricsFile).runs,
    ).toHaveLength(2);
  });
});
