// GPU peak and SM clocks on a real GPU (`npm run test:gpu`): the tensor-core rates are positive and
// within what the chip can do at its rated clock, the copy bandwidth is in (0, 10 TB/s), and a CUDA
// session reports one SM clock reading per sampled iteration where NVML is loadable. Skipped, with
// a message, where there is no CUDA variant or no GPU.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { measure } from '../../src/measure/scheduler.js';
import { sessionSampler } from '../../src/measure/session-sampler.js';
import type { NativeBinding } from '../../src/native/binding.js';
// @ts-expect-error plain ESM module shared with run-gpu-checks.mjs
import * as checks from './gpu-checks.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const file: string | null = process.env.DILBENCH_CUDA_ADDON_PATH ?? checks.findCudaBinary(root);
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
    } else if (typeof binding.measureDevicePeak !== 'function') {
      skipReason = `the CUDA variant ${file} predates measureDevicePeak (rebuild it)`;
      binding = null;
    }
  } catch (e) {
    skipReason = `the CUDA variant does not load: ${(e as Error).message}`;
  }
}
if (!binding) console.log(`test/gpu/peak skipped: ${skipReason}`);

describe.skipIf(!binding)('GPU peak and SM clocks', () => {
  const b = binding as NativeBinding;
  const dev = b?.info().cuda.devices[0];

  it('tensor-core rates, FMA rate and copy bandwidth are plausible for this GPU', async () => {
    const p = await b.measureDevicePeak!('cuda', 1);
    console.log(`GPU peak on ${p.name}: ${JSON.stringify(p)}`);
    expect(p.name).toBe(dev?.name);
    // Upper bounds from the chip: at most 8192 dense fp16 FLOP per SM per clock (twice Hopper's
    // tensor-core rate) and 256 fp32 FLOP per SM per clock (128 FMA lanes), at the rated clock.
    const sms = dev?.multiProcessors ?? 0;
    const ghz = (dev?.maxSmClockMHz ?? 0) / 1000;
    const tensorBound = sms > 0 && ghz > 0 ? (sms * ghz * 8192) / 1000 : 5000;
    const fmaBound = sms > 0 && ghz > 0 ? (sms * ghz * 256) / 1000 : 500;
    for (const t of [p.fp16TensorTflops, p.bf16TensorTflops]) {
      expect(t).toBeGreaterThan(0);
      expect(t).toBeLessThan(tensorBound);
      expect(t).toBeGreaterThan(p.fp32FmaTflops); // tensor cores beat SIMT FMA on every sm_80+ GPU
    }
    expect(p.fp32FmaTflops).toBeGreaterThan(0);
    expect(p.fp32FmaTflops).toBeLessThan(fmaBound);
    expect(p.copyGBps).toBeGreaterThan(0);
    expect(p.copyGBps).toBeLessThan(10_000);
    expect(p.copyBytes).toBeGreaterThanOrEqual(256 * 2 ** 20);
    expect(p.runs).toBeGreaterThanOrEqual(5);
  });

  it('a CUDA session reads one SM clock per sampled iteration (NVML), and the scheduler keeps them', async () => {
    const problem = {
      implementation: 'flash',
      device: 'cuda' as const,
      dtype: 'fp16' as const,
      batch: 1,
      heads: 8,
      kvHeads: 8,
      seqLen: 2048,
      headDim: 64,
      causal: false,
      seed: 3,
    };
    const s = await b.createSession(problem, {
      threads: 1,
      useMemoryPool: true,
      usePatternCache: true,
      memoryLimitBytes: 0,
    });
    try {
      await s.sample(5, false);
      const clocks = s.sampleClocks!();
      if (dev?.clockSource !== 'nvml') {
        console.log(
          '[skip] SM clock readings: NVML is not loadable here (clockSource is "rated"): sampleClocks() must be null',
        );
        expect(clocks).toBeNull();
        return;
      }
      expect(clocks).not.toBeNull();
      expect(clocks!.smClockMHz.length).toBe(5);
      expect(clocks!.maxSmClockMHz).toBe(dev.maxSmClockMHz);
      for (const mhz of clocks!.smClockMHz) {
        expect(mhz).toBeGreaterThan(0);
        expect(mhz).toBeLessThanOrEqual(clocks!.maxSmClockMHz * 1.25);
      }
      const m = await measure(sessionSampler(s), { warmup: 3, runs: 10 });
      expect(m.smClock?.samplesMHz).toHaveLength(10);
      expect(m.smClock?.readSamples).toBe(10);
      console.log(`SM clock while sampling flash fp16: ${JSON.stringify(m.smClock)}`);
    } finally {
      s.dispose();
    }
  });
});
