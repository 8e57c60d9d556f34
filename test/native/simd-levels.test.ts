// The CPU dispatch's level set: x86 builds have generic/avx2/avx512, aarch64 builds generic/neon
// (native/core/cpu_features.cpp). A level of the other architecture is refused with a coded error
// naming the field and the best level here, and the detected level is restored afterwards.
import { describe, expect, it } from 'vitest';

import type { NativeBinding, SimdLevelName } from '../../src/native/binding.js';
import { loadBinding } from '../../src/native/dilbench.js';

const binding: NativeBinding = loadBinding();
const detected = binding.info().detectedSimdLevel;
const arm = detected === 'neon';
const own: SimdLevelName[] = arm
  ? ['generic', 'neon']
  : (['generic', 'avx2', 'avx512'] as SimdLevelName[]).slice(
      0,
      ['generic', 'avx2', 'avx512'].indexOf(detected) + 1,
    );
const foreign: SimdLevelName[] = arm ? ['avx2', 'avx512'] : ['neon'];

function refusal(level: SimdLevelName): { code?: string; message: string } | undefined {
  try {
    binding.setSimdLevel(level);
  } catch (e) {
    return e as { code?: string; message: string };
  }
  return undefined;
}

describe(`SIMD levels on this ${process.arch} build (detected ${detected})`, () => {
  it('the detected level belongs to this architecture', () => {
    expect(process.arch === 'arm64' ? ['neon'] : ['generic', 'avx2', 'avx512']).toContain(detected);
  });

  it("accepts each of this architecture's levels up to the detected one, and reports it active", () => {
    try {
      for (const level of own) {
        expect(refusal(level)).toBeUndefined();
        expect(binding.info().simdLevel).toBe(level);
      }
    } finally {
      binding.setSimdLevel(detected);
    }
  });

  it("refuses the other architecture's levels with ERR_DILBENCH_INVALID_CONFIG naming simd and the best level", () => {
    try {
      for (const level of foreign) {
        const err = refusal(level);
        expect(err, level).toBeDefined();
        expect(err!.code).toBe('ERR_DILBENCH_INVALID_CONFIG');
        expect(err!.message).toContain(
          `simd: this CPU does not support ${level} (best: ${detected})`,
        );
        expect(binding.info().simdLevel).toBe(detected);
      }
    } finally {
      binding.setSimdLevel(detected);
    }
  });
});
