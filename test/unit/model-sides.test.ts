// inference and scaling run every device/dtype side the model binding can run (cpu: fp32; cuda:
// fp32/fp16/bf16 with the CUDA model and a device), each on its own model, and compare each side
// with the first; sides that cannot run, or fail at run time, are recorded as skipped with the
// binding's reason (never faked); asking only for sides that cannot run exits 2. The bindings
// here are fakes (test/helpers/fake-model.ts, test/inference/fake-cuda-binding.ts).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configError } from '../helpers/config-error.js';
import {
  METRICS_CSV,
  METRICS_JSON,
  runInferenceBenchmark,
  type InferenceMetricsFile,
} from '../../src/inference/benchmark.js';
import {
  CPU_MODEL_DTYPE_REASON,
  NO_CUDA_MODEL_REASON,
  modelSides,
} from '../../src/inference/sides.js';
import { run } from '../../src/cli/main.js';
import { Dilbench } from '../../src/native/dilbench.js';
import type { ModelBinding } from '../../src/native/model-binding.js';
import { runScaling } from '../../src/scaling/run.js';
import { captureOutput } from '../helpers/capture-output.js';
import { createFakeModelBinding, type FakeModelCall } from '../helpers/fake-model.js';
import {
  createFakeCudaModelBinding,
  FAKE_CUDA_TIME_SCALE,
} from '../inference/fake-cuda-binding.js';

