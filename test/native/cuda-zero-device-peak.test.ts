// The CUDA variant on a machine without a GPU: info().cuda says why there is no device, the GPU
// peak is refused with that reason, CPU sessions of the same binary read no SM clock, and
// `dilbench peak` says in one line why the GPU peak was not measured. Which binary: the
// DILBENCH_CUDA_ADDON_PATH one, else the built variant (build-cuda/, variants/). Skipped, with a
// message, without one, on a GPU machine, or when the variant predates these functions.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

import type { NativeBinding } from '../../src/native/binding.js';
import { cudaVariantCandidates } from '../../src/native/select-backend.js';
import { baseOptions, baseProblem, catchAsync, expectCoded } from './helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const variant =
  process.env.DILBENCH_CUDA_ADDON_PATH ?? cudaVariantCandidates(root).find((p) => existsSync(p));

let binding: NativeBinding | null = null;
let skipReason = '';
if (!variant) {
  skipReason = `no CUDA variant (set DILBENCH_CUDA_ADDON_PATH or run scripts/build-cuda-variant.sh; looked in ${cudaVariantCandidates(root).join(', ')})`;
} else {
  binding = createRequire(import.meta.url)(path.resolve(variant)) as NativeBinding;
  if (binding.info().cuda.deviceCount > 0) {
    skipReason = 'this machine has a CUDA device (test/gpu/peak.test.ts covers the GPU)';
    binding = null;
  } else if (typeof binding.measureDevicePeak !== 'function') {
    skipReason = `the CUDA variant ${variant} predates measureDevicePeak (rebuild it)`;
    binding = null;
  }
}
if (!binding) console.log(`CUDA variant without a GPU (peak, clocks): skipped: ${skipReason}`);

const tmpDirs: string[] = [];
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!binding)('CUDA variant without a GPU: peak and clocks', () => {
  const b = binding as NativeBinding;

  it('info().cuda: compiled, 0 devices, and why', () => {
    const c = b.info().cuda;
    expect(c.compiled).toBe(true);
    expect(c.deviceCount).toBe(0);
    expect(c.error).toMatch(/^cuda\w+: \S/); // "cudaErrorNoDevice: no CUDA-capable device is detected" or the like
  });

  it('measureDevicePeak rejects with ERR_DILBENCH_UNSUPPORTED, and the binary lives on', async () => {
    const err = await catchAsync(b.measureDevicePeak!('cuda', 0.1));
    expectCoded(err, 'ERR_DILBENCH_UNSUPPORTED', 'device');
    expect(err.message).toMatch(/no usable device/);
    const s = await b.createSession(
      { ...baseProblem, implementation: 'flash', seqLen: 64 },
      baseOptions,
    );
    await s.sample(3, false);
    expect(s.sampleClocks!()).toBeNull(); // the CPU backend of the CUDA build reads no clock either
    s.dispose();
  });

  it('dilbench peak (built CLI) with this binary: exit 0, one line saying no CUDA device and why', () => {
    if (!existsSync(path.join(root, 'dist', 'src', 'cli', 'commands', 'peak.js'))) {
      console.log(
        '[skip] dilbench peak with the CUDA variant: dist/ is not built (run npm run build:ts)',
      );
      return;
    }
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dilbench-peak-cuda0-'));
    tmpDirs.push(dir);
    const r = spawnSync(
      process.execPath,
      [
        path.join(root, 'bin', 'dilbench.js'),
        'peak',
        '--threads',
        '1',
        '--duration',
        '0.2',
        '--output-dir',
        dir,
      ],
      {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, DILBENCH_ADDON_PATH: path.resolve(variant as string) },
        timeout: 120_000,
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => /GPU/.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^GPU peak: +not measured: no CUDA device \(cuda\w+: .+\)$/);
    expect(JSON.parse(readFileSync(path.join(dir, 'peak.json'), 'utf8')).gpuNotMeasured).toMatch(
      /^no CUDA device/,
    );
  });
});
