// The npm tarball installs and runs with no compiler: install scripts off, so only the shipped
// prebuild can load. This is the path a user without cmake/g++ takes.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const platformDir = `${process.platform}-${process.arch}`;

/** git status of the checkout, to show the test leaves it as it found it */
function treeState(): string {
  const r = spawnSync(
    'git',
    [
      'status',
      '--porcelain',
      '--ignored',
      '--untracked-files=all',
      '--',
      'build',
      'prebuilds',
      'build-prebuild',
    ],
    { cwd: root, encoding: 'utf8' },
  );
  return r.status === 0 ? r.stdout : 'not a git checkout';
}
const before = treeState();

describe('packed tarball', () => {
  let work: string;
  let tarball: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'dilbench-pack-'));
    // The checkout is never written: `npm pack --ignore-scripts` reads it (dist/ is built by
    // `npm test`), and when it has no CPU prebuild (CI makes one with `npm run prebuild` first),
    // the prebuild is made in a copy of the tree in the temporary folder.
    let packFrom = root;
    if (!existsSync(join(root, 'prebuilds', platformDir, 'dilbench.node'))) {
      packFrom = join(work, 'src');
      cpSync(root, packFrom, {
        recursive: true,
        filter: (src) =>
          !/^(node_modules|build|build-.*|prebuilds|\.git|coverage|benchmark_results|report)$/.test(
            relative(root, src).split(sep)[0] ?? '',
          ),
      });
      symlinkSync(join(root, 'node_modules'), join(packFrom, 'node_modules'));
      execFileSync(process.execPath, [join(packFrom, 'scripts', 'prebuild.cjs')], {
        cwd: packFrom,
        stdio: 'inherit',
      });
    }
    const out = execFileSync(
      npm,
      ['pack', '--json', '--ignore-scripts', '--pack-destination', work],
      {
        cwd: packFrom,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const info = JSON.parse(out.slice(out.indexOf('[')));
    tarball = join(work, info[0].filename);
    const files: string[] = info[0].files.map((f: { path: string }) => f.path);
    expect(files.some((f) => f.startsWith(`prebuilds/${process.platform}-${process.arch}/`))).toBe(
      true,
    );
    expect(files).toContain('dist/src/index.js');
    expect(files).toContain('bin/dilbench.js');
    // the suites and `dilbench bench` (npm run bench) are library code under dist/src/
    expect(files).toContain('dist/src/suites/sequence-ranges.js');
    expect(files).toContain('dist/src/bench/run.js');
    expect(files).toContain('dist/src/cli/commands/bench.js');
    // The install hook and what it builds from ship too, for platforms without a prebuild.
    for (const f of [
      'scripts/install.cjs',
      'CMakeLists.txt',
      'native/core/session.h',
      'bindings/addon.cpp',
      'configs/ranges.yaml',
    ]) {
      expect(files).toContain(f);
    }
    // The definitions every result depends on ship with the package; device logs do not.
    expect(files).toContain('docs/attention-definitions.md');
    expect(files.some((f) => f.startsWith('native/cuda/tools/results/'))).toBe(false);
    // Build outputs of the developer's checkout never ship.
    expect(files.some((f) => f.startsWith('build/'))).toBe(false);

    const app = join(work, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'app', version: '1.0.0', private: true }),
    );
    execFileSync(
      npm,
      ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', tarball],
      {
        cwd: app,
        stdio: 'inherit',
      },
    );
  }, 600_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('leaves the checkout as it found it (build/, prebuilds/)', () => {
    expect(treeState()).toBe(before);
  });

  it('ships a CPU-only prebuild (no CUDA compiled in, small)', () => {
    const shipped = join(
      work,
      'app',
      'node_modules',
      'dilbench',
      'prebuilds',
      platformDir,
      'dilbench.node',
    );
    expect(existsSync(shipped)).toBe(true);
    // The CUDA build is about 15 MB and ships separately, under variants/cuda/.
    const mb = statSync(shipped).size / 1e6;
    expect(mb, `prebuild is ${mb.toFixed(1)} MB`).toBeLessThan(6);
    const r = spawnSync(
      process.execPath,
      ['-e', `console.log(JSON.stringify(require(${JSON.stringify(shipped)}).info().cuda))`],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).compiled).toBe(false);
    const doctor = spawnSync('npx', ['--no-install', 'dilbench', 'doctor'], {
      cwd: join(work, 'app'),
      encoding: 'utf8',
      env: noCompilerEnv(),
    });
    expect(doctor.status, doctor.stderr).toBe(0);
    expect(doctor.stdout).toMatch(/CUDA compiled in:\s*no/);
  });

  // No compiler on PATH-visible names: if anything tried to build, it would fail loudly.
  const noCompilerEnv = () => ({
    ...process.env,
    CC: '/bin/false',
    CXX: '/bin/false',
    DILBENCH_BACKEND: 'cpu',
  });

  it('prints its version from the installed package', () => {
    const app = join(work, 'app');
    const r = spawnSync('npx', ['--no-install', 'dilbench', '--version'], {
      cwd: app,
      encoding: 'utf8',
      env: noCompilerEnv(),
    });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
    expect(r.stdout.trim()).toContain(version);
  });

  it('runs a tiny sequence-ranges from the prebuild', () => {
    const app = join(work, 'app');
    const outDir = join(work, 'results');
    const r = spawnSync(
      'npx',
      [
        '--no-install',
        'dilbench',
        'sequence-ranges',
        '--range',
        'custom',
        '--custom-lengths',
        '128',
        '--implementations',
        'flash',
        '--runs',
        '3',
        '--warmup',
        '1',
        '--output-dir',
        outDir,
        '--quiet',
      ],
      { cwd: app, encoding: 'utf8', env: noCompilerEnv() },
    );
    expect(r.status, r.stderr).toBe(0);
    // The addon that ran is the shipped prebuild, not a build/ directory.
    expect(existsSync(join(app, 'node_modules', 'dilbench', 'build'))).toBe(false);
    const json = readdirSync(outDir).find(
      (f) => f.endsWith('.json') && f.startsWith('sequence-ranges_'),
    );
    expect(json).toBeDefined();
    const file = JSON.parse(readFileSync(join(outDir, json!), 'utf8'));
    expect(file.results).toHaveLength(1);
    expect(file.results[0]).toMatchObject({ implementation: 'flash', seqLen: 128, status: 'ok' });
    expect(file.results[0].samplesMs.length).toBeGreaterThanOrEqual(3);
  });
});
