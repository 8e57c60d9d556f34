// The CUDA build on a machine without a GPU (CI): it loads, reports zero devices, refuses CUDA
// sessions with a coded error, still runs the CPU kernels, and the backend selection falls back
// to the CPU build with a reason. Skipped, with a message, when the CUDA variant is not built
// (scripts/build-cuda-variant.sh) or when this machine has a GPU (test/gpu covers that).
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

import type { NativeBinding } from '../../src/native/binding.js';
import {
  cudaVariantCandidates,
  diagnoseBackend,
  probeCudaBinary,
  selectBinaryPath,
} from '../../src/native/select-backend.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const variant = cudaVariantCandidates(root).find((p) => existsSync(p));

let binding: NativeBinding | null = null;
let skipReason = '';
if (!variant) {
  skipReason = `the CUDA variant is not built (looked in ${cudaVariantCandidates(root).join(', ')}; run scripts/build-cuda-variant.sh)`;
} else {
  binding = createRequire(import.meta.url)(variant) as NativeBinding;
  if (binding.info().cuda.deviceCount > 0) {
    skipReason =
      'this machine has a CUDA device: the fallback path is not reachable here (test/gpu covers the GPU)';
    binding = null;
  }
}
if (!binding) console.log(`cuda-fallback tests skipped: ${skipReason}`);

const tmpDirs: string[] = [];
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

/** A directory holding a libcuda.so.1 that is not a library: a driver that "exists" but breaks. */
function fakeDriverDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'dilbench-fake-libcuda-'));
  tmpDirs.push(d);
  writeFileSync(path.join(d, 'libcuda.so.1'), 'not a shared object\n');
  return d;
}

describe.skipIf(!binding)('CUDA build without a GPU', () => {
  const b = binding as NativeBinding;
  const options = { threads: 1, useMemoryPool: true, usePatternCache: true, memoryLimitBytes: 0 };

  it('loads, says CUDA is compiled in, and reports 0 devices', () => {
    const info = b.info();
    expect(info.cuda.compiled).toBe(true);
    expect(info.cuda.deviceCount).toBe(0);
    expect(info.cuda.devices).toEqual([]);
  });

  it('lists the CUDA kernels next to the CPU ones', () => {
    const cuda = b
      .listImplementations()
      .filter((i) => i.device === 'cuda')
      .map((i) => i.name);
    expect(cuda).toEqual(expect.arrayContaining(['flash', 'naive', 'kv-cache']));
    const flash = b.listImplementations().find((i) => i.device === 'cuda' && i.name === 'flash');
    expect(flash?.dtypes).toEqual(expect.arrayContaining(['fp16', 'bf16', 'fp32']));
  });

  it('refuses a CUDA session with ERR_DILBENCH_UNSUPPORTED naming the device, and lives on', async () => {
    const p = {
      implementation: 'flash',
      device: 'cuda' as const,
      dtype: 'fp16' as const,
      batch: 1,
      heads: 2,
      kvHeads: 2,
      seqLen: 64,
      headDim: 64,
      causal: false,
      seed: 1,
    };
    let err: (Error & { code?: string }) | undefined;
    try {
      await b.createSession(p, options);
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.code).toBe('ERR_DILBENCH_UNSUPPORTED');
    expect(err?.message).toMatch(/no usable device/);
    // The CPU path of the same binary still computes.
    const cpu = await b.createSession({ ...p, device: 'cpu', dtype: 'fp32' }, options);
    const out = await cpu.output();
    expect(out.length).toBe(2 * 64 * 64);
    expect(out.every((x) => Number.isFinite(x))).toBe(true);
    cpu.dispose();
  });

  it('probes the variant in a child process: it loads and reports 0 devices', () => {
    const probe = probeCudaBinary(variant as string);
    expect(probe.ok, probe.error).toBe(true);
    expect(probe.deviceCount).toBe(0);
  });

  it('selection: no driver -> CPU build, with the reason', () => {
    const d = diagnoseBackend(root, {
      ...process.env,
      DILBENCH_BACKEND: undefined,
      LD_LIBRARY_PATH: '',
    });
    expect(d.selection.backend).toBe('cpu');
    expect(d.selection.path).toBeNull();
    if (!d.driver.present) {
      expect(d.selection.reason).toMatch(/no NVIDIA driver/);
      expect(d.probe).toBeNull();
    } else {
      expect(d.selection.reason).toMatch(/0 CUDA devices|could not be probed/);
    }
  });

  it('selection: a driver that is present but broken -> the probe sees 0 devices -> CPU build', () => {
    const env = { ...process.env, DILBENCH_BACKEND: 'auto', LD_LIBRARY_PATH: fakeDriverDir() };
    const d = diagnoseBackend(root, env);
    expect(d.driver.present).toBe(true);
    expect(d.probe?.ok, d.probe?.error).toBe(true);
    expect(d.probe?.deviceCount).toBe(0);
    expect(d.selection.backend).toBe('cpu');
    expect(d.selection.reason).toMatch(/reports 0 CUDA devices/);
  });

  it('selection: a driver but no CUDA variant installed -> CPU build, saying where it looked', () => {
    const emptyRoot = mkdtempSync(path.join(os.tmpdir(), 'dilbench-root-'));
    tmpDirs.push(emptyRoot);
    mkdirSync(path.join(emptyRoot, 'variants'), { recursive: true });
    const d = diagnoseBackend(emptyRoot, {
      ...process.env,
      DILBENCH_BACKEND: 'auto',
      LD_LIBRARY_PATH: fakeDriverDir(),
    });
    expect(d.selection.backend).toBe('cpu');
    expect(d.selection.reason).toMatch(/not installed/);
    expect(d.selection.reason).toContain(path.join('variants', 'cuda', 'prebuilds'));
  });

  it('DILBENCH_BACKEND=cuda without a GPU is a clear error; =cpu forces the CPU build; junk is rejected', () => {
    let err: (Error & { code?: string }) | undefined;
    try {
      selectBinaryPath(root, { ...process.env, DILBENCH_BACKEND: 'cuda' });
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.code).toBe('ERR_DILBENCH_UNSUPPORTED');
    expect(err?.message).toMatch(/DILBENCH_BACKEND=cuda but no usable CUDA device/);
    const cpu = selectBinaryPath(root, { ...process.env, DILBENCH_BACKEND: 'cpu' });
    expect(cpu).toEqual({
      path: null,
      backend: 'cpu',
      reason: 'DILBENCH_BACKEND=cpu forces the CPU build',
    });
    expect(() => selectBinaryPath(root, { ...process.env, DILBENCH_BACKEND: 'gpu' })).toThrow(
      /cpu, cuda or auto/,
    );
  });
});
