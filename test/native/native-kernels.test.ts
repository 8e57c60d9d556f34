// naive and flash against the float64 reference (attention-definitions.md tolerances).
import { describe, expect, it } from 'vitest';

import type { NativeBinding, NativeProblem } from '../../src/native/binding.js';
import { loadBinding } from '../../src/native/dilbench.js';
import { baseOptions, compare, randomNormal } from './helpers.js';

const binding: NativeBinding = loadBinding();
const MAX_ABS = 1e-4;
const REL_L2 = 1e-5;

interface Case {
  seqLen: number;
  headDim: number;
  causal: boolean;
  heads: number;
  kvHeads: number;
  batch: number;
}

const cases: Case[] = [];
for (const seqLen of [1, 7, 127, 1000]) {
  for (const headDim of [32, 64, 128]) {
    for (const causal of [false, true])
      cases.push({ seqLen, headDim, causal, heads: 2, kvHeads: 1, batch: 1 });
  }
}
cases.push({ seqLen: 127, headDim: 64, causal: true, heads: 8, kvHeads: 2, batch: 2 });
cases.push({ seqLen: 33, headDim: 48, causal: false, heads: 6, kvHeads: 3, batch: 1 });
// flash's 128-row query tiles at AVX-512 from 4K on, with a partial last tile (4200 = 32 x 128 + 104)
for (const causal of [false, true])
  cases.push({ seqLen: 4200, headDim: 64, causal, heads: 1, kvHeads: 1, batch: 1 });

function problemOf(c: Case, implementation: string): NativeProblem {
  return { implementation, device: 'cpu', dtype: 'fp32', seed: 1234 + c.seqLen, ...c };
}

describe('seeded sessions vs the float64 reference', () => {
  it.each(cases)(
    'seqLen $seqLen headDim $headDim causal $causal heads $heads/$kvHeads batch $batch',
    async (c) => {
      const threads = Math.min(2, binding.info().hardwareThreads);
      let ref: Float64Array | undefined;
      let inputs: Float32Array[] | undefined;
      for (const implementation of ['naive', 'flash']) {
        const s = await binding.createSession(problemOf(c, implementation), {
          ...baseOptions,
          threads,
        });
        const q = s.input('q');
        const k = s.input('k');
        const v = s.input('v');
        if (!inputs) {
          inputs = [q, k, v];
          ref = await binding.reference(problemOf(c, implementation), q, k, v);
        } else {
          // same seed, same inputs, whatever the implementation
          expect(q).toEqual(inputs[0]);
          expect(k).toEqual(inputs[1]);
          expect(v).toEqual(inputs[2]);
        }
        const out = await s.output();
        const r = compare(out, ref!);
        expect(r.finite, `${implementation}: NaN/Inf in the output`).toBe(true);
        expect(r.maxAbs, `${implementation} max abs`).toBeLessThanOrEqual(MAX_ABS);
        expect(r.relL2, `${implementation} rel L2`).toBeLessThanOrEqual(REL_L2);
        s.dispose();
      }
    },
  );

  it('inputs are N(0,1) and reproducible from the seed', async () => {
    const p = problemOf(
      { seqLen: 256, headDim: 64, causal: false, heads: 4, kvHeads: 4, batch: 1 },
      'naive',
    );
    const a = await binding.createSession(p, baseOptions);
    const b = await binding.createSession(p, {
      ...baseOptions,
      threads: Math.min(2, binding.info().hardwareThreads),
    });
    const c = await binding.createSession({ ...p, seed: p.seed + 1 }, baseOptions);
    const qa = a.input('q');
    expect(b.input('q')).toEqual(qa);
    expect(c.input('q')).not.toEqual(qa);
    expect(a.input('k')).not.toEqual(qa.subarray(0, a.input('k').length));
    let mean = 0;
    let sq = 0;
    for (const x of qa) {
      mean += x;
      sq += x * x;
    }
    mean /= qa.length;
    const variance = sq / qa.length - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - 1)).toBeLessThan(0.03);
    for (const s of [a, b, c]) s.dispose();
  });
});

