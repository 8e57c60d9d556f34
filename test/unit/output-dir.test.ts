// Where results go: checked before sampling, created without Node's recursive mkdir (which loops
// forever under /proc), a fallback when the directory fails after the run, nothing written by a
// library call that did not ask, and an aborted run rejecting with its partial result.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fallbackResultsDir, runBenchmark, RunCancelledError } from '../../src/api/run.js';
import type { RunBenchmarkOptions } from '../../src/api/run.js';
import { ConfigError } from '../../src/config/errors.js';
import { constantRate } from '../../src/plan/calibrate.js';
import { assertWritableDirectory, makeDirectory } from '../../src/results/output-dir.js';
import { createFakeBinding } from '../helpers/fake-binding.js';

const dirs: string[] = [];
const temp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'dilbench-outdir-'));
  dirs.push(d);
  return d;
};
const savedTmp = process.env.TMPDIR;
const savedCwd = process.cwd();
afterEach(() => {
  process.chdir(savedCwd);
  if (savedTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmp;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const tiny = {
  suite: 'sequence-ranges',
  range: 'custom',
  customLengths: '64,128',
  implementations: ['flash'],
  runs: 2,
  warmup: 0,
  rates: constantRate(1e10),
  plots: false,
  history: false,
} satisfies Partial<RunBenchmarkOptions>;

describe('output directory', () => {
  it('makeDirectory creates nested directories and names a file in the way', () => {
    const d = temp();
    makeDirectory(join(d, 'a', 'b', 'c'));
    expect(existsSync(join(d, 'a', 'b', 'c'))).toBe(true);
    writeFileSync(join(d, 'file'), 'x');
    expect(() => makeDirectory(join(d, 'file', 'sub'))).toThrow(/ENOTDIR/);
  });

  it('fails at once under /proc instead of looping (Node recursive mkdir hangs there)', () => {
    if (!existsSync('/proc/self')) {
      console.log('skipped: no /proc on this system');
      return;
    }
    const t0 = Date.now();
    expect(() => assertWritableDirectory('/proc/nope/deeper')).toThrow(ConfigError);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('runBenchmark rejects an unwritable outputDir before measuring, naming the field', async () => {
    const d = temp();
    writeFileSync(join(d, 'some-file'), 'x');
    const binding = createFakeBinding();
    await expect(
      runBenchmark({ ...tiny, outputDir: join(d, 'some-file', 'sub'), binding }),
    ).rejects.toMatchObject({ field: 'outputDir' });
    expect(binding.sessions).toHaveLength(0);
  });

  it('writes to a named fallback when the directory fails after the run, losing nothing', async () => {
    const d = temp();
    process.env.TMPDIR = temp();
    const out = join(d, 'out');
    const warnings: string[] = [];
    let jsonPath = '';
    const file = await runBenchmark({
      ...tiny,
      outputDir: out,
      binding: createFakeBinding(),
      // the directory turns into a file while the run is going on
      onProgress: (e) => {
        if (e.type === 'point-end' && existsSync(out)) {
          rmSync(out, { recursive: true, force: true });
          writeFileSync(out, 'in the way');
        }
      },
      onFilesWritten: (w) => {
        warnings.push(...w.warnings);
        jsonPath = w.json;
        expect(w.fallbackDir).toBe(fallbackResultsDir());
      },
    });
    expect(jsonPath.startsWith(fallbackResultsDir())).toBe(true);
    expect(warnings.join('\n')).toContain(`wrote them to ${fallbackResultsDir()} instead`);
    expect(JSON.parse(readFileSync(jsonPath, 'utf8')).results).toHaveLength(file.results.length);
  });

  it('a library call without outputDir writes nothing into the working directory', async () => {
    const cwd = temp();
    process.chdir(cwd);
    const file = await runBenchmark({
      ...tiny,
      plots: true,
      history: true,
      binding: createFakeBinding(),
    });
    expect(file.results.every((r) => r.status === 'ok')).toBe(true);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('an aborted runBenchmark rejects with ERR_DILBENCH_CANCELLED carrying the partial result, written', async () => {
    const d = temp();
    const controller = new AbortController();
    const err = await runBenchmark({
      ...tiny,
      customLengths: '64,128,256',
      outputDir: d,
      binding: createFakeBinding(),
      signal: controller.signal,
      onProgress: (e) => {
        if (e.type === 'point-end' && e.row.seqLen === 64) controller.abort();
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunCancelledError);
    const c = err as RunCancelledError;
    expect(c.code).toBe('ERR_DILBENCH_CANCELLED');
    expect(c.partial.interrupted).toBe(true);
    expect(c.partial.results.filter((r) => r.status === 'ok').map((r) => r.seqLen)).toEqual([64]);
    expect(c.files && existsSync(c.files.json)).toBe(true);
  });
});
