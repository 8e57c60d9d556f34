// kv-cache prefill "skip": the prompt only fills the cache, its output rows are 0 and every decoded
// row is the causal row (attention-definitions.md, "kv-cache (decoding)"); in fp32 (the API) and
// in fp16 / bf16 storage (sessions, against the float64 reference), at every SIMD level this CPU
// has; counts without the prompt's pairs; errors naming the field; rows whose tokens/s count the
// decoded tokens.
import { describe, expect, it } from 'vitest';
import { computeAttention } from '../../src/api/compute.js';
import { runBenchmark } from '../../src/api/run.js';
import { ConfigError } from '../../src/config/errors.js';
import type { NativeProblem, SimdLevelName } from '../../src/native/binding.js';
import { loadBinding } from '../../src/native/dilbench.js';
import { constantRate } from '../../src/plan/calibrate.js';
import { createRng } from '../../src/stats/random.js';
import { baseOptions, compare } from './helpers.js';

const binding = loadBinding();
const detected = binding.info().detectedSimdLevel;
const LEVELS: SimdLevelName[] =
  detected === 'neon'
    ? ['generic', 'neon']
    : (['generic', 'avx2', 'avx512'] as SimdLevelName[]).slice(
        0,
        ['generic', 'avx2', 'avx512'].indexOf(detected) + 1,
      );
const batch = 1,
  heads = 4,
  kvHeads = 2,
  seqLen = 150,
  headDim = 40,
  promptLen = 110,
  newTokens = 40;
const rng = createRng(23);
const rand = (n: number) => Float32Array.from({ length: n }, () => rng() * 2 - 1);
const q = rand(batch * heads * seqLen * headDim);
const k = rand(batch * kvHeads * seqLen * headDim);
const v = rand(batch * kvHeads * seqLen * headDim);
const shape = { q, k, v, batch, heads, kvHeads, seqLen, headDim, binding, promptLen, newTokens };

/** rows [from, to) of every head of a [batch*heads, seqLen, headDim] output */
function rowsOf(out: ArrayLike<number>, from: number, to: number): number[] {
  const r: number[] = [];
  for (let bh = 0; bh < batch * heads; bh++)
    for (let i = from * headDim; i < to * headDim; i++)
      r.push(out[bh * seqLen * headDim + i] as number);
  return r;
}
const maxDiff = (a: number[], b: number[]) =>
  a.reduce((m, x, i) => Math.max(m, Math.abs(x - (b[i] as number))), 0);
/** the test's kv-cache problem (fp32, causal, the shape above) with `over` on top */
const kvProblem = (over: Partial<NativeProblem> = {}): NativeProblem => ({
  implementation: 'kv-cache',
  device: 'cpu',
  dtype: 'fp32',
  batch,
  heads,
  kvHeads,
  seqLen,
  headDim,
  causal: true,
  seed: 1,
  promptLen,
  ...over,
});

