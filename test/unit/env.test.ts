import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { collectEnvironment, gitCommit } from '../../src/env/environment.js';
import { packageRoot } from '../../src/config/paths.js';
import { createFakeBinding } from '../helpers/fake-binding.js';

describe('environment', () => {
  it('records machine, software and build', () => {
    const env = collectEnvironment(createFakeBinding());
    expect(env.cpuModel.length).toBeGreaterThan(0);
    expect(env.cpuCores).toBeGreaterThan(0);
    expect(env.simdLevel).toBe('avx2');
    expect(env.buildType).toBe('Fake');
    expect(env.totalMemoryBytes).toBe(os.totalmem());
    expect(env.freeMemoryBytes).toBeGreaterThan(0);
    expect(env.freeMemoryBytes).toBeLessThanOrEqual(env.totalMemoryBytes);
    expect(env.nodeVersion).toBe(process.version);
    expect(env.dilbenchVersion).toBe('0.1.0');
    expect(env.os).toContain(os.arch());
    if (process.platform === 'linux') expect(Array.isArray(env.cpuFlags)).toBe(true);
  });

  it('knows the git commit in a checkout, null elsewhere', () => {
    let head: string | null;
    try {
      head = execFileSync('git', ['rev-parse', 'HEAD'], {
        cwd: packageRoot(),
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      head = null;
    }
    expect(gitCommit()).toBe(head);
    expect(gitCommit(os.tmpdir())).toBeNull();
  });
});
