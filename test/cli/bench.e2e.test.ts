// `dilbench bench` (= `npm run bench`) end to end on the built CLI: bad flags exit 2 naming the flag
// before anything is timed; tiny runs of the smallest sections write a result file that parses as
// a ResultFile and holds the figures the tables print.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseResultFile } from '../../src/reports/json.js';
import type { ResultFile } from '../../src/results/types.js';
import { bin, distBuilt as built, cli, root, runModule } from './helpers.js';

const noAddon = !built
  ? 'dist/ is not built (run npm run build:ts)'
  : runModule("const m = await import('./dist/src/native/dilbench.js'); m.loadBinding();")
        .status === 0
    ? null
    : 'the native addon does not load';
if (noAddon) console.warn(`bench e2e: runs skipped: ${noAddon}`);

const out = mkdtempSync(join(tmpdir(), 'dilbench-bench-e2e-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe.skipIf(!built)('dilbench bench: flags', () => {
  it('--help documents the sections and their flags', () => {
    const r = cli(['bench', '--help']);
    expect(r.code).toBe(0);
    for (const flag of [
      '--only <sections>',
      '--quick',
      '--no-dilated',
      '--no-dilated-vs-torch',
      '--no-compute-api',
      '--kernel-lengths',
      '--framework-lengths',
      '--kv-lengths',
      '--dilated-lengths',
      '--dtype-lengths',
      '--dtype-kv-cache',
      '--output-dir',
      '--json',
    ])
      expect(r.stdout).toContain(flag);
    expect(r.stdout).toContain(
      'kernels,frameworks,kv-cache,dilated,dilated-vs-torch,dtypes,compute-api',
    );
  });

  it.each([
    [['--only', 'kernels,warp'], '--only', '"warp"', 'kernels,frameworks,kv-cache'],
    [['--kernel-lengths', '1K,0'], '--kernel-lengths', '"0"', 'lengths such as'],
    [['--threads', '1.5'], '--threads', '"1.5"', 'an integer in [1, 4096]'],
    [['--dtype-kv-cache', '2K,0'], '--dtype-kv-cache', '"0"', 'lengths such as'],
  ])(
    '%j exits 2 naming the flag, before anything is timed or written',
    (args, flag, value, allowed) => {
      const dir = join(out, `bad-${flag.slice(2)}`);
      const r = cli(['bench', ...args, '--output-dir', dir], {}, 30_000);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`invalid ${flag}: ${value}`);
      expect(r.stderr).toContain(allowed);
      expect(r.stderr).not.toContain('measuring FP32 FMA peak');
      expect(readdirSafe(dir)).toEqual([]);
    },
  );
});

function readdirSafe(d: string): string[] {
  try {
    return readdirSync(d);
  } catch {
    return [];
  }
}

function onlyFile(dir: string, ext: string): string {
  const files = readdirSync(dir).filter((f) => f.startsWith('bench_') && f.endsWith(ext));
  expect(files).toHaveLength(1);
  return join(dir, files[0]!);
}