describe('kv-cache prefill skip', () => {
  it('leaves the prompt rows 0 and decodes the causal rows (fp32, both kernels, every SIMD level)', async () => {
    const dense = await computeAttention({ ...shape, implementation: 'naive', causal: true });
    try {
      for (const level of LEVELS) {
        binding.setSimdLevel(level);
        for (const implementation of ['kv-cache', 'kv-cache-recompute']) {
          // a caller's array full of garbage: the prompt rows must be written, not left
          const out = new Float32Array(q.length).fill(7);
          await computeAttention({ ...shape, implementation, prefill: 'skip', out });
          const key = `${implementation} ${level}`;
          expect(
            rowsOf(out, 0, promptLen).every((x) => x === 0),
            key,
          ).toBe(true);
          expect(
            maxDiff(rowsOf(out, promptLen, seqLen), rowsOf(dense, promptLen, seqLen)),
            key,
          ).toBeLessThan(1e-5);
          const attended = await computeAttention({ ...shape, implementation });
          expect(maxDiff(rowsOf(attended, 0, promptLen), rowsOf(dense, 0, promptLen))).toBeLessThan(
            1e-5,
          );
        }
      }
    } finally {
      binding.setSimdLevel(detected);
    }
  });

  it('matches the float64 reference of the same definition in fp16 and bf16 storage', async () => {
    for (const dtype of ['fp16', 'bf16'] as const) {
      const problem = kvProblem({ dtype, seed: 5, newTokens, prefill: 'skip' });
      const session = await binding.createSession(problem, { ...baseOptions, threads: 2 });
      try {
        const [sq, sk, sv] = [session.input('q'), session.input('k'), session.input('v')];
        const ref = await binding.reference({ ...problem, dtype: 'fp32' }, sq, sk, sv);
        expect(rowsOf(ref, 0, promptLen).every((x) => x === 0)).toBe(true);
        const out = await session.output();
        expect(
          rowsOf(out, 0, promptLen).every((x) => x === 0),
          dtype,
        ).toBe(true);
        const r = compare(out, ref);
        expect(r.finite).toBe(true);
        expect(r.relL2, dtype).toBeLessThan(dtype === 'fp16' ? 2e-3 : 1.6e-2);
      } finally {
        session.dispose();
      }
    }
  });

  it('counts no prompt pairs, and the binding resolves the split with it', () => {
    const problem = kvProblem();
    const attend = binding.plan(problem, baseOptions);
    const skip = binding.plan({ ...problem, prefill: 'skip' }, baseOptions);
    // the prompt's causal pairs: promptLen (promptLen + 1) / 2 per head, 4 * headDim flops each
    const promptFlops = 4 * headDim * batch * heads * ((promptLen * (promptLen + 1)) / 2);
    expect(attend.flops - skip.flops).toBeCloseTo(promptFlops, 0);
    expect(binding.resolvedParams?.({ ...problem, prefill: 'skip' }, 'kv-cache')).toMatchObject({
      promptLen,
      newTokens,
      prefill: 'skip',
    });
  });

  it('refuses an unknown prefill, naming the field, in the API, the binding and a suite', async () => {
    await expect(
      computeAttention({
        ...shape,
        implementation: 'kv-cache',
        prefill: 'lazy' as unknown as 'skip',
      }),
    ).rejects.toBeInstanceOf(ConfigError);
    await expect(
      computeAttention({ ...shape, implementation: 'kv-cache', prefill: 'lazy' as 'skip' }),
    ).rejects.toMatchObject({ field: 'prefill' });
    expect(() => binding.plan(kvProblem({ prefill: 'lazy' as 'skip' }), baseOptions)).toThrow(
      expect.objectContaining({ field: 'prefill' }) as Error,
    );
    await expect(
      runBenchmark({
        suite: 'sequence-ranges',
        range: 'custom',
        customLengths: [128],
        implementations: ['kv-cache'],
        prefill: 'lazy' as 'skip',
        binding,
      }),
    ).rejects.toMatchObject({ field: 'prefill' });
  });

  it('a suite row records the split and counts only the decoded tokens in tokens/s', async () => {
    const file = await runBenchmark({
      suite: 'sequence-ranges',
      range: 'custom',
      customLengths: [512],
      implementations: ['kv-cache', 'flash'],
      newTokens: 8,
      prefill: 'skip',
      runs: 3,
      warmup: 0,
      binding,
      rates: constantRate(1e10),
    });
    const kv = file.results.find((r) => r.implementation === 'kv-cache')!;
    const flash = file.results.find((r) => r.implementation === 'flash')!;
    expect(kv.status).toBe('ok');
    expect(kv.params).toMatchObject({ promptLen: 504, newTokens: 8, prefill: 'skip' });
    expect(kv.tokensPerSecond).toBeCloseTo((8 * 1000) / kv.stats!.medianMs, 6);
    // the flag is kv-cache's alone: flash attends every row and counts them
    expect(flash.status).toBe('ok');
    expect(flash.params?.prefill).toBeUndefined();
    expect(flash.tokensPerSecond).toBeCloseTo((512 * 1000) / flash.stats!.medianMs, 6);
  });
});
