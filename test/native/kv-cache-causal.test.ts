// kv-cache decoding is causal by definition: computeAttention computes it causal when causal is
// omitted, refuses causal: false by name, and suites label the rows with what was computed.
import { describe, expect, it } from 'vitest';
import { computeAttention } from '../../src/api/compute.js';
import { runBenchmark } from '../../src/api/run.js';
import { loadBinding } from '../../src/native/dilbench.js';
import { constantRate } from '../../src/plan/calibrate.js';
import { createRng } from '../../src/stats/random.js';

const binding = loadBinding();
const batch = 1,
  heads = 2,
  seqLen = 96,
  headDim = 32;
const rng = createRng(11);
const rand = () =>
  Float32Array.from({ length: batch * heads * seqLen * headDim }, () => rng() * 2 - 1);
const q = rand(),
  k = rand(),
  v = rand();
const base = { q, k, v, batch, heads, seqLen, headDim, binding };
const maxDiff = (a: Float32Array, b: Float32Array) =>
  a.reduce((m, x, i) => Math.max(m, Math.abs(x - (b[i] as number))), 0);

describe('kv-cache and causal', () => {
  it('computes causal decoding when causal is omitted (equals causal dense attention)', async () => {
    const dense = await computeAttention({ ...base, implementation: 'naive', causal: true });
    const nonCausal = await computeAttention({ ...base, implementation: 'naive', causal: false });
    for (const implementation of ['kv-cache', 'kv-cache-recompute']) {
      const out = await computeAttention({ ...base, implementation, promptLen: 40, newTokens: 56 });
      expect(maxDiff(out, dense), implementation).toBeLessThan(1e-5);
      expect(maxDiff(out, nonCausal), implementation).toBeGreaterThan(1e-2);
      expect(
        maxDiff(await computeAttention({ ...base, implementation, causal: true }), dense),
      ).toBeLessThan(1e-5);
    }
  });

  it('refuses causal: false, naming the field', async () => {
    for (const implementation of ['kv-cache', 'kv-cache-recompute']) {
      await expect(
        computeAttention({ ...base, implementation, causal: false }),
      ).rejects.toMatchObject({
        code: 'ERR_DILBENCH_INVALID_CONFIG',
        field: 'causal',
      });
    }
  });

  it('a non-causal suite runs kv-cache causal and its rows say so; other rows keep causal: false', async () => {
    const file = await runBenchmark({
      suite: 'sequence-ranges',
      range: 'custom',
      customLengths: [128],
      implementations: ['kv-cache', 'flash'],
      runs: 2,
      warmup: 0,
      binding,
      rates: constantRate(1e10),
    });
    const kv = file.results.find((r) => r.implementation === 'kv-cache')!;
    const flash = file.results.find((r) => r.implementation === 'flash')!;
    expect(kv).toMatchObject({ status: 'ok', causal: true });
    expect(kv.warnings?.join(' ')).toMatch(/computed causal \(decoding is causal by definition\)/);
    expect(flash).toMatchObject({ status: 'ok', causal: false });
  });
});
