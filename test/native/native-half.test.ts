// fp16 / bf16 storage on the CPU: the backend's conversions (round to nearest even, against a
// scalar reference written here) and the kernels that store half precision and compute in fp32
// (flash, naive, kv-cache, kv-cache-recompute) against the float64 reference evaluated on the
// same rounded inputs, at every SIMD level this CPU has; plans and pool peaks.
import { afterAll, describe, expect, it } from 'vitest';

import { dtypeBenchTable, runDtypeSection } from '../../src/bench/index.js';
import type { NativeBinding, NativeProblem, SimdLevelName } from '../../src/native/binding.js';
import { loadBinding } from '../../src/native/dilbench.js';
import { createFakeBinding } from '../helpers/fake-binding.js';
import { baseOptions, catchAsync, compare, expectCoded, randomNormal } from './helpers.js';

const binding: NativeBinding = loadBinding();
const hw = binding.info().hardwareThreads;
const detected = binding.info().detectedSimdLevel;
// x86: every level up to the detected one; aarch64: generic and neon.
const LEVELS =
  detected === 'neon'
    ? (['generic', 'neon'] as const)
    : (['generic', 'avx2', 'avx512'] as const).slice(
        0,
        ['generic', 'avx2', 'avx512'].indexOf(detected) + 1,
      );
const HALF = ['fp16', 'bf16'] as const;
type Half = (typeof HALF)[number];
const KERNELS = ['flash', 'naive', 'kv-cache', 'kv-cache-recompute'];

// ---- scalar reference conversions (IEEE binary16 / bfloat16, round to nearest even) -----------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bitsOf = (x: number): number => ((f32[0] = x), u32[0] as number);
const floatOf = (b: number): number => ((u32[0] = b >>> 0), f32[0] as number);

