// `dilbench frameworks` end to end at a tiny size through the built CLI (`npm test` builds dist/
// first): exit 0, JSON and Markdown written and parseable, numerical agreement recorded; PyTorch
// reported as skipped with its reason when torch is absent. Skips (saying why) without the addon.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { frameworksOptionsFromFlags } from '../../src/cli/commands/frameworks.js';
import { outputDifference, significanceOf } from '../../src/frameworks/compare.js';
import { torchUnavailableReason } from '../../src/frameworks/pytorch.js';
import { loadOnnxRuntime } from '../../src/frameworks/onnxruntime.js';
import { loadBinding } from '../../src/native/dilbench.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = join(root, 'bin', 'dilbench.js');
const dir = mkdtempSync(join(tmpdir(), 'dilbench-frameworks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let addonProblem: string | null = null;
try {
  loadBinding();
} catch (e) {
  addonProblem = (e as Error).message.split('\n')[0] ?? 'addon failed to load';
}
if (addonProblem) console.warn(`frameworks end-to-end test skipped: ${addonProblem}`);
const ortAvailable = typeof (await loadOnnxRuntime()) !== 'string';
const torchReason = torchUnavailableReason();
if (torchReason) console.warn(`pytorch: ${torchReason}`);

describe('frameworks flags', () => {
  it('validates and defaults', () => {
    const o = frameworksOptionsFromFlags({ seqLens: ['64,1K'], frameworks: 'onnxruntime-mha' });
    expect(o.seqLens).toEqual([64, 1024]);
    expect(o.frameworks).toEqual(['dilbench', 'onnxruntime-mha']);
    expect(o.dtype).toBe('fp32');
    expect(() => frameworksOptionsFromFlags({ frameworks: 'tensorflow' })).toThrow(/--frameworks/);
    expect(() => frameworksOptionsFromFlags({ dtype: 'int8' })).toThrow(
      /--dtype.*fp32\|fp16\|bf16/,
    );
    expect(frameworksOptionsFromFlags({ dtype: 'bf16' }).dtype).toBe('bf16');
    expect(() => frameworksOptionsFromFlags({ heads: '0' })).toThrow(/--heads/);
  });

  it('statistics helpers', () => {
    expect(outputDifference([1, 2], [1, 2.5]).maxAbsError).toBeCloseTo(0.5);
    const fast = Array.from({ length: 20 }, (_, i) => 10 + (i % 5) * 0.1);
    const slow = fast.map((x) => x * 2);
    const s = significanceOf(64, 'onnxruntime-mha', fast, slow);
    expect(s.ratio).toBeCloseTo(2, 10);
    expect(s.ratioCi95[0]).toBeGreaterThan(1.8);
    expect(s.ratioCi95[1]).toBeLessThan(2.2);
    expect(s.verdict).toBe('dilbench faster');
    expect(s.p).toBeLessThan(0.05);
  });
});

describe.skipIf(addonProblem !== null)('dilbench frameworks end to end', () => {
  it('tiny size: exit 0, files parse, agreement recorded', () => {
    const r = spawnSync(
      process.execPath,
      [
        bin,
        'frameworks',
        '--seq-lens',
        '64',
        '--heads',
        '2',
        '--head-dim',
        '16',
        '--threads',
        '1',
        '--runs',
        '6',
        '--warmup',
        '1',
        '--causal',
        '--output-dir',
        dir,
      ],
      { cwd: root, encoding: 'utf8', timeout: 300_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const files = readdirSync(dir);
    const json = files.find((f) => f.startsWith('frameworks_') && f.endsWith('.json')) as string;
    const md = files.find((f) => f.startsWith('frameworks_') && f.endsWith('.md')) as string;
    const csv = files.find((f) => f.startsWith('frameworks_') && f.endsWith('.csv')) as string;
    expect(json).toBeTruthy();
    expect(md).toBeTruthy();
    expect(csv).toBeTruthy();
    const file = JSON.parse(readFileSync(join(dir, json), 'utf8'));
    // the CSV the README promises: one line per framework row, with its implementation and status
    const csvLines = readFileSync(join(dir, csv), 'utf8').trim().split('\n');
    expect(csvLines).toHaveLength(1 + file.results.length);
    expect(csvLines[0]).toMatch(/(^|,)implementation(,|$)/);
    expect(csvLines.slice(1).some((l) => l.includes('dilbench:'))).toBe(true);
    expect(r.stdout).toContain(join(dir, csv));
    expect(file.suite).toBe('frameworks');
    const byName = new Map(
      file.results.map((x: { params: { framework: string } }) => [x.params.framework, x]),
    );
    expect((byName.get('dilbench') as { status: string }).status).toBe('ok');
    const markdown = readFileSync(join(dir, md), 'utf8');
    expect(markdown).toContain('### Fairness');
    // the shared report sections describe this run: no missing config fields, dilbench ranked
    expect(markdown).not.toMatch(/undefined|NaN/);
    expect(markdown).toContain('heads / kv heads / head dim: 2 / 2 / 16');
    expect(markdown).toContain('- sampling: 1 warm-up iterations, 6 timed iterations (fixed)');
    expect(markdown).not.toContain('No dense-attention point ran successfully');
    expect(markdown).toContain(
      "- what runs in dilbench: dilbench 'flash' kernel, fp32, [B, H, S, D]",
    );
    // 6 samples each: enough for a 95% interval, so the length is ranked (a winner or a tie)
    expect(markdown).toMatch(
      /## Fastest exact attention per length[\s\S]*\| 64 \| (tie: )?(dilbench:flash|onnxruntime-mha|onnxruntime-matmul|pytorch)[^|]* \|/,
    );
    if (ortAvailable) {
      for (const f of ['onnxruntime-mha', 'onnxruntime-matmul']) {
        const row = byName.get(f) as {
          status: string;
          validation: { maxAbsError: number; passed: boolean };
        };
        expect(row.status).toBe('ok');
        expect(row.validation.maxAbsError).toBeLessThan(1e-4);
        expect(row.validation.passed).toBe(true);
      }
      const agreement = file.config.frameworks.agreement as Array<{
        a: string;
        b: string;
        maxAbsError: number;
      }>;
      expect(agreement.length).toBeGreaterThanOrEqual(3);
      for (const a of agreement) expect(a.maxAbsError).toBeLessThan(1e-4);
      expect(file.config.frameworks.significance.length).toBeGreaterThanOrEqual(2);
      expect(markdown).toContain('### Numerical agreement');
    }
    const torch = byName.get('pytorch') as { status: string; reason: string };
    if (torchReason) {
      expect(torch.status).toBe('skipped');
      expect(torch.reason).toBe(torchReason);
      expect(r.stdout).toContain('pytorch at 64 skipped');
      console.log(`pytorch skipped: ${torchReason}`);
    } else {
      // real torch: same inputs, same answer as dilbench, memory counted from after `import torch`
      const row = torch as unknown as {
        status: string;
        validation: { maxAbsError: number; passed: boolean };
        peakMemoryBytes: number;
        params: { version: string };
      };
      expect(row.status).toBe('ok');
      expect(row.params.version).toMatch(/^torch /);
      expect(row.validation.maxAbsError).toBeLessThan(1e-4);
      expect(row.validation.passed).toBe(true);
      expect(row.peakMemoryBytes).toBeLessThan(64 * 2 ** 20);
    }
  });

  it('--dtype bf16: every framework that runs gets the same bf16 values and agrees within the bf16 tolerance; one without bf16 kernels is skipped with the reason', () => {
    const out = join(dir, 'bf16');
    const r = spawnSync(
      process.execPath,
      [
        bin,
        'frameworks',
        '--seq-lens',
        '48',
        '--heads',
        '2',
        '--head-dim',
        '16',
        '--threads',
        '1',
        '--runs',
        '3',
        '--warmup',
        '1',
        '--dtype',
        'bf16',
        '--output-dir',
        out,
      ],
      { cwd: root, encoding: 'utf8', timeout: 300_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const json = readdirSync(out).find((f) => f.endsWith('.json')) as string;
    const file = JSON.parse(readFileSync(join(out, json), 'utf8'));
    expect(file.config.dtype).toBe('bf16');
    const rows = file.results as Array<{
      dtype: string;
      status: string;
      reason: string | null;
      params: { framework: string };
      validation?: { passed: boolean; tolerance: { relL2: number } };
    }>;
    for (const row of rows) expect(row.dtype).toBe('bf16');
    expect(rows.find((x) => x.params.framework === 'dilbench')?.status).toBe('ok');
    for (const row of rows.filter((x) => x.params.framework !== 'dilbench')) {
      if (row.status === 'ok') {
        expect(row.validation?.passed, JSON.stringify(row)).toBe(true);
        expect(row.validation?.tolerance.relL2).toBe(2e-2);
      } else {
        expect(row.status).toBe('skipped');
        expect(row.reason).toBeTruthy();
      }
    }
    const md = readFileSync(join(out, json.replace(/\.json$/, '.md')), 'utf8');
    expect(md).toContain('rounded once to bf16');
  });
});