const dir = mkdtempSync(join(tmpdir(), 'dilbench-model-sides-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cpuOnly = createFakeModelBinding(); // no cudaCompiled, no info(): an addon without the CUDA model
const withGpu = createFakeCudaModelBinding();
const zeroDevices = createFakeCudaModelBinding({ deviceCount: 0 });
const ZERO_DEVICE_REASON =
  'no CUDA device: the CUDA backend is built but no device is usable (cudaErrorNoDevice)';

function parseCsv(text: string): Record<string, string>[] {
  const [head, ...rows] = text
    .trim()
    .split('\n')
    .map((l) => l.split(','));
  return rows.map((r) => Object.fromEntries(head!.map((h, i) => [h, r[i] ?? ''])));
}

/** Runs the CLI with stdout and stderr captured, a fake model binding in the addon's stead. */
async function cliOn(
  models: ModelBinding,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const dilbench = new Dilbench({ models });
  const {
    result: code,
    out,
    err,
  } = await captureOutput(() => run(['node', 'dilbench', ...args], dilbench));
  return { code, out, err };
}

const SMALL = {
  model: 'gpt2',
  promptLength: 4,
  maxLength: 5,
  runs: 1,
  warmup: 1,
  threads: 1,
  plots: false,
} as const;

describe('model sides: resolution against the binding', () => {
  it("without a CUDA model: cpu/fp32 runs, the others are skipped with the binding's reason", () => {
    expect(modelSides({}, cpuOnly).sides).toEqual([{ device: 'cpu', dtype: 'fp32', status: 'ok' }]);
    expect(modelSides({ device: 'auto' }, cpuOnly)).toMatchObject({
      sides: [{ device: 'cpu', status: 'ok' }],
      deviceSelection: {
        requested: 'auto',
        device: 'cpu',
        reason: `auto: ${NO_CUDA_MODEL_REASON}`,
      },
    });
    expect(modelSides({ compareDtypes: 'fp32,bf16', compareDevices: true }, cpuOnly).sides).toEqual(
      [
        { device: 'cpu', dtype: 'fp32', status: 'ok' },
        { device: 'cpu', dtype: 'bf16', status: 'skipped', reason: CPU_MODEL_DTYPE_REASON },
        { device: 'cuda', dtype: 'fp32', status: 'skipped', reason: NO_CUDA_MODEL_REASON },
        { device: 'cuda', dtype: 'bf16', status: 'skipped', reason: NO_CUDA_MODEL_REASON },
      ],
    );
  });

  it('CUDA model built but no device: cuda sides skipped with the device reason; auto chooses cpu', () => {
    expect(modelSides({ compareDevices: true }, zeroDevices).sides).toEqual([
      { device: 'cpu', dtype: 'fp32', status: 'ok' },
      { device: 'cuda', dtype: 'fp32', status: 'skipped', reason: ZERO_DEVICE_REASON },
    ]);
    expect(modelSides({ device: 'auto' }, zeroDevices).deviceSelection).toEqual({
      requested: 'auto',
      device: 'cpu',
      reason: `auto: ${ZERO_DEVICE_REASON}`,
    });
    expect(configError(() => modelSides({ device: 'cuda' }, zeroDevices))).toMatchObject({
      field: 'device',
      detail: ZERO_DEVICE_REASON,
    });
  });

  it('with a device: cuda runs fp32, fp16 and bf16; cpu half sides skipped; auto chooses cuda', () => {
    expect(
      modelSides({ compareDtypes: 'fp32,fp16,bf16', compareDevices: true }, withGpu).sides,
    ).toEqual([
      { device: 'cpu', dtype: 'fp32', status: 'ok' },
      { device: 'cpu', dtype: 'fp16', status: 'skipped', reason: CPU_MODEL_DTYPE_REASON },
      { device: 'cpu', dtype: 'bf16', status: 'skipped', reason: CPU_MODEL_DTYPE_REASON },
      { device: 'cuda', dtype: 'fp32', status: 'ok' },
      { device: 'cuda', dtype: 'fp16', status: 'ok' },
      { device: 'cuda', dtype: 'bf16', status: 'ok' },
    ]);
    const auto = modelSides({ device: 'auto', dtype: 'bf16' }, withGpu);
    expect(auto.sides).toEqual([{ device: 'cuda', dtype: 'bf16', status: 'ok' }]);
    expect(auto.deviceSelection).toMatchObject({
      device: 'cuda',
      reason: expect.stringContaining('Fake GPU (compute capability 9.0'),
    });
    expect(
      modelSides({ device: 'cuda', compareDtypes: 'bf16,fp16' }, withGpu).sides.map(
        (s) => s.status,
      ),
    ).toEqual(['ok', 'ok']);
  });

  it('only sides that cannot run, or bad values: a ConfigError naming the field and what is allowed', () => {
    expect(configError(() => modelSides({ dtype: 'bf16' }, cpuOnly))).toMatchObject({
      field: 'dtype',
      allowed: 'fp32',
      detail: CPU_MODEL_DTYPE_REASON,
    });
    expect(configError(() => modelSides({ dtype: 'bf16' }, withGpu))).toMatchObject({
      field: 'dtype',
      allowed: 'fp32 on cpu; fp32, fp16, bf16 with --device cuda',
    });
    expect(configError(() => modelSides({ device: 'cuda' }, cpuOnly))).toMatchObject({
      field: 'device',
      detail: NO_CUDA_MODEL_REASON,
    });
    expect(configError(() => modelSides({ compareDtypes: 'bf16,fp16' }, cpuOnly)).field).toBe(
      'compareDtypes',
    );
    expect(configError(() => modelSides({ dtype: 'fp64' }, withGpu)).allowed).toBe(
      'fp32, fp16, bf16',
    );
    expect(
      configError(() => modelSides({ compareDevices: true, device: 'cpu' }, withGpu)).field,
    ).toBe('compareDevices');
  });
});

describe('inference: one model per side, compared with the first side', () => {
  it('--compare-devices --compare-dtypes fp32,bf16 on a CUDA binding: records, mode checks and side ratios per prompt and mode', async () => {
    const out = join(dir, 'inf-cuda');
    const b = createFakeCudaModelBinding({ changeTokensFrom: { 'cuda/bf16': 2 } });
    const r = await runInferenceBenchmark({
      ...SMALL,
      benchmarkDir: out,
      compareDtypes: 'fp32,bf16',
      compareDevices: true,
      binding: b,
      warn: () => undefined,
    });
    // each side: its own model, disposed before the next is built
    expect(b.events).toEqual([
      'create cpu/fp32',
      'dispose cpu/fp32',
      'create cuda/fp32',
      'dispose cuda/fp32',
      'create cuda/bf16',
      'dispose cuda/bf16',
    ]);
    expect(r.sides.map((s) => `${s.device}/${s.dtype} ${s.status}`)).toEqual([
      'cpu/fp32 ok',
      'cpu/bf16 skipped',
      'cuda/fp32 ok',
      'cuda/bf16 ok',
    ]);
    expect(r.records.map((x) => `${x.device}/${x.dtype} ${x.mode}`)).toEqual([
      'cpu/fp32 recompute',
      'cpu/fp32 kv-cache',
      'cuda/fp32 recompute',
      'cuda/fp32 kv-cache',
      'cuda/bf16 recompute',
      'cuda/bf16 kv-cache',
    ]);
    // the two modes' tokens are checked per side
    expect(r.comparisons.map((c) => [`${c.device}/${c.dtype}`, c.tokens_identical])).toEqual([
      ['cpu/fp32', true],
      ['cuda/fp32', true],
      ['cuda/bf16', true],
    ]);
    expect(r.sideComparisons).toHaveLength(4); // 2 sides x 1 prompt x 2 modes
    for (const c of r.sideComparisons) {
      const side = r.records.find((x) => `${x.device}/${x.dtype}` === c.side && x.mode === c.mode)!;
      const base = r.records.find(
        (x) => x.device === 'cpu' && x.dtype === 'fp32' && x.mode === c.mode,
      )!;
      expect(c.baseline).toBe('cpu/fp32');
      expect(c.tokens_per_second_ratio).toBeCloseTo(
        side.tokens_per_second / base.tokens_per_second,
        3,
      );
      expect(c.tokens_per_second_ratio).toBeCloseTo(1 / FAKE_CUDA_TIME_SCALE, 1); // the fake's cuda is 10x faster
      expect(c.peak_memory_ratio).toBeCloseTo(side.peak_memory_mb / base.peak_memory_mb, 3);
    }
    const fp32 = r.sideComparisons.filter((c) => c.side === 'cuda/fp32');
    expect(
      fp32.every(
        (c) => c.tokens_match_baseline && c.tokens_must_match && c.token_agreement_pct === 100,
      ),
    ).toBe(true);
    const bf16 = r.sideComparisons.filter((c) => c.side === 'cuda/bf16');
    expect(
      bf16.map((c) => [
        c.tokens_match_baseline,
        c.tokens_must_match,
        c.first_mismatch,
        c.token_agreement_pct,
      ]),
    ).toEqual([
      [false, false, 2, 40],
      [false, false, 2, 40],
    ]);
    expect(bf16[0]!.peak_memory_ratio!).toBeLessThan(1); // half the weight bytes
    expect(r.sidesAgree).toBe(true); // bf16 differences are reported, not failures
    expect(r.allIdentical).toBe(true);
    expect(
      r.warnings.some((w) =>
        /cuda\/bf16 .* differ from cpu\/fp32's .*reported, not a failure/.test(w),
      ),
    ).toBe(true);

    const json = JSON.parse(readFileSync(join(out, METRICS_JSON), 'utf8')) as InferenceMetricsFile;
    expect(json.side_comparisons).toEqual(r.sideComparisons);
    expect(json.invocations[0]!.sides!.map((s) => s.status)).toEqual(['ok', 'skipped', 'ok', 'ok']);
    expect(json.invocations[0]!.sides![2]!.setup_ms).toEqual(expect.any(Number));
    const rows = parseCsv(readFileSync(join(out, METRICS_CSV), 'utf8'));
    expect(rows.map((x) => `${x.device}/${x.dtype}`)).toEqual([
      'cpu/fp32',
      'cpu/fp32',
      'cuda/fp32',
      'cuda/fp32',
      'cuda/bf16',
      'cuda/bf16',
    ]);
    expect(rows.filter((x) => x.dtype === 'bf16').map((x) => Number(x.weights_mb))).toEqual(
      rows
        .filter((x) => x.device === 'cuda' && x.dtype === 'fp32')
        .map((x) => Number(x.weights_mb) / 2),
    );

    // a second run on the same directory keeps the first one's side comparisons
    await runInferenceBenchmark({
      ...SMALL,
      benchmarkDir: out,
      compareDevices: true,
      binding: createFakeCudaModelBinding(),
    });
    expect(
      (JSON.parse(readFileSync(join(out, METRICS_JSON), 'utf8')) as InferenceMetricsFile)
        .side_comparisons,
    ).toHaveLength(6);
  });

  it('a side failing at run time is skipped with the reason; the others run and are written', async () => {
    const out = join(dir, 'inf-fail');
    const b = createFakeCudaModelBinding({
      failGenerate: { 'cuda/fp32': 'cudaMalloc: out of memory (device 0)' },
    });
    const warnings: string[] = [];
    const r = await runInferenceBenchmark({
      ...SMALL,
      benchmarkDir: out,
      compareDtypes: 'fp32,fp16',
      compareDevices: true,
      binding: b,
      warn: (w) => warnings.push(w),
    });
    expect(r.sides[2]).toEqual({
      device: 'cuda',
      dtype: 'fp32',
      status: 'skipped',
      reason: 'failed at run time: cudaMalloc: out of memory (device 0) (ERR_DILBENCH_NATIVE)',
    });
    expect(b.events).toContain('dispose cuda/fp32'); // the failed side's model was released
    expect([...new Set(r.records.map((x) => `${x.device}/${x.dtype}`))]).toEqual([
      'cpu/fp32',
      'cuda/fp16',
    ]);
    expect(r.sideComparisons.map((c) => c.side)).toEqual(['cuda/fp16', 'cuda/fp16']);
    expect(
      warnings.some((w) =>
        w.startsWith('cuda/fp32 skipped: failed at run time: cudaMalloc: out of memory'),
      ),
    ).toBe(true);
    const json = JSON.parse(readFileSync(join(out, METRICS_JSON), 'utf8')) as InferenceMetricsFile;
    expect(json.runs).toHaveLength(4);
    expect(json.invocations[0]!.sides![2]!.status).toBe('skipped');

    // the only side failing: its error is the answer (nothing written)
    await expect(
      runInferenceBenchmark({
        ...SMALL,
        benchmarkDir: join(dir, 'inf-fail-all'),
        device: 'cuda',
        binding: b,
        warn: () => undefined,
      }),
    ).rejects.toThrow(/out of memory/);
    // an implementation the CUDA model does not have: that side is skipped with the binding's reason
    const impl = await runInferenceBenchmark({
      ...SMALL,
      benchmarkDir: join(dir, 'inf-impl'),
      compareDevices: true,
      implementation: 'dilated',
      binding: createFakeCudaModelBinding(),
      warn: () => undefined,
    });
    expect(impl.sides[1]!.reason).toMatch(
      /^failed at run time: implementation: 'dilated' is not available for CUDA models .*field implementation/,
    );
  });

  it('fp32 sides that generate different tokens fail the run (exit 1); the records are still written', async () => {
    const mismatch = createFakeCudaModelBinding({ changeTokensFrom: { 'cuda/fp32': 3 } });
    const out = join(dir, 'inf-mismatch');
    const r = await cliOn(mismatch, [
      'inference',
      '--prompt-length',
      '4',
      '--max-length',
      '5',
      '--runs',
      '1',
      '--warmup',
      '0',
      '--threads',
      '1',
      '--no-plots',
      '--benchmark-dir',
      out,
      '--compare-devices',
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('two fp32 sides generated different tokens');
    expect(r.out).toMatch(/cuda\/fp32 .*60% agree \(first diff 3\) MISMATCH/);
    expect(
      (JSON.parse(readFileSync(join(out, METRICS_JSON), 'utf8')) as InferenceMetricsFile).runs,
    ).toHaveLength(4);
  });

  it('--device auto runs on cuda when the binding has a device, on cpu when not; the choice is recorded', async () => {
    const gpu = createFakeCudaModelBinding();
    const r = await runInferenceBenchmark({
      ...SMALL,
      benchmarkDir: join(dir, 'auto-gpu'),
      device: 'auto',
      dtype: 'fp16',
      binding: gpu,
    });
    expect(gpu.events).toEqual(['create cuda/fp16', 'dispose cuda/fp16']);
    expect(r.records.map((x) => `${x.device}/${x.dtype}`)).toEqual(['cuda/fp16', 'cuda/fp16']);
    const inv = (
      JSON.parse(readFileSync(join(dir, 'auto-gpu', METRICS_JSON), 'utf8')) as InferenceMetricsFile
    ).invocations[0]!;
    expect(inv.device_selection).toMatchObject({ requested: 'auto', device: 'cuda' });
    const none = createFakeCudaModelBinding({ deviceCount: 0 });
    const c = await runInferenceBenchmark({
      ...SMALL,
      benchmarkDir: join(dir, 'auto-cpu'),
      device: 'auto',
      binding: none,
    });
    expect(none.events).toEqual(['create cpu/fp32', 'dispose cpu/fp32']);
    expect(c.records.map((x) => x.device)).toEqual(['cpu', 'cpu']);
  });

  it('without a CUDA model: fp32 records only, the skipped sides in the result and the metrics file', async () => {
    const out = join(dir, 'inf');
    const calls: FakeModelCall[] = [];
    const r = await runInferenceBenchmark({
      ...SMALL,
      warmup: 0,
      benchmarkDir: out,
      compareDtypes: 'fp32,bf16',
      compareDevices: true,
      binding: createFakeModelBinding({ calls }),
    });
    expect(r.records.map((x) => [x.mode, x.device, x.dtype])).toEqual([
      ['recompute', 'cpu', 'fp32'],
      ['kv-cache', 'cpu', 'fp32'],
    ]);
    expect(calls.filter((c) => c.kind === 'generate')).toHaveLength(2); // one side ran, once per mode
    expect(r.sideComparisons).toEqual([]);
    expect(
      r.sides
        .filter((s) => s.status === 'skipped')
        .map((s) => `${s.device}/${s.dtype}: ${s.reason}`),
    ).toEqual([
      `cpu/bf16: ${CPU_MODEL_DTYPE_REASON}`,
      `cuda/fp32: ${NO_CUDA_MODEL_REASON}`,
      `cuda/bf16: ${NO_CUDA_MODEL_REASON}`,
    ]);
    const json = JSON.parse(readFileSync(join(out, METRICS_JSON), 'utf8')) as InferenceMetricsFile;
    expect(json.invocations[0]!.sides!.map((s) => s.status)).toEqual(r.sides.map((s) => s.status));
    expect(json.side_comparisons).toBeUndefined();
    const header = readFileSync(join(out, METRICS_CSV), 'utf8').split('\n')[0]!.split(',');
    expect(header).toEqual(expect.arrayContaining(['device', 'dtype']));
  });
});

describe('scaling: the context lengths per side', () => {
  const cfg = {
    name: 'tiny',
    arch: 'decoder',
    model: 'gpt2',
    context_lengths: [8, 16],
    num_tokens: 2,
    num_runs: 2,
    warmup_runs: 1,
    implementation: 'flash',
  };

  it('--compare-devices --compare-dtypes fp32,fp16: points and rows per side, ratios against the first side, one curve per side', async () => {
    const out = join(dir, 'scal-cuda');
    const b = createFakeCudaModelBinding();
    const r = await runScaling({
      config: cfg as never,
      out,
      binding: b,
      threads: 1,
      plots: true,
      compareDevices: true,
      compareDtypes: 'fp32,fp16',
    });
    expect(b.events).toEqual([
      'create cpu/fp32',
      'dispose cpu/fp32',
      'create cuda/fp32',
      'dispose cuda/fp32',
      'create cuda/fp16',
      'dispose cuda/fp16',
    ]);
    expect(r.file.points.map((p) => `${p.device}/${p.dtype}@${p.context_length}`)).toEqual([
      'cpu/fp32@8',
      'cpu/fp32@16',
      'cuda/fp32@8',
      'cuda/fp32@16',
      'cuda/fp16@8',
      'cuda/fp16@16',
    ]);
    expect(r.file.sides!.map((s) => s.status)).toEqual(['ok', 'skipped', 'ok', 'ok']);
    expect(r.file.side_comparisons).toHaveLength(4);
    for (const c of r.file.side_comparisons!) {
      expect(c.baseline).toBe('cpu/fp32');
      expect(c.latency_ratio).toBeCloseTo(c.latency_ms / c.baseline_latency_ms, 3);
      expect(c.latency_ratio).toBeCloseTo(FAKE_CUDA_TIME_SCALE, 3);
      expect(c.peak_memory_ratio).toBeCloseTo(
        c.peak_memory_bytes / c.baseline_peak_memory_bytes,
        3,
      );
    }
    expect(JSON.parse(readFileSync(r.files.json, 'utf8')).side_comparisons).toEqual(
      r.file.side_comparisons,
    );
    const rows = parseCsv(readFileSync(r.files.csv, 'utf8'));
    expect(rows.map((x) => `${x.device}/${x.dtype}`)).toEqual([
      'cpu/fp32',
      'cpu/fp32',
      'cuda/fp32',
      'cuda/fp32',
      'cuda/fp16',
      'cuda/fp16',
    ]);
    expect(readFileSync(r.files.figure!).subarray(1, 4).toString('latin1')).toBe('PNG');
  });

  it('a side failing at run time is skipped with the reason; without a CUDA model the cuda side is skipped; cpu fp16 refused', async () => {
    const out = join(dir, 'scal');
    const failing = await runScaling({
      config: cfg as never,
      out,
      threads: 1,
      plots: false,
      compareDevices: true,
      binding: createFakeCudaModelBinding({ failGenerate: { 'cuda/fp32': 'device lost' } }),
    });
    expect(failing.file.sides![1]).toMatchObject({
      status: 'skipped',
      reason: 'failed at run time: device lost (ERR_DILBENCH_NATIVE)',
    });
    expect(failing.file.points.every((p) => p.device === 'cpu')).toBe(true);
    expect(failing.warnings).toContain(
      'tiny: cuda/fp32 skipped: failed at run time: device lost (ERR_DILBENCH_NATIVE)',
    );
    expect(failing.file.side_comparisons).toBeUndefined();

    const r = await runScaling({
      config: cfg as never,
      out,
      binding: createFakeModelBinding(),
      threads: 1,
      plots: false,
      compareDevices: true,
    });
    expect(r.file.points).toHaveLength(2);
    expect(r.file.sides).toEqual([
      { device: 'cpu', dtype: 'fp32', status: 'ok' },
      { device: 'cuda', dtype: 'fp32', status: 'skipped', reason: NO_CUDA_MODEL_REASON },
    ]);
    expect(JSON.parse(readFileSync(r.files.json, 'utf8')).sides).toEqual(r.file.sides);
    await expect(
      runScaling({ config: cfg as never, out, binding: createFakeModelBinding(), dtype: 'fp16' }),
    ).rejects.toMatchObject({ field: 'dtype' });
  });
});

describe('the CLI', () => {
  it('side-by-side table and skipped sides printed; impossible requests exit 2 naming the flag', async () => {
    const gpuModels = createFakeCudaModelBinding();
    const cmp = await cliOn(gpuModels, [
      'inference',
      '--prompt-length',
      '4',
      '--max-length',
      '2',
      '--runs',
      '1',
      '--warmup',
      '0',
      '--threads',
      '1',
      '--no-plots',
      '--benchmark-dir',
      join(dir, 'cli'),
      '--compare-dtypes',
      'fp32,fp16',
      '--compare-devices',
    ]);
    expect(cmp.code, cmp.err).toBe(0);
    expect(cmp.out).toMatch(
      /side vs cpu\/fp32 +prompt +mode +tokens\/s +speed +peak MiB +memory +tokens vs baseline/,
    );
    expect(cmp.out).toMatch(/cuda\/fp16 .* kv-cache .* 10\.00x .*x +same/);
    expect(cmp.out).toContain(`cpu/fp16 skipped: ${CPU_MODEL_DTYPE_REASON}`);
    const yaml = join(dir, 'tiny-scaling.yaml');
    writeFileSync(
      yaml,
      'name: tiny\narch: decoder\nmodel: gpt2\ncontext_lengths: [8, 16]\nnum_tokens: 2\nnum_runs: 1\nwarmup_runs: 0\nimplementation: flash\n',
    );
    const scal = await cliOn(gpuModels, [
      'scaling',
      '--config',
      yaml,
      '--compare-devices',
      '--compare-dtypes',
      'fp32,bf16',
      '--out',
      join(dir, 'cli-scal'),
      '--threads',
      '1',
      '--no-plots',
    ]);
    expect(scal.code, scal.err).toBe(0);
    expect(scal.out).toMatch(/side +context +latency ms/);
    expect(scal.out).toMatch(/cuda\/bf16 +16 /);
    expect(scal.out).toContain('cuda/bf16 vs cpu/fp32 at context 16: latency 0.10x, peak memory');
    expect(scal.out).toContain(`cpu/bf16 skipped: ${CPU_MODEL_DTYPE_REASON}`);

    const cpuModels = createFakeModelBinding();
    const ok = await cliOn(cpuModels, [
      'inference',
      '--prompt-length',
      '4',
      '--max-length',
      '2',
      '--runs',
      '1',
      '--warmup',
      '0',
      '--threads',
      '1',
      '--no-plots',
      '--benchmark-dir',
      join(dir, 'cli'),
      '--compare-dtypes',
      'fp32,fp16',
    ]);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain(`cpu/fp16 skipped: ${CPU_MODEL_DTYPE_REASON}`);
    const bad = await cliOn(cpuModels, [
      'inference',
      '--dtype',
      'bf16',
      '--benchmark-dir',
      join(dir, 'cli'),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/invalid --dtype: "bf16" .*; allowed: fp32/);
    const both = await cliOn(cpuModels, [
      'inference',
      '--device',
      'cpu',
      '--compare-devices',
      '--benchmark-dir',
      join(dir, 'cli'),
    ]);
    expect(both.code).toBe(2);
    expect(both.err).toContain('--compare-devices');
    const noCuda = await cliOn(cpuModels, [
      'scaling',
      '--config',
      'configs/bench/infer_decoder_scaling.yaml',
      '--device',
      'cuda',
      '--out',
      join(dir, 'cli'),
    ]);
    expect(noCuda.code).toBe(2);
    expect(noCuda.err).toContain(`invalid --device: "cuda" (${NO_CUDA_MODEL_REASON})`);
  });
});
