import { describe, expect, it } from 'vitest';
import type { NativeProblem, NativeSessionOptions } from '../../src/native/binding.js';
import { constantRate } from '../../src/plan/calibrate.js';
import { estimateSeconds, planPoint } from '../../src/plan/planner.js';
import { createFakeBinding, fakePlan } from '../helpers/fake-binding.js';

const GiB = 1024 ** 3;
const options: NativeSessionOptions = {
  threads: 2,
  useMemoryPool: true,
  usePatternCache: true,
  memoryLimitBytes: 0,
};
const problem = (over: Partial<NativeProblem> = {}): NativeProblem => ({
  implementation: 'naive',
  device: 'cpu',
  dtype: 'fp32',
  batch: 1,
  heads: 8,
  kvHeads: 8,
  seqLen: 1024,
  headDim: 64,
  causal: false,
  seed: 1,
  ...over,
});
const binding = createFakeBinding();
const fast = constantRate(1e12);

describe('planner', () => {
  it('runs a point that fits as requested', () => {
    const p = planPoint(
      binding,
      problem({ batch: 4 }),
      options,
      { memoryBudgetBytes: GiB, maxRunSeconds: 60, iterations: 10 },
      fast,
    );
    expect(p.action).toBe('run');
    if (p.action !== 'run') return;
    expect(p.problem.batch).toBe(4);
    expect(p.requestedBatch).toBe(4);
    expect(p.note).toBeUndefined();
    expect(p.plan).toEqual(fakePlan(problem({ batch: 4 }), options));
    expect(p.estimatedSeconds).toBeCloseTo(estimateSeconds(p.plan, 1e12, 10), 12);
  });

  it('lowers the batch to the largest that fits the memory budget', () => {
    // naive at 16K: 8 GiB of scores per batch element + inputs
    const perBatch = fakePlan(problem({ seqLen: 16384 }), options).totalBytes;
    const budget = Math.floor(perBatch * 3.5);
    const p = planPoint(
      binding,
      problem({ seqLen: 16384, batch: 8 }),
      options,
      { memoryBudgetBytes: budget, maxRunSeconds: 1e9, iterations: 1 },
      fast,
    );
    expect(p.action).toBe('run');
    if (p.action !== 'run') return;
    expect(p.problem.batch).toBe(3);
    expect(p.requestedBatch).toBe(8);
    expect(p.note).toMatch(
      /^batch lowered from 8 to 3: at batch 8 needs \d+\.\d GiB, budget \d+\.\d GiB$/,
    );
  });

  it('skips with the reason when even batch 1 is over the budget', () => {
    const need = fakePlan(problem({ seqLen: 65536 }), options).totalBytes;
    const p = planPoint(
      binding,
      problem({ seqLen: 65536 }),
      options,
      { memoryBudgetBytes: 11.5 * GiB, maxRunSeconds: 1e9, iterations: 1 },
      fast,
    );
    expect(p.action).toBe('skip');
    if (p.action !== 'skip') return;
    expect(p.reason).toBe(`needs ${(need / GiB).toFixed(1)} GiB, budget 11.5 GiB`);
    expect(p.reason).toBe('needs 128.5 GiB, budget 11.5 GiB');
    expect(p.plan?.totalBytes).toBe(need);
  });

  it('says the reason at batch 1 when the requested batch was larger', () => {
    const p = planPoint(
      binding,
      problem({ seqLen: 65536, batch: 4 }),
      options,
      { memoryBudgetBytes: GiB, maxRunSeconds: 1e9, iterations: 1 },
      fast,
    );
    expect(p.action).toBe('skip');
    if (p.action !== 'skip') return;
    expect(p.problem.batch).toBe(1);
    expect(p.requestedBatch).toBe(4);
    expect(p.reason).toBe('needs 128.5 GiB, budget 1.0 GiB (at batch 1)');
  });

  it('skips on the time limit, and lowers the batch for time too', () => {
    const slow = constantRate(1e9); // 1 GFLOP/s
    const flops1 = fakePlan(problem({ implementation: 'flash', seqLen: 4096 }), options).flops; // ~34 GFLOP
    const p = planPoint(
      binding,
      problem({ implementation: 'flash', seqLen: 4096 }),
      options,
      { memoryBudgetBytes: 100 * GiB, maxRunSeconds: 10, iterations: 1 },
      slow,
    );
    expect(p.action).toBe('skip');
    if (p.action !== 'skip') return;
    expect(p.reason).toMatch(/^estimated \d+(\.\d)? s, limit 10\.0 s \(--max-run-seconds\)$/);
    expect(p.estimatedSeconds).toBeGreaterThan(flops1 / 1e9);

    const q = planPoint(
      binding,
      problem({ implementation: 'flash', seqLen: 1024, batch: 8 }),
      options,
      { memoryBudgetBytes: 100 * GiB, maxRunSeconds: 10, iterations: 4 },
      slow,
    );
    // 2.1 GFLOP per batch element x 4 iterations = 8.6 s at batch 1; batch 2 would be 17 s
    expect(q.action).toBe('run');
    if (q.action === 'run') {
      expect(q.problem.batch).toBe(1);
      expect(q.note).toContain('batch lowered from 8 to 1');
      expect(q.note).toContain('--max-run-seconds');
    }
  });

  it('turns a native planning error into a failure with its code', () => {
    const p = planPoint(
      binding,
      problem({ headDim: 48 }),
      options,
      { memoryBudgetBytes: GiB, maxRunSeconds: 60, iterations: 1 },
      fast,
    );
    expect(p.action).toBe('fail');
    if (p.action !== 'fail') return;
    expect(p.errorCode).toBe('ERR_DILBENCH_INVALID_CONFIG');
    expect(p.reason).toContain('headDim: 48');
  });
});