describe('compute() on user buffers', () => {
  it.each([
    { seqLen: 100, headDim: 64, causal: true, heads: 4, kvHeads: 2, batch: 2 },
    { seqLen: 1, headDim: 32, causal: false, heads: 2, kvHeads: 1, batch: 1 },
    { seqLen: 300, headDim: 128, causal: false, heads: 2, kvHeads: 2, batch: 1 },
  ])('seqLen $seqLen headDim $headDim causal $causal', async (c) => {
    const qn = c.batch * c.heads * c.seqLen * c.headDim;
    const kvn = c.batch * c.kvHeads * c.seqLen * c.headDim;
    const q = randomNormal(qn, 1);
    const k = randomNormal(kvn, 2);
    const v = randomNormal(kvn, 3);
    const ref = await binding.reference(problemOf(c, 'naive'), q, k, v);
    for (const implementation of ['naive', 'flash']) {
      const out = await binding.compute(problemOf(c, implementation), baseOptions, q, k, v);
      const r = compare(out, ref);
      expect(r.finite).toBe(true);
      expect(r.maxAbs, implementation).toBeLessThanOrEqual(MAX_ABS);
      expect(r.relL2, implementation).toBeLessThanOrEqual(REL_L2);
    }
  });

  it('a custom scale is honoured', async () => {
    const c = { seqLen: 50, headDim: 32, causal: false, heads: 2, kvHeads: 1, batch: 1 };
    const q = randomNormal(2 * 50 * 32, 4);
    const k = randomNormal(50 * 32, 5);
    const v = randomNormal(50 * 32, 6);
    const p = { ...problemOf(c, 'flash'), scale: 0.5 };
    const ref = await binding.reference(p, q, k, v);
    const refDefault = await binding.reference(problemOf(c, 'flash'), q, k, v);
    expect(compare(new Float32Array(ref), refDefault).maxAbs).toBeGreaterThan(1e-3);
    const r = compare(await binding.compute(p, baseOptions, q, k, v), ref);
    expect(r.maxAbs).toBeLessThanOrEqual(MAX_ABS);
  });

  it('the caller may reuse its buffers while compute runs (inputs are copied)', async () => {
    const c = { seqLen: 64, headDim: 32, causal: true, heads: 2, kvHeads: 1, batch: 1 };
    const q = randomNormal(2 * 64 * 32, 7);
    const k = randomNormal(64 * 32, 8);
    const v = randomNormal(64 * 32, 9);
    const ref = await binding.reference(problemOf(c, 'naive'), q, k, v);
    const p = binding.compute(problemOf(c, 'naive'), baseOptions, q, k, v);
    q.fill(Number.NaN);
    const r = compare(await p, ref);
    expect(r.finite).toBe(true);
    expect(r.maxAbs).toBeLessThanOrEqual(MAX_ABS);
  });

  it('inputs of many copy chunks (shared by the main and worker threads) are all copied before the call returns', async () => {
    // 128 KiB chunks: q here is 7.3 of them, k and v 3.7 each (partial last chunks)
    const c = { seqLen: 1900, headDim: 64, causal: false, heads: 4, kvHeads: 2, batch: 1 };
    const q = randomNormal(4 * 1900 * 64, 10);
    const k = randomNormal(2 * 1900 * 64, 11);
    const v = randomNormal(2 * 1900 * 64, 12);
    const expected = await binding.compute(problemOf(c, 'flash'), baseOptions, q, k, v);
    const calls = [0, 1, 2].map(() => binding.compute(problemOf(c, 'flash'), baseOptions, q, k, v));
    // the copies are done by now: overwrite every input
    q.fill(Number.NaN);
    k.fill(Number.NaN);
    v.fill(Number.NaN);
    for (const got of await Promise.all(calls)) expect(got).toEqual(expected);
    const ref = await binding.reference(
      problemOf(c, 'naive'),
      randomNormal(4 * 1900 * 64, 10),
      randomNormal(2 * 1900 * 64, 11),
      randomNormal(2 * 1900 * 64, 12),
    );
    expect(compare(expected, ref).maxAbs).toBeLessThanOrEqual(MAX_ABS);
  });

  it("repeated and concurrent calls (kept workspace and copies) give the first call's output, each in its own array", async () => {
    const a = { seqLen: 200, headDim: 64, causal: false, heads: 4, kvHeads: 2, batch: 1 };
    const b = { seqLen: 77, headDim: 32, causal: true, heads: 2, kvHeads: 2, batch: 2 };
    const inputs = (c: Case, seed: number) =>
      [
        randomNormal(c.batch * c.heads * c.seqLen * c.headDim, seed),
        randomNormal(c.batch * c.kvHeads * c.seqLen * c.headDim, seed + 1),
        randomNormal(c.batch * c.kvHeads * c.seqLen * c.headDim, seed + 2),
      ] as const;
    const [qa, ka, va] = inputs(a, 20);
    const [qb, kb, vb] = inputs(b, 30);
    const firstA = await binding.compute(problemOf(a, 'flash'), baseOptions, qa, ka, va);
    const firstB = await binding.compute(problemOf(b, 'naive'), baseOptions, qb, kb, vb);
    const again = await Promise.all([
      binding.compute(problemOf(a, 'flash'), baseOptions, qa, ka, va),
      binding.compute(problemOf(b, 'naive'), baseOptions, qb, kb, vb),
      binding.compute(problemOf(a, 'flash'), baseOptions, qa, ka, va),
      binding.compute(problemOf(a, 'flash'), { ...baseOptions, useMemoryPool: false }, qa, ka, va),
      binding.compute(problemOf(b, 'naive'), baseOptions, qb, kb, vb, undefined, undefined, false),
      binding.compute(problemOf(a, 'flash'), baseOptions, qa, ka, va, undefined, undefined, false),
    ]);
    expect(again[0]).toEqual(firstA);
    expect(again[1]).toEqual(firstB);
    expect(again[2]).toEqual(firstA);
    expect(again[3]).toEqual(firstA);
    expect(again[4]).toEqual(firstB);
    expect(again[5]).toEqual(firstA);
    expect(again[0].buffer).not.toBe(again[2].buffer);
    again[0].fill(0);
    expect(again[2]).toEqual(firstA);
    const r = compare(firstA, await binding.reference(problemOf(a, 'naive'), qa, ka, va));
    expect(r.maxAbs).toBeLessThanOrEqual(MAX_ABS);
  });

  it("out: the output goes to the caller's array (even one of the inputs) and the promise resolves to it", async () => {
    const c = { seqLen: 90, headDim: 32, causal: true, heads: 2, kvHeads: 2, batch: 1 };
    const q = randomNormal(2 * 90 * 32, 40);
    const k = randomNormal(2 * 90 * 32, 41);
    const v = randomNormal(2 * 90 * 32, 42);
    const fresh = await binding.compute(problemOf(c, 'flash'), baseOptions, q, k, v);
    const out = new Float32Array(q.length).fill(Number.NaN);
    const got = await binding.compute(problemOf(c, 'flash'), baseOptions, q, k, v, undefined, out);
    expect(got).toBe(out);
    expect(out).toEqual(fresh);
    const qCopy = Float32Array.from(q);
    expect(await binding.compute(problemOf(c, 'flash'), baseOptions, q, k, v, undefined, q)).toBe(
      q,
    );
    expect(q).toEqual(fresh);
    await expect(
      binding.compute(
        problemOf(c, 'flash'),
        baseOptions,
        qCopy,
        k,
        v,
        undefined,
        new Float32Array(5),
      ),
    ).rejects.toMatchObject({ field: 'out' });
  });
});

