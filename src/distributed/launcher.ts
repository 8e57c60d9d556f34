// Finding and running the MPI side of a distributed ring (issue 19): the rank executable
// (native/distributed, built only when CMake found MPI) and an MPI launcher (mpirun / mpiexec of
// Open MPI or MPICH). Node is never an MPI process: it spawns the launcher, waits with a timeout,
// and cleans up every rank it started (by a run-id marker on their command lines) whatever
// happened.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { elapsedMs, nowMs } from '../measure/clock.js';

export type LauncherFlavour = 'openmpi' | 'mpich' | 'unknown';

export interface LauncherInfo {
  path: string;
  flavour: LauncherFlavour;
  /** first line of `<launcher> --version` */
  version: string;
}

export interface DistributedAvailability {
  available: boolean;
  /** why not (null when available) */
  reason: string | null;
  rankExecutable: string | null;
  launcher: LauncherInfo | null;
}

export const RANK_EXECUTABLE = 'dilbench-ring-rank';

/** Whether `p` exists and this process may execute it. */
export function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The rank executable: DILBENCH_RING_RANK, else build/Release (where cmake-js builds it). */
export function findRankExecutable(
  root: string,
  env: NodeJS.ProcessEnv = process.env,
): { path: string | null; tried: string[] } {
  const tried = env.DILBENCH_RING_RANK
    ? [path.resolve(env.DILBENCH_RING_RANK)]
    : [
        path.join(root, 'build', 'Release', RANK_EXECUTABLE),
        path.join(root, 'build', 'Debug', RANK_EXECUTABLE),
      ];
  return { path: tried.find((p) => existsSync(p) && isExecutable(p)) ?? null, tried };
}

/** A command name looked up on PATH, or a path. */
export function resolveCommand(name: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (name.includes('/')) return isExecutable(name) ? path.resolve(name) : null;
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    if (existsSync(p) && isExecutable(p)) return p;
  }
  return null;
}

export function launcherFlavour(versionText: string): LauncherFlavour {
  if (/Open MPI|OpenRTE|open-mpi/i.test(versionText)) return 'openmpi';
  if (/HYDRA|MPICH/i.test(versionText)) return 'mpich';
  return 'unknown';
}

/** The launcher named (or mpirun, then mpiexec on PATH), with its flavour; null when none. */
export function findLauncher(
  name?: string,
  env: NodeJS.ProcessEnv = process.env,
): LauncherInfo | null {
  for (const candidate of name ? [name] : ['mpirun', 'mpiexec']) {
    const p = resolveCommand(candidate, env);
    if (!p) continue;
    const r = spawnSync(p, ['--version'], { encoding: 'utf8', timeout: 10_000, env });
    const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
    const first =
      text
        .split('\n')
        .map((l) => l.trim())
        .find((l) => l.length > 0) ?? '';
    return { path: p, flavour: launcherFlavour(text), version: first };
  }
  return null;
}

export function distributedAvailability(
  root: string,
  env: NodeJS.ProcessEnv = process.env,
  launcherName?: string,
): DistributedAvailability {
  const rank = findRankExecutable(root, env);
  const launcher = findLauncher(launcherName, env);
  const reasons: string[] = [];
  if (!rank.path) {
    reasons.push(
      `the MPI rank executable ${RANK_EXECUTABLE} is not built (looked at ${rank.tried.join(', ')}); it is built when CMake finds MPI: ` +
        'install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev) or MPICH and rebuild (npm run build:native)',
    );
  }
  if (!launcher) {
    reasons.push(
      launcherName
        ? `launcher '${launcherName}' not found`
        : 'no MPI launcher (mpirun or mpiexec) on PATH',
    );
  }
  return {
    available: reasons.length === 0,
    reason: reasons.length ? reasons.join('; ') : null,
    rankExecutable: rank.path,
    launcher,
  };
}

/** Launcher arguments for `ranks` local ranks, oversubscribed, one thread each. */
export function launcherArgs(
  launcher: LauncherInfo,
  ranks: number,
  extra: string[],
  isRoot: boolean,
): string[] {
  if (launcher.flavour === 'openmpi') {
    // --oversubscribe: more ranks than cores is the point on a small machine; --bind-to none: a
    // rank bound to one core would share it with the others instead of migrating
    return [
      '-np',
      String(ranks),
      '--oversubscribe',
      '--bind-to',
      'none',
      ...(isRoot ? ['--allow-run-as-root'] : []),
      ...extra,
    ];
  }
  return ['-n', String(ranks), ...extra];
}

/**
 * Environment of the launched ranks: one compute thread each. The MPI's own transport choices are
 * kept: Open MPI's shared-memory single copy (CMA) is what lets a transfer complete inside one
 * progress poll during compute; forcing copy-in/copy-out (btl_vader_single_copy_mechanism=none)
 * moves most of it into the wait (measured: docs in README, "Distributed ring").
 */
export function launcherEnv(
  _launcher: LauncherInfo,
  env: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  return { ...env, OMP_NUM_THREADS: '1' };
}

/** A hint for launcher failures with a known cause, or ''. */
export function launcherFailureHint(stderr: string): string {
  if (/process_vm_readv|Read -1, expected|CMA/i.test(stderr)) {
    return (
      " Hint: Open MPI's shared-memory single copy (CMA) needs ptrace rights this machine denies; " +
      'set OMPI_MCA_btl_vader_single_copy_mechanism=none (transfers then progress mostly inside the wait).'
    );
  }
  return '';
}

/** Process ids whose command line contains `marker` (Linux /proc), excluding this process. */
export function processesWithMarker(marker: string): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (cmd.includes(marker)) out.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

export interface LaunchResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  elapsedMs: number;
  /** rank processes still alive after the launcher ended, killed by us */
  killedLeftovers: number[];
}

export interface LaunchOptions {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** a string on every rank's command line, to find leftovers */
  marker: string;
  signal?: AbortSignal;
  onStderr?: (chunk: string) => void;
}

const GRACE_MS = 3000;

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Runs the launcher in its own process group. On timeout (or abort) the group gets SIGTERM, then
 * SIGKILL after a grace period; afterwards any process still carrying the marker is killed too
 * (a launcher killed hard can leave its ranks behind).
 */
export function launch(o: LaunchOptions): Promise<LaunchResult> {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    const child = spawn(o.command, o.args, {
      env: o.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let hardKill: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      o.onStderr?.(d);
    });
    const stop = () => {
      if (child.pid === undefined) return;
      killGroup(child.pid, 'SIGTERM');
      hardKill = setTimeout(
        () => child.pid !== undefined && killGroup(child.pid, 'SIGKILL'),
        GRACE_MS,
      );
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, o.timeoutMs);
    const onAbort = () => stop();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      if (hardKill) clearTimeout(hardKill);
      o.signal?.removeEventListener('abort', onAbort);
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
      const leftovers = processesWithMarker(o.marker);
      for (const pid of leftovers) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      resolve({
        exitCode: code,
        signal: sig,
        timedOut,
        stdout,
        stderr,
        elapsedMs: elapsedMs(t0),
        killedLeftovers: leftovers,
      });
    });
  });
}
