// flash's large query tiles against the float64 reference. At AVX2 a head whose fp32 K + V reach
// 8 MiB runs 256-row query tiles over 96-key steps (native/cpu/flash.cpp, flashTiles); the last
// query tile and the last key step are partial here. The same tiles are also forced on short
// sequences through the developer override, so causal masking across 96-key steps that do not
// line up with 256-row tiles is checked at every SIMD level this CPU has.
import { afterEach, describe, expect, it } from 'vitest';

import type { NativeBinding, NativeProblem } from '../../src/native/binding.js';
import { loadBinding } from '../../src/native/dilbench.js';
import { baseOptions, compare } from './helpers.js';

const binding: NativeBinding = loadBinding();
const detected = binding.info().detectedSimdLevel;
const hasAvx2 = detected === 'avx2' || detected === 'avx512';
const MAX_ABS = 1e-4;
const REL_L2 = 1e-5;

function problem(
  seqLen: number,
  headDim: number,
  causal: boolean,
  heads = 1,
  dtype: NativeProblem['dtype'] = 'fp32',
): NativeProblem {
  return {
    implementation: 'flash',
    device: 'cpu',
    dtype,
    batch: 1,
    heads,
    kvHeads: 1,
    seqLen,
    headDim,
    causal,
    seed: 4242 + seqLen,
  };
}

// bf16 output: the fp32 result rounded to 8 significant bits (unit roundoff 2^-9), so its relative
// L2 error is at most about 2^-9 plus the fp32 tolerance.
const BF16_REL_L2 = 2 ** -9 + REL_L2;

async function flashVsReference(p: NativeProblem): Promise<void> {
  const s = await binding.createSession(p, {
    ...baseOptions,
    threads: Math.min(2, binding.info().hardwareThreads),
  });
  try {
    // the reference of the stored (for bf16: rounded) inputs, computed as fp32 problem
    const ref = await binding.reference(
      { ...p, dtype: 'fp32' },
      s.input('q'),
      s.input('k'),
      s.input('v'),
    );
    const r = compare(await s.output(), ref);
    expect(r.finite, 'NaN/Inf in the output').toBe(true);
    if (p.dtype === 'fp32') {
      expect(r.maxAbs, 'max abs').toBeLessThanOrEqual(MAX_ABS);
      expect(r.relL2, 'rel L2').toBeLessThanOrEqual(REL_L2);
    } else {
      expect(r.relL2, 'rel L2 (bf16 output)').toBeLessThanOrEqual(BF16_REL_L2);
    }
  } finally {
    s.dispose();
  }
}

afterEach(() => {
  delete process.env.DILBENCH_FLASH_TQ;
  delete process.env.DILBENCH_FLASH_TK;
  binding.setSimdLevel(detected);
});

describe('flash query tiles of 256 rows over 96-key steps', () => {
  it.each([false, true])('forced on 1000 keys, 3 heads, causal %s', async (causal) => {
    process.env.DILBENCH_FLASH_TQ = '256';
    process.env.DILBENCH_FLASH_TK = '96';
    await flashVsReference(problem(1000, 64, causal, 3));
  });

  // half storage converts each Q tile into a buffer sized for max(query rows, keys) x headDim
  it('forced on 1000 keys, bf16 storage, causal', async () => {
    process.env.DILBENCH_FLASH_TQ = '256';
    process.env.DILBENCH_FLASH_TK = '96';
    await flashVsReference(problem(1000, 64, true, 2, 'bf16'));
  });

  // 4100 x 256 x 4 bytes x 2 = 8.2 MB of K + V: over the 8 MiB threshold; 4100 = 16 x 256 + 4
  // query rows and 42 x 96 + 68 keys.
  it.runIf(hasAvx2)('chosen by AVX2 itself at 4100 keys, headDim 256, causal', async () => {
    binding.setSimdLevel('avx2');
    await flashVsReference(problem(4100, 256, true));
  });
  if (!hasAvx2) {
    it('chosen by AVX2 itself (skipped)', () => {
      console.log(`skipped: this CPU has no AVX2 (detected ${detected}), the rule is AVX2's only`);
    });
  }
});
