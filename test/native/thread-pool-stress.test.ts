// The thread pool under ThreadSanitizer: native/tools/thread_pool_stress.cpp compiled here with
// -fsanitize=thread against native/core/thread_pool.cpp, the pool told it has 8 cpus (8 workers on
// this machine's cores, so workers routinely wake after their job ended). Every task exactly
// once, exceptions delivered, no data race reported. Skips, saying why, without g++ or TSan.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'dilbench-pool-tsan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const exe = join(dir, 'thread_pool_stress');

const { LD_PRELOAD: _ld, ...buildEnv } = process.env;
const build = spawnSync(
  'g++',
  [
    '-std=c++17',
    '-O1',
    '-g',
    '-fsanitize=thread',
    '-Dsched_getaffinity=stress_getaffinity',
    `-I${join(root, 'native', 'core')}`,
    join(root, 'native', 'tools', 'thread_pool_stress.cpp'),
    join(root, 'native', 'core', 'thread_pool.cpp'),
    '-o',
    exe,
    '-lpthread',
  ],
  { encoding: 'utf8', timeout: 180_000, env: buildEnv },
);
const skip = build.error
  ? `g++ not runnable: ${build.error.message}`
  : build.status !== 0
    ? `TSan build failed: ${build.stderr.split('\n').slice(0, 3).join(' ')}`
    : null;
if (skip) console.warn(`thread pool TSan stress skipped: ${skip}`);

describe.skipIf(skip !== null)('thread pool under ThreadSanitizer', () => {
  it('8 workers, 3 concurrent callers: every task once, throws delivered, no race', () => {
    // not under npm run test:sanitize's LD_PRELOAD of libasan: ASan and TSan cannot share a process
    const { LD_PRELOAD: _preload, ...env } = process.env;
    const r = spawnSync(exe, ['3000'], {
      encoding: 'utf8',
      timeout: 240_000,
      env: { ...env, TSAN_OPTIONS: 'halt_on_error=1 exitcode=66' },
    });
    expect(r.stderr).not.toMatch(/ThreadSanitizer/);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^workers 8, rounds 3000 x 3 callers, failures 0$/m);
  });
});
