// C ABI plugins (issue 15): the example C plugin runs beside the built-ins through the API and the
// CLI and passes validation; deliberately broken plugins each give their clear error (exit 2) or
// one failed row while the suite goes on.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBenchmark } from '../../src/api/run.js';
import { listImplementations } from '../../src/api/implementations.js';
import type { ResultFile } from '../../src/results/types.js';
import { cli, distBuilt } from '../cli/helpers.js';
import { buildExamplePlugins, root, type BuiltPlugins } from './build-examples.js';

let built: BuiltPlugins | string = 'not built yet';
const skip = distBuilt
  ? ''
  : 'dist/ is not built (npm run build:ts): the plugin worker runs dist/src/plugins/child.js';
if (skip) console.log(`C plugin tests skipped: ${skip}`);
let out = '';

beforeAll(() => {
  built = buildExamplePlugins();
  if (typeof built === 'string') throw new Error(`could not build examples/plugins: ${built}`);
  out = mkdtempSync(path.join(tmpdir(), 'dilbench-plugin-runs-'));
}, 300_000);
afterAll(() => {
  if (typeof built !== 'string') rmSync(built.dir, { recursive: true, force: true });
  if (out) rmSync(out, { recursive: true, force: true });
});
const lib = () => built as BuiltPlugins;
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const quick = [
  '--heads',
  '2',
  '--head-dim',
  '32',
  '--runs',
  '3',
  '--warmup',
  '1',
  '--no-plots',
  '--threads',
  '1',
];

