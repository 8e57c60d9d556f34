// `dilbench scaling` with the fake ModelBinding: configs validated (errors name the field), the
// three architectures end to end (raw JSON, aggregated CSV, latency_curve.png), the CLI's exit codes.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { loadScalingConfig, validateScalingConfig } from '../../src/scaling/config.js';
import { loadScalingFiles, runScaling, TABLE_COLUMNS } from '../../src/scaling/run.js';
import { Dilbench } from '../../src/native/dilbench.js';
import { run } from '../../src/cli/main.js';
import { captureOutput } from '../helpers/capture-output.js';
import { createFakeModelBinding, type FakeModelCall } from '../helpers/fake-model.js';

const root = resolve(__dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'dilbench-scaling-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PRESETS = ['infer_encoder_scaling', 'infer_decoder_scaling', 'infer_encdec_scaling'];

function fieldOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).field;
  }
  throw new Error('no error');
}

describe('scaling configs', () => {
  it('the three shipped configs validate, one per architecture', () => {
    const archs = PRESETS.map(
      (p) => loadScalingConfig(join(root, 'configs/bench', `${p}.yaml`)).arch,
    );
    expect(archs).toEqual(['encoder', 'decoder', 'encoder-decoder']);
  });

  it('a bad field gets an error naming it, its value and what is allowed', () => {
    const good = {
      name: 'x',
      arch: 'decoder',
      model: 'gpt2',
      context_lengths: [8, 16],
      num_tokens: 4,
      num_runs: 2,
      warmup_runs: 0,
      implementation: 'flash',
    };
    expect(fieldOf(() => validateScalingConfig({ ...good, arch: 'transformer' }, 'f.yaml'))).toBe(
      'f.yaml: arch',
    );
    expect(
      fieldOf(() => validateScalingConfig({ ...good, context_lengths: [8, 'long'] }, 'f.yaml')),
    ).toBe('f.yaml: context_lengths');
    expect(
      fieldOf(() => validateScalingConfig({ ...good, context_lengths: [8, 8] }, 'f.yaml')),
    ).toBe('f.yaml: context_lengths');
    expect(fieldOf(() => validateScalingConfig({ ...good, num_runs: 0 }, 'f.yaml'))).toBe(
      'f.yaml: num_runs',
    );
    expect(fieldOf(() => validateScalingConfig({ ...good, num_tokens: 0 }, 'f.yaml'))).toBe(
      'f.yaml: num_tokens',
    );
    expect(fieldOf(() => validateScalingConfig({ ...good, warmup: 1 }, 'f.yaml'))).toBe(
      'f.yaml: warmup',
    );
    const { model: _m, ...noModel } = good;
    expect(fieldOf(() => validateScalingConfig(noModel, 'f.yaml'))).toBe('f.yaml: model');
    expect(() => validateScalingConfig({ ...good, arch: 'transformer' }, 'f.yaml')).toThrow(
      'invalid f.yaml: arch: "transformer"; allowed: decoder, encoder, encoder-decoder',
    );
    expect(validateScalingConfig({ ...good, context_lengths: [16, 8] }).context_lengths).toEqual([
      8, 16,
    ]);
  });

  it('model/arch mismatch and lengths beyond the model are errors naming the field', async () => {
    const binding = createFakeModelBinding();
    const p = join(dir, 'mismatch.yaml');
    writeFileSync(
      p,
      'name: m\narch: encoder\nmodel: gpt2\ncontext_lengths: [8]\nnum_tokens: 0\nnum_runs: 1\nwarmup_runs: 0\n',
    );
    await expect(runScaling({ config: p, out: dir, binding })).rejects.toThrow(
      /mismatch\.yaml: arch: "encoder"; allowed: the architecture of model gpt2 \(decoder\)/,
    );
    writeFileSync(
      p,
      'name: m\narch: decoder\nmodel: gpt2\ncontext_lengths: [8, 1000]\nnum_tokens: 50\nnum_runs: 1\nwarmup_runs: 0\n',
    );
    await expect(runScaling({ config: p, out: dir, binding })).rejects.toThrow(
      /context_lengths: .*too long: 1000/,
    );
  });
});

