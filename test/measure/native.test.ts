// The scheduler on real native sessions (skips, saying why, when the addon cannot load).
import { describe, expect, it } from 'vitest';
import { measure, measureInterleaved } from '../../src/measure/scheduler.js';
import type {
  NativeBinding,
  NativeProblem,
  NativeSessionOptions,
} from '../../src/native/binding.js';

let binding: NativeBinding | null = null;
let why = '';
try {
  const loader = (await import('../../src/native/dilbench.js')) as { loadBinding(): NativeBinding };
  binding = loader.loadBinding();
} catch (e) {
  why = ((e as Error).message ?? String(e)).replace(/\s*\n\s*/g, ' | ').slice(0, 300);
}
if (!binding) console.log(`[skip] scheduler-on-native tests: the addon cannot load (${why})`);

const problem = (implementation: string): NativeProblem => ({
  implementation,
  device: 'cpu',
  dtype: 'fp32',
  batch: 1,
  heads: 2,
  kvHeads: 2,
  seqLen: 256,
  headDim: 64,
  causal: false,
  seed: 1,
});
const options: NativeSessionOptions = {
  threads: 1,
  useMemoryPool: true,
  usePatternCache: true,
  memoryLimitBytes: 0,
};

describe.skipIf(!binding)('measure on a native session', () => {
  it('adaptive sampling of flash gives sane statistics', async () => {
    const session = await binding!.createSession(problem('flash'), options);
    try {
      const m = await measure(session, { maxTimeSeconds: 2 });
      expect(['converged', 'max-time', 'max-samples']).toContain(m.stopReason);
      expect(m.samplesMs.length).toBeGreaterThanOrEqual(3);
      expect(m.coldStartMs).toBeGreaterThan(0);
      expect(m.stats.minMs).toBeGreaterThan(0);
      expect(m.stats.medianCi95Ms![0]).toBeLessThanOrEqual(m.stats.medianMs);
      expect(m.elapsedSeconds).toBeLessThan(6);
    } finally {
      session.dispose();
    }
  });

  it('cold mode and fixed runs', async () => {
    const session = await binding!.createSession(problem('flash'), options);
    try {
      const m = await measure(session, { cold: true, warmup: 2, runs: 5 });
      expect(m.samplesMs).toHaveLength(5);
      expect(m.cacheMode).toBe('cold');
    } finally {
      session.dispose();
    }
  });

  it('interleaves naive and flash; abort stops it with ERR_DILBENCH_CANCELLED', async () => {
    const a = await binding!.createSession(problem('naive'), options);
    const b = await binding!.createSession(problem('flash'), options);
    try {
      const res = await measureInterleaved(
        new Map([
          ['naive', a],
          ['flash', b],
        ]),
        { warmup: 2, runs: 10 },
        undefined,
        3,
      );
      expect(res.get('naive')!.samplesMs).toHaveLength(10);
      expect(res.get('flash')!.samplesMs).toHaveLength(10);
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 50);
      await expect(
        measure(a, { maxTimeSeconds: 30, targetRse: 1e-9, maxSamples: 1e7 }, ac.signal),
      ).rejects.toMatchObject({
        code: 'ERR_DILBENCH_CANCELLED',
      });
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});