describe('compute() with copyInputs false (inputs read in place)', () => {
  const c = { seqLen: 130, headDim: 64, causal: false, heads: 4, kvHeads: 2, batch: 1 };
  const qn = c.batch * c.heads * c.seqLen * c.headDim;
  const kvn = c.batch * c.kvHeads * c.seqLen * c.headDim;

  it("gives the copied call's output bit for bit, within the reference tolerance, from subarrays at any offset", async () => {
    const q = randomNormal(qn, 50);
    const k = randomNormal(kvn, 51);
    const v = randomNormal(kvn, 52);
    const ref = await binding.reference(problemOf(c, 'naive'), q, k, v);
    const copied = await binding.compute(problemOf(c, 'flash'), baseOptions, q, k, v);
    const inPlace = await binding.compute(
      problemOf(c, 'flash'),
      baseOptions,
      q,
      k,
      v,
      undefined,
      undefined,
      false,
    );
    expect(inPlace).toEqual(copied);
    const r = compare(inPlace, ref);
    expect(r.maxAbs).toBeLessThanOrEqual(MAX_ABS);
    expect(r.relL2).toBeLessThanOrEqual(REL_L2);
    // views at every 4-byte offset modulo 64 into one buffer (the SIMD loads meet every
    // alignment), output into a separate array
    const out = new Float32Array(qn);
    for (let shift = 0; shift < 16; shift++) {
      const pack = new Float32Array(shift + qn + 2 * kvn);
      const [qs, ks, vs] = [
        pack.subarray(shift, shift + qn),
        pack.subarray(shift + qn, shift + qn + kvn),
        pack.subarray(shift + qn + kvn),
      ];
      qs.set(q);
      ks.set(k);
      vs.set(v);
      for (const useMemoryPool of [true, false]) {
        out.fill(Number.NaN);
        const got = await binding.compute(
          problemOf(c, 'flash'),
          { ...baseOptions, useMemoryPool },
          qs,
          ks,
          vs,
          undefined,
          out,
          false,
        );
        expect(got).toBe(out);
        expect(out, `shift ${shift}, useMemoryPool ${useMemoryPool}`).toEqual(copied);
      }
    }
  });

  it('rejects a copyInputs that is not a boolean, and an out sharing memory with an input', async () => {
    const q = randomNormal(qn, 53);
    const k = randomNormal(kvn, 54);
    const v = randomNormal(kvn, 55);
    const p = problemOf(c, 'flash');
    await expect(
      binding.compute(p, baseOptions, q, k, v, undefined, undefined, 'no' as never),
    ).rejects.toMatchObject({ field: 'copyInputs' });
    await expect(
      binding.compute(p, baseOptions, q, k, v, undefined, q, false),
    ).rejects.toMatchObject({ field: 'out' });
    const pack = new Float32Array(qn + kvn);
    const kv = pack.subarray(qn - 1, qn - 1 + kvn); // its first element is the output's last
    kv.set(k);
    await expect(
      binding.compute(p, baseOptions, q, kv, v, undefined, pack.subarray(0, qn), false),
    ).rejects.toMatchObject({ field: 'out' });
    // copied inputs may still share memory with out
    expect(await binding.compute(p, baseOptions, q, k, v, undefined, q, true)).toBe(q);
  });
});

describe('pattern cache option', () => {
  it('dilated gives the same output with the pattern cache on and off', async () => {
    if (!binding.listImplementations().some((i) => i.name === 'dilated' && i.device === 'cpu'))
      return;
    const p: NativeProblem = {
      implementation: 'dilated',
      device: 'cpu',
      dtype: 'fp32',
      batch: 1,
      heads: 4,
      kvHeads: 4,
      seqLen: 256,
      headDim: 32,
      causal: false,
      seed: 5,
      segmentLengths: [64, 128],
      dilationRates: [1, 2],
    };
    const on = await binding.createSession(p, { ...baseOptions, usePatternCache: true });
    const off = await binding.createSession(p, { ...baseOptions, usePatternCache: false });
    await on.sample(2, false);
    await off.sample(2, false);
    expect(await on.output()).toEqual(await off.output());
    on.dispose();
    off.dispose();
  });
});
