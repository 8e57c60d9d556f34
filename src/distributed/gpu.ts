// GPU ranks for `dilbench ring --distributed --device cuda|auto` (issue 19): finding the GPU rank
// executable (native/distributed/nccl: dilbench-ring-rank-nccl, or dilbench-ring-rank-cuda-mpi
// where NCCL was not found at build time), and deciding from injected facts (executables found,
// CUDA devices the loaded build reports, launcher) whether a GPU ring can run, with which
// transport, and why not. The decisions are pure; gpuDistributedFacts() gathers the facts.
import path from 'node:path';
import { ConfigError } from '../config/errors.js';
import type { NativeInfo } from '../native/binding.js';
import { cudaAvailability, type DeviceSelection } from '../suite/sides.js';
import { findLauncher, isExecutable, type LauncherInfo } from './launcher.js';

export type GpuTransport = 'nccl' | 'cuda-aware-mpi';
export const GPU_TRANSPORTS: readonly GpuTransport[] = ['nccl', 'cuda-aware-mpi'];
export const NCCL_RANK_EXECUTABLE = 'dilbench-ring-rank-nccl';
/** the same source built without NCCL: CUDA-aware MPI only */
export const CUDA_MPI_RANK_EXECUTABLE = 'dilbench-ring-rank-cuda-mpi';

export interface GpuRankExecutables {
  /** takes --gpu-transport nccl and cuda-aware-mpi */
  nccl: string | null;
  /** takes --gpu-transport cuda-aware-mpi only */
  cudaMpi: string | null;
  /** the paths looked at, in order */
  tried: string[];
}

export interface GpuDistributedFacts {
  executables: GpuRankExecutables;
  /** what the loaded build reports (info().cuda) */
  cuda: Pick<NativeInfo, 'cuda'>;
  launcher: LauncherInfo | null;
  /** --launcher as given, for the message */
  launcherName?: string;
}

export interface GpuRankChoice {
  transport: GpuTransport;
  rankExecutable: string;
  /** why this executable and transport */
  reason: string;
}

export interface GpuDistributedAvailability {
  available: boolean;
  /** what is missing (empty when available) */
  problems: string[];
  choice: GpuRankChoice | null;
  /** CUDA devices the loaded build reports: the most ranks a local GPU ring takes (one GPU each) */
  deviceCount: number;
}

/**
 * Folders that may hold the GPU rank executable, in order: beside the loaded addon (the CUDA
 * variant's build writes its executables beside dilbench.node, and scripts/gpu-verify.sh packs them
 * beside it), the CUDA variant's build folder, its installed prebuilds, and build/Release (a
 * checkout built with the CUDA backend on).
 */
export function gpuRankDirectories(root: string, addonPath: string | null): string[] {
  const target = `${process.platform}-${process.arch}`;
  const dirs = [
    ...(addonPath ? [path.dirname(path.resolve(addonPath))] : []),
    path.join(root, 'build-cuda', 'Release'),
    path.join(root, 'variants', 'cuda', 'prebuilds', target),
    path.join(root, 'build', 'Release'),
  ];
  return [...new Set(dirs)];
}

/**
 * The GPU rank executables: DILBENCH_RING_RANK_GPU (a dilbench-ring-rank-cuda-mpi by its name,
 * else taken as the NCCL one), else the first of each name in gpuRankDirectories().
 */
export function findGpuRankExecutables(
  root: string,
  addonPath: string | null,
  env: NodeJS.ProcessEnv = process.env,
  executable: (p: string) => boolean = isExecutable,
): GpuRankExecutables {
  if (env.DILBENCH_RING_RANK_GPU) {
    const p = path.resolve(env.DILBENCH_RING_RANK_GPU);
    const found = executable(p) ? p : null;
    return path.basename(p).includes('cuda-mpi')
      ? { nccl: null, cudaMpi: found, tried: [p] }
      : { nccl: found, cudaMpi: null, tried: [p] };
  }
  const dirs = gpuRankDirectories(root, addonPath);
  const tried = dirs.flatMap((d) => [
    path.join(d, NCCL_RANK_EXECUTABLE),
    path.join(d, CUDA_MPI_RANK_EXECUTABLE),
  ]);
  const first = (name: string) => dirs.map((d) => path.join(d, name)).find(executable) ?? null;
  return { nccl: first(NCCL_RANK_EXECUTABLE), cudaMpi: first(CUDA_MPI_RANK_EXECUTABLE), tried };
}

