// The session's memory pool: exact statistics, the pool-off path, and peak memory vs the plan.
import { describe, expect, it } from 'vitest';

import type { NativeBinding, PoolStats } from '../../src/native/binding.js';
import { loadBinding } from '../../src/native/dilbench.js';
import { baseOptions, baseProblem } from './helpers.js';

const binding: NativeBinding = loadBinding();

function checkInvariants(s: PoolStats): void {
  expect(s.cacheHits + s.cacheMisses).toBe(s.allocations);
  expect(s.deallocations).toBeLessThanOrEqual(s.allocations);
  expect(s.peakBytesInUse).toBeGreaterThanOrEqual(s.bytesInUse);
  expect(s.peakBytesReserved).toBeGreaterThanOrEqual(s.bytesReserved);
  expect(s.bytesReserved).toBeGreaterThanOrEqual(s.bytesInUse);
  expect(s.peakBytesReserved).toBeGreaterThanOrEqual(s.peakBytesInUse);
  expect(s.failedAllocations).toBe(0);
  for (const v of Object.values(s)) expect(Number.isInteger(v) && v >= 0).toBe(true);
}

describe.each(['naive', 'flash'])('%s pool', (implementation) => {
  const problem = {
    ...baseProblem,
    implementation,
    seqLen: 200,
    heads: 4,
    kvHeads: 2,
    headDim: 64,
  };

  it('stats add up with the pool on', async () => {
    const s = await binding.createSession(problem, { ...baseOptions, useMemoryPool: true });
    const before = s.poolStats();
    checkInvariants(before);
    expect(before.allocations).toBeGreaterThanOrEqual(4); // q, k, v, o
    expect(before.bytesInUse).toBeGreaterThanOrEqual(s.plan.inputBytes + s.plan.outputBytes);
    await s.sample(5, false);
    const after = s.poolStats();
    checkInvariants(after);
    // inputs and output stay allocated; workspaces went back to the pool
    expect(after.bytesInUse).toBe(before.bytesInUse);
    expect(after.allocations - after.deallocations).toBe(before.allocations - before.deallocations);
    if (after.allocations > before.allocations + 1) {
      // repeated workspace requests of the same size classes are served from the cache
      expect(after.cacheHits).toBeGreaterThan(0);
    }
    s.dispose();
  });

  it('the pool-off path never hits and keeps nothing cached', async () => {
    const s = await binding.createSession(problem, { ...baseOptions, useMemoryPool: false });
    await s.sample(5, false);
    await s.output();
    const st = s.poolStats();
    checkInvariants(st);
    expect(st.cacheHits).toBe(0);
    expect(st.cacheMisses).toBe(st.allocations);
    expect(st.bytesReserved).toBe(st.bytesInUse);
    s.dispose();
  });

  it('peak memory is the plan total (size classes included)', async () => {
    const s = await binding.createSession(problem, baseOptions);
    await s.sample(2, false);
    const st = s.poolStats();
    const plan = s.plan;
    expect(plan.inputBytes).toBe(4 * (200 * 64 * 4 + 2 * 200 * 64 * 2));
    expect(plan.outputBytes).toBe(4 * 200 * 64 * 4);
    expect(plan.totalBytes).toBeGreaterThanOrEqual(
      plan.inputBytes + plan.outputBytes + plan.workspaceBytes,
    );
    expect(st.peakBytesInUse).toBeGreaterThanOrEqual(plan.inputBytes + plan.outputBytes);
    // the kernels report their workspace in pool size classes, so the plan is exact
    expect(st.peakBytesInUse).toBe(plan.totalBytes);
    s.dispose();
  });

  it('a memoryLimitBytes of exactly the plan total is enough; one byte less is OUT_OF_MEMORY', async () => {
    const plan = binding.plan(problem, baseOptions);
    for (const useMemoryPool of [true, false]) {
      const s = await binding.createSession(problem, {
        ...baseOptions,
        useMemoryPool,
        memoryLimitBytes: plan.totalBytes,
      });
      expect((await s.sample(3, false)).length).toBe(3);
      expect(s.poolStats().peakBytesReserved).toBeLessThanOrEqual(plan.totalBytes);
      s.dispose();
    }
    let err: { code?: string } | undefined;
    try {
      await binding.createSession(problem, {
        ...baseOptions,
        memoryLimitBytes: plan.totalBytes - 1,
      });
    } catch (e) {
      err = e as { code?: string };
    }
    expect(err?.code).toBe('ERR_DILBENCH_OUT_OF_MEMORY');
  });

  it('plan() matches the session plan and allocates nothing', async () => {
    const p = binding.plan(problem, baseOptions);
    const s = await binding.createSession(problem, baseOptions);
    expect(s.plan).toEqual(p);
    expect(p.flops).toBeGreaterThan(0);
    expect(p.bytesMoved).toBeGreaterThan(0);
    expect(p.effectiveSeqLen).toBe(200);
    s.dispose();
  });
});

describe('pool sizing', () => {
  it('naive plans O(seqLen^2) workspace, flash less', () => {
    const p = { ...baseProblem, seqLen: 1000, heads: 2, kvHeads: 1, headDim: 64 };
    const naive = binding.plan({ ...p, implementation: 'naive' }, baseOptions);
    const flash = binding.plan({ ...p, implementation: 'flash' }, baseOptions);
    expect(naive.workspaceBytes).toBeGreaterThanOrEqual(1000 * 1000 * 4);
    expect(flash.workspaceBytes).toBeLessThan(naive.workspaceBytes);
  });

  it('sessions have independent pools', async () => {
    const a = await binding.createSession(baseProblem, baseOptions);
    const b = await binding.createSession({ ...baseProblem, seqLen: 64 }, baseOptions);
    await a.sample(3, false);
    const sb = b.poolStats();
    expect(sb.allocations).toBe(4);
    expect(sb.deallocations).toBe(0);
    a.dispose();
    b.dispose();
  });
});
