// Python callables as plugins (issue 15): the SDPA wrapper and the head-group dilated attention of
// examples/plugins/python run beside the built-ins through the API and the CLI, validated against
// the float64 reference of their declared function; broken callables each cost their own failed
// rows; bad specs exit 2 naming the plugin. Needs torch (DILBENCH_PYTHON, else .ci/torch-venv from
// .ci/install-torch.sh, else python3); without it the tests skip and say why.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBenchmark } from '../../src/api/run.js';
import { torchUnavailableReason } from '../../src/frameworks/pytorch.js';
import type { ResultFile } from '../../src/results/types.js';
import { cli, distBuilt, root } from '../cli/helpers.js';

const venv = path.join(root, '.ci', 'torch-venv', 'bin', 'python');
const python = process.env.DILBENCH_PYTHON || (existsSync(venv) ? venv : 'python3');
const noTorch = torchUnavailableReason(python);
const skip = !distBuilt
  ? 'dist/ is not built (npm run build:ts)'
  : noTorch
    ? `${noTorch} (run .ci/install-torch.sh or set DILBENCH_PYTHON)`
    : '';
if (skip) console.log(`Python plugin tests skipped: ${skip}`);

const examples = path.join(root, 'examples', 'plugins', 'python');
const sdpa = `${path.join(examples, 'sdpa_attention.py')}:attention`;
const dilated = `${path.join(examples, 'dilated_grouped.py')}:dilated_grouped_attention`;
const broken = (fn: string) => `${path.join(examples, 'broken_plugins.py')}:${fn}`;
const out = mkdtempSync(path.join(tmpdir(), 'dilbench-python-plugins-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const env = { DILBENCH_PYTHON: python };
const quick = [
  '--heads',
  '4',
  '--head-dim',
  '32',
  '--runs',
  '3',
  '--warmup',
  '1',
  '--no-plots',
  '--threads',
  '1',
  '--output-dir',
  out,
  '--json',
];
function noTorchDir(): string {
  const dir = path.join(out, 'no-torch');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'torch.py'),
    'raise ImportError("No module named torch (test stand-in)")\n',
  );
  return dir;
}
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe.skipIf(!!skip)('Python plugins', () => {
  it('runBenchmark({ plugins }) measures torch SDPA and the head-group dilated attention, each validated as its declared function', async () => {
    const saved = process.env.DILBENCH_PYTHON;
    process.env.DILBENCH_PYTHON = python;
    let file: ResultFile;
    try {
      file = await runBenchmark({
        suite: 'sequence-ranges',
        range: 'custom',
        customLengths: [128, 256],
        plugins: [sdpa, dilated],
        implementations: ['flash', 'dilated-grouped', 'torch-sdpa', 'torch-dilated-grouped'],
        segmentLengths: [64, 128],
        dilationRates: [1, 2],
        heads: 4,
        headDim: 32,
        runs: 3,
        warmup: 1,
        threads: 1,
        outputDir: null,
      });
      // a bad callable through the API: a ConfigError naming the plugin, before anything runs
      await expect(
        runBenchmark({
          suite: 'sequence-ranges',
          range: 'custom',
          customLengths: [128],
          plugins: [`${path.join(examples, 'sdpa_attention.py')}:nope`],
          outputDir: null,
        }),
      ).rejects.toMatchObject({
        field: 'plugin',
        message: expect.stringMatching(/has no function 'nope'/),
      });
    } finally {
      if (saved === undefined) delete process.env.DILBENCH_PYTHON;
      else process.env.DILBENCH_PYTHON = saved;
    }
    for (const [name, builtIn] of [
      ['torch-sdpa', 'flash'],
      ['torch-dilated-grouped', 'dilated-grouped'],
    ]) {
      for (const n of [128, 256]) {
        const r = file.results.find((x) => x.implementation === name && x.seqLen === n)!;
        expect(r.status, r.reason ?? '').toBe('ok');
        expect(r.origin).toBe('python');
        expect(r.peakMemoryBytes).toBeNull();
        expect(r.samplesMs).toHaveLength(3);
        expect(r.samplesMs.every((s) => s > 0)).toBe(true);
        expect(r.validation).toMatchObject({
          against: 'float64-reference',
          passed: true,
          checkedAt: { seqLen: n, batch: 1 },
        });
        expect(r.validation!.relL2Error).toBeLessThan(1e-5);
        // counted as dilbench counts the declared function
        const b = file.results.find((x) => x.implementation === builtIn && x.seqLen === n)!;
        expect(r.flopsPerIteration).toBe(b.flopsPerIteration);
        expect(r.countsSource).toBe(
          `function:${name === 'torch-sdpa' ? 'dense' : 'dilated-grouped'}`,
        );
      }
    }
    const recorded = file.environment.plugins!;
    expect(recorded.map((p) => [p.kind, p.implementations[0]])).toEqual([
      ['python', 'torch-sdpa'],
      ['python', 'torch-dilated-grouped'],
    ]);
    expect(recorded[0]!.sha256).toBe(sha256(path.join(examples, 'sdpa_attention.py')));
    expect(recorded[0]!.python?.torch).toMatch(/^\d+\.\d+/);
  }, 240_000);

  it("the CLI runs SDPA causal and in bf16, validated with the dtype's tolerance; doctor lists it", () => {
    const r = cli(
      [
        'sequence-ranges',
        '--range',
        'custom',
        '--custom-lengths',
        '256',
        '--plugin',
        sdpa,
        '--implementations',
        'flash,torch-sdpa',
        '--causal',
        '--dtype',
        'bf16',
        ...quick,
      ],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const file = JSON.parse(r.stdout) as ResultFile;
    const row = file.results.find((x) => x.implementation === 'torch-sdpa')!;
    expect(row.status, row.reason ?? '').toBe('ok');
    expect(row.dtype).toBe('bf16');
    expect(row.validation?.passed).toBe(true);
    expect(row.validation?.tolerance.relL2).toBe(1e-2);
    // doctor lists the callable with its origin, and the Python and torch it runs with
    const d = cli(['doctor', '--plugin', sdpa], env);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(
      /torch-sdpa\s+fp32, fp16, bf16\s+computes dense\s+\[python: .*sdpa_attention\.py\]/,
    );
    expect(d.stdout).toMatch(
      /plugin .*sdpa_attention\.py \(sha256 [0-9a-f]{16}\.\.\., Python \d+\.\d+\.\d+, torch \d+\./,
    );
  }, 180_000);

  it('a wrong function, a wrong scale, an exception and a crash each cost their own failed rows; the built-in goes on', () => {
    const packaged = `${path.join(examples, 'dilated_grouped.py')}:packaged_style`;
    const r = cli(
      [
        'sequence-ranges',
        '--range',
        'custom',
        '--custom-lengths',
        '128,256',
        ...quick,
        '--plugin',
        packaged,
        '--plugin',
        broken('wrong_scale'),
        '--plugin',
        broken('raises'),
        '--plugin',
        broken('crashes'),
        '--implementations',
        'flash,torch-dilated-grouped-packaged,py-wrong-scale,py-raises,py-crashes',
      ],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const file = JSON.parse(r.stdout) as ResultFile;
    const rows = (name: string) => file.results.filter((x) => x.implementation === name);
    expect(rows('flash').map((x) => x.status)).toEqual(['ok', 'ok']);
    for (const name of ['torch-dilated-grouped-packaged', 'py-wrong-scale']) {
      for (const x of rows(name)) {
        expect(x.status).toBe('failed');
        expect(x.errorCode).toBe('ERR_DILBENCH_VALIDATION_FAILED');
        expect(x.validation?.passed).toBe(false);
        expect(x.samplesMs).toEqual([]);
      }
    }
    for (const x of rows('py-raises')) {
      expect(x.errorCode).toBe('ERR_DILBENCH_PLUGIN_EXCEPTION');
      expect(x.reason).toMatch(/RuntimeError: this plugin raises on purpose/);
    }
    for (const x of rows('py-crashes')) {
      expect(x.errorCode).toBe('ERR_DILBENCH_PLUGIN_CRASHED');
      expect(x.reason).toMatch(/SIGSEGV/);
    }
  }, 240_000);

  it.each([
    ['a missing file', () => `${path.join(examples, 'nope.py')}:attention`, {}, /file not found/],
    [
      'a file without that function',
      () => `${path.join(examples, 'sdpa_attention.py')}:nope`,
      {},
      /has no function 'nope'/,
    ],
    [
      'a module that does not import',
      () => 'no_such_package.attention:fn',
      {},
      /cannot import module 'no_such_package\.attention'/,
    ],
    // a torch.py first on PYTHONPATH that fails to import stands for a Python without torch
    ['a Python without torch', () => sdpa, { PYTHONPATH: noTorchDir() }, /torch is not importable/],
  ])(
    '%s is refused before anything runs (exit 2, naming the plugin)',
    (_what, spec, extraEnv, message) => {
      const r = cli(
        [
          'sequence-ranges',
          '--range',
          'custom',
          '--custom-lengths',
          '128',
          '--plugin',
          spec(),
          ...quick,
        ],
        { ...env, ...extraEnv },
      );
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain('--plugin');
      expect(r.stderr).toMatch(message);
    },
    60_000,
  );
});