/** The executable and transport for `requested` (unset: NCCL where built, else CUDA-aware MPI), or why none. */
export function chooseGpuRank(
  ex: GpuRankExecutables,
  requested?: GpuTransport,
): GpuRankChoice | string {
  const build =
    'the GPU rank is built with the CUDA backend when CMake finds MPI (and, for NCCL, nccl.h and libnccl: NCCL_HOME or the nvidia-nccl-cu12 wheel): ' +
    'scripts/build-cuda-variant.sh, or npm run build:native -- --CDDILBENCH_CUDA=ON';
  const looked =
    ex.tried.length === 1
      ? `looked at ${ex.tried[0]}, from DILBENCH_RING_RANK_GPU`
      : `looked in ${[...new Set(ex.tried.map((p) => path.dirname(p)))].join(', ')}`;
  if (requested === 'nccl' || (requested === undefined && ex.nccl)) {
    if (ex.nccl)
      return {
        transport: 'nccl',
        rankExecutable: ex.nccl,
        reason: `${requested ? '--gpu-transport nccl' : 'NCCL (the NCCL rank is built)'}: ${ex.nccl}`,
      };
    const fallback = ex.cudaMpi
      ? ` (only ${CUDA_MPI_RANK_EXECUTABLE} is built: --gpu-transport cuda-aware-mpi)`
      : '';
    return `the NCCL rank executable ${NCCL_RANK_EXECUTABLE} is not built${fallback} (${looked}); ${build}`;
  }
  const exe = ex.nccl ?? ex.cudaMpi;
  if (exe) {
    const why = requested
      ? '--gpu-transport cuda-aware-mpi'
      : `CUDA-aware MPI (no ${NCCL_RANK_EXECUTABLE}; ${CUDA_MPI_RANK_EXECUTABLE} is built)`;
    return { transport: 'cuda-aware-mpi', rankExecutable: exe, reason: `${why}: ${exe}` };
  }
  return `no GPU rank executable is built (${NCCL_RANK_EXECUTABLE} or ${CUDA_MPI_RANK_EXECUTABLE}; ${looked}); ${build}`;
}

/**
 * Whether a GPU ring of `ranks` ranks (null: any, as doctor asks) can run here: the rank
 * executable for the transport, one CUDA device per rank as the loaded build reports, a launcher.
 */
export function gpuDistributedAvailability(
  facts: GpuDistributedFacts,
  ranks: number | null,
  transport?: GpuTransport,
): GpuDistributedAvailability {
  const problems: string[] = [];
  const chosen = chooseGpuRank(facts.executables, transport);
  if (typeof chosen === 'string') problems.push(chosen);
  const cuda = cudaAvailability(facts.cuda);
  const deviceCount = cuda.available ? facts.cuda.cuda.deviceCount : 0;
  if (!cuda.available) {
    problems.push(
      `${ranks === null ? 'GPU ranks need' : `--ranks ${ranks} needs ${ranks}`} CUDA device(s), one per rank, and there is ${cuda.reason}`,
    );
  } else if (ranks !== null && deviceCount < ranks) {
    problems.push(
      `--ranks ${ranks} needs ${ranks} CUDA devices, one per rank, and the loaded build reports ${deviceCount}`,
    );
  }
  if (!facts.launcher) {
    problems.push(
      facts.launcherName
        ? `launcher '${facts.launcherName}' not found`
        : 'no MPI launcher (mpirun or mpiexec) on PATH',
    );
  }
  return {
    available: problems.length === 0,
    problems,
    choice: typeof chosen === 'string' ? null : chosen,
    deviceCount,
  };
}

/** The facts of this machine: the executables near the loaded addon, what the binding reports, the launcher. */
export function gpuDistributedFacts(
  root: string,
  binding: { info(): Pick<NativeInfo, 'cuda'> },
  addonPath: string | null,
  env: NodeJS.ProcessEnv = process.env,
  launcherName?: string,
): GpuDistributedFacts {
  let cuda: Pick<NativeInfo, 'cuda'>;
  try {
    cuda = { cuda: binding.info().cuda };
  } catch (e) {
    cuda = {
      cuda: {
        compiled: false,
        deviceCount: 0,
        devices: [],
        error: e instanceof Error ? e.message : String(e),
      },
    };
  }
  return {
    executables: findGpuRankExecutables(root, addonPath, env),
    cuda,
    launcher: findLauncher(launcherName, env),
    launcherName,
  };
}

/** What a distributed run needs besides the facts: the options that decide whether GPU ranks can take it. */
export interface DistributedDeviceRequest {
  /** undefined: cpu (the flag not given) */
  device?: 'cpu' | 'cuda' | 'auto';
  gpuTransport?: GpuTransport;
  ranks: number;
  implementation: 'ring' | 'ring-dilated';
  causal: boolean;
  /** --layouts as given (undefined: the default for the device) */
  layouts?: ('plain' | 'zigzag')[];
}

