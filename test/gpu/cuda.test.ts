// GPU tests (`npm run test:gpu`): every CUDA kernel against the float64 reference, the device
// memory pool, out-of-memory recovery, and CUDA-event timings against a wall clock. Skipped, with
// a message, where there is no CUDA variant or no GPU.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import type { NativeBinding } from '../../src/native/binding.js';
// @ts-expect-error plain ESM module shared with run-gpu-checks.mjs
import * as checks from './gpu-checks.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const file: string | null = checks.findCudaBinary(root);
let binding: NativeBinding | null = null;
let skipReason = '';
if (!file) {
  skipReason = 'no CUDA variant built (run scripts/build-cuda-variant.sh)';
} else {
  try {
    binding = createRequire(import.meta.url)(file) as NativeBinding;
    if (binding.info().cuda.deviceCount < 1) {
      skipReason = `no CUDA device (the CUDA variant ${file} reports 0 devices)`;
      binding = null;
    }
  } catch (e) {
    skipReason = `the CUDA variant does not load: ${(e as Error).message}`;
  }
}
if (!binding) console.log(`test/gpu skipped: ${skipReason}`);

describe.skipIf(!binding)('CUDA kernels on the GPU', () => {
  const b = binding as NativeBinding;
  for (const c of checks.correctnessCases()) {
    it(`${c.implementation} ${c.dtype} n=${c.seqLen} d=${c.headDim} h=${c.heads}/${c.kvHeads} b=${c.batch} ${c.causal ? 'causal' : 'full'} matches the float64 reference`, async () => {
      const r = await checks.checkCase(b, c);
      expect(r.finite).toBe(true);
      expect(r.relL2).toBeLessThanOrEqual(r.tol);
      if (c.dtype === 'fp32') expect(r.maxAbs).toBeLessThanOrEqual(1e-4);
    });
  }

  it('device memory pool statistics add up, with and without caching', async () => {
    for (const r of await checks.checkPool(b)) expect(r.ok, JSON.stringify(r)).toBe(true);
  });

  it('out of device memory is a coded error and the GPU stays usable', async () => {
    const r = await checks.checkOom(b);
    for (const a of r.attempts) expect(a.code, a.message).toBe('ERR_DILBENCH_OUT_OF_MEMORY');
    expect(r.after.ok).toBe(true);
  });

  it('CUDA-event timings agree with a wall clock over many iterations', async () => {
    const r = await checks.checkTiming(b);
    expect(r.ratio, JSON.stringify(r)).toBeGreaterThan(0.95);
    expect(r.ratio).toBeLessThanOrEqual(1.0001);
  });
});
