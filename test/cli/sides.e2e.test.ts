// The built CLI end to end with --dtype, --device auto, --compare-dtypes and --compare-devices.
// Bad input needs no addon; the runs use the real addon (skipped, saying why, when it cannot
// load). Real bf16 rows are checked where the binding lists bf16 for flash on the CPU.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ResultFile } from '../../src/results/types.js';
import { distBuilt as built, cli, runModule } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'dilbench-sides-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** What the real addon reports: flash's cpu dtypes and the CUDA device count, or why it cannot load. */
function probe(): { error: string } | { flashDtypes: string[]; cudaDevices: number } {
  if (!built) return { error: 'dist/ is not built (run npm run build:ts)' };
  const r = runModule(
    "const m = await import('./dist/src/native/dilbench.js'); try { const b = m.loadBinding(); const f = b.listImplementations().find((i) => i.name === 'flash' && i.device === 'cpu'); console.log(JSON.stringify({ flashDtypes: f ? f.dtypes : [], cudaDevices: b.info().cuda.deviceCount })); } catch (e) { console.error(String(e.message).split('\\n').find((l) => l.startsWith('Cause:')) ?? e.message); process.exit(1); }",
  );
  if (r.status !== 0)
    return { error: r.stderr.split('\n').find((l) => l.trim()) ?? 'unknown error' };
  return JSON.parse(r.stdout) as { flashDtypes: string[]; cudaDevices: number };
}

const addon = probe();
const noAddon = 'error' in addon ? addon.error : null;
if (noAddon) console.warn(`sides e2e: native addon unavailable, runs skipped: ${noAddon}`);
const hasBf16 = !noAddon && 'flashDtypes' in addon && addon.flashDtypes.includes('bf16');
if (!noAddon && !hasBf16)
  console.warn(
    'sides e2e: the binding does not list bf16 for flash on the cpu; the real-bf16-rows test is skipped (the skipped-row path is still checked)',
  );
const cudaDevices = !noAddon && 'cudaDevices' in addon ? addon.cudaDevices : 0;

/** The JSON, Markdown and CSV a run wrote into `dir`. */
function outputs(dir: string): { json: ResultFile; md: string; csv: string[] } {
  const files = readdirSync(dir);
  const base = files
    .find((f) => f.endsWith('.json') && !f.startsWith('history'))!
    .replace(/\.json$/, '');
  return {
    json: JSON.parse(readFileSync(join(dir, `${base}.json`), 'utf8')) as ResultFile,
    md: readFileSync(join(dir, `${base}.md`), 'utf8'),
    csv: readFileSync(join(dir, `${base}.csv`), 'utf8')
      .trim()
      .split('\n'),
  };
}

/** a tiny sequence-ranges run (--custom-lengths is variadic: given once) */
const tiny = (lengths = '128,256', quiet = true) => [
  '--range',
  'custom',
  '--custom-lengths',
  lengths,
  '--heads',
  '2',
  '--head-dim',
  '64',
  '--warmup',
  '1',
  '--runs',
  '5',
  '--no-plots',
  ...(quiet ? ['--quiet'] : []),
];