describe.skipIf(!!skip)('C ABI plugins', () => {
  it('runBenchmark({ plugins }) measures the C example beside flash, validated against the float64 dense reference', async () => {
    const file = await runBenchmark({
      suite: 'sequence-ranges',
      range: 'custom',
      customLengths: [128, 256],
      implementations: ['flash', 'c-dense'],
      plugins: [lib().cDense],
      heads: 2,
      headDim: 32,
      runs: 3,
      warmup: 1,
      threads: 1,
      outputDir: null,
    });
    const rows = file.results.filter((r) => r.implementation === 'c-dense');
    expect(rows.map((r) => [r.seqLen, r.status])).toEqual([
      [128, 'ok'],
      [256, 'ok'],
    ]);
    for (const r of rows) {
      expect(r.samplesMs).toHaveLength(3);
      expect(r.validation).toMatchObject({
        against: 'float64-reference',
        passed: true,
        checkedAt: { seqLen: r.seqLen, batch: 1 },
      });
      expect(r.validation!.relL2Error).toBeLessThan(1e-5);
      expect(r.origin).toBe('plugin');
      expect(r.function).toBe('dense');
      expect(r.exactDense).toBe(true);
      // dilbench's counts of the declared function: the same as flash's at that point
      expect(r.countsSource).toBe('function:dense');
      const flash = file.results.find(
        (f) => f.implementation === 'flash' && f.seqLen === r.seqLen,
      )!;
      expect(r.flopsPerIteration).toBe(flash.flopsPerIteration);
    }
    expect(file.environment.plugins).toEqual([
      expect.objectContaining({
        kind: 'c-abi',
        path: lib().cDense,
        sha256: sha256(lib().cDense),
        abi: '1.0',
        implementations: ['c-dense', 'c-kv-cache'],
      }),
    ]);
    // a bad plugin through the API: the same ConfigError as the CLI's exit 2, before anything runs
    await expect(
      runBenchmark({
        suite: 'sequence-ranges',
        range: 'custom',
        customLengths: [128],
        plugins: [lib().broken('missing_symbol')],
        outputDir: null,
      }),
    ).rejects.toMatchObject({
      code: 'ERR_DILBENCH_INVALID_CONFIG',
      field: 'plugin',
      message: expect.stringMatching(/missing entry symbol/),
    });
    const listed = listImplementations('cpu').find((i) => i.name === 'c-dense');
    expect(listed).toMatchObject({
      origin: 'plugin',
      function: 'dense',
      exactDense: 'always',
      pluginPath: lib().cDense,
      pluginAbi: '1.0',
    });
  }, 120_000);

  it('the CLI runs the example beside the built-ins; doctor lists it with its origin', () => {
    const r = cli([
      'sequence-ranges',
      '--range',
      'custom',
      '--custom-lengths',
      '128',
      '--implementations',
      'naive,c-dense',
      '--plugin',
      lib().cDense,
      '--output-dir',
      out,
      '--json',
      ...quick,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const file = JSON.parse(r.stdout) as ResultFile;
    expect(file.results.map((x) => [x.implementation, x.status])).toEqual([
      ['naive', 'ok'],
      ['c-dense', 'ok'],
    ]);
    // the CSV says which row is a plugin's and what it computes
    const csv = readFileSync(
      path.join(
        out,
        readdirSync(out)
          .filter((f) => f.startsWith('sequence-ranges_') && f.endsWith('.csv'))
          .sort()
          .at(-1)!,
      ),
      'utf8',
    )
      .trim()
      .split('\n');
    // the plugin columns are the last five (earlier ones may hold quoted commas)
    expect(csv[0]!.split(',').slice(-5)).toEqual([
      'origin',
      'function',
      'exactDense',
      'unvalidated',
      'countsSource',
    ]);
    expect(
      csv
        .find((l) => l.includes(',c-dense,'))!
        .split(',')
        .slice(-5),
    ).toEqual(['plugin', 'dense', 'true', '', 'function:dense']);
    expect(
      csv
        .find((l) => l.includes(',naive,'))!
        .split(',')
        .slice(-5),
    ).toEqual(['', '', '', '', '']);
    const d = cli(['doctor', '--plugin', lib().cDense]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(
      /c-dense\s+fp32\s+computes dense\s+\[plugin: .*libdilbench_c_dense\.so, ABI 1\.0\]/,
    );
    expect(d.stdout).toContain(`sha256 ${sha256(lib().cDense).slice(0, 16)}`);
  }, 120_000);

  it('a wrong, a crashing and an erroring plugin each cost their own failed rows; an unknown function runs unvalidated; the suite goes on', () => {
    const b = lib().broken;
    const r = cli([
      'sequence-ranges',
      '--range',
      'custom',
      '--custom-lengths',
      '128,256',
      '--output-dir',
      out,
      '--json',
      ...quick,
      '--implementations',
      'flash,wrong-scale,crash,error-code,custom-fn',
      '--plugin',
      b('wrong_scale'),
      '--plugin',
      b('crash'),
      '--plugin',
      b('error_code'),
      '--plugin',
      b('unknown_function'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const file = JSON.parse(r.stdout) as ResultFile;
    const rows = (name: string) => file.results.filter((x) => x.implementation === name);
    expect(rows('flash').map((x) => x.status)).toEqual(['ok', 'ok']);
    for (const x of rows('wrong-scale')) {
      expect(x.status).toBe('failed');
      expect(x.errorCode).toBe('ERR_DILBENCH_VALIDATION_FAILED');
      expect(x.validation?.passed).toBe(false);
      expect(x.validation!.relL2Error).toBeGreaterThan(1e-2);
      expect(x.samplesMs).toEqual([]);
    }
    for (const x of rows('crash')) {
      expect(x.status).toBe('failed');
      expect(x.errorCode).toBe('ERR_DILBENCH_PLUGIN_CRASHED');
      expect(x.reason).toMatch(/SIGSEGV/);
    }
    for (const x of rows('error-code')) {
      expect(x.status).toBe('failed');
      expect(x.reason).toMatch(/failed with code 7: the kernel reports an error on purpose/);
    }
    for (const x of rows('custom-fn')) {
      expect(x.status).toBe('ok');
      expect(x.unvalidated).toBe(true);
      expect(x.function).toBeNull();
      expect(x.exactDense).toBe(false);
      // its own counts (the kernel's counts callback), not a function's
      expect(x.countsSource).toBe('plugin');
      expect(x.flopsPerIteration).toBe(4 * x.batch * x.heads * x.seqLen * x.seqLen * x.headDim);
      expect(x.gflops).toBeGreaterThan(0);
      expect(x.validation).toBeUndefined();
      expect(x.warnings?.join(' ')).toMatch(/unvalidated/);
    }
    expect(r.stderr).toMatch(/6 point\(s\) failed/);
  }, 180_000);

  it('a kernel declaring kv-cache gets the resolved prompt/new-token split and validates against the kv-cache reference', () => {
    // not causal: the prompt rows see the whole prompt, so an unresolved prompt_len (0) would fail
    for (const extra of [[], ['--prompt-len', '200']]) {
      const r = cli([
        'sequence-ranges',
        '--range',
        'custom',
        '--custom-lengths',
        '256,300',
        '--implementations',
        'kv-cache,c-kv-cache',
        '--plugin',
        lib().cDense,
        '--output-dir',
        out,
        '--json',
        ...quick,
        ...extra,
      ]);
      expect(r.code, r.stderr).toBe(0);
      const rows = (JSON.parse(r.stdout) as ResultFile).results.filter(
        (x) => x.implementation === 'c-kv-cache' && x.status !== 'skipped',
      );
      expect(rows.length).toBeGreaterThan(0);
      for (const x of rows) {
        expect(x.status, x.reason ?? '').toBe('ok');
        expect(x.validation).toMatchObject({ against: 'float64-reference', passed: true });
        expect(x.countsSource).toBe('function:kv-cache');
      }
    }
  }, 120_000);

  it('prefill skip is for the built-in kv-cache: with a plugin kv-cache the run is refused up front, naming --prefill', () => {
    const args = (impls: string) => [
      'sequence-ranges',
      '--range',
      'custom',
      '--custom-lengths',
      '256',
      '--implementations',
      impls,
      '--plugin',
      lib().cDense,
      '--prefill',
      'skip',
      '--output-dir',
      out,
      '--json',
      ...quick,
    ];
    const refused = cli(args('kv-cache,c-kv-cache'));
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/invalid --prefill: "skip".*plugin kernels attend the prompt/);
    expect(refused.stdout).toBe('');
    const builtIn = cli(args('kv-cache'));
    expect(builtIn.code, builtIn.stderr).toBe(0);
    const row = (JSON.parse(builtIn.stdout) as ResultFile).results[0]!;
    expect(row.status, row.reason ?? '').toBe('ok');
    expect(row.params).toMatchObject({ prefill: 'skip' });
  }, 120_000);

  it("quick-validation keeps the plugins' float64 check: it passes with the C example and exits 1 on the wrong scale", () => {
    const args = [
      'quick-validation',
      '--sequence-lengths',
      '256',
      '--output-dir',
      out,
      '--no-plots',
      '--heads',
      '2',
      '--threads',
      '1',
      '--json',
    ];
    const good = cli([...args, '--plugin', lib().cDense, '--implementations', 'naive,c-dense']);
    expect(good.code, good.stderr).toBe(0);
    const row = (JSON.parse(good.stdout) as ResultFile).results.find(
      (x) => x.implementation === 'c-dense',
    )!;
    expect(row.validation).toMatchObject({ against: 'float64-reference', passed: true });
    const bad = cli([
      ...args,
      '--plugin',
      lib().broken('wrong_scale'),
      '--implementations',
      'naive,wrong-scale',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/wrong-scale@256 \(max abs/);
  }, 120_000);

  it('a plugin that passes validation and crashes while timed at one length loses that row only: earlier rows, later lengths and other implementations stay', () => {
    const r = cli([
      'sequence-ranges',
      '--range',
      'custom',
      '--custom-lengths',
      '128,512,192',
      '--output-dir',
      out,
      '--json',
      ...quick,
      '--implementations',
      'crash-long,c-dense',
      '--plugin',
      lib().broken('crash_long'),
      '--plugin',
      lib().cDense,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const file = JSON.parse(r.stdout) as ResultFile;
    const status = (name: string) =>
      file.results
        .filter((x) => x.implementation === name)
        .map((x) => [x.seqLen, x.status, x.errorCode ?? null]);
    expect(status('crash-long')).toEqual([
      [128, 'ok', null],
      [512, 'failed', 'ERR_DILBENCH_PLUGIN_CRASHED'],
      [192, 'ok', null],
    ]);
    expect(status('c-dense')).toEqual([
      [128, 'ok', null],
      [512, 'ok', null],
      [192, 'ok', null],
    ]);
    const crashed = file.results.find(
      (x) => x.implementation === 'crash-long' && x.seqLen === 512,
    )!;
    expect(crashed.reason).toMatch(/SIGSEGV during sampling crash-long/);
  }, 120_000);

  it('dilbench compare matches plugin rows of two runs like built-in ones', () => {
    const run = () => {
      const r = cli([
        'sequence-ranges',
        '--range',
        'custom',
        '--custom-lengths',
        '128',
        '--implementations',
        'naive,c-dense',
        '--plugin',
        lib().cDense,
        '--output-dir',
        out,
        '--json',
        ...quick,
      ]);
      expect(r.code, r.stderr).toBe(0);
      const file = path.join(out, `compare-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(file, r.stdout);
      return file;
    };
    const a = run();
    const b = run();
    const c = cli(['compare', a, b, '--format', 'json']);
    expect([0, 1]).toContain(c.code);
    const rows = (
      JSON.parse(c.stdout) as { rows: { config: { implementation: string }; verdict: string }[] }
    ).rows;
    expect(rows.map((x) => x.config.implementation).sort()).toEqual(['c-dense', 'naive']);
    for (const x of rows) expect(['faster', 'slower', 'same', 'uncertain']).toContain(x.verdict);
  }, 120_000);

  it('a plugin that hangs past --max-run-seconds is killed: one failed row, the others measured', () => {
    const r = cli([
      'sequence-ranges',
      '--range',
      'custom',
      '--custom-lengths',
      '128',
      '--output-dir',
      out,
      '--json',
      ...quick,
      '--implementations',
      'hang,c-dense',
      '--plugin',
      lib().broken('hang'),
      '--plugin',
      lib().cDense,
      '--max-run-seconds',
      '3',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const file = JSON.parse(r.stdout) as ResultFile;
    const hang = file.results.find((x) => x.implementation === 'hang')!;
    expect(hang.status).toBe('failed');
    expect(hang.errorCode).toBe('ERR_DILBENCH_PLUGIN_CRASHED');
    expect(hang.reason).toMatch(/no answer after 3 s/);
    expect(file.results.find((x) => x.implementation === 'c-dense')?.status).toBe('ok');
  }, 120_000);

  it.each([
    ['a missing file', () => path.join(lib().dir, 'nope.so'), /file not found/],
    [
      'a file that is not a shared library',
      () => path.join(root, 'README.md'),
      /not a loadable shared library \(dlopen: .*invalid ELF header/,
    ],
    [
      'a library without the entry symbol',
      () => lib().broken('missing_symbol'),
      /missing entry symbol dilbench_plugin_init/,
    ],
    [
      'a library that crashes while loading (probed in a child process first)',
      () => lib().broken('init_crash'),
      /killed by SIGSEGV while loading/,
    ],
    [
      'a plugin built against a newer ABI',
      () => lib().broken('abi_newer'),
      /plugin ABI 2\.0 is newer than this dilbench's 1\.0/,
    ],
    [
      'a kernel named like a built-in',
      () => lib().broken('duplicate_name'),
      /duplicate kernel name 'flash': already declared by dilbench \(built-in\)/,
    ],
  ])(
    '%s is refused before anything runs (exit 2, naming the plugin)',
    (_what, file, message) => {
      const spec = file();
      const r = cli([
        'sequence-ranges',
        '--range',
        'custom',
        '--custom-lengths',
        '128',
        '--output-dir',
        out,
        '--plugin',
        spec,
        ...quick,
      ]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain('--plugin');
      expect(r.stderr).toContain(spec);
      expect(r.stderr).toMatch(message);
    },
    60_000,
  );
});

// The CUDA example: compiled where nvcc exists, loaded and listed as a cuda kernel (running it
// needs a CUDA build of dilbench and a GPU: the plugin path is then the same as for C plugins).
const nvcc = spawnSync('nvcc', ['--version'], { encoding: 'utf8' });
const noNvcc = nvcc.status === 0 ? '' : 'nvcc is not on PATH';
if (noNvcc && !skip) console.log(`CUDA plugin example test skipped: ${noNvcc}`);
describe.skipIf(!!skip || !!noNvcc)('CUDA plugin example', () => {
  it('compiles with nvcc and loads as a dense-attention kernel on the cuda device', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dilbench-cuda-plugin-'));
    try {
      const src = path.join(root, 'examples', 'plugins', 'cuda-dense');
      for (const args of [
        ['-S', src, '-B', dir],
        ['--build', dir],
      ]) {
        const r = spawnSync('cmake', args, { encoding: 'utf8', timeout: 600_000 });
        expect(r.status, `${r.stdout}\n${r.stderr}`.slice(-3000)).toBe(0);
      }
      const so = path.join(dir, 'libdilbench_cuda_dense.so');
      const d = cli(['doctor', '--json', '--plugin', so]);
      expect(d.code, d.stderr).toBe(0);
      const impls = (
        JSON.parse(d.stdout) as {
          loaded: {
            implementations: { name: string; device: string; function: string; origin: string }[];
          };
        }
      ).loaded.implementations;
      expect(impls.filter((i) => i.name === 'cuda-dense')).toEqual([
        expect.objectContaining({ device: 'cuda', function: 'dense', origin: 'plugin' }),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