export interface DistributedDeviceResolution {
  device: 'cpu' | 'cuda';
  /** cuda only */
  gpu: GpuRankChoice | null;
  /** the layouts the run measures on this device */
  layouts: ('plain' | 'zigzag')[];
  /** --device auto: which and why */
  selection: DeviceSelection | null;
}

/** The one layout the CUDA ring plans (cuda::planRing): zigzag when causal, else plain. */
export function gpuLayout(causal: boolean): 'plain' | 'zigzag' {
  return causal ? 'zigzag' : 'plain';
}

/** Why the options themselves rule GPU ranks out (null when they do not). */
function gpuOptionsProblem(
  r: DistributedDeviceRequest,
): { field: string; value: unknown; allowed: string } | null {
  if (r.implementation !== 'ring') {
    return {
      field: 'implementations',
      value: r.implementation,
      allowed:
        'ring with --device cuda (the GPU rank runs ring only; ring-dilated runs on CPU ranks)',
    };
  }
  const planned = gpuLayout(r.causal);
  if (r.layouts && r.layouts.some((l) => l !== planned)) {
    return {
      field: 'layouts',
      value: r.layouts.join(','),
      allowed: `${planned} with --device cuda${r.causal ? ' --causal' : ''} (the CUDA ring plans ${planned} chunks only)`,
    };
  }
  return null;
}

const CUDA_ALLOWED =
  'cpu (MPI ranks on CPUs), or cuda where a GPU rank executable is built, an MPI launcher is found and the loaded build reports at least --ranks CUDA devices (dilbench doctor says)';

/**
 * --device for a distributed run. cpu (or the flag not given): CPU ranks. cuda: GPU ranks, or a
 * ConfigError (exit 2, before any work) naming --device and --ranks and everything missing.
 * auto: GPU ranks when they can run these options on this machine, else CPU ranks; the selection
 * says which and why.
 */
export function resolveDistributedDevice(
  r: DistributedDeviceRequest,
  facts: GpuDistributedFacts,
): DistributedDeviceResolution {
  const requested = r.device ?? 'cpu';
  if (requested === 'cpu') {
    if (r.gpuTransport)
      throw new ConfigError(
        'gpuTransport',
        r.gpuTransport,
        'only with --device cuda or auto (GPU ranks); CPU ranks use MPI point-to-point',
      );
    return { device: 'cpu', gpu: null, layouts: r.layouts ?? cpuLayouts(r), selection: null };
  }
  const optionsProblem = gpuOptionsProblem(r);
  if (requested === 'cuda' && optionsProblem)
    throw new ConfigError(optionsProblem.field, optionsProblem.value, optionsProblem.allowed);
  const avail = gpuDistributedAvailability(facts, r.ranks, r.gpuTransport);
  if (requested === 'cuda') {
    if (!avail.available)
      throw new ConfigError(
        'device',
        'cuda',
        CUDA_ALLOWED,
        `GPU ranks cannot run here: ${avail.problems.join('; ')}`,
      );
    return { device: 'cuda', gpu: avail.choice, layouts: [gpuLayout(r.causal)], selection: null };
  }
  // auto
  if (!optionsProblem && avail.available) {
    const reason = `auto: GPU ranks (${avail.deviceCount} CUDA device(s) for ${r.ranks} rank(s); ${avail.choice!.reason})`;
    return {
      device: 'cuda',
      gpu: avail.choice,
      layouts: [gpuLayout(r.causal)],
      selection: { requested: 'auto', device: 'cuda', reason },
    };
  }
  const why = optionsProblem
    ? `--${optionsProblem.field === 'implementations' ? 'implementations' : 'layouts'}: ${optionsProblem.allowed}`
    : avail.problems.join('; ');
  return {
    device: 'cpu',
    gpu: null,
    layouts: r.layouts ?? cpuLayouts(r),
    selection: {
      requested: 'auto',
      device: 'cpu',
      reason: `auto: CPU ranks (GPU ranks cannot run: ${why})`,
    },
  };
}

/** CPU ranks: causal ring measures zigzag and plain (the imbalance comparison), otherwise plain. */
export function cpuLayouts(
  r: Pick<DistributedDeviceRequest, 'causal' | 'implementation'>,
): ('plain' | 'zigzag')[] {
  return r.causal && r.implementation === 'ring' ? ['zigzag', 'plain'] : ['plain'];
}
