// What else the machine did while a point sampled: CPU time of other processes (system-wide busy
// time from /proc/stat minus this process's own rusage), steal time, load average and CPU
// frequency. Linux only; elsewhere the fields are null and nothing is flagged.
import { readFileSync, readdirSync } from 'node:fs';
import { cpus as osCpus, loadavg } from 'node:os';
import type { Interference, RunInterference } from '../results/types.js';
export type { Interference, RunInterference };
import { nowMs } from './clock.js';

/**
 * Other processes' share of all CPUs, beyond the CPUs the run's threads leave idle, above which a
 * point is flagged. A competing process that holds a share f of the cores the kernel's threads
 * need delays them by about f (time slicing), so at 5% interference alone can move a median by
 * as much as `dilbench compare`'s default threshold (5%), while an otherwise idle machine's
 * background (daemons, kernel threads) stays far below it. Work on CPUs the run does not use
 * (1 thread on 2 cores) does not take its time slices, so it counts only beyond those.
 */
export const OTHER_CPU_FLAG_PCT = 5;
/** Steal time (the hypervisor running other guests on our virtual CPUs) share that flags a point, same reasoning. */
export const STEAL_FLAG_PCT = 5;
/** A CPU clock below this share of its maximum flags the point (as the GPU throttle rule). */
export const FREQUENCY_FLAG_FRACTION = 0.75;
/**
 * /proc/stat counts in ticks of USER_HZ (100 on every Linux ABI node runs on), sampled per CPU,
 * so each end of a window may be off by a tick per CPU; that allowance is taken off the other
 * processes' time before comparing with the threshold, so short windows are not flagged on
 * rounding alone.
 */
export const USER_HZ = 100;

/** The aggregate `cpu` line of /proc/stat, in ticks. */
export interface ProcStatTotals {
  /** user + nice + system + irq + softirq (guest time is inside user) */
  busy: number;
  idle: number;
  steal: number;
  /** every field but guest/guest_nice */
  total: number;
}

/** One reading of the machine and of this process, taken at the ends of a window. */
export interface CpuSnapshot {
  /** monotonic time, ms */
  atMs: number;
  /** null where /proc/stat is unreadable (not Linux) */
  stat: ProcStatTotals | null;
  /** this process's user + system CPU time, microseconds (every thread, native workers included) */
  ownCpuUs: number;
  cpus: number;
}

