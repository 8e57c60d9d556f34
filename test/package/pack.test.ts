// The npm tarball installs and runs with no compiler: install scripts off, so only the shipped
// prebuild can load. This is the path a user without cmake/g++ takes.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

describe('packed tarball', () => {
  let work: string;
  let tarball: string;

  beforeAll(() => {
    const prebuildDir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
    if (!existsSync(prebuildDir) || readdirSync(prebuildDir).length === 0) {
      // CI runs `npm run prebuild` first; locally, make it here so the test is self-contained.
      execFileSync(npm, ['run', 'prebuild'], { cwd: root, stdio: 'inherit' });
    }
    work = mkdtempSync(join(tmpdir(), 'dilbench-pack-'));
    const out = execFileSync(npm, ['pack', '--json', '--pack-destination', work], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const info = JSON.parse(out.slice(out.indexOf('[')));
    tarball = join(work, info[0].filename);
    const files: string[] = info[0].files.map((f: { path: string }) => f.path);
    expect(files.some((f) => f.startsWith(`prebuilds/${process.platform}-${process.arch}/`))).toBe(true);
    expect(files).toContain('dist/src/index.js');
    expect(files).toContain('bin/dilbench.js');
    // The install hook and what it builds from ship too, for platforms without a prebuild.
    for (const f of ['scripts/install.cjs', 'CMakeLists.txt', 'native/core/session.h', 'bindings/addon.cpp', 'configs/ranges.yaml']) {
      expect(files).toContain(f);
    }
    // Build outputs of the developer's checkout never ship.
    expect(files.some((f) => f.startsWith('build/'))).toBe(false);

    const app = join(work, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    execFileSync(npm, ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', tarball], {
      cwd: app,
      stdio: 'inherit',
    });
  }, 600_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  // No compiler on PATH-visible names: if anything tried to build, it would fail loudly.
  const noCompilerEnv = () => ({ ...process.env, CC: '/bin/false', CXX: '/bin/false', DILBENCH_BACKEND: 'cpu' });

  it('prints its version from the installed package', () => {
    const app = join(work, 'app');
    const r = spawnSync('npx', ['--no-install', 'dilbench', '--version'], { cwd: app, encoding: 'utf8', env: noCompilerEnv() });
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
      ['--no-install', 'dilbench', 'sequence-ranges', '--range', 'custom', '--custom-lengths', '128',
        '--implementations', 'flash', '--runs', '3', '--warmup', '1', '--output-dir', outDir, '--quiet'],
      { cwd: app, encoding: 'utf8', env: noCompilerEnv() },
    );
    expect(r.status, r.stderr).toBe(0);
    // The addon that ran is the shipped prebuild, not a build/ directory.
    expect(existsSync(join(app, 'node_modules', 'dilbench', 'build'))).toBe(false);
    const json = readdirSync(outDir).find((f) => f.endsWith('.json') && f.startsWith('sequence-ranges_'));
    expect(json).toBeDefined();
    const file = JSON.parse(readFileSync(join(outDir, json!), 'utf8'));
    expect(file.results).toHaveLength(1);
    expect(file.results[0]).toMatchObject({ implementation: 'flash', seqLen: 128, status: 'ok' });
    expect(file.results[0].samplesMs.length).toBeGreaterThanOrEqual(3);
  });
});
