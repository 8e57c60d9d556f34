// `dilbench doctor`: what the backend selection found (NVIDIA driver, CUDA variant binaries, the
// child-process probe and its devices), which native binary was chosen, and why. `--json` prints
// the same as JSON. Exit 0 when a binary loads, 1 when none does (or DILBENCH_BACKEND=cuda cannot
// be honoured).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectPlugin } from './suite-command.js';
import { parsePluginSpecs, preparePlugins, type PluginRecord } from '../../plugins/index.js';
import type { NativeBinding } from '../../native/binding.js';
import { createRequire } from 'node:module';
import { Command } from 'commander';

import { packageRoot } from '../../native/loader.js';
import type { Dilbench } from '../../native/dilbench.js';
import type { BackendDiagnosis } from '../../native/select-backend.js';
import { probeTorch, pythonExecutable } from '../../frameworks/pytorch.js';
import { CliExit, EXIT_FAILURE } from '../errors.js';
import {
  distributedAvailability,
  type DistributedAvailability,
} from '../../distributed/launcher.js';
import {
  findGpuRankExecutables,
  gpuDistributedAvailability,
  type GpuRankExecutables,
  type GpuRankChoice,
} from '../../distributed/gpu.js';
import type { NativeInfo } from '../../native/binding.js';

const require = createRequire(import.meta.url);

export interface DoctorIo {
  stdout: { write(s: string): unknown };
}

export interface DoctorReport extends BackendDiagnosis {
  node: string;
  root: string;
  /** node-gyp-build's CPU binary, or why none was found */
  cpuBinary: { path: string | null; error?: string };
  loaded: {
    ok: boolean;
    backend?: string;
    version?: string;
    simdLevel?: string;
    cudaCompiled?: boolean;
    cudaDeviceCount?: number;
    error?: string;
    /** every implementation the loaded binary offers, per device, with its storage dtypes */
    implementations?: {
      name: string;
      device: string;
      dtypes: string[];
      function?: string | null;
      origin?: string;
      pluginPath?: string;
      pluginAbi?: string;
    }[];
    /** plugins given with --plugin: file, content hash, ABI, what they add */
    plugins?: PluginRecord[];
  };
  /** the peers `dilbench frameworks` can compare against: version found, or why not */
  frameworks: {
    onnxruntime: { version: string | null; reason?: string };
    pytorch: { python: string; version: string | null; reason?: string };
  };
  /** `dilbench ring --distributed`: the MPI rank executable and launcher, or why not */
  distributed: DistributedAvailability;
  /** `dilbench ring --distributed --device cuda`: the GPU rank executables, the CUDA devices the loaded build reports, or why not */
  distributedGpu: {
    available: boolean;
    /** why not (null when available) */
    reason: string | null;
    executables: GpuRankExecutables;
    /** the executable and transport a run without --gpu-transport takes */
    choice: GpuRankChoice | null;
    /** the most ranks of a local GPU ring (one CUDA device each) */
    maxRanks: number;
  };
}

/**
 * onnxruntime-node's version, or why it is missing and how to get it back. npm drops an optional
 * dependency without a word when its install script fails, and on linux-x64 onnxruntime-node's
 * script downloads CUDA provider files, which fails offline: the usual reason it is gone.
 */
