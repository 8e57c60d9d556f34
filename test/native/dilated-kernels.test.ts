// dilated and dilated-grouped against the float64 reference (attention-definitions.md tolerances):
// short last segments, pairs shrinking to seqLen, r == w, heads not dividing into groups, GQA,
// batch > 1, causal, one segment per head (the task split into query-tile ranges), 1 and 2 threads
// (the phase / task scheduling), at every SIMD level the machine has.
import { afterAll, describe, expect, it } from 'vitest';

import type { NativeBinding, NativeProblem } from '../../src/native/binding.js';
import { loadBinding } from '../../src/native/loader.js';
import { baseOptions, compare } from './helpers.js';

const binding: NativeBinding = loadBinding();
const MAX_ABS = 1e-4;
const REL_L2 = 1e-5;
const startLevel = binding.info().simdLevel;
afterAll(() => binding.setSimdLevel(startLevel));
const levels = ['generic', 'avx2', 'avx512'].filter((l) => {
  try {
    binding.setSimdLevel(l as never);
    return true;
  } catch {
    return false;
  } finally {
    binding.setSimdLevel(startLevel);
  }
});

interface Case {
  seqLen: number;
  headDim: number;
  heads: number;
  kvHeads: number;
  batch: number;
  segmentLengths: number[];
  dilationRates: number[];
}

const cases: Case[] = [
  {
    seqLen: 1,
    headDim: 32,
    heads: 2,
    kvHeads: 2,
    batch: 1,
    segmentLengths: [4, 8],
    dilationRates: [1, 2],
  },
  {
    seqLen: 7,
    headDim: 32,
    heads: 3,
    kvHeads: 3,
    batch: 1,
    segmentLengths: [4, 8],
    dilationRates: [1, 2],
  },
  {
    seqLen: 1000,
    headDim: 64,
    heads: 5,
    kvHeads: 5,
    batch: 2,
    segmentLengths: [128, 256, 512],
    dilationRates: [1, 2, 4],
  },
  {
    seqLen: 333,
    headDim: 48,
    heads: 8,
    kvHeads: 2,
    batch: 1,
    segmentLengths: [64, 200, 1000],
    dilationRates: [1, 3, 5],
  },
  // headDim not a multiple of 8 (the AVX2 Q packing's 8 x 8 blocks leave a column remainder)
  {
    seqLen: 150,
    headDim: 20,
    heads: 3,
    kvHeads: 3,
    batch: 1,
    segmentLengths: [75, 150],
    dilationRates: [1, 2],
  },
  // one segment per head: the tasks are query-tile ranges of it
  {
    seqLen: 700,
    headDim: 64,
    heads: 1,
    kvHeads: 1,
    batch: 1,
    segmentLengths: [700, 700],
    dilationRates: [1, 7],
  },
  {
    seqLen: 130,
    headDim: 16,
    heads: 4,
    kvHeads: 4,
    batch: 1,
    segmentLengths: [16, 130],
    dilationRates: [16, 1],
  },
  // hundreds of short segments per head: tasks are segment ranges (the last one may hold one segment)
  {
    seqLen: 1201,
    headDim: 32,
    heads: 3,
    kvHeads: 1,
    batch: 1,
    segmentLengths: [1, 3, 5],
    dilationRates: [1, 2, 5],
  },
  // ... where, at 1 and 2 threads, a range holding only the last segment (4 rows) is left over
  {
    seqLen: 1028,
    headDim: 32,
    heads: 2,
    kvHeads: 1,
    batch: 1,
    segmentLengths: [4, 8],
    dilationRates: [1, 2],
  },
];

function problemOf(c: Case, implementation: string, causal: boolean): NativeProblem {
  return { implementation, device: 'cpu', dtype: 'fp32', seed: 77 + c.seqLen, causal, ...c };
}

describe('dilated / dilated-grouped vs the float64 reference', () => {
  for (const implementation of ['dilated', 'dilated-grouped']) {
    for (const causal of [false, true]) {
      it.each(cases)(
        `${implementation}${causal ? ' causal' : ''}: seqLen $seqLen heads $heads/$kvHeads batch $batch pairs $segmentLengths/$dilationRates`,
        async (c) => {
          const p = problemOf(c, implementation, causal);
          let ref: Float64Array | undefined;
          try {
            for (const level of levels) {
              binding.setSimdLevel(level as never);
              for (const threads of [1, 2]) {
                const s = await binding.createSession(p, { ...baseOptions, threads });
                try {
                  ref ??= await binding.reference(p, s.input('q'), s.input('k'), s.input('v'));
                  const r = compare(await s.output(), ref);
                  const at = `${level}, ${threads} threads`;
                  expect(r.finite, `NaN/Inf (${at})`).toBe(true);
                  expect(r.maxAbs, `max abs (${at})`).toBeLessThanOrEqual(MAX_ABS);
                  expect(r.relL2, `rel L2 (${at})`).toBeLessThanOrEqual(REL_L2);
                } finally {
                  s.dispose();
                }
              }
            }
          } finally {
            binding.setSimdLevel(startLevel);
          }
        },
      );
    }
  }
});

// With one part per head (dilated-grouped; dilated with one pair) the kernel writes each selected
// row once and zeroes only the rows no part selects, straight into the caller's buffer: an `out`
// full of NaN must come back as the reference. Includes a last segment (1 row) that offset 2 of
// (1024, 4) leaves unselected, and a group of heads whose rows are all selected (r = 1).
const onePartCases: (Case & { implementation: string })[] = [
  {
    implementation: 'dilated-grouped',
    seqLen: 1025,
    headDim: 64,
    heads: 5,
    kvHeads: 5,
    batch: 2,
    segmentLengths: [256, 512, 1024],
    dilationRates: [1, 2, 4],
  },
  {
    implementation: 'dilated',
    seqLen: 301,
    headDim: 32,
    heads: 3,
    kvHeads: 1,
    batch: 1,
    segmentLengths: [100],
    dilationRates: [3],
  },
];

describe('one part per head: every row of a NaN-filled out is written', () => {
  it.each(onePartCases)(
    '$implementation: seqLen $seqLen heads $heads/$kvHeads pairs $segmentLengths/$dilationRates',
    async ({ implementation, ...c }) => {
      const p = problemOf(c, implementation, false);
      const seeded = await binding.createSession(p, baseOptions);
      try {
        const [q, k, v] = [seeded.input('q'), seeded.input('k'), seeded.input('v')];
        const ref = await binding.reference(p, q, k, v);
        for (const level of levels) {
          binding.setSimdLevel(level as never);
          for (const threads of [1, 2]) {
            const out = new Float32Array(q.length).fill(Number.NaN);
            const r = compare(
              await binding.compute(p, { ...baseOptions, threads }, q, k, v, undefined, out),
              ref,
            );
            const at = `${level}, ${threads} threads`;
            expect(r.finite, `NaN/Inf (${at})`).toBe(true);
            expect(r.maxAbs, `max abs (${at})`).toBeLessThanOrEqual(MAX_ABS);
            expect(r.relL2, `rel L2 (${at})`).toBeLessThanOrEqual(REL_L2);
          }
        }
      } finally {
        binding.setSimdLevel(startLevel);
        seeded.dispose();
      }
    },
  );
});