/** Parses the aggregate `cpu` line of /proc/stat; null when absent or malformed. */
export function parseProcStat(text: string): ProcStatTotals | null {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  if (v.length < 4 || v.some((x) => !Number.isFinite(x))) return null;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  const busy = user + nice + system + irq + softirq;
  return { busy, idle: idle + iowait, steal, total: busy + idle + iowait + steal };
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

export function takeSnapshot(): CpuSnapshot {
  const text = readText('/proc/stat');
  const u = process.cpuUsage();
  return {
    atMs: nowMs(),
    stat: text === null ? null : parseProcStat(text),
    ownCpuUs: u.user + u.system,
    cpus: Math.max(1, osCpus().length),
  };
}

/** Mean current and maximum clock over the CPUs (cpufreq, else /proc/cpuinfo's "cpu MHz"), MHz. */
export function readFrequency(): { freqMHz: number | null; maxFreqMHz: number | null } {
  const cur: number[] = [];
  const max: number[] = [];
  let dirs: string[];
  try {
    dirs = readdirSync('/sys/devices/system/cpu').filter((d) => /^cpu\d+$/.test(d));
  } catch {
    dirs = [];
  }
  for (const d of dirs) {
    const c = Number(readText(`/sys/devices/system/cpu/${d}/cpufreq/scaling_cur_freq`));
    const m = Number(readText(`/sys/devices/system/cpu/${d}/cpufreq/cpuinfo_max_freq`));
    if (c > 0) cur.push(c / 1000);
    if (m > 0) max.push(m / 1000);
  }
  if (cur.length === 0) {
    const info = readText('/proc/cpuinfo') ?? '';
    for (const m of info.matchAll(/^cpu MHz\s*:\s*([\d.]+)/gm)) cur.push(Number(m[1]));
  }
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  return { freqMHz: mean(cur), maxFreqMHz: max.length ? Math.max(...max) : null };
}

/** What the end of a window reads beyond the snapshots. */
export interface WindowExtras {
  loadAvg: number | null;
  freqMHz: number | null;
  maxFreqMHz: number | null;
}

export function readExtras(): WindowExtras {
  const la = loadavg()[0];
  return {
    loadAvg: Number.isFinite(la) && process.platform !== 'win32' ? (la as number) : null,
    ...readFrequency(),
  };
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/**
 * Interference between two snapshots. Other processes' CPU = system busy ticks minus this
 * process's own CPU time (converted to ticks), as a share of every CPU's ticks in the window.
 */
export function interferenceBetween(
  a: CpuSnapshot,
  b: CpuSnapshot,
  extras: WindowExtras,
  threads?: number,
): Interference {
  const windowSeconds = Math.max(0, (b.atMs - a.atMs) / 1000);
  const freq =
    extras.freqMHz !== null || extras.maxFreqMHz !== null
      ? { freqMHz: extras.freqMHz, maxFreqMHz: extras.maxFreqMHz }
      : {};
  const base = { loadAvg: extras.loadAvg, ...freq, windowSeconds };
  if (!a.stat || !b.stat) {
    return {
      otherCpuPct: null,
      stealPct: null,
      ...base,
      flagged: false,
      reason: 'not measurable here (no /proc/stat)',
    };
  }
  const total = b.stat.total - a.stat.total;
  if (!(total > 0)) {
    return {
      otherCpuPct: null,
      stealPct: null,
      ...base,
      flagged: false,
      reason: 'window too short to measure (no CPU tick elapsed)',
    };
  }
  const ownTicks = ((b.ownCpuUs - a.ownCpuUs) / 1e6) * USER_HZ;
  const otherTicks = Math.max(0, b.stat.busy - a.stat.busy - ownTicks);
  const stealTicks = Math.max(0, b.stat.steal - a.stat.steal);
  const otherCpuPct = (100 * otherTicks) / total;
  const stealPct = (100 * stealTicks) / total;
  // tick rounding at both ends, one tick per CPU each
  const allowance = 2 * b.cpus;
  const idleCpuPct =
    threads !== undefined && threads > 0 ? (100 * Math.max(0, b.cpus - threads)) / b.cpus : 0;
  const otherLow = (100 * Math.max(0, otherTicks - allowance)) / total - idleCpuPct;
  const stealLow = (100 * Math.max(0, stealTicks - allowance)) / total;
  const why: string[] = [];
  if (otherLow > OTHER_CPU_FLAG_PCT) {
    const beyond =
      idleCpuPct > 0
        ? ` beyond the ${round1(idleCpuPct)}% the run's ${threads} thread(s) left idle`
        : '';
    why.push(
      `other processes used ${round1(otherCpuPct)}% of the CPUs (flag above ${OTHER_CPU_FLAG_PCT}%${beyond})`,
    );
  }
  if (stealLow > STEAL_FLAG_PCT)
    why.push(`steal time ${round1(stealPct)}% (flag above ${STEAL_FLAG_PCT}%)`);
  if (
    extras.freqMHz !== null &&
    extras.maxFreqMHz !== null &&
    extras.freqMHz < FREQUENCY_FLAG_FRACTION * extras.maxFreqMHz
  ) {
    why.push(
      `CPU clock ${Math.round(extras.freqMHz)} MHz, below ${FREQUENCY_FLAG_FRACTION * 100}% of its ${Math.round(extras.maxFreqMHz)} MHz maximum`,
    );
  }
  const share =
    Math.max(0, otherCpuPct - idleCpuPct) / Math.max(1, 100 - idleCpuPct) + stealPct / 100;
  const clock =
    extras.freqMHz !== null && extras.maxFreqMHz !== null && extras.freqMHz > 0
      ? Math.max(1, extras.maxFreqMHz / extras.freqMHz)
      : 1;
  const maxSlowdown = Math.round((clock / (1 - Math.min(0.95, share))) * 1000) / 1000;
  return {
    otherCpuPct: round1(otherCpuPct),
    stealPct: round1(stealPct),
    ...base,
    ...(idleCpuPct > 0 ? { idleCpuPct: round1(idleCpuPct) } : {}),
    maxSlowdown,
    flagged: why.length > 0,
    reason: why.length ? why.join('; ') : null,
  };
}

/** Reads the machine at the ends of a window; injectable so tests can script the machine. */
export interface InterferenceProbe {
  snapshot(): CpuSnapshot;
  extras(): WindowExtras;
}

export const systemProbe: InterferenceProbe = { snapshot: takeSnapshot, extras: readExtras };

export function summarizeRunInterference(
  run: Interference,
  rows: { interference?: Interference; status: string }[],
): RunInterference {
  const measured = rows.filter((r) => r.status === 'ok' && r.interference);
  const flagged = measured.filter((r) => r.interference!.flagged);
  let summary: string;
  if (run.otherCpuPct === null) summary = `interference ${run.reason ?? 'not measured'}`;
  else {
    const steal = run.stealPct !== null && run.stealPct >= 0.5 ? `, steal ${run.stealPct}%` : '';
    summary = flagged.length
      ? `other processes used ${run.otherCpuPct}% of the CPUs during the run${steal}; ${flagged.length} of ${measured.length} points ran under contention and are flagged`
      : `quiet machine: other processes used ${run.otherCpuPct}% of the CPUs during the run${steal}; no point flagged`;
  }
  return {
    run,
    measuredPoints: measured.length,
    flaggedPoints: flagged.length,
    thresholds: {
      otherCpuPct: OTHER_CPU_FLAG_PCT,
      stealPct: STEAL_FLAG_PCT,
      frequencyFraction: FREQUENCY_FLAG_FRACTION,
    },
    summary,
  };
}

/** Short form for a row note. */
export function interferenceNote(i: Interference): string | null {
  return i.flagged ? `interference: ${i.reason}` : null;
}
