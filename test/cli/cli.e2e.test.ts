// The built CLI end to end (`npm test` builds dist/ first). Bad input needs no addon; the runs
// need the real addon and skip, saying so, when it cannot load.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distBuilt as built, cli, root, runModule } from './helpers.js';

function addonProblem(): string | null {
  const probe = runModule(
    "const m = await import('./dist/src/native/dilbench.js'); try { m.loadBinding(); } catch (e) { console.error(String(e.message).split('\\n').find((l) => l.startsWith('Cause:')) ?? e.message); process.exit(1); }",
  );
  return probe.status === 0
    ? null
    : (probe.stderr.split('\n').find((l) => l.trim()) ?? 'unknown error');
}

const noAddon = built ? addonProblem() : 'dist/ is not built (run npm run build:ts)';
if (noAddon) console.warn(`cli e2e: native addon unavailable, runs skipped: ${noAddon}`);

function readdirSafe(d: string): string[] {
  try {
    return readdirSync(d);
  } catch {
    return [];
  }
}

describe('dilbench CLI: input errors (no addon needed)', () => {
  it.skipIf(!built)('prints the version', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const r = cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it.skipIf(!built)('bad values exit 2 naming the flag, without a stack trace', () => {
    const cases: [string[], string][] = [
      [['--heads', 'abc'], '--heads'],
      [['--batch-size', '0'], '--batch-size'],
      [['--range', 'huge'], '--range'],
      [['--range', 'custom'], '--custom-lengths'],
      [['--range', 'custom', '--custom-lengths', '128,x'], '--custom-lengths'],
      [['--memory-budget', 'lots'], '--memory-budget'],
      [['--heads', '8', '--kv-heads', '3'], '--kv-heads'],
      [['--max-run-seconds', '0'], '--max-run-seconds'],
      [['--device', 'tpu'], '--device'],
      [['--target-rse', '0'], '--target-rse'],
      [['--target-rse', 'abc'], '--target-rse'],
      [['--target-rse', '200%'], '--target-rse'],
      [['--min-samples', '0'], '--min-samples'],
      [['--min-samples', '20', '--max-samples', '5'], '--max-samples'],
      [['--max-time', '-1'], '--max-time'],
      [['--max-time', 'soon'], '--max-time'],
      [['--warmup', 'lots'], '--warmup'],
      [['--runs', '0'], '--runs'],
    ];
    for (const [args, flag] of cases) {
      const r = cli(['sequence-ranges', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(flag);
      expect(r.stderr).toContain('allowed:');
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe('');
    }
  });

  it.skipIf(!built)(
    'an --output-dir that cannot be written exits 2 naming it, before any measurement',
    () => {
      const d = mkdtempSync(join(tmpdir(), 'dilbench-outdir-'));
      try {
        writeFileSync(join(d, 'some-file'), 'x');
        // the production range would sample for many minutes: the check comes first
        for (const bad of [join(d, 'some-file', 'sub'), '/proc/nope']) {
          const t0 = Date.now();
          const r = cli(
            ['sequence-ranges', '--range', 'production', '--output-dir', bad],
            {},
            60_000,
          );
          expect(r.code, `${bad}: ${r.stderr}`).toBe(2);
          expect(r.stderr).toContain('--output-dir');
          expect(r.stderr).toMatch(/cannot write there: (ENOTDIR|ENOENT)/);
          expect(Date.now() - t0).toBeLessThan(30_000);
        }
      } finally {
        rmSync(d, { recursive: true, force: true });
      }
    },
  );

  it.skipIf(!built)('unknown flags exit 2 naming the flag; --verbose adds the stack', () => {
    const r = cli(['sequence-ranges', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("'--bogus'");
    const v = cli(['sequence-ranges', '--heads', 'x', '--verbose']);
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(/\n\s+at /);
  });
});

describe.skipIf(Boolean(noAddon))('dilbench sequence-ranges with the real addon', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dilbench-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs a tiny custom range, writes JSON, CSV and Markdown, exit 0', () => {
    const out = join(dir, 'run1');
    const r = cli([
      'sequence-ranges',
      '--range',
      'custom',
      '--custom-lengths',
      '128,256',
      '--implementations',
      'naive,flash',
      '--runs',
      '3',
      '--warmup',
      '1',
      '--output-dir',
      out,
      '--quiet',
      '--no-plots',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const all = readdirSync(out).sort();
    // --no-plots: the three result files and the history, no figure
    expect(all.filter((f) => /\.(svg|png)$/.test(f))).toEqual([]);
    expect(all).toContain('history.jsonl');
    const files = all.filter((f) => f !== 'history.jsonl');
    expect(files).toHaveLength(3);
    expect(files.map((f) => f.replace(/^sequence-ranges_[0-9T-]+Z/, 'X'))).toEqual([
      'X.csv',
      'X.json',
      'X.md',
    ]);
    const json = JSON.parse(readFileSync(join(out, files[1]!), 'utf8'));
    expect(json.schemaVersion).toBe(1);
    expect(json.suite).toBe('sequence-ranges');
    expect(json.environment.cpuCores).toBeGreaterThan(0);
    expect(['generic', 'avx2', 'avx512']).toContain(json.environment.simdLevel);
    expect(
      json.results.map((x: { implementation: string; seqLen: number }) => [
        x.implementation,
        x.seqLen,
      ]),
    ).toEqual([
      ['naive', 128],
      ['flash', 128],
      ['naive', 256],
      ['flash', 256],
    ]);
    for (const row of json.results) {
      expect(row.status, row.reason).toBe('ok');
      expect(row).toMatchObject({
        device: 'cpu',
        dtype: 'fp32',
        batch: 1,
        heads: 8,
        kvHeads: 8,
        headDim: 64,
        causal: false,
      });
      expect(row.effectiveSeqLen).toBe(row.seqLen);
      expect(row.samplesMs).toHaveLength(3);
      expect(row.stats.medianMs).toBeGreaterThan(0);
      expect(row.stats.p10Ms).toBeLessThanOrEqual(row.stats.p90Ms);
      expect(row.gflops).toBeGreaterThan(0);
      expect(row.tokensPerSecond).toBeGreaterThan(0);
      expect(row.peakMemoryBytes).toBeGreaterThan(0);
    }
    const csv = readFileSync(join(out, files[0]!), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(5);
    const md = readFileSync(join(out, files[2]!), 'utf8');
    expect(md).toContain('| Length | Implementation |');
    expect(md).toContain('## Fastest exact attention per length');
    expect(r.stdout).toContain('median ms');
    expect(r.stderr).toBe('');
  });

  it('adaptive defaults with a small --max-time: stop reasons, history rows = result rows, plots, scaling section', () => {
    const out = join(dir, 'adaptive');
    const r = cli([
      'sequence-ranges',
      '--range',
      'custom',
      '--custom-lengths',
      '32,64,128',
      '--implementations',
      'naive,flash',
      '--max-time',
      '0.3',
      '--threads',
      '1',
      '--output-dir',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const names = readdirSync(out);
    const jsonName = names.find((f) => /^sequence-ranges_.*\.json$/.test(f))!;
    const json = JSON.parse(readFileSync(join(out, jsonName), 'utf8'));
    expect(json.config).toMatchObject({
      sampling: 'adaptive',
      warmup: 'adaptive',
      targetRse: 0.01,
      minSamples: 10,
      maxTimeSeconds: 0.3,
      cacheMode: 'hot',
    });
    expect(json.results).toHaveLength(6);
    for (const row of json.results) {
      expect(row.status, row.reason).toBe('ok');
      expect(['converged', 'max-time', 'max-samples']).toContain(row.stopReason);
      expect(row.samplesMs.length).toBeGreaterThanOrEqual(3);
      expect(row.warmupIterations).toBeGreaterThanOrEqual(1);
      expect(row.coldStartMs).toBeGreaterThan(0);
      expect(row.cacheMode).toBe('hot');
      expect(row.stats.medianCi95Ms).toHaveLength(2);
      if (row.stopReason !== 'converged')
        expect(row.warnings.join(' ')).toMatch(/did not converge/);
    }
    // history: one line per result row, this run's id
    const history = readFileSync(join(out, 'history.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(history).toHaveLength(json.results.length);
    expect(new Set(history.map((h: { runId: string }) => h.runId))).toEqual(new Set([json.runId]));
    // plots beside the results, listed in the output
    const svgs = names.filter((f) => f.endsWith('.svg'));
    expect(svgs.length).toBeGreaterThanOrEqual(3);
    expect(svgs).toContain('sequence-ranges_latency.svg');
    for (const f of svgs) {
      expect(readFileSync(join(out, f), 'utf8').trimStart().startsWith('<svg'), f).toBe(true);
      expect(r.stdout).toContain(join(out, f));
    }
    expect(r.stdout).toContain(join(out, 'history.jsonl'));
    // the CSV flattens the statistics
    const csvName = names.find((f) => /^sequence-ranges_.*\.csv$/.test(f))!;
    const header = readFileSync(join(out, csvName), 'utf8').split('\n')[0]!.split(',');
    expect(header).toEqual(
      expect.arrayContaining([
        'stopReason',
        'coldStartMs',
        'warmupIterations',
        'cacheMode',
        'medianCi95LowMs',
        'medianCi95HighMs',
        'outliersMild',
        'warnings',
      ]),
    );
    // markdown: median with its interval, stop reasons, the scaling section for 3 lengths
    const md = readFileSync(
      join(
        out,
        names.find((f) => /^sequence-ranges_.*\.md$/.test(f))!,
      ),
      'utf8',
    );
    expect(md).toContain('| Median ms [95% CI] | Samples (stop) |');
    expect(md).toContain('## Scaling with sequence length');
    expect(md).toMatch(/\| (naive|flash) \| 3 \| -?\d+\.\d\d \[/);
    expect(md).toContain('then adaptive: until the relative standard error of the mean <= 1%');
  });

  it('--json prints only the result JSON on stdout', () => {
    const r = cli([
      'sequence-ranges',
      '--range',
      'custom',
      '--custom-lengths',
      '64',
      '--implementations',
      'flash',
      '--runs',
      '2',
      '--warmup',
      '0',
      '--causal',
      '--output-dir',
      join(dir, 'run2'),
      '--json',
      '--quiet',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.results).toHaveLength(1);
    expect(json.results[0]).toMatchObject({
      implementation: 'flash',
      seqLen: 64,
      causal: true,
      status: 'ok',
    });
  });

  it('without a terminal: no bar, but the plan total and one line per finished point on stderr (none with --quiet)', () => {
    const r = cli([
      'sequence-ranges',
      '--range',
      'custom',
      '--custom-lengths',
      '64,128',
      '--implementations',
      'naive',
      '--runs',
      '2',
      '--warmup',
      '0',
      '--output-dir',
      join(dir, 'run5'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/ETA|\u2591/);
    expect(r.stderr).toMatch(/dilbench: plan: 2 points: 2 to run \(estimated [\d.]+ m?s\)/);
    expect(r.stderr).toMatch(
      /dilbench: \[1\/2\] naive @ 64 \(batch 1\): ok, median [\d.]+ ms, 2 samples in [\d.]+ m?s(; about .* left)?\n/,
    );
    expect(r.stderr).toMatch(
      /dilbench: \[2\/2\] naive @ 128 \(batch 1\): ok, median [\d.]+ ms, 2 samples/,
    );
    const quiet = cli([
      'sequence-ranges',
      '--range',
      'custom',
      '--custom-lengths',
      '64',
      '--implementations',
      'naive',
      '--runs',
      '2',
      '--warmup',
      '0',
      '--output-dir',
      join(dir, 'run5'),
      '--quiet',
    ]);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(r.stdout).toContain('naive');
    expect(r.stdout).toMatch(/wrote .*sequence-ranges_.*\.json/);
  });

  it('--dry-run prints the plan per point with estimates and writes nothing', () => {
    const out = join(dir, 'dry');
    const r = cli(
      [
        'sequence-ranges',
        '--range',
        'production',
        '--implementations',
        'naive,flash',
        '--memory-budget',
        '256MiB',
        '--dry-run',
        '--output-dir',
        out,
      ],
      {},
      120_000,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/--dry-run: the plan .* nothing was measured/);
    const lines = r.stdout
      .split('\n')
      .filter((l) => /^\s+(1K|2K|4K|8K|12K|16K)\s+(naive|flash)\s/.test(l));
    expect(lines).toHaveLength(12);
    // naive at 16K needs 1.1 GiB: over the 256 MiB budget it is skipped with the reason
    expect(r.stdout).toMatch(/16K\s+naive.*skip: .*budget 256(\.0)? MiB/);
    expect(r.stdout).toMatch(/12 points: \d+ to run \(estimated [\d.]+ (s|min|h)\), \d+ skipped/);
    expect(readdirSafe(out)).toEqual([]);
    const j = cli(
      [
        'sequence-ranges',
        '--range',
        'custom',
        '--custom-lengths',
        '64,128',
        '--implementations',
        'flash',
        '--dry-run',
        '--json',
      ],
      {},
      120_000,
    );
    expect(j.code, j.stderr).toBe(0);
    const file = JSON.parse(j.stdout);
    expect(file.dryRun).toBe(true);
    expect(file.results).toEqual([]);
    expect(file.plan.map((p: { seqLen: number; action: string }) => [p.seqLen, p.action])).toEqual([
      [64, 'run'],
      [128, 'run'],
    ]);
    expect(file.plan.every((p: { estimatedSeconds: number }) => p.estimatedSeconds > 0)).toBe(true);
  });

  it('an unknown implementation exits 2 and names --implementations', () => {
    const r = cli([
      'sequence-ranges',
      '--range',
      'custom',
      '--custom-lengths',
      '64',
      '--implementations',
      'turbo',
      '--output-dir',
      join(dir, 'run3'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--implementations');
    expect(r.stderr).toContain('naive');
  });

  it('a point over the memory budget is skipped with its reason, the rest run', () => {
    const r = cli([
      'sequence-ranges',
      '--range',
      'custom',
      '--custom-lengths',
      '128,16384',
      '--implementations',
      'naive',
      '--runs',
      '2',
      '--warmup',
      '0',
      '--memory-budget',
      '64MiB',
      '--output-dir',
      join(dir, 'run4'),
      '--json',
      '--quiet',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.results[0].status).toBe('ok');
    expect(json.results[1].status).toBe('skipped');
    expect(json.results[1].reason).toMatch(/^needs \d+\.\d GiB, budget 64\.0 MiB$/);
  });
});

describe.skipIf(Boolean(noAddon))('dilbench doctor with the real addon', () => {
  it('lists every implementation of the loaded binary with its dtypes, as listImplementations() does', async () => {
    const r = cli(['doctor', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      loaded: {
        ok: boolean;
        implementations: { name: string; device: string; dtypes: string[] }[];
      };
    };
    expect(report.loaded.ok).toBe(true);
    const { loadBinding } = (await import(join(root, 'dist', 'src', 'native', 'loader.js'))) as {
      loadBinding(): {
        listImplementations(): { name: string; device: string; dtypes: string[] }[];
      };
    };
    const expected = loadBinding()
      .listImplementations()
      .map((i) => ({
        name: i.name,
        device: i.device,
        dtypes: [...i.dtypes],
        function: (i as { function?: string }).function,
        origin: 'built-in',
      }));
    expect(report.loaded.implementations).toEqual(expected);
    const text = cli(['doctor']);
    expect(text.code).toBe(0);
    // each with its dtypes and the function its descriptor declares
    for (const i of expected)
      expect(text.stdout).toMatch(
        new RegExp(`\\n\\s+${i.name}\\s+${i.dtypes.join(', ')}\\s+computes ${i.function}\\n`),
      );
  });

  it('names the peer frameworks it found, or why not: a missing Python is a reason, not a crash', () => {
    const missing = cli(['doctor', '--json'], { DILBENCH_PYTHON: '/nonexistent/python3' });
    expect(missing.code, missing.stderr).toBe(0);
    const m = JSON.parse(missing.stdout) as {
      frameworks: {
        pytorch: { python: string; version: string | null; reason?: string };
        onnxruntime: { version: string | null; reason?: string };
      };
    };
    expect(m.frameworks.pytorch).toMatchObject({ python: '/nonexistent/python3', version: null });
    expect(m.frameworks.pytorch.reason).toMatch(/no Python found \(\/nonexistent\/python3/);
    // onnxruntime-node is an optional dependency: either its version or why not
    expect(m.frameworks.onnxruntime.version ?? m.frameworks.onnxruntime.reason).toBeTruthy();
    const text = cli(['doctor'], { DILBENCH_PYTHON: '/nonexistent/python3' });
    expect(text.stdout).toMatch(/\n {4}pytorch +no: no Python found/);
    // with a Python that has torch (CI sets DILBENCH_PYTHON to one), its version
    if (process.env.DILBENCH_PYTHON) {
      const found = JSON.parse(
        cli(['doctor', '--json'], { DILBENCH_PYTHON: process.env.DILBENCH_PYTHON }).stdout,
      ) as typeof m;
      if (found.frameworks.pytorch.version === null)
        console.warn(`doctor: DILBENCH_PYTHON has no torch: ${found.frameworks.pytorch.reason}`);
      else expect(found.frameworks.pytorch.version).toMatch(/^\d+\.\d+/);
    }
  });
});
