// GPU ranks of `ring --distributed` (src/distributed/gpu.ts) decided from injected facts (no GPU
// here): where the GPU rank executable is looked for, which transport runs, the errors that name
// --device / --ranks and what is missing, --device auto's choice and reason, the rank command
// line for cuda; and the orchestrator's cuda path end to end with a stand-in launcher that records
// its command line and writes a rank 0 JSON of transport nccl (the rows and config it records).
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import {
  chooseGpuRank,
  CUDA_MPI_RANK_EXECUTABLE,
  findGpuRankExecutables,
  gpuDistributedAvailability,
  NCCL_RANK_EXECUTABLE,
  resolveDistributedDevice,
  type GpuDistributedFacts,
  type DistributedDeviceRequest,
} from '../../src/distributed/gpu.js';
import type { RawRingRun } from '../../src/distributed/analysis.js';
import {
  parseDistributedOptions,
  rankArgs,
  runDistributedRing,
} from '../../src/distributed/run.js';
import { tryLoadBinding } from '../../src/native/loader.js';
import { getDilbench } from '../../src/native/dilbench.js';

const launcher = {
  path: '/usr/bin/mpirun',
  flavour: 'openmpi' as const,
  version: 'mpirun (Open MPI) 4.1.4',
};
const device = (i: number) => ({
  index: i,
  name: 'GPU',
  computeCapability: '9.0',
  totalMemoryBytes: 80 * 2 ** 30,
  smClockMHz: 1980,
  driverVersion: '12.4',
  runtimeVersion: '12.4',
});
const cudaWith = (n: number) => ({
  cuda: { compiled: true, deviceCount: n, devices: Array.from({ length: n }, (_, i) => device(i)) },
});
const cpuBuild = { cuda: { compiled: false, deviceCount: 0, devices: [] } };
const ncclExe = `/pkg/build-cuda/Release/${NCCL_RANK_EXECUTABLE}`;
const cudaMpiExe = `/pkg/build-cuda/Release/${CUDA_MPI_RANK_EXECUTABLE}`;
const executables = (nccl: string | null, cudaMpi: string | null = null) => ({
  nccl,
  cudaMpi,
  tried: ['/pkg/build-cuda/Release/a', '/pkg/build/Release/a'],
});
const facts = (o: Partial<GpuDistributedFacts> = {}): GpuDistributedFacts => ({
  executables: executables(ncclExe),
  cuda: cudaWith(2),
  launcher,
  ...o,
});
const request = (o: Partial<DistributedDeviceRequest> = {}): DistributedDeviceRequest => ({
  device: 'cuda',
  ranks: 2,
  implementation: 'ring',
  causal: true,
  ...o,
});

