// `dilbench peak` and the GPU: with a (fake) CUDA device it measures and stores the GPU peak; with
// none it says in one line why not. The real CLI runs on this machine's addon (no GPU here).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gpuUnavailableReason, runPeak } from '../../src/cli/commands/peak.js';
import type { NativeBinding, NativeDevicePeak, NativeInfo } from '../../src/native/binding.js';
import { Dilbench } from '../../src/native/dilbench.js';
import { loadPeak } from '../../src/roofline/peak-store.js';
import { cli as runCli, root, runModule } from './helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'dilbench-peak-gpu-'));
  dirs.push(d);
  return d;
}
function sink() {
  let out = '';
  return {
    io: { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => true } },
    text: () => out,
  };
}

const gpuInfo = (deviceCount: number, error?: string): NativeInfo => ({
  version: 'x',
  buildType: 'Fake',
  simdLevel: 'avx2',
  detectedSimdLevel: 'avx2',
  hardwareThreads: 2,
  cuda: {
    compiled: true,
    deviceCount,
    devices: deviceCount
      ? [
          {
            index: 0,
            name: 'Fake H100',
            computeCapability: '9.0',
            totalMemoryBytes: 80e9,
            smClockMHz: 1980,
            driverVersion: '1',
            runtimeVersion: '1',
          },
        ]
      : [],
    ...(error ? { error } : {}),
  },
});

function fake(
  info: NativeInfo,
  devicePeak?: (seconds: number) => Promise<NativeDevicePeak>,
): Dilbench {
  const binding = {
    info: () => info,
    async measurePeak(threads: number) {
      return { fmaGflops: 400, streamGBps: 20, threads, simdLevel: 'avx2' };
    },
    ...(devicePeak ? { measureDevicePeak: (_d: 'cuda', s: number) => devicePeak(s) } : {}),
  } as unknown as NativeBinding;
  return new Dilbench({ binding });
}

const h100: NativeDevicePeak = {
  device: 'cuda',
  name: 'Fake H100',
  fp16TensorTflops: 612.5,
  bf16TensorTflops: 610.25,
  fp32FmaTflops: 60.5,
  copyGBps: 2950,
  copyBytes: 400 * 2 ** 20,
  runs: 9,
};

