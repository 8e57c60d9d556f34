// Which native binary the loader loads: the CPU build (node-gyp-build's rule: build/Release,
// build/Debug, then prebuilds/<platform>-<arch>/) or the CUDA variant
// (variants/cuda/prebuilds/<platform>-<arch>/dilbench.node, or build-cuda/Release/dilbench.node
// in a checkout). The CUDA variant is chosen when
//   1. an NVIDIA driver is present (/proc/driver/nvidia/version, or a libcuda.so.1 on disk), and
//   2. a child process that loads the variant reports info().cuda.deviceCount >= 1
//      (a broken driver can crash that child, never the caller).
// DILBENCH_BACKEND=cpu|cuda|auto forces a choice; forcing cuda where it cannot work is an error
// that says why. The decision is computed once per process (per root and setting).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { elapsedMs, nowMs } from '../measure/clock.js';

export type BackendName = 'cpu' | 'cuda';

export interface BinarySelection {
  /** absolute path of the .node file to load, or null for the node-gyp-build default (CPU build) */
  path: string | null;
  backend: BackendName;
  /** why this binary was chosen (shown in load errors, `dilbench doctor`) */
  reason: string;
}

export interface CudaProbeDevice {
  index: number;
  name: string;
  computeCapability: string;
  totalMemoryBytes: number;
  smClockMHz: number;
  driverVersion: string;
  runtimeVersion: string;
}

export interface CudaProbe {
  /** the binary the child process loaded */
  binary: string;
  ok: boolean;
  deviceCount: number;
  devices: CudaProbeDevice[];
  /** exit status, signal or load error when !ok */
  error?: string;
  elapsedMs: number;
}

export interface BackendDiagnosis {
  platform: string;
  forced: 'cpu' | 'cuda' | 'auto';
  driver: {
    present: boolean;
    /** first line of /proc/driver/nvidia/version, when readable */
    procVersion: string | null;
    /** a libcuda.so.1 found on disk, when any */
    libcuda: string | null;
  };
  /** CUDA variant candidates in the order they are tried, with whether each exists */
  cudaCandidates: { path: string; exists: boolean }[];
  /** null when no probe was needed (forced cpu, no driver or no variant) */
  probe: CudaProbe | null;
  selection: BinarySelection;
  /** set when DILBENCH_BACKEND=cuda cannot be honoured */
  error?: string;
}

const PROBE_TIMEOUT_MS = 30_000;