export function onnxRuntimeFound(
  load: (id: string) => unknown = require,
  wanted: string = optionalVersion('onnxruntime-node'),
): DoctorReport['frameworks']['onnxruntime'] {
  let version: string;
  try {
    version = (load('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    return {
      version: null,
      reason:
        'onnxruntime-node is not installed. It is optional (only `dilbench frameworks` uses it), and npm drops it silently ' +
        'when its install script fails: on linux-x64 that script downloads CUDA provider files, which fails without network. ' +
        `Get it back with the CPU provider only, nothing downloaded: ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@${wanted}`,
    };
  }
  try {
    load('onnxruntime-node');
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    return {
      version: null,
      reason: `onnxruntime-node ${version} is installed but does not load here: ${msg}`,
    };
  }
  return { version };
}

function optionalVersion(name: string): string {
  try {
    const pj = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as {
      optionalDependencies?: Record<string, string>;
    };
    return pj.optionalDependencies?.[name] ?? 'latest';
  } catch {
    return 'latest';
  }
}

function pytorchFound(env: NodeJS.ProcessEnv): DoctorReport['frameworks']['pytorch'] {
  const python = pythonExecutable(env);
  const p = probeTorch(python);
  return p.reason === null
    ? { python, version: p.version }
    : { python, version: null, reason: p.reason };
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

/** What `dilbench doctor` shows: the Dilbench object's backend diagnosis (its one probe) and addon. */
export function collectDoctor(
  dilbench: Dilbench,
  plugins: PluginRecord[] = [],
  /** the binding with the plugins' implementations (Python callables live only there) */
  withPlugins?: Pick<NativeBinding, 'listImplementations'>,
): DoctorReport {
  const root = packageRoot();
  const env = process.env;
  // the diagnosis the addon is loaded from: the CUDA variant is probed once, not again to load it
  const diag = dilbench.diagnosis;
  let cpuBinary: DoctorReport['cpuBinary'];
  try {
    const ngb = require('node-gyp-build') as { path(dir: string): string };
    cpuBinary = { path: ngb.path(root) };
  } catch (e) {
    cpuBinary = { path: null, error: e instanceof Error ? e.message.split('\n')[0] : String(e) };
  }
  let loaded: DoctorReport['loaded'];
  if (diag.error) {
    loaded = { ok: false, error: diag.error };
  } else {
    try {
      const b = dilbench.addon;
      const info = b.info();
      loaded = {
        ok: true,
        backend: diag.selection.backend,
        version: info.version,
        simdLevel: info.simdLevel,
        cudaCompiled: info.cuda.compiled,
        cudaDeviceCount: info.cuda.deviceCount,
        implementations: (withPlugins ?? b).listImplementations().map((i) => ({
          name: i.name,
          device: i.device,
          dtypes: [...i.dtypes],
          function: i.function ?? null,
          origin: i.origin ?? 'built-in',
          ...(i.pluginPath ? { pluginPath: i.pluginPath, pluginAbi: i.pluginAbi } : {}),
        })),
        ...(plugins.length ? { plugins } : {}),
      };
    } catch (e) {
      loaded = { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
  }
  const frameworks = { onnxruntime: onnxRuntimeFound(), pytorch: pytorchFound(env) };
  const distributed = distributedAvailability(root, env);
  return {
    ...diag,
    node: process.version,
    root,
    cpuBinary,
    loaded,
    frameworks,
    distributed,
    distributedGpu: gpuDistributed(root, env, loaded, distributed, dilbench),
  };
}

/** GPU distributed runs: the GPU rank executable (near the loaded addon), CUDA devices of the loaded build, the launcher. */
function gpuDistributed(
  root: string,
  env: NodeJS.ProcessEnv,
  loaded: DoctorReport['loaded'],
  cpu: DistributedAvailability,
  dilbench: Dilbench,
): DoctorReport['distributedGpu'] {
  // not loaded: no folder beside it to look in
  const addonPath = loaded.ok ? dilbench.binary.path : null;
  const executables = findGpuRankExecutables(root, addonPath, env);
  const cuda: Pick<NativeInfo, 'cuda'> = loaded.ok
    ? {
        cuda: {
          compiled: !!loaded.cudaCompiled,
          deviceCount: loaded.cudaDeviceCount ?? 0,
          devices: [],
        },
      }
    : { cuda: { compiled: false, deviceCount: 0, devices: [], error: 'no native binary loads' } };
  const a = gpuDistributedAvailability({ executables, cuda, launcher: cpu.launcher }, null);
  return {
    available: a.available,
    reason: a.available ? null : a.problems.join('; '),
    executables,
    choice: a.choice,
    maxRanks: a.deviceCount,
  };
}

export function formatDoctor(r: DoctorReport): string {
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  const lines: string[] = [];
  lines.push(`dilbench doctor (${r.platform}, Node ${r.node})`);
  lines.push(`  package root        ${r.root}`);
  lines.push(
    `  DILBENCH_BACKEND    ${r.forced}${r.forced === 'auto' ? ' (unset or auto)' : ' (forced)'}`,
  );
  lines.push(`  NVIDIA driver       ${yes(r.driver.present)}`);
  if (r.driver.procVersion) lines.push(`    /proc/driver/nvidia/version: ${r.driver.procVersion}`);
  if (r.driver.libcuda) lines.push(`    libcuda: ${r.driver.libcuda}`);
  lines.push('  CUDA variant');
  for (const c of r.cudaCandidates) lines.push(`    ${c.exists ? 'found  ' : 'missing'} ${c.path}`);
  if (r.probe) {
    const p = r.probe;
    lines.push(
      `  probe (child process, ${p.elapsedMs} ms): ${p.ok ? `${p.deviceCount} CUDA device(s)` : `failed: ${p.error}`}`,
    );
    for (const d of p.devices) {
      lines.push(
        `    [${d.index}] ${d.name}, compute capability ${d.computeCapability}, ${gib(d.totalMemoryBytes)}, ` +
          `SM clock ${d.smClockMHz} MHz, CUDA driver ${d.driverVersion}, runtime ${d.runtimeVersion}`,
      );
    }
  } else {
    lines.push('  probe               not run (not needed for this decision)');
  }
  lines.push(`  CPU build           ${r.cpuBinary.path ?? `not found (${r.cpuBinary.error})`}`);
  lines.push(
    `  chosen              ${r.selection.backend.toUpperCase()} ${r.selection.path ?? '(node-gyp-build default)'}`,
  );
  lines.push(`  why                 ${r.selection.reason}`);
  if (r.error) lines.push(`  ERROR               ${r.error}`);
  if (r.loaded.ok) {
    lines.push(
      `  loaded              dilbench ${r.loaded.version}, SIMD ${r.loaded.simdLevel}, CUDA compiled in: ${yes(!!r.loaded.cudaCompiled)}, CUDA devices: ${r.loaded.cudaDeviceCount}`,
    );
    const impls = r.loaded.implementations ?? [];
    for (const dev of [...new Set(impls.map((i) => i.device))]) {
      lines.push(`  implementations (${dev})`);
      for (const i of impls.filter((x) => x.device === dev)) {
        const fn =
          i.function === undefined
            ? ''
            : `  computes ${i.function ?? 'an unknown function (unvalidated)'}`;
        const origin =
          i.origin && i.origin !== 'built-in'
            ? `  [${i.origin}: ${i.pluginPath}${i.pluginAbi ? `, ABI ${i.pluginAbi}` : ''}]`
            : '';
        lines.push(`    ${i.name.padEnd(20)}${i.dtypes.join(', ')}${fn}${origin}`);
      }
    }
    for (const p of r.loaded.plugins ?? []) {
      const what =
        p.kind === 'python'
          ? `Python ${p.python?.version}, torch ${p.python?.torch}`
          : `ABI ${p.abi}, ${p.pluginName}`;
      lines.push(
        `  plugin              ${p.path} (sha256 ${p.sha256.slice(0, 16)}..., ${what}): ${p.implementations.join(', ')}`,
      );
    }
  } else if (!r.error) {
    lines.push(`  loaded              FAILED: ${r.loaded.error?.split('\n')[0]}`);
  }
  const fw = r.frameworks;
  lines.push('  frameworks (peers for `dilbench frameworks`)');
  lines.push(`    onnxruntime-node  ${fw.onnxruntime.version ?? `no: ${fw.onnxruntime.reason}`}`);
  lines.push(
    `    pytorch           ${fw.pytorch.version ? `torch ${fw.pytorch.version} (${fw.pytorch.python})` : `no: ${fw.pytorch.reason}`}`,
  );
  const d = r.distributed;
  lines.push(`  distributed ring    ${d.available ? 'available' : `unavailable: ${d.reason}`}`);
  if (d.launcher)
    lines.push(
      `    launcher          ${d.launcher.path} (${d.launcher.flavour}: ${d.launcher.version})`,
    );
  if (d.rankExecutable) lines.push(`    rank executable   ${d.rankExecutable}`);
  const g = r.distributedGpu;
  lines.push(
    `  distributed GPUs    ${g.available ? `available for --device cuda, --ranks up to ${g.maxRanks} (one CUDA device per rank; not verified on two GPUs yet)` : `unavailable: ${g.reason}`}`,
  );
  if (g.choice)
    lines.push(
      `    GPU rank          ${g.choice.rankExecutable} (default transport ${g.choice.transport}${g.executables.nccl ? '; --gpu-transport nccl or cuda-aware-mpi' : '; cuda-aware-mpi only'})`,
    );
  return `${lines.join('\n')}\n`;
}

export function runDoctor(
  dilbench: Dilbench,
  opts: { json?: boolean } = {},
  io: DoctorIo = { stdout: process.stdout },
  plugins: PluginRecord[] = [],
  withPlugins?: Pick<NativeBinding, 'listImplementations'>,
): DoctorReport {
  const r = collectDoctor(dilbench, plugins, withPlugins);
  io.stdout.write(opts.json ? `${JSON.stringify(r, null, 2)}\n` : formatDoctor(r));
  if (!r.loaded.ok) throw new CliExit(EXIT_FAILURE, r.error ?? 'no native binary could be loaded');
  return r;
}

export function register(program: Command, dilbench: Dilbench): void {
  program
    .command('doctor')
    .description(
      'show the NVIDIA driver, CUDA variant and CPU build found, which native binary is chosen, and why',
    )
    .option('--json', 'print the findings as JSON')
    .option(
      '--plugin <spec>',
      'also load this plugin and list what it adds (C ABI shared library); repeatable',
      collectPlugin,
      [],
    )
    .action(async (opts: { json?: boolean; plugin: string[] }) => {
      // a plugin that cannot load is an error naming it (exit 2); the addon itself must load first
      if (!opts.plugin.length) return void runDoctor(dilbench, opts);
      const prepared = await preparePlugins(parsePluginSpecs(opts.plugin), dilbench.addon, {
        timeLimitSeconds: 60,
        threads: 1,
      });
      try {
        runDoctor(dilbench, opts, undefined, prepared.records, prepared.binding);
      } finally {
        prepared.close();
      }
    });
}
