// The environment a result was measured in: machine, software, build.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { NativeBinding, NativeInfo } from '../native/binding.js';
import type { Environment } from '../results/types.js';
import { packageRoot, packageVersion } from '../config/paths.js';

/** CPU flags from /proc/cpuinfo (Linux); empty elsewhere. */
export function cpuFlags(): string[] {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const line = text.split('\n').find((l) => /^flags\s*:/.test(l));
    if (!line) return [];
    return line
      .slice(line.indexOf(':') + 1)
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .sort();
  } catch {
    return [];
  }
}

/** CPU model: os.cpus() first, /proc/cpuinfo "model name" as a fallback. */
export function cpuModel(): string {
  const m = os.cpus()[0]?.model?.trim();
  if (m) return m;
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => /^model name\s*:/.test(l));
    if (line) return line.slice(line.indexOf(':') + 1).trim();
  } catch {
    /* not Linux */
  }
  return 'unknown';
}

/** The commit of the checkout dilbench runs from, or null when not in a git checkout. */
export function gitCommit(dir: string = packageRoot()): string | null {
  if (!existsSync(join(dir, '.git'))) return null;
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    }).trim();
    return /^[0-9a-f]{40}$/.test(out) ? out : null;
  } catch {
    return null;
  }
}

/**
 * Memory that a run may count on: the kernel's "available" figure, bounded by the cgroup
 * limit when the process runs in a constrained container.
 */
export function availableMemoryBytes(): number {
  let avail = os.freemem();
  const constrained =
    typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  if (constrained && constrained > 0 && constrained < Number.MAX_SAFE_INTEGER) {
    const used = process.memoryUsage().rss;
    avail = Math.min(avail, Math.max(0, constrained - used));
  }
  return avail;
}

/**
 * The one environment record of every result file (suites, inference, scaling, frameworks, bench).
 * `binding` null or undefined (no addon loaded): the build fields read 'generic' / 'unknown'.
 */
export function collectEnvironment(
  binding: Pick<NativeBinding, 'info'> | null | undefined,
  extra: Partial<Environment> = {},
): Environment {
  let info: NativeInfo | undefined;
  try {
    info = binding?.info();
  } catch {
    info = undefined;
  }
  const cudaDevices = info?.cuda?.devices ?? [];
  const env: Environment = {
    cpuModel: cpuModel(),
    cpuCores:
      typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length,
    cpuFlags: cpuFlags(),
    simdLevel: info?.simdLevel ?? 'generic',
    totalMemoryBytes: os.totalmem(),
    freeMemoryBytes: availableMemoryBytes(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    nodeVersion: process.version,
    dilbenchVersion: packageVersion(),
    gitCommit: gitCommit(),
    buildType: info?.buildType ?? 'unknown',
    hostname: os.hostname(),
    ...(info?.cuda?.compiled && cudaDevices.length ? { gpu: cudaDevices } : {}),
    ...extra,
  };
  return env;
}