function libDirs(env: NodeJS.ProcessEnv): string[] {
  const fromEnv = (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  return [
    ...fromEnv,
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/lib/x86_64-linux-gnu',
    '/lib64',
    '/usr/local/nvidia/lib64',
    '/usr/local/nvidia/lib',
    '/usr/lib/wsl/lib',
  ];
}

/** Where an NVIDIA driver shows itself, without loading anything into this process. */
export function detectNvidiaDriver(
  env: NodeJS.ProcessEnv = process.env,
): BackendDiagnosis['driver'] {
  let procVersion: string | null = null;
  const proc = '/proc/driver/nvidia/version';
  if (existsSync(proc)) {
    try {
      procVersion = readFileSync(proc, 'utf8').split('\n')[0]?.trim() || 'present';
    } catch {
      procVersion = 'present (unreadable)';
    }
  }
  let libcuda: string | null = null;
  for (const dir of libDirs(env)) {
    const p = path.join(dir, 'libcuda.so.1');
    if (existsSync(p)) {
      libcuda = p;
      break;
    }
  }
  return { present: procVersion !== null || libcuda !== null, procVersion, libcuda };
}

export function cudaVariantCandidates(root: string): string[] {
  const target = `${process.platform}-${process.arch}`;
  return [
    path.join(root, 'build-cuda', 'Release', 'dilbench.node'),
    path.join(root, 'variants', 'cuda', 'prebuilds', target, 'dilbench.node'),
  ];
}

/** Loads `binary` in a child process and reads info().cuda there. */
export function probeCudaBinary(binary: string, env: NodeJS.ProcessEnv = process.env): CudaProbe {
  const script =
    'const b = require(process.argv[1]); const c = b.info().cuda;' +
    'process.stdout.write(JSON.stringify({ deviceCount: c.deviceCount, devices: c.devices }));';
  const t0 = nowMs();
  const r = spawnSync(process.execPath, ['-e', script, binary], {
    encoding: 'utf8',
    timeout: PROBE_TIMEOUT_MS,
    env: { ...env, DILBENCH_BACKEND: 'cpu' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const probeMs = elapsedMs(t0);
  const fail = (error: string): CudaProbe => ({
    binary,
    ok: false,
    deviceCount: 0,
    devices: [],
    error,
    elapsedMs: probeMs,
  });
  if (r.error) return fail(`could not run the probe: ${r.error.message}`);
  if (r.signal)
    return fail(`the probe process was killed by ${r.signal} (a crashing or hanging driver?)`);
  if (r.status !== 0) {
    const msg = (r.stderr || '').trim().split('\n').filter(Boolean).slice(-3).join(' | ');
    return fail(`the probe exited with status ${r.status}${msg ? `: ${msg}` : ''}`);
  }
  try {
    const parsed = JSON.parse(r.stdout) as { deviceCount: number; devices: CudaProbeDevice[] };
    return {
      binary,
      ok: true,
      deviceCount: Number(parsed.deviceCount) || 0,
      devices: Array.isArray(parsed.devices) ? parsed.devices : [],
      elapsedMs: probeMs,
    };
  } catch {
    return fail(`unreadable probe output: ${JSON.stringify(r.stdout.slice(0, 200))}`);
  }
}

function parseForced(env: NodeJS.ProcessEnv): 'cpu' | 'cuda' | 'auto' {
  const raw = (env.DILBENCH_BACKEND ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'auto') return 'auto';
  if (raw === 'cpu' || raw === 'cuda') return raw;
  const err = new Error(
    `DILBENCH_BACKEND=${JSON.stringify(env.DILBENCH_BACKEND)} is not valid; use cpu, cuda or auto (or leave it unset)`,
  ) as Error & { code: string };
  err.code = 'ERR_DILBENCH_INVALID_CONFIG';
  throw err;
}

/** Everything the selection looked at, and the choice (never throws for DILBENCH_BACKEND=cuda). */
export function diagnoseBackend(
  root: string,
  env: NodeJS.ProcessEnv = process.env,
): BackendDiagnosis {
  const forced = parseForced(env);
  const platform = `${process.platform}-${process.arch}`;
  const candidates = cudaVariantCandidates(root).map((p) => ({ path: p, exists: existsSync(p) }));
  const cpuDefault = (reason: string): BinarySelection => ({ path: null, backend: 'cpu', reason });
  const base = { platform, forced, cudaCandidates: candidates };

  if (forced === 'cpu') {
    return {
      ...base,
      driver: detectNvidiaDriver(env),
      probe: null,
      selection: cpuDefault('DILBENCH_BACKEND=cpu forces the CPU build'),
    };
  }
  const driver = detectNvidiaDriver(env);
  const variant = candidates.find((c) => c.exists)?.path ?? null;
  const looked = candidates.map((c) => c.path).join(', ');

  if (!driver.present && forced === 'auto') {
    return {
      ...base,
      driver,
      probe: null,
      selection: cpuDefault(
        'CPU build: no NVIDIA driver found (no /proc/driver/nvidia/version, no libcuda.so.1)',
      ),
    };
  }
  if (!variant) {
    const reason = `CPU build: the CUDA variant is not installed (looked in ${looked}); build it with scripts/build-cuda-variant.sh`;
    return forced === 'cuda'
      ? {
          ...base,
          driver,
          probe: null,
          selection: cpuDefault(reason),
          error: `DILBENCH_BACKEND=cuda but the CUDA variant of dilbench is not installed (looked in ${looked}); build it with scripts/build-cuda-variant.sh, or use DILBENCH_BACKEND=cpu`,
        }
      : { ...base, driver, probe: null, selection: cpuDefault(reason) };
  }
  const probe = probeCudaBinary(variant, env);
  if (probe.ok && probe.deviceCount >= 1) {
    const d = probe.devices[0];
    const what = d ? `${d.name} (cc ${d.computeCapability})` : `${probe.deviceCount} device(s)`;
    return {
      ...base,
      driver,
      probe,
      selection: {
        path: variant,
        backend: 'cuda',
        reason: `${forced === 'cuda' ? 'DILBENCH_BACKEND=cuda: ' : ''}CUDA variant: ${probe.deviceCount} CUDA device(s) found, ${what}`,
      },
    };
  }
  const why = probe.ok
    ? 'the CUDA variant loads but reports 0 CUDA devices'
    : `the CUDA variant could not be probed: ${probe.error}`;
  const driverWhy = driver.present ? '' : ' (no NVIDIA driver found)';
  return {
    ...base,
    driver,
    probe,
    selection: cpuDefault(`CPU build: ${why}${driverWhy}`),
    ...(forced === 'cuda'
      ? {
          error: `DILBENCH_BACKEND=cuda but no usable CUDA device: ${why}${driverWhy}; check the NVIDIA driver and CUDA_VISIBLE_DEVICES, or use DILBENCH_BACKEND=cpu`,
        }
      : {}),
  };
}

/**
 * The loader's choice. Throws ERR_DILBENCH_UNSUPPORTED when DILBENCH_BACKEND=cuda cannot work.
 * Not memoised: the Dilbench object (dilbench.ts) loads the addon once and keeps the choice.
 */
export function selectBinaryPath(
  root: string,
  env: NodeJS.ProcessEnv = process.env,
): BinarySelection {
  return selectionOf(diagnoseBackend(root, env));
}

/** The choice a diagnosis made; throws ERR_DILBENCH_UNSUPPORTED when DILBENCH_BACKEND=cuda cannot work. */
export function selectionOf(d: BackendDiagnosis): BinarySelection {
  if (d.error) {
    const err = new Error(`dilbench: ${d.error}`) as Error & { code: string };
    err.code = 'ERR_DILBENCH_UNSUPPORTED';
    throw err;
  }
  return d.selection;
}