describe('dilbench peak with a (fake) CUDA device', () => {
  it('measures the GPU peak, prints it with the GPU name and stores it in peak.json', async () => {
    const asked: number[] = [];
    const dilbench = fake(gpuInfo(1), async (s) => (asked.push(s), h100));
    const dir = tmp();
    const s = sink();
    const res = await runPeak(dilbench, { threads: 1, duration: 0.5, outputDir: dir }, s.io);
    expect(asked).toEqual([0.5]);
    expect(s.text()).toMatch(/GPU peak: +Fake H100 \(cc 9\.0\), median of 9 runs/);
    expect(s.text()).toMatch(
      /fp16 tensor: +612\.5 TFLOP\/s \(mma\.sync m16n8k16, fp32 accumulate\)/,
    );
    expect(s.text()).toMatch(/bf16 tensor: +610\.3 TFLOP\/s/);
    expect(s.text()).toMatch(
      /memory: +2950\.0 GB\/s \(device copy of 400 MiB, read \+ write counted\)/,
    );
    expect(res.gpu).toMatchObject({
      name: 'Fake H100',
      computeCapability: '9.0',
      fp16TensorTflops: 612.5,
      copyGBps: 2950,
    });
    const stored = await loadPeak(dir);
    expect(stored?.gpu?.bf16TensorTflops).toBe(610.25);
    expect(stored?.gpuNotMeasured).toBeUndefined();
    const j = sink();
    await runPeak(dilbench, { threads: 1, duration: 120, outputDir: dir, json: true }, j.io);
    expect(asked[1]).toBe(60); // at most 60 s per GPU figure (the binding's limit)
    expect(JSON.parse(j.text()).gpu.name).toBe('Fake H100');
  });

  it('a failed GPU measurement on a usable device fails the command after storing the CPU peak', async () => {
    const dilbench = fake(gpuInfo(1), async () =>
      Promise.reject(new Error('CUDA peak measurement: out of memory')),
    );
    const dir = tmp();
    await expect(
      runPeak(dilbench, { threads: 1, duration: 0.1, outputDir: dir }, sink().io),
    ).rejects.toThrow(
      /GPU peak: CUDA peak measurement: out of memory \(the CPU peak was saved to /,
    );
    const stored = await loadPeak(dir);
    expect(stored?.fmaGflops).toBe(400);
    expect(stored?.gpuNotMeasured).toMatch(
      /the measurement failed: CUDA peak measurement: out of memory/,
    );
  });

  it('implausible GPU figures are refused', async () => {
    const dilbench = fake(gpuInfo(1), async () => ({ ...h100, copyGBps: 0 }));
    await expect(
      runPeak(dilbench, { threads: 1, duration: 0.1, outputDir: tmp() }, sink().io),
    ).rejects.toThrow(/implausible numbers/);
  });

  it('says why no GPU peak: no CUDA backend, zero devices (with the driver reason), no binding support', () => {
    expect(
      gpuUnavailableReason(
        fake({ ...gpuInfo(0), cuda: { compiled: false, deviceCount: 0, devices: [] } }),
      ),
    ).toMatch(/^this dilbench build has no CUDA backend/);
    expect(
      gpuUnavailableReason(
        fake(gpuInfo(0, 'cudaErrorNoDevice: no CUDA-capable device is detected')),
      ),
    ).toBe('no CUDA device (cudaErrorNoDevice: no CUDA-capable device is detected)');
    expect(gpuUnavailableReason(fake(gpuInfo(1)))).toBe(
      'this native binding cannot measure a GPU peak',
    );
    expect(gpuUnavailableReason(fake(gpuInfo(1), async () => h100))).toBeNull();
  });
});

// The real CLI on this machine's addon (DILBENCH_ADDON_PATH is honoured when set).
const built = (() => {
  try {
    readFileSync(join(root, 'dist', 'src', 'cli', 'commands', 'peak.js'));
    return true;
  } catch {
    return false;
  }
})();
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, env, 120_000);
const addon = built
  ? runModule(
      "const m = await import('./dist/src/native/dilbench.js'); const c = m.loadBinding().info().cuda; console.log(JSON.stringify(c));",
    )
  : null;
const cudaInfo = addon?.status === 0 ? (JSON.parse(addon.stdout) as NativeInfo['cuda']) : null;
const skip = !built
  ? 'dist/ is not built (run npm run build:ts)'
  : !cudaInfo
    ? `the native addon does not load (${(addon?.stderr ?? '').split('\n').find((l) => l.startsWith('Cause:')) ?? 'unknown'})`
    : cudaInfo.deviceCount > 0
      ? 'this machine has a CUDA device (test/gpu/peak.test.ts covers the GPU peak)'
      : '';
if (skip) console.log(`peak CLI without a GPU: skipped: ${skip}`);

describe.skipIf(skip !== '')('dilbench peak on a machine without a GPU (real addon)', () => {
  it('exits 0, prints JSON that parses, and says why the GPU peak was not measured', () => {
    const dir = tmp();
    const r = cli(['peak', '--json', '--threads', '1', '--duration', '0.2', '--output-dir', dir]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.fmaGflops).toBeGreaterThan(0);
    expect(j.streamGBps).toBeGreaterThan(0);
    expect(j.gpu).toBeNull();
    expect(j.gpuNotMeasured).toMatch(
      cudaInfo?.compiled
        ? /^no CUDA device \(.+\)$/
        : /^this dilbench build has no CUDA backend \(.+\)$/,
    );
    const stored = JSON.parse(readFileSync(join(dir, 'peak.json'), 'utf8'));
    expect(stored.gpuNotMeasured).toBe(j.gpuNotMeasured);
    expect(stored.gpu).toBeUndefined();
  });

  it('text output: exactly one line says the GPU peak was not measured, and why', () => {
    const r = cli(['peak', '--threads', '1', '--duration', '0.2', '--output-dir', tmp()]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => /GPU/.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^GPU peak: +not measured: (this dilbench build has no CUDA backend|no CUDA device) \(.+\)$/,
    );
  });
});
