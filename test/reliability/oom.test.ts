// Out of memory (issue 8): a tiny --memory-budget gives `skipped` rows with the reason; an
// allocation failure inside the pool (test hook DILBENCH_POOL_FAIL_AFTER=n: the n-th allocation
// of every new session's pool fails, read in native session creation) gives `failed` rows with
// ERR_DILBENCH_OUT_OF_MEMORY, and the pool releases what the run held.
import { afterEach, describe, expect, it } from 'vitest';
import { loadBinding } from '../../src/native/dilbench.js';
import type {
  NativeBinding,
  NativeProblem,
  NativeSessionOptions,
} from '../../src/native/binding.js';
import { CLI_READY, readResults, runCli, smallRun, tempDir } from './helpers.js';
import { at } from '../helpers/at.js';

let binding: NativeBinding | null = null;
try {
  binding = loadBinding();
} catch {
  binding = null;
}

const problem: NativeProblem = {
  implementation: 'flash',
  device: 'cpu',
  dtype: 'fp32',
  batch: 1,
  heads: 2,
  kvHeads: 2,
  seqLen: 96,
  headDim: 32,
  causal: false,
  seed: 3,
};
const options: NativeSessionOptions = {
  threads: 1,
  useMemoryPool: true,
  usePatternCache: true,
  memoryLimitBytes: 0,
};

describe.skipIf(!CLI_READY)('out of memory through the CLI', () => {
  it('a tiny --memory-budget: the big points are skipped with the reason, the small ones run', async () => {
    const dir = tempDir('budget');
    const r = await runCli([...smallRun(dir, '64,2048', 2), '--memory-budget', '256KiB']);
    expect(r.code, r.stderr).toBe(0);
    const { json } = at(readResults(dir), 0, 'result file');
    const big = json.results.filter((x) => x.seqLen === 2048);
    expect(big.length).toBeGreaterThan(0);
    for (const row of big) {
      expect(row.status).toBe('skipped');
      expect(row.reason).toMatch(/needs .*budget 256(\.0)? KiB/);
    }
    expect(json.results.filter((x) => x.seqLen === 64).every((x) => x.status === 'ok')).toBe(true);
  });

  it('an allocation failure in the pool: failed rows with ERR_DILBENCH_OUT_OF_MEMORY, the suite goes on', async () => {
    const dir = tempDir('poolfail');
    const r = await runCli(smallRun(dir, '64,96', 2), { DILBENCH_POOL_FAIL_AFTER: '2' });
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect([0, 1]).toContain(r.code);
    const { json } = at(readResults(dir), 0, 'result file');
    expect(json.results).toHaveLength(2); // every point has its row
    for (const row of json.results) {
      expect(row.status).toBe('failed');
      expect(row.errorCode).toBe('ERR_DILBENCH_OUT_OF_MEMORY');
      expect(row.reason).toMatch(/injected failure/);
    }
  });
});

describe.skipIf(!binding)('out of memory in the native pool', () => {
  afterEach(() => {
    delete process.env.DILBENCH_POOL_FAIL_AFTER;
  });

  it('failure while allocating the inputs: createSession rejects with ERR_DILBENCH_OUT_OF_MEMORY', async () => {
    process.env.DILBENCH_POOL_FAIL_AFTER = '3';
    const err = (await binding!.createSession(problem, options).catch((e: unknown) => e)) as {
      code?: string;
    };
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('ERR_DILBENCH_OUT_OF_MEMORY');
  });

  it('failure in a kernel workspace mid-run: sample rejects, the pool gives back the workspace and the session lives on', async () => {
    // find a kernel that takes workspace from the pool during a run
    const plan = binding!.plan(problem, options);
    expect(plan.workspaceBytes).toBeGreaterThan(0);
    process.env.DILBENCH_POOL_FAIL_AFTER = '5'; // q, k, v, o succeed; the first workspace fails
    const s = await binding!.createSession(problem, options);
    delete process.env.DILBENCH_POOL_FAIL_AFTER;
    try {
      const before = s.poolStats();
      expect(before.allocations).toBe(4);
      const err = (await s.sample(1, false).catch((e: unknown) => e)) as { code?: string };
      expect(err).toBeInstanceOf(Error);
      expect(err.code).toBe('ERR_DILBENCH_OUT_OF_MEMORY');
      const after = s.poolStats();
      expect(after.failedAllocations).toBe(1);
      expect(after.bytesInUse, 'what the failed run held is released').toBe(before.bytesInUse);
      // the hook fired once: the same session runs again, and the pool still balances
      const ns = await s.sample(2, false);
      expect(ns).toHaveLength(2);
      const end = s.poolStats();
      expect(end.bytesInUse).toBe(before.bytesInUse);
      expect(end.cacheHits + end.cacheMisses).toBe(end.allocations);
    } finally {
      s.dispose();
    }
  });
});
