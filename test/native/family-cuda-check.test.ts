// The CUDA family kernels' shared __host__ __device__ functions (native/cuda/family_cuda_math.cuh)
// run on the CPU over every query row by tools/family_cuda_check: the only check of their index
// maths and merge arithmetic on a machine without a GPU. Built by scripts/build-host-emulation.sh.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const exe =
  process.env.DILBENCH_FAMILY_CUDA_CHECK ??
  path.join(root, 'build-family-cuda', 'family_cuda_check');
const skip = existsSync(exe) ? '' : `${exe} is not built (bash scripts/build-host-emulation.sh)`;
if (skip) console.log(`family_cuda_check skipped: ${skip}`);

describe.skipIf(!!skip)('CUDA family kernel maths on the CPU (family_cuda_check --quick)', () => {
  it('emulates every kernel, dtype and shape of the quick set with zero failures', () => {
    const r = spawnSync(exe, ['--quick'], { encoding: 'utf8', timeout: 300_000 });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.status, out.slice(-3000)).toBe(0);
    const m = /family_cuda_check: (\d+) checks, (\d+) failure\(s\)/.exec(out);
    expect(m, out.slice(-3000)).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(1_000_000);
    expect(Number(m![2])).toBe(0);
    // every family kernel in every dtype was compared with the float64 reference
    for (const k of ['dilated', 'dilated-grouped', 'ring', 'ring-dilated', 'block-sparse']) {
      for (const t of ['fp32', 'fp16', 'bf16'])
        expect(out).toMatch(new RegExp(`\\n\\s*${k} ${t} vs float64\\s+relL2`));
    }
  }, 320_000);
});
