// SM clocks and the device peak through the real binding, on this machine's addon (the CPU build,
// or whatever DILBENCH_ADDON_PATH names): the CPU backend reads no clock, so sampleClocks() is null
// and a measurement has no clock summary; measureDevicePeak() rejects with a coded reason.
import { describe, expect, it } from 'vitest';

import { measure } from '../../src/measure/scheduler.js';
import { sessionSampler } from '../../src/measure/session-sampler.js';
import type { NativeBinding } from '../../src/native/binding.js';
import { loadBinding } from '../../src/native/dilbench.js';
import { baseOptions, baseProblem, catchAsync, catchSync, expectCoded } from './helpers.js';

const binding: NativeBinding = loadBinding();
const problem = {
  ...baseProblem,
  implementation: 'flash',
  seqLen: 64,
  heads: 2,
  kvHeads: 2,
  headDim: 32,
};

describe('sample clocks on the CPU backend', () => {
  it('sampleClocks() is null before and after sample()', async () => {
    const s = await binding.createSession(problem, baseOptions);
    expect(typeof s.sampleClocks).toBe('function');
    expect(s.sampleClocks!()).toBeNull();
    const ns = await s.sample(4, false);
    expect(ns.length).toBe(4);
    expect(s.sampleClocks!()).toBeNull();
    await s.sample(2, true);
    expect(s.sampleClocks!()).toBeNull();
    s.dispose();
  });

  it('refuses while a sample() is in flight, and after dispose', async () => {
    const s = await binding.createSession(problem, baseOptions);
    const pending = s.sample(50, false);
    expectCoded(
      catchSync(() => s.sampleClocks!()),
      'ERR_DILBENCH_INVALID_CONFIG',
    );
    await pending;
    expect(s.sampleClocks!()).toBeNull();
    s.dispose();
    expectCoded(
      catchSync(() => s.sampleClocks!()),
      'ERR_DILBENCH_INVALID_CONFIG',
    );
  });

  it('a measurement of a real CPU session has no clock summary and no throttle note', async () => {
    const s = await binding.createSession(problem, baseOptions);
    const m = await measure(sessionSampler(s), { warmup: 1, runs: 5 });
    expect(m.samplesMs).toHaveLength(5);
    expect(m.smClock).toBeUndefined();
    expect(m.warnings.some((w) => w.includes('throttled'))).toBe(false);
    s.dispose();
  });
});

describe('measureDevicePeak without a CUDA device', () => {
  const cuda = binding.info().cuda;
  if (cuda.deviceCount > 0)
    console.log(
      '[skip] measureDevicePeak rejection: this machine has a CUDA device (test/gpu/peak.test.ts covers it)',
    );

  it.skipIf(cuda.deviceCount > 0)('rejects with ERR_DILBENCH_UNSUPPORTED saying why', async () => {
    const err = await catchAsync(binding.measureDevicePeak!('cuda', 0.1));
    expectCoded(err, 'ERR_DILBENCH_UNSUPPORTED', 'device');
    expect(err.message).toMatch(cuda.compiled ? /no usable device/ : /has no CUDA backend/);
  });

  it('checks its arguments (field and what is allowed)', async () => {
    expectCoded(
      await catchAsync(binding.measureDevicePeak!('cpu' as 'cuda', 1)),
      'ERR_DILBENCH_INVALID_CONFIG',
      'device',
    );
    expectCoded(
      await catchAsync(binding.measureDevicePeak!('cuda', 0)),
      'ERR_DILBENCH_INVALID_CONFIG',
      'durationSeconds',
    );
    expectCoded(
      await catchAsync(binding.measureDevicePeak!('cuda', 61)),
      'ERR_DILBENCH_INVALID_CONFIG',
      'durationSeconds',
    );
    expectCoded(
      await catchAsync(binding.measureDevicePeak!('cuda', Number.NaN)),
      'ERR_DILBENCH_INVALID_CONFIG',
      'durationSeconds',
    );
  });

  it('info().cuda says why there is no device when CUDA is compiled in, and nothing otherwise', () => {
    if (cuda.compiled && cuda.deviceCount === 0) expect(cuda.error).toMatch(/\S/);
    if (!cuda.compiled) expect(cuda.error).toBeUndefined();
  });
});