describe.skipIf(Boolean(noAddon))('dilbench bench: tiny runs with the real addon', () => {
  it('--quick --only kernels at tiny lengths: exit 0, the table, a ResultFile with a row per point', () => {
    const dir = join(out, 'kernels');
    const r = cli([
      'bench',
      '--quick',
      '--only',
      'kernels',
      '--kernel-lengths',
      '64,128',
      '--threads',
      '1',
      '--output-dir',
      dir,
    ]);
    expect(r.stderr).toContain('measuring FP32 FMA peak');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/implementation\s+length\s+median ms\s+GFLOP\/s\s+% of peak/);
    const file: ResultFile = parseResultFile(readFileSync(onlyFile(dir, '.json'), 'utf8'));
    expect(r.stdout).toContain(`wrote ${onlyFile(dir, '.json')}`);
    expect(file.suite).toBe('bench');
    expect(file.environment.peak?.measuredBy).toBe('dilbench bench');
    expect(file.environment.peak?.fmaGflops).toBeGreaterThan(0);
    expect(file.bench?.sections).toEqual(['kernels']);
    expect(file.bench?.quick).toBe(true);
    expect(file.results.map((x) => `${x.implementation}@${x.seqLen}`)).toEqual([
      'flash@64',
      'flash@128',
      'naive@64',
      'naive@128',
    ]);
    for (const [i, row] of file.results.entries()) {
      const k = file.bench?.kernels?.[i];
      expect(row.params).toMatchObject({ benchSection: 'kernels' });
      expect(row.samplesMs).toHaveLength(3); // --quick: 3 samples a side
      expect(row.stopReason).toBe('fixed-runs');
      expect(row.stats?.medianMs).toBe(k?.medianMs);
      expect(row.gflops).toBeCloseTo(k!.gflops, 9);
      // the table prints the file's figures
      expect(r.stdout).toContain(k!.medianMs.toFixed(2));
    }
    // the Markdown view is the printed tables (not a suite ranking that mixes the sections' points)
    const md = readFileSync(onlyFile(dir, '.md'), 'utf8');
    expect(md).toMatch(/^# dilbench bench\n/);
    const table = r.stdout.slice(r.stdout.indexOf('implementation'), r.stdout.indexOf('\nelapsed'));
    expect(md).toContain(table.trimEnd());
    expect(md).not.toContain('Fastest exact attention');
  });

  it('--only dtypes --json: the ratio rows to fp32 come with their interval', () => {
    const dir = join(out, 'dtypes');
    const r = cli([
      'bench',
      '--quick',
      '--only',
      'dtypes',
      '--dtype-lengths',
      '128',
      '--dtype-kv-cache',
      '256',
      '--threads',
      '1',
      '--json',
      '--output-dir',
      dir,
    ]);
    expect(r.code).toBe(0);
    const printed = parseResultFile(r.stdout);
    const file = parseResultFile(readFileSync(onlyFile(dir, '.json'), 'utf8'));
    expect(printed.runId).toBe(file.runId);
    // the tables (kept in the .md) hold the dtypes table and no empty kernels table
    const md = readFileSync(onlyFile(dir, '.md'), 'utf8');
    expect(md).toContain('storage dtypes side by side');
    expect(md).not.toMatch(/implementation\s+length\s+median ms\s+GFLOP\/s\s+% of peak/);
    const d = file.bench?.dtypes;
    expect(d?.rows.length).toBeGreaterThan(0);
    // every sampled side is a row: one per dtype of flash and of kv-cache
    expect(file.results).toHaveLength(d!.rows.length);
    const ratios = file.bench?.ratios ?? [];
    for (const row of d!.rows.filter((x) => x.dtype !== 'fp32')) {
      const ratio = ratios.find((x) => x.other === `${row.kernel} ${row.dtype}`);
      expect(ratio?.base).toBe(`${row.kernel} fp32`);
      expect(ratio!.ratioCi95[0]).toBeLessThanOrEqual(ratio!.ratio);
      expect(ratio!.ratioCi95[1]).toBeGreaterThanOrEqual(ratio!.ratio);
      expect(ratio!.p).toBeGreaterThanOrEqual(0);
      // the table's "vs fp32" (fp32 median / this median) is the inverse of the time ratio
      expect(row.speedupVsFp32).toBeCloseTo(1 / ratio!.ratio, 9);
    }
  });
});

describe.skipIf(Boolean(noAddon))('dilbench bench: Ctrl-C', () => {
  it('SIGINT mid-run: exit 130, the points sampled so far written and marked interrupted', async () => {
    const dir = join(out, 'sigint');
    const child = spawn(
      process.execPath,
      [
        bin,
        'bench',
        '--quick',
        '--only',
        'kernels,kv-cache',
        '--kernel-lengths',
        '64,128,256,512,1024,2048,4096',
        '--kv-lengths',
        '512',
        '--threads',
        '1',
        '--output-dir',
        dir,
      ],
      { cwd: root },
    );
    let stderr = '';
    let signalled = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      // the signal lands while the kernels section samples: flash's first points are done
      if (!signalled && stderr.includes('flash @ 512...')) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    expect(signalled, stderr).toBe(true);
    expect(code, stderr).toBe(130);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
    const file: ResultFile = parseResultFile(readFileSync(onlyFile(dir, '.json'), 'utf8'));
    expect(file.interrupted).toBe(true);
    expect(file.bench?.interrupted?.during).toBe('kernels');
    expect(file.bench?.interrupted?.notRun).toEqual(['kv-cache']);
    // the points finished before the signal are kept, each with its samples
    const kept = file.results.map((x) => `${x.implementation}@${x.seqLen}`);
    expect(kept.slice(0, 3)).toEqual(['flash@64', 'flash@128', 'flash@256']);
    expect(kept).not.toContain('kv-cache@576');
    for (const row of file.results) expect(row.samplesMs).toHaveLength(3);
    expect(stdout).toContain('INTERRUPTED during kernels');
  }, 120_000);
});
