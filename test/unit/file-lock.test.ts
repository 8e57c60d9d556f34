// The one lock rule of accumulated files (results/lock.ts, proper-lockfile): holders in turn,
// a clear error naming the file when it stays held, and the lock gone afterwards.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  acquireFileLock,
  FileLockedError,
  lockPathOf,
  withFileLock,
} from '../../src/results/lock.js';

const dir = mkdtempSync(join(tmpdir(), 'dilbench-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('withFileLock', () => {
  it('runs concurrent holders one at a time and leaves no lock behind', async () => {
    const file = join(dir, 'metrics.json');
    let inside = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        withFileLock(file, async () => {
          inside++;
          most = Math.max(most, inside);
          await new Promise((r) => setTimeout(r, 10));
          order.push(i);
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(order.sort()).toEqual([0, 1, 2, 3, 4]);
    expect(existsSync(lockPathOf(file))).toBe(false);
  });

  it('a lock held past the timeout is a FileLockedError naming the file; released on a throw', async () => {
    const file = join(dir, 'held.json');
    const release = await acquireFileLock(file);
    try {
      const err = await withFileLock(file, () => 1, { timeoutMs: 200 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FileLockedError);
      expect((err as FileLockedError).code).toBe('ERR_DILBENCH_LOCKED');
      expect((err as Error).message).toContain(file);
    } finally {
      await release();
    }
    await expect(
      withFileLock(file, () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(existsSync(lockPathOf(file))).toBe(false);
    expect(await withFileLock(file, () => 42)).toBe(42);
  });
});