function configError(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('finding the GPU rank executable', () => {
  it('looks beside the loaded addon first, then the CUDA variant build, its prebuilds, build/Release', () => {
    const seen: string[] = [];
    const at = `/carry/${NCCL_RANK_EXECUTABLE}`;
    const ex = findGpuRankExecutables(
      '/pkg',
      '/carry/dilbench.node',
      {},
      (p) => (seen.push(p), p === at || p === `/pkg/build/Release/${CUDA_MPI_RANK_EXECUTABLE}`),
    );
    expect(ex.nccl).toBe(at);
    expect(ex.cudaMpi).toBe(`/pkg/build/Release/${CUDA_MPI_RANK_EXECUTABLE}`);
    const dirs = [...new Set(ex.tried.map((p) => path.dirname(p)))];
    expect(dirs).toEqual([
      '/carry',
      '/pkg/build-cuda/Release',
      `/pkg/variants/cuda/prebuilds/${process.platform}-${process.arch}`,
      '/pkg/build/Release',
    ]);
    expect(seen[0]).toBe(at);
  });

  it('DILBENCH_RING_RANK_GPU names it; a cuda-mpi name is the CUDA-aware MPI rank', () => {
    expect(
      findGpuRankExecutables('/pkg', null, { DILBENCH_RING_RANK_GPU: '/x/my-rank' }, () => true),
    ).toEqual({ nccl: '/x/my-rank', cudaMpi: null, tried: ['/x/my-rank'] });
    const e = findGpuRankExecutables(
      '/pkg',
      null,
      { DILBENCH_RING_RANK_GPU: `/x/${CUDA_MPI_RANK_EXECUTABLE}` },
      () => false,
    );
    expect(e).toEqual({ nccl: null, cudaMpi: null, tried: [`/x/${CUDA_MPI_RANK_EXECUTABLE}`] });
  });

  it('the transport: NCCL where its rank is built, else CUDA-aware MPI; asked for and missing, it says what is built', () => {
    expect(chooseGpuRank(executables(ncclExe))).toMatchObject({
      transport: 'nccl',
      rankExecutable: ncclExe,
    });
    expect(chooseGpuRank(executables(ncclExe), 'cuda-aware-mpi')).toMatchObject({
      transport: 'cuda-aware-mpi',
      rankExecutable: ncclExe,
    });
    expect(chooseGpuRank(executables(null, cudaMpiExe))).toMatchObject({
      transport: 'cuda-aware-mpi',
      rankExecutable: cudaMpiExe,
    });
    expect(chooseGpuRank(executables(null, cudaMpiExe), 'nccl')).toMatch(
      /dilbench-ring-rank-nccl is not built \(only dilbench-ring-rank-cuda-mpi is built: --gpu-transport cuda-aware-mpi\)/,
    );
    expect(chooseGpuRank(executables(null))).toMatch(
      /no GPU rank executable is built .*looked in \/pkg\/build-cuda\/Release, \/pkg\/build\/Release\).*NCCL_HOME/,
    );
  });
});

describe('GPU ranks: availability', () => {
  it('available with the rank, a launcher and one CUDA device per rank', () => {
    expect(gpuDistributedAvailability(facts(), 2)).toMatchObject({
      available: true,
      problems: [],
      deviceCount: 2,
      choice: { transport: 'nccl' },
    });
  });

  it('fewer CUDA devices than ranks, a CPU build, no launcher: each named', () => {
    expect(gpuDistributedAvailability(facts({ cuda: cudaWith(1) }), 2).problems).toEqual([
      '--ranks 2 needs 2 CUDA devices, one per rank, and the loaded build reports 1',
    ]);
    const a = gpuDistributedAvailability(
      facts({ cuda: cpuBuild, launcher: null, executables: executables(null) }),
      4,
    );
    expect(a.available).toBe(false);
    expect(a.problems).toHaveLength(3);
    expect(a.problems[0]).toMatch(/no GPU rank executable is built/);
    expect(a.problems[1]).toMatch(
      /--ranks 4 needs 4 CUDA device\(s\), one per rank, and there is no CUDA device: the loaded dilbench build has no CUDA backend/,
    );
    expect(a.problems[2]).toMatch(/no MPI launcher/);
  });

  it('doctor asks for any number of ranks: available when at least one device', () => {
    expect(gpuDistributedAvailability(facts({ cuda: cudaWith(1) }), null)).toMatchObject({
      available: true,
      deviceCount: 1,
    });
    expect(
      gpuDistributedAvailability(
        facts({
          cuda: { cuda: { compiled: true, deviceCount: 0, devices: [], error: 'no driver' } },
        }),
        null,
      ).problems[0],
    ).toMatch(/GPU ranks need CUDA device\(s\).*no device is usable \(no driver\)/);
  });
});