describe('dtype and device flags: input errors (no addon needed)', () => {
  it.skipIf(!built)(
    'bad values exit 2 naming the flag and what is allowed, on every suite command',
    () => {
      const cases: [string[], string, string][] = [
        [['--dtype', 'fp64'], '--dtype', 'allowed: fp32, fp16, bf16'],
        [
          ['--compare-dtypes', 'fp32'],
          '--compare-dtypes',
          'allowed: two or more different dtypes of fp32, fp16, bf16',
        ],
        [['--compare-dtypes', 'fp32,int8'], '--compare-dtypes', 'allowed: two or more'],
        [['--compare-dtypes', 'bf16,bf16'], '--compare-dtypes', 'a dtype is listed twice'],
        [
          ['--compare-dtypes', 'fp32,bf16', '--dtype', 'fp16'],
          '--compare-dtypes',
          'without --dtype',
        ],
        [['--compare-devices', '--device', 'cpu'], '--compare-devices', 'without --device'],
        [['--device', 'tpu'], '--device', 'allowed: cpu, cuda, auto'],
      ];
      for (const [args, flag, text] of cases) {
        const r = cli(['sequence-ranges', ...args]);
        expect(r.code, args.join(' ')).toBe(2);
        expect(r.stderr).toContain(flag);
        expect(r.stderr).toContain(text);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }
      for (const cmd of ['quick-validation', 'optimization-impact', 'extreme', 'ring']) {
        const r = cli([cmd, '--dtype', 'fp64']);
        expect(r.code, cmd).toBe(2);
        expect(r.stderr).toContain('invalid --dtype: "fp64"');
      }
    },
  );

  it.skipIf(!built)('--help of the suite commands documents the flags', () => {
    for (const cmd of [
      'sequence-ranges',
      'quick-validation',
      'optimization-impact',
      'extreme',
      'ring',
      'inference',
      'scaling',
    ]) {
      const r = cli([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      for (const flag of ['--device', '--dtype', '--compare-dtypes', '--compare-devices'])
        expect(r.stdout, `${cmd} ${flag}`).toContain(flag);
    }
    expect(cli(['sequence-ranges', '--help']).stdout).toContain('cpu|cuda|auto');
  });
});

describe.skipIf(noAddon !== null)('dtype and device flags: runs on the real addon', () => {
  it.skipIf(!hasBf16)(
    '--compare-dtypes fp32,bf16: real bf16 rows for flash, skipped rows with the reason for dilated, one file set with the comparison',
    () => {
      const out = join(tmp, 'dtypes');
      const r = cli([
        'sequence-ranges',
        ...tiny(),
        '--implementations',
        'flash,dilated',
        '--compare-dtypes',
        'fp32,bf16',
        '--output-dir',
        out,
      ]);
      expect(r.code, r.stderr).toBe(0);
      const { json, md, csv } = outputs(out);
      const rows = json.results;
      expect(rows).toHaveLength(8);
      const flash = rows.filter((x) => x.implementation === 'flash');
      expect(flash.map((x) => [x.dtype, x.status])).toEqual([
        ['fp32', 'ok'],
        ['fp32', 'ok'],
        ['bf16', 'ok'],
        ['bf16', 'ok'],
      ]);
      for (const x of flash) expect(x.samplesMs).toHaveLength(5);
      const dilatedBf16 = rows.filter((x) => x.implementation === 'dilated' && x.dtype === 'bf16');
      expect(dilatedBf16).toHaveLength(2);
      for (const x of dilatedBf16) {
        expect(x.status).toBe('skipped');
        expect(x.reason).toMatch(
          /^dilated does not support bf16 on cpu \(supported: [a-z0-9, ]+\)$/,
        );
      }
      expect(json.config).toMatchObject({
        device: 'cpu',
        dtype: 'fp32,bf16',
        compareDtypes: ['fp32', 'bf16'],
        sidesInterleaved: true,
      });
      const comparison = json.comparisons!.precision[0]!;
      expect(comparison).toMatchObject({
        baseline: { device: 'cpu', dtype: 'fp32' },
        other: { device: 'cpu', dtype: 'bf16' },
      });
      for (const c of comparison.rows.filter((x) => x.implementation === 'flash')) {
        const fp32 = flash.find((x) => x.dtype === 'fp32' && x.seqLen === c.seqLen)!;
        const bf16 = flash.find((x) => x.dtype === 'bf16' && x.seqLen === c.seqLen)!;
        expect(c.timeRatio).toBeCloseTo(bf16.stats!.medianMs / fp32.stats!.medianMs, 12);
        expect(c.timeRatioCi95![0]).toBeLessThanOrEqual(c.timeRatio!);
        expect(c.timeRatioCi95![1]).toBeGreaterThanOrEqual(c.timeRatio!);
        expect(c.pValue).toBeGreaterThanOrEqual(0);
        expect(c.pValue).toBeLessThanOrEqual(1);
        expect(c.significant).toBe(c.pValue! < 0.05);
        // the pool's peak of each side (at these tiny shapes the bf16 kernels' fp32 tiles can outweigh the halved inputs)
        expect(bf16.peakMemoryBytes!).toBeGreaterThan(0);
        expect(c.memoryRatio).toBeCloseTo(bf16.peakMemoryBytes! / fp32.peakMemoryBytes!, 12);
      }
      expect(
        comparison.rows
          .filter((x) => x.implementation === 'dilated')
          .every((x) => x.timeRatio === null && /^cpu\/bf16 skipped: /.test(x.note ?? '')),
      ).toBe(true);
      expect(md).toContain('## Precision comparison');
      expect(md).toContain('### bf16 vs fp32 on cpu');
      expect(md).toContain('| flash (bf16) |');
      const header = csv[0]!.split(',');
      expect(csv).toHaveLength(1 + 8);
      expect(
        csv.slice(1).filter((l) => l.split(',')[header.indexOf('dtype')] === 'bf16'),
      ).toHaveLength(4);
    },
  );

  it.skipIf(!hasBf16)(
    '--dtype bf16 on quick-validation: flash and naive pass against the float64 reference within the bf16 tolerance',
    () => {
      const out = join(tmp, 'qv');
      const r = cli([
        'quick-validation',
        '--dtype',
        'bf16',
        '--sequence-lengths',
        '256',
        '--implementations',
        'flash,naive',
        '--output-dir',
        out,
        '--quiet',
      ]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const { json } = outputs(out);
      expect(
        json.results.map((x) => [
          x.implementation,
          x.dtype,
          x.validation?.against,
          x.validation?.passed,
        ]),
      ).toEqual([
        ['flash', 'bf16', 'float64-reference', true],
        ['naive', 'bf16', 'float64-reference', true],
      ]);
      for (const x of json.results) {
        expect(x.validation!.tolerance.relL2).toBe(1e-2);
        // really rounded to bf16: far above fp32 error, within the definitions doc's bf16 bound
        expect(x.validation!.relL2Error).toBeGreaterThan(1e-5);
        expect(x.validation!.relL2Error).toBeLessThanOrEqual(1e-2);
      }
    },
  );

  it('--compare-dtypes where a dtype is not listed for an implementation: skipped rows, exit 0', () => {
    const out = join(tmp, 'skip');
    const r = cli([
      'sequence-ranges',
      ...tiny('128'),
      '--implementations',
      'dilated',
      '--compare-dtypes',
      'fp32,fp16',
      '--output-dir',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const { json, md } = outputs(out);
    expect(json.results.map((x) => [x.dtype, x.status])).toEqual([
      ['fp32', 'ok'],
      ['fp16', 'skipped'],
    ]);
    expect(json.results[1]!.reason).toMatch(/^dilated does not support fp16 on cpu/);
    expect(md).toContain('No (implementation, length) pair ran on both fp32 and fp16');
  });

  it('--compare-devices: a cpu column and a cuda column, exit 0, the JSON parses, the Markdown has the section', () => {
    const out = join(tmp, 'devices');
    const r = cli([
      'sequence-ranges',
      ...tiny('128', false),
      '--implementations',
      'flash',
      '--compare-devices',
      '--output-dir',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const { json, md } = outputs(out);
    expect(json.results.map((x) => [x.device, x.seqLen])).toEqual([
      ['cpu', 128],
      ['cuda', 128],
    ]);
    expect(json.results[0]!.status).toBe('ok');
    expect(md).toContain('## Device comparison');
    expect(md).toContain('### cuda vs cpu (fp32)');
    const notes = r.stderr.split('\n').filter((l) => l.includes('--compare-devices'));
    if (cudaDevices === 0) {
      // no CUDA here: said once at the start, and every cuda row says why
      expect(notes).toHaveLength(1);
      expect(notes[0]).toMatch(/^dilbench: --compare-devices: no CUDA device: /);
      expect(json.results[1]!.status).toBe('skipped');
      expect(json.results[1]!.reason).toMatch(/^no CUDA device: /);
      expect(json.comparisons!.device[0]!.summary.rows).toBe(0);
    } else {
      expect(notes).toHaveLength(0);
      expect(json.results[1]!.status).toBe('ok');
      expect(json.comparisons!.device[0]!.rows[0]!.timeRatio).toBeGreaterThan(0);
    }
  });

  it('--device auto records which device it chose and why', () => {
    const r = cli([
      'sequence-ranges',
      ...tiny('128', false),
      '--implementations',
      'flash',
      '--device',
      'auto',
      '--json',
      '--output-dir',
      join(tmp, 'auto'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const file = JSON.parse(r.stdout) as ResultFile;
    const want = cudaDevices > 0 ? 'cuda' : 'cpu';
    expect(file.config.deviceSelection).toMatchObject({ requested: 'auto', device: want });
    expect(file.results[0]!.device).toBe(want);
    expect(r.stderr).toContain(`dilbench: --device auto chose ${want}: `);
  });
});
