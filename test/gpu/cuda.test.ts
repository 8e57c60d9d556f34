// GPU tests (`npm run test:gpu`): every CUDA kernel against the float64 reference, the family's
// telemetry and dilated's linear scaling to 1M tokens, the device memory pool, out-of-memory
// recovery, and CUDA-event timings against a wall clock. Skipped, with a message, where there is
// no CUDA variant or no GPU; the family's plan checks need only the CUDA variant (no device).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import type { NativeBinding } from '../../src/native/binding.js';
// @ts-expect-error plain ESM module shared with run-gpu-checks.mjs
import * as checks from './gpu-checks.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const file: string | null = checks.findCudaBinary(root);
let variant: NativeBinding | null = null; // the CUDA build, with or without a device
let binding: NativeBinding | null = null; // the CUDA build on a machine with a device
let skipReason = '';
if (!file) {
  skipReason = 'no CUDA variant built (run scripts/build-cuda-variant.sh)';
} else {
  try {
    variant = createRequire(import.meta.url)(file) as NativeBinding;
    binding = variant;
    if (variant.info().cuda.deviceCount < 1) {
      skipReason = `no CUDA device (the CUDA variant ${file} reports 0 devices)`;
      binding = null;
    }
  } catch (e) {
    skipReason = `the CUDA variant does not load: ${(e as Error).message}`;
  }
}
if (!variant) console.log(`test/gpu skipped: ${skipReason}`);
else if (!binding)
  console.log(
    `test/gpu: only the plan checks run (they need no device); GPU tests skipped: ${skipReason}`,
  );

describe.skipIf(!variant)('CUDA family kernels: plans (no device needed)', () => {
  it('dilated, dilated-grouped, ring, ring-dilated, block-sparse plan the CPU flops, dtype bytes and their workspace; bad parameters name the field', () => {
    const res = checks.checkFamilyPlans(variant);
    expect(res.length).toBeGreaterThan(90);
    for (const r of res) expect(r.ok, JSON.stringify(r)).toBe(true);
  });
});

describe.skipIf(!binding)('CUDA kernels on the GPU', () => {
  const b = binding as NativeBinding;
  for (const c of checks.correctnessCases()) {
    it(`${checks.describeCase(c)} matches the float64 reference`, async () => {
      const r = await checks.checkCase(b, c);
      expect(r.finite).toBe(true);
      expect(r.relL2).toBeLessThanOrEqual(r.tol);
      if (c.dtype === 'fp32') expect(r.maxAbs).toBeLessThanOrEqual(1e-4);
    });
  }

  it('family telemetry: ring per-step times from CUDA events, bytes sent and block sparsity as on the CPU', async () => {
    for (const r of await checks.checkFamilyTelemetry(b))
      expect(r.ok, JSON.stringify(r)).toBe(true);
  });

  it('dilated stays linear in seqLen from 128K to 1M tokens (time and planned memory per token)', async () => {
    const r = await checks.checkDilatedScaling(b);
    console.log(`dilated scaling: ${JSON.stringify(r.rows)}`);
    expect(r.spread, JSON.stringify(r.rows)).toBeLessThan(1.5);
    expect(r.memSpread).toBeLessThan(1.3);
  });

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