function f16BitsToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m ? Number.NaN : sign * Infinity;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** Exact binary16 rounding of x (a float32 value) as a float: nearest, ties to even. */
function roundF16(x: number): number {
  if (Number.isNaN(x) || !Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  // spacing of binary16 at |x|: 2^(e-10) for normals (e >= -14), 2^-24 below
  const e = Math.max(Math.floor(Math.log2(a)), -14);
  let ulp = 2 ** (e - 10);
  // log2 may be off by one at powers of two: fix e so that 2^e <= a < 2^(e+1) (or the subnormal range)
  if (a >= 2 ** (e + 1)) ulp *= 2;
  else if (e > -14 && a < 2 ** e) ulp /= 2;
  const q = a / ulp; // exact: a and ulp are binary floats, the quotient has few bits
  let r = Math.floor(q);
  const rem = q - r;
  if (rem > 0.5 || (rem === 0.5 && r % 2 === 1)) r += 1;
  const y = r * ulp;
  if (y > 65504) return Math.sign(x) * Infinity;
  return Math.sign(x) * y;
}

/** Exact bfloat16 rounding of a float32 value: keep the top 16 bits, nearest, ties to even. */
function roundBf16(x: number): number {
  if (Number.isNaN(x)) return x;
  const b = bitsOf(x);
  const lsb = (b >>> 16) & 1;
  return floatOf(((b + 0x7fff + lsb) >>> 16) << 16);
}

const roundTo = (dtype: Half, x: number): number => (dtype === 'fp16' ? roundF16(x) : roundBf16(x));
/** Unit roundoff: the largest relative error of one rounding (normal range). */
const UNIT_ROUNDOFF: Record<Half, number> = { fp16: 2 ** -11, bf16: 2 ** -8 };
/** attention-definitions.md, Tolerances: relative L2 against the float64 reference. */
const DOC_REL_L2: Record<Half, number> = { fp16: 2e-3, bf16: 1e-2 };
/** The fp32 tolerances of the same document (the fp32 compute before the output rounding). */
const FP32_MAX_ABS = 1e-4;
const FP32_REL_L2 = 1e-5;

function sameValue(a: number, b: number): boolean {
  return (Number.isNaN(a) && Number.isNaN(b)) || a === b; // +0 === -0: see the identity note below
}

async function withSimd<T>(level: SimdLevelName, fn: () => Promise<T>): Promise<T> {
  binding.setSimdLevel(level);
  try {
    return await fn();
  } finally {
    binding.setSimdLevel(detected);
  }
}

/** Values that exercise the conversions: every half bit pattern, midpoints (ties), edges, specials. */
function conversionValues(dtype: Half): Float32Array {
  const xs: number[] = [];
  for (let h = 0; h < 0x10000; h++) {
    const x = dtype === 'fp16' ? f16BitsToFloat(h) : floatOf(h << 16);
    if (!Number.isNaN(x)) xs.push(x);
  }
  // ties between neighbours (exact in fp32) and points just either side of them
  const ladder =
    dtype === 'fp16'
      ? [1, 1 + 2 ** -10, 2 ** -14, 2 ** -24, 3 * 2 ** -24, 65504, 1024, 2047]
      : [1, 1 + 2 ** -7, 2 ** -126, 3e38];
  const ulpAt = (x: number): number =>
    dtype === 'fp16'
      ? x < 2 ** -14
        ? 2 ** -24
        : 2 ** (Math.floor(Math.log2(x)) - 10)
      : floatOf(bitsOf(x) + 0x10000) - x;
  for (const b of ladder) {
    const base = dtype === 'bf16' ? floatOf(bitsOf(b) & 0xffff0000) : b; // a representable value
    for (let i = 0; i < 8; i++) {
      const x = base + i * ulpAt(base);
      const mid = x + ulpAt(base) / 2;
      for (const y of [mid, floatOf(bitsOf(mid) + 1), floatOf(bitsOf(mid) - 1)]) xs.push(y, -y);
    }
  }
  xs.push(
    0,
    -0,
    Infinity,
    -Infinity,
    Number.NaN,
    65519.99,
    65520,
    65536,
    1e6,
    -1e6,
    2 ** -25,
    2 ** -26,
    1.5 * 2 ** -25,
    1e-40,
    -1e-40,
    3.4028234663852886e38,
  );
  // random fp32 bit patterns of moderate exponent
  let s = 12345;
  for (let i = 0; i < 20000; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const exp = 100 + (s % 60); // 2^-27 .. 2^32
    s = (s * 1103515245 + 12345) >>> 0;
    xs.push(floatOf(((s & 1) << 31) | (exp << 23) | (s >>> 9)));
  }
  return Float32Array.from(xs);
}

describe('fp32 <-> fp16 / bf16 conversions of the CPU backend', () => {
  for (const dtype of HALF) {
    it(`${dtype}: seeded session inputs are the fp32 inputs rounded to nearest even`, async () => {
      const p: NativeProblem = {
        implementation: 'flash',
        device: 'cpu',
        dtype: 'fp32',
        batch: 1,
        heads: 4,
        kvHeads: 2,
        seqLen: 300,
        headDim: 64,
        causal: false,
        seed: 77,
      };
      const full = await binding.createSession(p, baseOptions);
      const half = await binding.createSession({ ...p, dtype }, baseOptions);
      for (const which of ['q', 'k', 'v'] as const) {
        const a = full.input(which);
        const b = half.input(which);
        expect(b.length).toBe(a.length);
        let mismatches = 0;
        let changed = 0;
        for (let i = 0; i < a.length; i++) {
          if (b[i] !== roundTo(dtype, a[i] as number)) mismatches++;
          if (b[i] !== a[i]) changed++;
        }
        expect(mismatches, `${which}: elements not equal to the reference rounding`).toBe(0);
        expect(changed, `${which}: rounding changed nothing?`).toBeGreaterThan(a.length / 2);
      }
      full.dispose();
      half.dispose();
    });

    // A one-token problem is an identity on v: softmax over one key is exactly 1 (exp2(0) == 1
    // at every level), so o = 1 * v in fp32 and compute() returns download(upload(v)). The sign of
    // a zero is the one thing the kernel does not keep (-0 * 1 + 0 == +0); the exact bits of the
    // conversions, -0 included, are checked natively by family_check (`half`).
    it.each(LEVELS)(
      `${dtype}: round trip through every kernel at SIMD level %s matches the scalar reference`,
      async (level) => {
        const values = conversionValues(dtype);
        const headDim = 256;
        const heads = Math.ceil(values.length / headDim);
        const v = new Float32Array(heads * headDim);
        v.set(values);
        const q = randomNormal(v.length, 11);
        const k = randomNormal(v.length, 12);
        await withSimd(level, async () => {
          for (const implementation of KERNELS) {
            const p: NativeProblem = {
              implementation,
              device: 'cpu',
              dtype,
              batch: 1,
              heads,
              kvHeads: heads,
              seqLen: 1,
              headDim,
              causal: false,
              seed: 1,
            };
            const o = await binding.compute(
              p,
              { ...baseOptions, threads: Math.min(2, hw) },
              q,
              k,
              v,
            );
            let bad = 0;
            let first = '';
            for (let i = 0; i < v.length; i++) {
              const want = roundTo(dtype, v[i] as number);
              if (!sameValue(o[i] as number, want)) {
                if (!first)
                  first = `v=${v[i]} (bits 0x${bitsOf(v[i] as number).toString(16)}): got ${o[i]}, want ${want}`;
                bad++;
              }
            }
            expect(bad, `${implementation} @ ${level}: ${first}`).toBe(0);
          }
        });
      },
    );
  }

  it('the scalar reference itself: known binary16 and bfloat16 roundings', () => {
    expect(roundF16(65504)).toBe(65504);
    expect(roundF16(65519)).toBe(65504);
    expect(roundF16(65520)).toBe(Infinity); // tie between 65504 (odd) and 65536: to even, overflow
    expect(roundF16(1 + 2 ** -11)).toBe(1); // tie: to even (1)
    expect(roundF16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9); // tie: to even (mantissa 2)
    expect(roundF16(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal
    expect(roundF16(1.5 * 2 ** -25)).toBe(2 ** -24);
    expect(roundF16(3 * 2 ** -25)).toBe(2 * 2 ** -24); // tie between subnormals 1 and 2: to even
    expect(roundBf16(1 + 2 ** -8)).toBe(1);
    expect(roundBf16(1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6);
    expect(roundBf16(floatOf(0x7f7fffff))).toBe(Infinity);
    expect(Number.isNaN(roundBf16(Number.NaN))).toBe(true);
  });
});

// ---- kernels against the float64 reference ---------------------------------------------------

interface Shape {
  seqLen: number;
  headDim: number;
  causal: boolean;
  heads: number;
  kvHeads: number;
  batch: number;
  threads: number;
  promptLen?: number;
  newTokens?: number;
  /** kernels to run (default: all four; kv shapes: the kv kernels) */
  kernels?: string[];
}

const shapes: Shape[] = [];
let n = 0;
for (const seqLen of [1, 7, 127, 1000]) {
  for (const headDim of [17, 64, 128]) {
    for (const causal of [false, true]) {
      // kv-cache-recompute redoes the whole prefix at each of its 32 steps: shorter shapes only
      const kernels = seqLen >= 1000 ? KERNELS.filter((k) => k !== 'kv-cache-recompute') : KERNELS;
      shapes.push({
        seqLen,
        headDim,
        causal,
        heads: 2,
        kvHeads: 1,
        batch: 1,
        threads: (n++ % 2) + 1,
        kernels,
      });
    }
  }
}
shapes.push({ seqLen: 127, headDim: 64, causal: true, heads: 8, kvHeads: 1, batch: 2, threads: 2 });
// flash's 128-row query tiles at AVX-512 from 4K on, with a partial last tile (4200 = 32 x 128 + 104)
for (const causal of [false, true])
  shapes.push({
    seqLen: 4200,
    headDim: 64,
    causal,
    heads: 1,
    kvHeads: 1,
    batch: 1,
    threads: 2,
    kernels: ['flash'],
  });
// kv-cache split-K: the cache spans several 1024-row splits during decode (the recompute path
// would redo the whole prefix 40 times: it runs on the shorter shapes)
shapes.push({
  seqLen: 2100,
  headDim: 128,
  causal: true,
  heads: 8,
  kvHeads: 2,
  batch: 1,
  threads: 2,
  promptLen: 2060,
  newTokens: 40,
  kernels: ['kv-cache'],
});
shapes.push({
  seqLen: 1100,
  headDim: 48,
  causal: false,
  heads: 2,
  kvHeads: 1,
  batch: 1,
  threads: 2,
  promptLen: 1050,
  newTokens: 50,
  kernels: ['kv-cache'],
});
// the AVX-512 decode's query-row blocking: more than 64 query heads per kv head, and headDim 256
shapes.push({
  seqLen: 300,
  headDim: 48,
  causal: true,
  heads: 80,
  kvHeads: 1,
  batch: 1,
  threads: 2,
  newTokens: 20,
  kernels: ['kv-cache'],
});
shapes.push({
  seqLen: 1100,
  headDim: 256,
  causal: true,
  heads: 5,
  kvHeads: 1,
  batch: 1,
  threads: 2,
  newTokens: 20,
  kernels: ['kv-cache'],
});

interface Worst {
  relL2: number;
  maxAbs: number;
  /** max over elements of |o - ref| / (u |ref| + slack): <= 1 is the rounding bound */
  boundRatio: number;
  where: string;
}
const worst = new Map<string, Worst>();

function note(key: string, relL2: number, maxAbs: number, boundRatio: number, where: string): void {
  const w = worst.get(key) ?? { relL2: 0, maxAbs: 0, boundRatio: 0, where: '' };
  if (relL2 > w.relL2) Object.assign(w, { relL2, where });
  w.maxAbs = Math.max(w.maxAbs, maxAbs);
  w.boundRatio = Math.max(w.boundRatio, boundRatio);
  worst.set(key, w);
}

afterAll(() => {
  const lines = [...worst.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([k, w]) =>
        `  ${k.padEnd(28)} worst relL2 ${w.relL2.toExponential(2)} (${w.where}), max|o-ref| ${w.maxAbs.toExponential(2)}, worst |o-ref|/bound ${w.boundRatio.toFixed(3)}`,
    );
  if (lines.length)
    console.log(
      `[native-half] worst errors vs the float64 reference on the rounded inputs:\n${lines.join('\n')}`,
    );
});

/**
 * Checks a half-precision output against the float64 reference of its (already rounded) inputs.
 * The output is round(y) with y the fp32 result, |y - ref| within the fp32 tolerances, so
 *   per element: |o - ref| <= u |ref| + (1 + u) e + 2^-25    (e = fp32 max abs, 2^-25: fp16 subnormal spacing / 2)
 *   relative L2: <= u + (1 + u) 1e-5 (+ the subnormal slack, negligible)
 * with u the unit roundoff; both far tighter than the definitions doc's 2e-3 / 1e-2.
 */
function checkHalf(
  out: Float32Array,
  ref: Float64Array,
  dtype: Half,
  key: string,
  where: string,
): void {
  const r = compare(out, ref);
  expect(r.finite, `${key} ${where}: NaN/Inf in the output`).toBe(true);
  const u = UNIT_ROUNDOFF[dtype];
  const slack = (1 + u) * FP32_MAX_ABS + 2 ** -25;
  let ratio = 0;
  for (let i = 0; i < out.length; i++) {
    const bound = u * Math.abs(ref[i] as number) + slack;
    ratio = Math.max(ratio, Math.abs((out[i] as number) - (ref[i] as number)) / bound);
  }
  let refSq = 0;
  for (const x of ref) refSq += x * x;
  const relBound =
    u +
    (1 + u) * FP32_REL_L2 +
    (refSq > 0 ? (2 ** -25 * Math.sqrt(out.length)) / Math.sqrt(refSq) : 0);
  note(key, r.relL2, r.maxAbs, ratio, where);
  expect(r.relL2, `${key} ${where}: rel L2 vs the definitions doc`).toBeLessThanOrEqual(
    DOC_REL_L2[dtype],
  );
  expect(
    r.relL2,
    `${key} ${where}: rel L2 vs the output-rounding bound ${relBound.toExponential(3)}`,
  ).toBeLessThanOrEqual(relBound);
  expect(
    ratio,
    `${key} ${where}: worst element vs the per-element rounding bound`,
  ).toBeLessThanOrEqual(1);
}

function problemOf(s: Shape, implementation: string, dtype: NativeProblem['dtype']): NativeProblem {
  const { threads: _t, kernels: _k, ...shape } = s;
  return { implementation, device: 'cpu', dtype, seed: 900 + s.seqLen + s.headDim, ...shape };
}

const refKind = (impl: string): string => (impl.startsWith('kv-cache') ? 'kv-cache' : 'flash');

describe('flash, naive, kv-cache on fp16 / bf16 storage vs the float64 reference', () => {
  for (const dtype of HALF) {
    it.each(shapes)(
      `${dtype}: seqLen $seqLen headDim $headDim causal $causal heads $heads/$kvHeads batch $batch threads $threads`,
      async (s) => {
        const threads = Math.min(s.threads, hw);
        const kernels = s.kernels ?? KERNELS;
        let inputs: Float32Array[] | undefined;
        const refs = new Map<string, Float64Array>();
        for (const implementation of kernels) {
          const session = await binding.createSession(problemOf(s, implementation, dtype), {
            ...baseOptions,
            threads,
          });
          const q = session.input('q');
          const k = session.input('k');
          const v = session.input('v');
          if (!inputs) {
            inputs = [q, k, v];
            for (const x of q.subarray(0, 64)) expect(roundTo(dtype, x)).toBe(x); // stored rounded
          } else {
            expect(q).toEqual(inputs[0]);
            expect(k).toEqual(inputs[1]);
            expect(v).toEqual(inputs[2]);
          }
          const kind = refKind(implementation);
          if (!refs.has(kind))
            refs.set(kind, await binding.reference(problemOf(s, kind, 'fp32'), q, k, v));
          const out = await session.output();
          checkHalf(
            out,
            refs.get(kind)!,
            dtype,
            `${implementation} ${dtype}`,
            `seqLen ${s.seqLen} D ${s.headDim}${s.causal ? ' causal' : ''}`,
          );
          session.dispose();
        }
      },
    );
  }

  // Every level's microkernels (generic SSE2, AVX2, AVX-512 tiles; the AVX2 / AVX-512 decode kernels and
  // the scalar decode with row conversion), with head dims off and on the 16-lane grid.
  const levelShapes: Shape[] = [
    {
      seqLen: 300,
      headDim: 17,
      causal: true,
      heads: 4,
      kvHeads: 2,
      batch: 1,
      threads: 2,
      promptLen: 270,
      newTokens: 30,
    },
    {
      seqLen: 300,
      headDim: 64,
      causal: false,
      heads: 4,
      kvHeads: 1,
      batch: 1,
      threads: 2,
      promptLen: 260,
      newTokens: 40,
    },
    {
      seqLen: 1100,
      headDim: 128,
      causal: true,
      heads: 4,
      kvHeads: 2,
      batch: 1,
      threads: 2,
      promptLen: 1090,
      newTokens: 10,
    },
  ];
  for (const level of LEVELS) {
    it.each(levelShapes)(
      `SIMD ${level}: seqLen $seqLen headDim $headDim causal $causal, both dtypes, every kernel`,
      async (s) => {
        await withSimd(level, async () => {
          for (const dtype of HALF) {
            const refs = new Map<string, Float64Array>();
            for (const implementation of KERNELS) {
              const session = await binding.createSession(problemOf(s, implementation, dtype), {
                ...baseOptions,
                threads: Math.min(2, hw),
              });
              const kind = refKind(implementation);
              if (!refs.has(kind))
                refs.set(
                  kind,
                  await binding.reference(
                    problemOf(s, kind, 'fp32'),
                    session.input('q'),
                    session.input('k'),
                    session.input('v'),
                  ),
                );
              checkHalf(
                await session.output(),
                refs.get(kind)!,
                dtype,
                `${implementation} ${dtype} @${level}`,
                `seqLen ${s.seqLen} D ${s.headDim}`,
              );
              session.dispose();
            }
          }
        });
      },
    );
  }

  // The decode microkernels (kv_decode_avx512.cpp: headDim % 16 == 0; kv_decode_avx2.cpp:
  // headDim % 8 == 0; kv_decode_neon.cpp: % 4; else the generic decode) at every level, in fp32
  // too: each query-row blocking (GQA ratios 1, 2, 4, 8 and the odd 5 and 12, which mix blocks),
  // head dims on and off each level's grid, and caches that grow through lengths that are no
  // multiple of any key block (8), P.V block (64) or split (1024; the first shape crosses it).
  // The last four split caches only to feed the threads (splitsOf in kv_cache.cpp: 4 tasks per
  // worker, >= 128 rows each when batch x kv heads is too few): MQA on 1 and 2 threads (4 / 6-8
  // splits whose lengths the cache does not divide), 6 units over 2 threads, and MQA past 1024.
  const decodeShapes: Shape[] = [
    {
      seqLen: 1032,
      headDim: 64,
      causal: true,
      heads: 2,
      kvHeads: 2,
      batch: 1,
      threads: 2,
      promptLen: 1019,
      newTokens: 13,
    },
    {
      seqLen: 133,
      headDim: 40,
      causal: true,
      heads: 4,
      kvHeads: 2,
      batch: 1,
      threads: 2,
      promptLen: 93,
      newTokens: 40,
    },
    {
      seqLen: 237,
      headDim: 128,
      causal: false,
      heads: 16,
      kvHeads: 4,
      batch: 1,
      threads: 2,
      promptLen: 200,
      newTokens: 37,
    },
    {
      seqLen: 111,
      headDim: 24,
      causal: true,
      heads: 8,
      kvHeads: 1,
      batch: 2,
      threads: 1,
      promptLen: 61,
      newTokens: 50,
    },
    {
      seqLen: 96,
      headDim: 32,
      causal: true,
      heads: 10,
      kvHeads: 2,
      batch: 1,
      threads: 2,
      promptLen: 77,
      newTokens: 19,
    },
    {
      seqLen: 160,
      headDim: 48,
      causal: true,
      heads: 12,
      kvHeads: 1,
      batch: 1,
      threads: 2,
      promptLen: 150,
      newTokens: 10,
    },
    {
      seqLen: 25,
      headDim: 36,
      causal: true,
      heads: 4,
      kvHeads: 2,
      batch: 1,
      threads: 2,
      promptLen: 5,
      newTokens: 20,
    },
    {
      seqLen: 70,
      headDim: 17,
      causal: true,
      heads: 2,
      kvHeads: 2,
      batch: 1,
      threads: 1,
      promptLen: 40,
      newTokens: 30,
    },
    {
      seqLen: 737,
      headDim: 64,
      causal: true,
      heads: 4,
      kvHeads: 1,
      batch: 1,
      threads: 2,
      promptLen: 700,
      newTokens: 37,
    },
    {
      seqLen: 737,
      headDim: 64,
      causal: true,
      heads: 4,
      kvHeads: 1,
      batch: 1,
      threads: 1,
      promptLen: 700,
      newTokens: 37,
    },
    {
      seqLen: 321,
      headDim: 32,
      causal: true,
      heads: 6,
      kvHeads: 3,
      batch: 2,
      threads: 2,
      promptLen: 299,
      newTokens: 22,
    },
    {
      seqLen: 1041,
      headDim: 40,
      causal: true,
      heads: 2,
      kvHeads: 1,
      batch: 1,
      threads: 2,
      promptLen: 1020,
      newTokens: 21,
    },
  ];
  for (const level of LEVELS) {
    it.each(decodeShapes)(
      `kv-cache decode @${level}: heads $heads/$kvHeads headDim $headDim cache $promptLen+$newTokens, fp32 fp16 bf16`,
      async (s) => {
        await withSimd(level, async () => {
          for (const dtype of ['fp32', ...HALF] as const) {
            const session = await binding.createSession(problemOf(s, 'kv-cache', dtype), {
              ...baseOptions,
              threads: Math.min(s.threads, hw),
            });
            // each dtype's inputs are rounded to it: the reference of those inputs
            const r = await binding.reference(
              problemOf(s, 'kv-cache', 'fp32'),
              session.input('q'),
              session.input('k'),
              session.input('v'),
            );
            const out = await session.output();
            const where = `heads ${s.heads}/${s.kvHeads} D ${s.headDim} cache ${s.promptLen}+${s.newTokens}`;
            if (dtype === 'fp32') {
              const c = compare(out, r);
              note(
                `kv-cache decode fp32 @${level}`,
                c.relL2,
                c.maxAbs,
                c.maxAbs / FP32_MAX_ABS,
                where,
              );
              expect(c.finite, where).toBe(true);
              expect(c.maxAbs, `fp32 @${level} ${where}: max abs`).toBeLessThanOrEqual(
                FP32_MAX_ABS,
              );
              expect(c.relL2, `fp32 @${level} ${where}: rel L2`).toBeLessThanOrEqual(FP32_REL_L2);
            } else {
              checkHalf(out, r, dtype, `kv-cache decode ${dtype} @${level}`, where);
            }
            session.dispose();
          }
        });
      },
    );
  }

  it('kv-cache and kv-cache-recompute agree on half storage (the cache is the optimisation, not a different computation)', async () => {
    const s: Shape = {
      seqLen: 600,
      headDim: 64,
      causal: true,
      heads: 4,
      kvHeads: 2,
      batch: 1,
      threads: 2,
      promptLen: 560,
      newTokens: 40,
    };
    for (const dtype of HALF) {
      const a = await binding.createSession(problemOf(s, 'kv-cache', dtype), {
        ...baseOptions,
        threads: Math.min(2, hw),
      });
      const b = await binding.createSession(problemOf(s, 'kv-cache-recompute', dtype), {
        ...baseOptions,
        threads: Math.min(2, hw),
      });
      const r = compare(await a.output(), Float64Array.from(await b.output()));
      // each side is within one rounding of the same fp32 value: at most two units apart
      expect(r.relL2, dtype).toBeLessThanOrEqual(2 * UNIT_ROUNDOFF[dtype]);
      a.dispose();
      b.dispose();
    }
  });
});

// ---- plans, counts and memory -----------------------------------------------------------------

describe('half storage: plans, counts and pool peaks', () => {
  const planShape: Shape = {
    seqLen: 513,
    headDim: 64,
    causal: true,
    heads: 4,
    kvHeads: 2,
    batch: 1,
    threads: 1,
    promptLen: 480,
    newTokens: 33,
  };

  it('the three kernels list fp32, fp16 and bf16; the other CPU kernels stay fp32 with a clear error', async () => {
    const cpu = binding.listImplementations().filter((i) => i.device === 'cpu');
    for (const name of KERNELS)
      expect(cpu.find((i) => i.name === name)?.dtypes, name).toEqual(['fp32', 'fp16', 'bf16']);
    const others = cpu.filter((i) => !KERNELS.includes(i.name));
    expect(others.length).toBeGreaterThan(0);
    for (const info of others) {
      expect(info.dtypes, info.name).toEqual(['fp32']);
      const p: NativeProblem = {
        ...problemOf(planShape, info.name, 'fp16'),
        segmentLengths: [128],
        dilationRates: [1],
      };
      const err = await catchAsync(binding.createSession(p, baseOptions));
      expectCoded(err, 'ERR_DILBENCH_UNSUPPORTED', 'dtype');
      expect(err.message).toMatch(/fp16.*not supported.*supported: fp32/);
    }
  });

  it.each(KERNELS)(
    '%s: input and traffic bytes halve, flops stay; the pool peak is the plan exactly',
    async (implementation) => {
      for (const threads of [1, Math.min(2, hw)]) {
        const opts = { ...baseOptions, threads };
        const p32 = binding.plan(problemOf(planShape, implementation, 'fp32'), opts);
        for (const dtype of HALF) {
          const plan = binding.plan(problemOf(planShape, implementation, dtype), opts);
          expect(plan.inputBytes * 2).toBe(p32.inputBytes);
          expect(plan.outputBytes * 2).toBe(p32.outputBytes);
          expect(plan.bytesMoved * 2).toBe(p32.bytesMoved);
          expect(plan.flops).toBe(p32.flops);
          expect(plan.totalBytes).toBeLessThan(p32.totalBytes);
          for (const useMemoryPool of [true, false]) {
            const s = await binding.createSession(problemOf(planShape, implementation, dtype), {
              ...opts,
              useMemoryPool,
            });
            expect(s.plan).toEqual(plan);
            await s.sample(2, false);
            const st = s.poolStats();
            expect(
              st.peakBytesInUse,
              `${implementation} ${dtype} threads ${threads} pool ${useMemoryPool}`,
            ).toBe(plan.totalBytes);
            s.dispose();
          }
        }
      }
    },
  );

  it('kv-cache telemetry counts the cache bytes in the storage dtype', async () => {
    const got: Record<string, number> = {};
    for (const dtype of ['fp32', 'fp16', 'bf16'] as const) {
      const s = await binding.createSession(problemOf(planShape, 'kv-cache', dtype), baseOptions);
      await s.sample(1, false);
      const t = s.telemetry?.();
      expect(t?.decodeSteps).toBe(33);
      got[dtype] = t?.decodeBytes ?? Number.NaN;
      s.dispose();
    }
    expect(got.fp16! * 2).toBe(got.fp32);
    expect(got.bf16).toBe(got.fp16);
  });
});

// ---- npm run bench: the dtype section -----------------------------------------------------------

describe('bench: storage dtypes side by side', () => {
  it('runs flash and kv-cache decode in fp32, bf16, fp16 on the addon and reports ratios to fp32', async () => {
    const d = await runDtypeSection(binding, {
      threads: Math.min(2, hw),
      flashLengths: [192],
      kv: { cacheLen: 300, heads: 4, kvHeads: 2, headDim: 32, newTokens: 6 },
      kvCacheLens: [300],
      runs: 3,
      warmup: 1,
    });
    expect(d.skipped).toEqual([]);
    // the addon lists the machine's LLC, and each kv-cache row says whether its K+V fits it
    const llc = binding.info().lastLevelCacheBytes!;
    expect(llc).toBeGreaterThan(0);
    expect(d.kv.llcBytes).toBe(llc);
    for (const r of d.rows.filter((x) => x.kernel === 'kv-cache'))
      expect(r.cacheVsLlc).toBe(
        2 * 2 * 300 * 32 * (r.dtype === 'fp32' ? 4 : 2) <= llc ? 'within-llc' : 'exceeds-llc',
      );
    expect(d.rows.map((r) => `${r.kernel}/${r.dtype}`)).toEqual([
      'flash/fp32',
      'flash/bf16',
      'flash/fp16',
      'kv-cache/fp32',
      'kv-cache/bf16',
      'kv-cache/fp16',
    ]);
    for (const kernel of ['flash', 'kv-cache']) {
      const group = d.rows.filter((r) => r.kernel === kernel);
      const fp32 = group.find((r) => r.dtype === 'fp32')!;
      expect(fp32.speedupVsFp32).toBe(1);
      for (const r of group) {
        expect(r.samples).toBe(3);
        expect(r.medianMs).toBeGreaterThan(0);
        expect(r.speedupVsFp32).toBeCloseTo(fp32.medianMs / r.medianMs, 12);
        if (r.dtype !== 'fp32') expect(r.inputBytes * 2).toBe(fp32.inputBytes);
        if (kernel === 'flash') expect(r.gflops).toBeGreaterThan(0);
        else {
          expect(r.timing).toBe('telemetry');
          expect(r.gbps).toBeGreaterThan(0);
        }
      }
    }
    const table = dtypeBenchTable(d, 2);
    for (const word of ['vs fp32', 'bf16', 'fp16', 'GB/s', 'GFLOP/s', '% of stream'])
      expect(table).toContain(word);
    // each kv-cache row shows its GB/s as a % of the stream read right before and after its
    // length (the row's streamGBps), whatever the run's stream passed in
    const kvRows = d.rows.filter((x) => x.kernel === 'kv-cache');
    for (const r of kvRows) {
      expect(r.streamGBps).toBeGreaterThan(0);
      expect(dtypeBenchTable(d, 2, 1)).toContain(
        `${((100 * r.gbps!) / r.streamGBps!).toFixed(1)}%`,
      );
    }
    // a row without its own reading (an older file) falls back to the run's stream (here 1 GB/s:
    // 100 x GB/s)
    const older = { ...d, rows: d.rows.map(({ streamGBps: _s, ...r }) => r) };
    const withStream = dtypeBenchTable(older, 2, 1);
    for (const r of kvRows) expect(withStream).toContain(`${(100 * r.gbps!).toFixed(1)}%`);
  });

  it('lists the dtypes a binding does not store instead of running them', async () => {
    const fake = createFakeBinding({ implementations: ['flash', 'kv-cache'] }); // fp32 only
    const d = await runDtypeSection(fake, {
      threads: 1,
      flashLengths: [64],
      kv: { cacheLen: 64, heads: 2, kvHeads: 1, headDim: 32, newTokens: 4 },
      runs: 3,
      warmup: 1,
    });
    expect(d.rows.map((r) => r.dtype)).toEqual(['fp32', 'fp32']);
    expect(d.rows[1]?.timing).toBe('iteration'); // the fake has no kv telemetry
    expect(d.skipped).toHaveLength(4);
    expect(d.skipped[0]).toMatch(/^flash bf16: .*supported: fp32/);
  });
});
