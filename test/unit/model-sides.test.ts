// inference and scaling accept --device, --dtype, --compare-dtypes and --compare-devices: the model
// core runs fp32 on the CPU only, so that side runs and every other side asked for is recorded as
// skipped with the reason (never faked); asking only for sides that cannot run exits 2.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { METRICS_CSV, METRICS_JSON, runInferenceBenchmark, type InferenceMetricsFile } from '../../src/inference/benchmark.js';
import { MODEL_DEVICE_REASON, MODEL_DTYPE_REASON, modelSides } from '../../src/inference/sides.js';
import { setModelBinding } from '../../src/models/binding.js';
import { run } from '../../src/cli/main.js';
import { runScaling } from '../../src/scaling/run.js';
import { createFakeModelBinding } from '../helpers/fake-model.js';

const dir = mkdtempSync(join(tmpdir(), 'dilbench-model-sides-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => setModelBinding(undefined));

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

/** Runs the CLI with stdout and stderr captured. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
  try {
    const code = await run(['node', 'dilbench', ...args]);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

describe('model sides', () => {
  it('cpu/fp32 runs; cuda and half-precision sides are skipped with the reason', () => {
    expect(modelSides({}).sides).toEqual([{ device: 'cpu', dtype: 'fp32', status: 'ok' }]);
    expect(modelSides({ device: 'auto' })).toMatchObject({ sides: [{ device: 'cpu', status: 'ok' }], deviceSelection: { requested: 'auto', device: 'cpu' } });
    expect(modelSides({ compareDtypes: 'fp32,bf16', compareDevices: true }).sides).toEqual([
      { device: 'cpu', dtype: 'fp32', status: 'ok' },
      { device: 'cpu', dtype: 'bf16', status: 'skipped', reason: MODEL_DTYPE_REASON },
      { device: 'cuda', dtype: 'fp32', status: 'skipped', reason: MODEL_DEVICE_REASON },
      { device: 'cuda', dtype: 'bf16', status: 'skipped', reason: MODEL_DEVICE_REASON },
    ]);
  });

  it('only sides that cannot run, or bad values: a ConfigError naming the field', () => {
    expect(configError(() => modelSides({ dtype: 'bf16' }))).toMatchObject({ field: 'dtype', allowed: 'fp32', detail: MODEL_DTYPE_REASON });
    expect(configError(() => modelSides({ device: 'cuda' }))).toMatchObject({ field: 'device', detail: MODEL_DEVICE_REASON });
    expect(configError(() => modelSides({ compareDtypes: 'bf16,fp16' })).field).toBe('compareDtypes');
    expect(configError(() => modelSides({ dtype: 'fp64' })).allowed).toBe('fp32, fp16, bf16');
    expect(configError(() => modelSides({ compareDevices: true, device: 'cpu' })).field).toBe('compareDevices');
  });
});

describe('inference and scaling record the skipped sides', () => {
  it('inference --compare-dtypes fp32,bf16 --compare-devices: fp32 records only, the sides in the result and the metrics file', async () => {
    const out = join(dir, 'inf');
    const calls: { kind: string }[] = [];
    const r = await runInferenceBenchmark({
      model: 'gpt2', promptLength: 4, maxLength: 3, runs: 1, warmup: 0, threads: 1, benchmarkDir: out, plots: false,
      compareDtypes: 'fp32,bf16', compareDevices: true, binding: createFakeModelBinding({ calls }),
    });
    expect(r.records.map((x) => [x.mode, x.device, x.dtype])).toEqual([
      ['recompute', 'cpu', 'fp32'],
      ['kv-cache', 'cpu', 'fp32'],
    ]);
    expect(calls.filter((c) => c.kind === 'generate')).toHaveLength(2); // one side ran, once per mode
    expect(r.sides.filter((s) => s.status === 'skipped').map((s) => `${s.device}/${s.dtype}`)).toEqual(['cpu/bf16', 'cuda/fp32', 'cuda/bf16']);
    const json = JSON.parse(readFileSync(join(out, METRICS_JSON), 'utf8')) as InferenceMetricsFile;
    expect(json.invocations[0]!.sides).toEqual(r.sides);
    const header = readFileSync(join(out, METRICS_CSV), 'utf8').split('\n')[0]!.split(',');
    expect(header.at(-1)).toBe('dtype');
  });

  it('scaling --compare-devices: the result file lists the cuda side as skipped', async () => {
    const out = join(dir, 'scal');
    const cfg = { name: 'tiny', arch: 'decoder', model: 'gpt2', context_lengths: [8, 16], num_tokens: 2, num_runs: 1, warmup_runs: 0, implementation: 'flash' };
    const r = await runScaling({ config: cfg as never, out, binding: createFakeModelBinding(), threads: 1, plots: false, compareDevices: true });
    expect(r.file.points).toHaveLength(2);
    expect(r.file.sides).toEqual([
      { device: 'cpu', dtype: 'fp32', status: 'ok' },
      { device: 'cuda', dtype: 'fp32', status: 'skipped', reason: MODEL_DEVICE_REASON },
    ]);
    expect(JSON.parse(readFileSync(r.files.json, 'utf8')).sides).toEqual(r.file.sides);
    await expect(runScaling({ config: cfg as never, out, binding: createFakeModelBinding(), dtype: 'fp16' })).rejects.toMatchObject({ field: 'dtype' });
  });

  it('the CLI: skipped sides printed, impossible requests exit 2 naming the flag', async () => {
    setModelBinding(createFakeModelBinding());
    const ok = await cli(['inference', '--prompt-length', '4', '--max-length', '2', '--runs', '1', '--warmup', '0', '--threads', '1', '--no-plots', '--benchmark-dir', join(dir, 'cli'), '--compare-dtypes', 'fp32,fp16']);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain(`cpu/fp16 skipped: ${MODEL_DTYPE_REASON}`);
    const bad = await cli(['inference', '--dtype', 'bf16', '--benchmark-dir', join(dir, 'cli')]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/invalid --dtype: "bf16" .*; allowed: fp32/);
    const both = await cli(['inference', '--device', 'cpu', '--compare-devices', '--benchmark-dir', join(dir, 'cli')]);
    expect(both.code).toBe(2);
    expect(both.err).toContain('--compare-devices');
    const scal = await cli(['scaling', '--config', 'configs/bench/infer_decoder_scaling.yaml', '--device', 'cuda', '--out', join(dir, 'cli')]);
    expect(scal.code).toBe(2);
    expect(scal.err).toMatch(/invalid --device: "cuda" \(the transformer model core runs on the CPU only/);
  });
});