describe('--device with --distributed', () => {
  it('cuda that cannot run: a ConfigError naming --device, --ranks and everything missing', () => {
    const e = configError(() =>
      resolveDistributedDevice(
        request({ ranks: 3 }),
        facts({ executables: executables(null), cuda: cudaWith(2) }),
      ),
    );
    expect(e.field).toBe('device');
    const msg = e.withFlagName().message;
    expect(msg).toMatch(
      /^invalid --device: "cuda" \(GPU ranks cannot run here: no GPU rank executable is built/,
    );
    expect(msg).toMatch(
      /--ranks 3 needs 3 CUDA devices, one per rank, and the loaded build reports 2/,
    );
    expect(msg).toMatch(/allowed: cpu .*at least --ranks CUDA devices \(dilbench doctor says\)/);
  });

  it('cuda that can run: GPU ranks, the one layout the CUDA ring plans, the transport asked for', () => {
    expect(resolveDistributedDevice(request(), facts())).toEqual({
      device: 'cuda',
      gpu: { transport: 'nccl', rankExecutable: ncclExe, reason: expect.stringMatching(/NCCL/) },
      layouts: ['zigzag'],
      selection: null,
    });
    const r = resolveDistributedDevice(
      request({ causal: false, gpuTransport: 'cuda-aware-mpi' }),
      facts(),
    );
    expect(r).toMatchObject({
      device: 'cuda',
      gpu: { transport: 'cuda-aware-mpi' },
      layouts: ['plain'],
    });
  });

  it('cuda with options the GPU rank does not take: named before the machine is asked', () => {
    const noGpu = facts({ cuda: cpuBuild });
    expect(
      configError(() =>
        resolveDistributedDevice(request({ implementation: 'ring-dilated' }), noGpu),
      ).message,
    ).toMatch(/invalid implementations: "ring-dilated".*ring only/);
    expect(
      configError(() => resolveDistributedDevice(request({ layouts: ['zigzag', 'plain'] }), noGpu))
        .message,
    ).toMatch(/invalid layouts: "zigzag,plain"; allowed: zigzag with --device cuda --causal/);
    expect(
      configError(() =>
        resolveDistributedDevice(request({ device: 'cpu', gpuTransport: 'nccl' }), facts()),
      ).field,
    ).toBe('gpuTransport');
  });

  it('auto: GPU ranks where they can run, else CPU ranks, and says which and why', () => {
    expect(resolveDistributedDevice(request({ device: 'auto' }), facts())).toMatchObject({
      device: 'cuda',
      layouts: ['zigzag'],
      selection: {
        requested: 'auto',
        device: 'cuda',
        reason: expect.stringMatching(/^auto: GPU ranks \(2 CUDA device\(s\) for 2 rank\(s\)/),
      },
    });
    const few = resolveDistributedDevice(request({ device: 'auto', ranks: 4 }), facts());
    expect(few).toMatchObject({ device: 'cpu', gpu: null, layouts: ['zigzag', 'plain'] });
    expect(few.selection!.reason).toBe(
      'auto: CPU ranks (GPU ranks cannot run: --ranks 4 needs 4 CUDA devices, one per rank, and the loaded build reports 2)',
    );
    const dilated = resolveDistributedDevice(
      request({ device: 'auto', implementation: 'ring-dilated' }),
      facts(),
    );
    expect(dilated).toMatchObject({ device: 'cpu', layouts: ['plain'] });
    expect(dilated.selection!.reason).toMatch(/--implementations: ring with --device cuda/);
    // not given: CPU ranks, nothing selected
    expect(resolveDistributedDevice(request({ device: undefined }), facts())).toEqual({
      device: 'cpu',
      gpu: null,
      layouts: ['zigzag', 'plain'],
      selection: null,
    });
  });

  it('the options: --device cpu|cuda|auto, --gpu-transport only with GPU ranks', () => {
    expect(
      parseDistributedOptions({ device: 'cuda', gpuTransport: 'cuda-aware-mpi' }),
    ).toMatchObject({ device: 'cuda', gpuTransport: 'cuda-aware-mpi' });
    expect(() => parseDistributedOptions({ device: 'tpu' })).toThrow(
      /invalid device: "tpu".*cpu .*cuda .*auto/,
    );
    expect(() => parseDistributedOptions({ device: 'cuda', gpuTransport: 'gloo' })).toThrow(
      /invalid gpuTransport: "gloo"; allowed: nccl or cuda-aware-mpi/,
    );
    expect(() => parseDistributedOptions({ gpuTransport: 'nccl' })).toThrow(
      /invalid gpuTransport.*only with --device cuda or auto/,
    );
  });

  it('the rank command line for GPU ranks carries --gpu-transport; CPU ranks get none', () => {
    const o = {
      ...parseDistributedOptions({ device: 'cuda', ranks: 2, totalTokens: ['1K'], causal: true }),
      gpuTransport: 'cuda-aware-mpi' as const,
      layouts: ['zigzag' as const],
    };
    const a = rankArgs(o, 1024, '/tmp/x.json', 'm');
    expect(a.join(' ')).toBe(
      '--implementation ring --batch 1 --heads 8 --kv-heads 8 --seq-len 1024 --head-dim 64 --seed 42 --iterations 3 --warmup 1 --layouts zigzag --check auto --output /tmp/x.json --run-id m --causal --gpu-transport cuda-aware-mpi',
    );
    expect(
      rankArgs(parseDistributedOptions({ device: 'cpu' }), 64, '/tmp/y.json', 'm'),
    ).not.toContain('--gpu-transport');
  });
});

// A rank 0 JSON as the GPU rank writes it (transport nccl): 2 ranks, zigzag, one iteration.
function gpuRankJson(seqLen: number, check: RawRingRun['layouts'][number]['check']): RawRingRun {
  const rank = (c: number) => ({
    computeNs: [c, c],
    pollNs: [0, 0],
    waitNs: [1e5, 0],
    bytesSent: [4096, 0],
    wallNs: 2 * c + 1e5,
  });
  return {
    format: 'dilbench-ring-rank/1',
    transport: 'nccl',
    implementation: 'ring',
    flopsPerIteration: 1e6,
    ranks: 2,
    batch: 1,
    heads: 2,
    kvHeads: 2,
    seqLen,
    headDim: 16,
    causal: true,
    seed: 42,
    iterations: 1,
    warmup: 0,
    progressPolls: true,
    threadsPerRank: 1,
    simdLevel: 'avx2',
    mpiLibrary: 'Open MPI v4.1.4',
    rank0Host: 'gpu-host',
    layouts: [
      {
        layout: 'zigzag',
        chunks: [],
        pingPong: { bytes: 4096, oneWayNs: [2000, 2000] },
        iterations: [{ ranks: [rank(1e6), rank(1.1e6)] }],
        check,
      },
    ],
  };
}

const binding = tryLoadBinding();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'dilbench-gpu-orchestrator-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
if (!binding) console.log('GPU orchestrator path skipped: the native addon does not load here');

describe.skipIf(!binding)(
  'ring --distributed --device cuda through the orchestrator (stand-in launcher)',
  () => {
    it('launches the GPU rank with --gpu-transport, records device cuda and the transport on the rows and in the config', async () => {
      const argsFile = path.join(tmp, 'args.txt');
      const rankJson = path.join(tmp, 'canned.json');
      writeFileSync(
        rankJson,
        JSON.stringify(
          gpuRankJson(256, {
            against: 'flash',
            reason: '',
            maxAbsError: 1e-6,
            relL2Error: 1e-7,
            finite: true,
          }),
        ),
      );
      // records its arguments, then writes the canned rank 0 JSON where --output says
      const fake = path.join(tmp, 'fake-mpirun');
      writeFileSync(
        fake,
        `#!/bin/sh\nprintf '%s\\n' "$@" > '${argsFile}'\nwhile [ $# -gt 0 ]; do if [ "$1" = --output ]; then cat '${rankJson}' > "$2"; fi; shift; done\n`,
      );
      chmodSync(fake, 0o755);
      const o = parseDistributedOptions({
        device: 'cuda',
        ranks: 2,
        totalTokens: [256],
        causal: true,
        heads: 2,
        headDim: 16,
        runs: 1,
        warmup: 0,
        outputDir: path.join(tmp, 'out'),
      });
      const gpuFacts = facts({ launcher: { path: fake, flavour: 'unknown', version: 'stand-in' } });
      const r = await runDistributedRing(o, { dilbench: getDilbench(), gpuFacts });
      const args = readFileSync(argsFile, 'utf8').trim().split('\n');
      expect(args.slice(0, 3)).toEqual(['-n', '2', ncclExe]);
      expect(args.join(' ')).toContain('--layouts zigzag --check auto');
      expect(args.join(' ')).toContain('--causal --gpu-transport nccl');
      expect(r.file.config).toMatchObject({
        device: 'cuda',
        gpuTransport: 'nccl',
        rankExecutable: ncclExe,
        layouts: ['zigzag'],
      });
      expect(r.file.config.deviceSelection).toBeUndefined();
      expect(r.file.results).toHaveLength(1);
      const row = r.file.results[0]!;
      expect(row).toMatchObject({
        device: 'cuda',
        status: 'ok',
        seqLen: 256,
        params: {
          transportKind: 'nccl',
          transport: 'NCCL send/recv (bootstrapped through MPI: Open MPI v4.1.4)',
          layout: 'zigzag',
        },
      });
      const info = binding!.info();
      if (!(info.cuda.compiled && info.cuda.deviceCount > 0)) {
        expect((row.projected as { skipped: string }).skipped).toMatch(
          /simulated ring on CUDA.*no CUDA device/,
        );
      }
      const md = readFileSync(r.written.markdown, 'utf8');
      expect(md).toMatch(/\| 256 \| ring \| zigzag \| 2 \| cuda \(nccl\) \|/);
    });

    it('--from-rank-output of a GPU run: cuda rows with its transport; a --device that contradicts the file is named', async () => {
      const file = path.join(tmp, 'gpu-rank0.json');
      writeFileSync(
        file,
        JSON.stringify(
          gpuRankJson(300, {
            against: 'none',
            reason: '--check none',
            maxAbsError: 0,
            relL2Error: 0,
            finite: true,
          }),
        ),
      );
      const contradicts = parseDistributedOptions({
        device: 'cpu',
        fromRankOutput: file,
        outputDir: path.join(tmp, 'never-imported'),
      });
      await expect(runDistributedRing(contradicts, { dilbench: getDilbench() })).rejects.toThrow(
        /invalid device: "cpu"; allowed: cuda \(the device the --from-rank-output file ran on: transport nccl\)/,
      );
      const r = await runDistributedRing(
        parseDistributedOptions({ fromRankOutput: file, outputDir: path.join(tmp, 'imported') }),
        { dilbench: getDilbench() },
      );
      expect(r.file.config).toMatchObject({
        device: 'cuda',
        gpuTransport: 'nccl',
        ranks: 2,
        totalTokens: [300],
      });
      expect(
        r.file.results.map((x) => [x.device, x.params?.transportKind, x.params?.transport]),
      ).toEqual([['cuda', 'nccl', 'NCCL send/recv (bootstrapped through MPI: Open MPI v4.1.4)']]);
    });

    it('--device cuda where GPU ranks cannot run: exit-2 error before any file is written', async () => {
      const out = path.join(tmp, 'never');
      const o = parseDistributedOptions({
        device: 'cuda',
        ranks: 2,
        totalTokens: [256],
        outputDir: out,
      });
      await expect(
        runDistributedRing(o, { dilbench: getDilbench(), gpuFacts: facts({ cuda: cpuBuild }) }),
      ).rejects.toThrow(
        /invalid device: "cuda" \(GPU ranks cannot run here: --ranks 2 needs 2 CUDA device/,
      );
      expect(() => readFileSync(out)).toThrow();
    });
  },
);