describe('scaling end to end (fake model binding)', () => {
  it('runs encoder, decoder and encoder-decoder; writes raw JSON, the aggregated CSV and the figure', async () => {
    const out = join(dir, 'out');
    const calls: FakeModelCall[] = [];
    const binding = createFakeModelBinding({ calls });
    const small = (arch: string, model: string, tokens: number): Record<string, unknown> => ({
      name: `tiny_${arch}`,
      arch,
      model,
      context_lengths: [16, 32, 64],
      num_tokens: tokens,
      num_runs: 2,
      warmup_runs: 1,
      implementation: 'flash',
    });
    const enc = await runScaling({
      config: small('encoder', 'bert-base', 0) as never,
      out,
      binding,
      threads: 1,
    });
    expect(calls.filter((c) => c.kind === 'forward').map((c) => c.promptLength)).toEqual([
      16, 16, 16, 32, 32, 32, 64, 64, 64,
    ]);
    await runScaling({ config: small('decoder', 'gpt2', 4) as never, out, binding, threads: 1 });
    expect(
      calls
        .filter((c) => c.kind === 'generate')
        .every((c) => c.useCache === true && c.newTokens === 4),
    ).toBe(true);
    const last = await runScaling({
      config: small('encoder-decoder', 't5-base', 4) as never,
      out,
      binding,
      threads: 1,
      plots: true,
    });

    const raw = JSON.parse(readFileSync(enc.files.json, 'utf8'));
    expect(raw.kind).toBe('dilbench-inference-scaling');
    expect(raw.environment.cpuModel).toEqual(expect.any(String));
    expect(raw.points[0].latency_samples_ms).toHaveLength(2);
    expect(enc.files.json).toMatch(/results[\\/]inference_scaling_.*\.json$/);

    const lines = readFileSync(join(out, 'tables', 'inference_results.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(lines[0]).toBe(TABLE_COLUMNS.join(','));
    expect(
      lines[0]!.startsWith('exp_id,model,arch,context_length,latency_ms,throughput,max_memory_gb'),
    ).toBe(true);
    expect(lines).toHaveLength(1 + 9);
    const rows = last.rows;
    expect(new Set(rows.map((r) => r.arch))).toEqual(
      new Set(['encoder', 'decoder', 'encoder-decoder']),
    );
    for (const r of rows) {
      expect(r.latency_ms).toBeGreaterThan(0);
      expect(r.latency_min_ms).toBeLessThanOrEqual(r.latency_ms);
      expect(r.latency_max_ms).toBeGreaterThanOrEqual(r.latency_ms);
      expect(r.throughput).toBeGreaterThan(0);
      expect(r.max_memory_gb).toBeGreaterThan(0);
    }
    const dec = rows.filter((r) => r.arch === 'decoder');
    expect(dec[2]!.latency_ms).toBeGreaterThan(dec[0]!.latency_ms);
    expect(dec[2]!.max_memory_gb).toBeGreaterThan(dec[0]!.max_memory_gb);
    expect(rows.find((r) => r.arch === 'encoder')!.memory_estimated).toBe(true);

    const png = readFileSync(join(out, 'figs', 'latency_curve.png'));
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.readUInt32BE(16)).toBeGreaterThan(800);
    expect(loadScalingFiles(out).files).toHaveLength(3);
  });

  it('the CLI: a shipped config end to end at a tiny size via a user config; bad config exits 2 naming the field', async () => {
    const dilbench = new Dilbench({ models: createFakeModelBinding() });
    const runOnFake = (argv: string[]) => run(argv, dilbench);
    const cfg = join(dir, 'cli.yaml');
    writeFileSync(
      cfg,
      readFileSync(join(root, 'configs/bench/infer_decoder_scaling.yaml'), 'utf8')
        .replace(/context_lengths: .*/, 'context_lengths: [8, 16]')
        .replace(/num_tokens: .*/, 'num_tokens: 3'),
    );
    const enc = join(dir, 'cli-enc.yaml');
    writeFileSync(
      enc,
      'name: e\narch: encoder\nmodel: bert-base\ncontext_lengths: [8, 16]\nnum_tokens: 0\nnum_runs: 1\nwarmup_runs: 0\n',
    );
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      'name: b\narch: decoder\nmodel: gpt2\ncontext_lengths: 128\nnum_tokens: 3\nnum_runs: 1\nwarmup_runs: 0\n',
    );
    const { result: codes, text } = await captureOutput(async () => [
      await runOnFake([
        'node',
        'dilbench',
        'scaling',
        '--config',
        cfg,
        enc,
        '--out',
        join(dir, 'cli-out'),
        '--threads',
        '1',
      ]),
      await runOnFake([
        'node',
        'dilbench',
        'scaling',
        '--config',
        bad,
        '--out',
        join(dir, 'cli-out'),
      ]),
      await runOnFake(['node', 'dilbench', 'scaling', '--config', join(dir, 'missing.yaml')]),
    ]);
    expect(codes).toEqual([0, 2, 2]);
    expect(text).toMatch(/figure: .*latency_curve\.png/);
    expect(text).toContain('e (encoder, bert-base)');
    expect(
      readFileSync(join(dir, 'cli-out', 'tables', 'inference_results.csv'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(1 + 4);
    expect(text).toContain('invalid bad.yaml: context_lengths: 128');
    expect(text).toMatch(/invalid config: ".*missing\.yaml"/);
  });
});

describe('scaling interrupted', () => {
  it('writes the context lengths completed before the signal, marked interrupted', async () => {
    const controller = new AbortController();
    const calls: FakeModelCall[] = [];
    const binding = createFakeModelBinding({
      calls,
      beforeGenerate: () => {
        if (calls.length === 2) controller.abort(); // during the second length
      },
    });
    const r = await runScaling({
      config: {
        name: 'int',
        arch: 'decoder',
        model: 'gpt2',
        context_lengths: [8, 16, 32],
        num_tokens: 2,
        num_runs: 2,
        warmup_runs: 0,
        implementation: 'flash',
      },
      out: join(dir, 'int'),
      binding,
      threads: 1,
      plots: false,
      signal: controller.signal,
    });
    expect(r.file.interrupted).toBe(true);
    expect(r.file.points.map((p) => p.context_length)).toEqual([8]);
  });
});
