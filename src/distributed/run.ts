// `dilbench ring --distributed`: a real ring over MPI ranks (issue 19), on CPUs or, with --device
// cuda, one GPU per rank (src/distributed/gpu.ts decides whether that can run). Validates the options
// (exit 2 before anything starts), launches the rank executable with the MPI launcher for each
// total length, reads the JSON rank 0 wrote, puts each measured figure beside the single-process
// projection (the simulated `ring` kernel at the same P on one thread, projected onto the link
// bandwidth the ping-pong measured) with the projection's error, and writes one result file set
// as the suites do. Measured rows say measured; projections stay under row.projected.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../config/errors.js';
import { parseImplParams } from '../config/impl-params.js';
import { collectEnvironment } from '../env/environment.js';
import type { NativeBinding, KernelTelemetry } from '../native/binding.js';
import { packageRoot } from '../native/loader.js';
import { unmeasuredRow, type RowShape } from '../results/rows.js';
import { toleranceFor } from '../results/validation.js';
import { writeResultFiles, type WrittenFiles } from '../reports/write.js';
import { SCHEMA_VERSION, type ResultFile, type ResultRow } from '../results/types.js';
import { summarize } from '../stats/summary.js';
import { medianTelemetry, projectRing, type RingProjection } from '../suite/ring-projection.js';
import { analyzeLayout, type DistributedMeasurement, type RawRingRun } from './analysis.js';
import {
  distributedAvailability,
  launch,
  launcherArgs,
  launcherEnv,
  launcherFailureHint,
  type LauncherInfo,
} from './launcher.js';
import {
  GPU_TRANSPORTS,
  gpuDistributedFacts,
  resolveDistributedDevice,
  type GpuDistributedFacts,
  type GpuTransport,
} from './gpu.js';
import type { Dilbench } from '../native/dilbench.js';
import { cudaAvailability, type DeviceSelection } from '../suite/sides.js';
import { assertWritableDirectory } from '../results/output-dir.js';

export interface DistributedRingOptions {
  /** ring (dense, = flash) or ring-dilated (= dilated; plain chunks, sparsified keys/values travel) */
  implementation: 'ring' | 'ring-dilated';
  /** ring-dilated: the pairs as given (absent: the defaults by length, as the definitions say) */
  segmentLengths?: number[];
  dilationRates?: number[];
  ranks: number;
  totalTokens: number[];
  batchSize: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  causal: boolean;
  seed: number;
  runs: number;
  warmup: number;
  /** ring, causal: both by default (the imbalance comparison); otherwise plain. GPU ranks: the one the CUDA ring plans */
  layouts: ('plain' | 'zigzag')[];
  /** --layouts was given (otherwise the layouts are the device's default) */
  layoutsGiven?: boolean;
  /** unset: cpu. cuda: one GPU per rank (the GPU rank executable); auto: cuda where that can run, else cpu */
  device?: 'cpu' | 'cuda' | 'auto';
  /** GPU ranks: nccl or cuda-aware-mpi (unset: nccl where its rank is built); resolved before launching */
  gpuTransport?: GpuTransport;
  /** flash checks ring, dilated checks ring-dilated */
  check: 'auto' | 'reference' | 'flash' | 'dilated' | 'none';
  launcher?: string;
  launcherArgs: string[];
  /** seconds per launch before the ranks are killed */
  timeout: number;
  /** run the single-process projection beside the measurement */
  projection: boolean;
  outputDir: string;
  json?: boolean;
  quiet?: boolean;
  /** a rank 0 JSON written by a launch the user ran (several machines): build the result files from it */
  fromRankOutput?: string;
  /** tests: an injected failure (rank dies or hangs at a step) */
  fault?: { rank: number; kind: 'die' | 'hang'; step: number; seqLen?: number };
}

const posInt = (max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(
    (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v),
    z.number().int().min(1).max(max),
  );
const nonNegInt = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v),
  z.number().int().min(0),
);

function tokenCount(v: string | number): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(v.trim());
  if (!m) return NaN;
  const unit = m[2] ?? '';
  const f = unit === '' ? 1 : /k/i.test(unit) ? 1024 : 1 << 20;
  return Number(m[1]) * f;
}

function list(v: unknown): unknown[] {
  if (v === undefined) return [];
  const items = Array.isArray(v) ? v : [v];
  return items.flatMap((x) => (typeof x === 'string' ? x.split(/[\s,]+/).filter(Boolean) : [x]));
}

function field<T>(name: string, schema: z.ZodType<T>, value: unknown, allowed: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new ConfigError(name, value, allowed);
  return r.data;
}

/** Flags of the ring suite that a distributed run does not take (named so the user knows). */
const NOT_WITH_DISTRIBUTED: Record<string, string> = {
  ringSize: 'use --ranks for the number of MPI ranks',
  compareDtypes: 'distributed runs are fp32',
  compareDevices: 'one device per distributed run: --device cpu, cuda or auto',
  interleave: 'one ring runs at a time',
  cold: 'not supported with --distributed',
  linkGbps: 'the link is measured (ping-pong between the ranks)',
  threads: 'each rank runs one thread',
  targetRse: 'a distributed run times --runs fixed iterations',
  minSamples: 'a distributed run times --runs fixed iterations',
  maxSamples: 'a distributed run times --runs fixed iterations',
  maxTime: 'a distributed run is bounded by --timeout',
  maxRunSeconds: 'a distributed run is bounded by --timeout',
  memoryBudget: 'not planned with --distributed (every rank holds the whole seeded input)',
  dryRun: 'a distributed run has no plan to print',
};

export function parseDistributedOptions(raw: Record<string, unknown>): DistributedRingOptions {
  for (const [k, why] of Object.entries(NOT_WITH_DISTRIBUTED)) {
    if (raw[k] !== undefined && raw[k] !== false)
      throw new ConfigError(k, raw[k], `not set with --distributed (${why})`);
  }
  const device =
    raw.device === undefined
      ? undefined
      : field(
          'device',
          z.enum(['cpu', 'cuda', 'auto']),
          raw.device,
          'cpu (MPI ranks on CPUs), cuda (one GPU per rank) or auto (cuda where GPU ranks can run, else cpu) with --distributed',
        );
  const gpuTransport =
    raw.gpuTransport === undefined
      ? undefined
      : field(
          'gpuTransport',
          z.enum(GPU_TRANSPORTS as [GpuTransport, ...GpuTransport[]]),
          raw.gpuTransport,
          'nccl or cuda-aware-mpi (GPU ranks: --device cuda or auto)',
        );
  if (gpuTransport && device !== 'cuda' && device !== 'auto') {
    throw new ConfigError(
      'gpuTransport',
      gpuTransport,
      'only with --device cuda or auto (GPU ranks); CPU ranks use MPI point-to-point',
    );
  }
  if (raw.dtype !== undefined && raw.dtype !== 'fp32')
    throw new ConfigError('dtype', raw.dtype, 'fp32 with --distributed');
  const impls = list(raw.implementations ?? ['ring']);
  if (impls.length !== 1 || (impls[0] !== 'ring' && impls[0] !== 'ring-dilated')) {
    throw new ConfigError(
      'implementations',
      raw.implementations,
      'one of ring, ring-dilated with --distributed (one per run)',
    );
  }
  const implementation = impls[0];
  const dilated = implementation === 'ring-dilated';
  const pairs = parseImplParams({
    segmentLengths: raw.segmentLengths,
    dilationRates: raw.dilationRates,
  });
  if (!dilated && pairs.segmentLengths) {
    throw new ConfigError(
      'segmentLengths',
      raw.segmentLengths,
      'only with --implementations ring-dilated (ring is dense attention)',
    );
  }
  pairs.dilationRates?.forEach((r, i) => {
    const segment = pairs.segmentLengths?.[i];
    if (segment !== undefined && r > segment)
      throw new ConfigError(
        'dilationRates',
        raw.dilationRates,
        'each rate at most its segment length',
        `rate ${r} at index ${i} > segment length ${segment}`,
      );
  });
  const ranks = field('ranks', posInt(256), raw.ranks ?? 2, 'an integer 1..256 (MPI ranks)');
  const totals = list(raw.totalTokens ?? [4096]).map((v) => tokenCount(v as string | number));
  const totalTokens = field(
    'totalTokens',
    z
      .array(
        z
          .number()
          .int()
          .min(1)
          .max(1 << 24),
      )
      .min(1),
    totals,
    'one or more token counts 1..16M (K = 1024, M = 1048576)',
  );
  for (const n of totalTokens)
    if (n < ranks)
      throw new ConfigError(
        'totalTokens',
        n,
        `a count >= --ranks (${ranks}): every rank needs a row`,
      );
  const heads = field('heads', posInt(4096), raw.heads ?? 8, 'an integer >= 1');
  const kvHeads = field(
    'kvHeads',
    posInt(4096),
    raw.kvHeads ?? heads,
    'an integer >= 1 that divides --heads',
  );
  if (heads % kvHeads !== 0)
    throw new ConfigError(
      'kvHeads',
      raw.kvHeads,
      `an integer >= 1 that divides --heads (${heads})`,
    );
  const causal = raw.causal === true || raw.causal === 'true';
  const layoutList = list(raw.layouts);
  const layoutsAllowed = dilated
    ? 'plain (ring-dilated keeps contiguous chunks: dilated segments are local structure)'
    : causal
      ? 'plain, zigzag (comma-separated)'
      : 'plain (zigzag balances the causal mask: with --causal only)';
  const layouts: ('plain' | 'zigzag')[] = layoutList.length
    ? field('layouts', z.array(z.enum(['plain', 'zigzag'])), layoutList, layoutsAllowed)
    : causal && !dilated
      ? ['zigzag', 'plain']
      : ['plain'];
  if ((!causal || dilated) && layouts.includes('zigzag'))
    throw new ConfigError('layouts', raw.layouts, layoutsAllowed);
  const check = field(
    'check',
    z.enum(['auto', 'reference', 'flash', 'dilated', 'none']),
    raw.check ?? 'auto',
    'auto, reference, flash (ring), dilated (ring-dilated), none',
  );
  if (check === (dilated ? 'flash' : 'dilated')) {
    throw new ConfigError(
      'check',
      raw.check,
      `auto, reference, ${dilated ? 'dilated' : 'flash'} or none (the single-process kernel of ${implementation}'s definition is ${dilated ? 'dilated' : 'flash'})`,
    );
  }
  const launcherArgsRaw = raw.launcherArgs;
  const extra =
    launcherArgsRaw === undefined
      ? []
      : (Array.isArray(launcherArgsRaw) ? launcherArgsRaw : [launcherArgsRaw]).flatMap((s) =>
          String(s).split(/\s+/).filter(Boolean),
        );
  return {
    implementation,
    ...(pairs.segmentLengths
      ? { segmentLengths: pairs.segmentLengths, dilationRates: pairs.dilationRates }
      : {}),
    ranks,
    totalTokens: [...new Set(totalTokens)].sort((a, b) => a - b),
    batchSize: field('batchSize', posInt(4096), raw.batchSize ?? 1, 'an integer >= 1'),
    heads,
    kvHeads,
    headDim: field('headDim', posInt(1024), raw.headDim ?? 64, 'an integer 1..1024'),
    causal,
    seed: field('seed', nonNegInt, raw.seed ?? 42, 'an integer >= 0'),
    runs: field('runs', posInt(1000), raw.runs ?? 3, 'an integer >= 1 (timed ring iterations)'),
    warmup: field(
      'warmup',
      nonNegInt,
      raw.warmup === 'adaptive' ? 1 : (raw.warmup ?? 1),
      'an integer >= 0 (adaptive means 1 here)',
    ),
    layouts: [...layouts],
    layoutsGiven: layoutList.length > 0,
    ...(device ? { device } : {}),
    ...(gpuTransport ? { gpuTransport } : {}),
    check,
    launcher: typeof raw.launcher === 'string' ? raw.launcher : undefined,
    launcherArgs: extra,
    timeout: field(
      'timeout',
      z.preprocess((v) => (typeof v === 'string' ? Number(v) : v), z.number().positive().finite()),
      raw.timeout ?? 600,
      'seconds > 0',
    ),
    projection: raw.projection !== false,
    outputDir: typeof raw.outputDir === 'string' ? raw.outputDir : 'benchmark_results',
    ...(typeof raw.fromRankOutput === 'string' ? { fromRankOutput: raw.fromRankOutput } : {}),
    json: raw.json === true,
    quiet: raw.quiet === true,
  };
}

/** The rank executable's arguments for one length. */
export function rankArgs(
  o: DistributedRingOptions,
  seqLen: number,
  output: string,
  marker: string,
): string[] {
  const a = [
    '--implementation',
    o.implementation,
    '--batch',
    String(o.batchSize),
    '--heads',
    String(o.heads),
    '--kv-heads',
    String(o.kvHeads),
    '--seq-len',
    String(seqLen),
    '--head-dim',
    String(o.headDim),
    '--seed',
    String(o.seed),
    '--iterations',
    String(o.runs),
    '--warmup',
    String(o.warmup),
    '--layouts',
    o.layouts.join(','),
    '--check',
    o.check,
    '--output',
    output,
    '--run-id',
    marker,
  ];
  if (o.causal) a.push('--causal');
  if (o.device === 'cuda') a.push('--gpu-transport', o.gpuTransport ?? 'nccl');
  if (o.segmentLengths)
    a.push(
      '--segment-lengths',
      o.segmentLengths.join(','),
      '--dilation-rates',
      o.dilationRates!.join(','),
    );
  if (o.fault && (o.fault.seqLen === undefined || o.fault.seqLen === seqLen))
    a.push(
      '--fault-rank',
      String(o.fault.rank),
      '--fault',
      o.fault.kind,
      '--fault-step',
      String(o.fault.step),
    );
  return a;
}

export class DistributedRunError extends Error {
  readonly code = 'ERR_DILBENCH_DISTRIBUTED';
}

/** Last lines of the launcher's stderr that say something (Open MPI prints banners of dashes). */
function stderrTail(s: string, n = 12): string {
  const lines = s
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l && !/^-+$/.test(l));
  return lines.slice(-n).join('\n  ');
}

/** Launches one ring; resolves with rank 0's JSON or rejects with a clear error. */
export async function launchRing(
  o: DistributedRingOptions,
  seqLen: number,
  env: {
    launcher: LauncherInfo;
    rankExecutable: string;
    processEnv?: NodeJS.ProcessEnv;
    extraRankArgs?: string[];
    signal?: AbortSignal;
    marker?: string;
  },
): Promise<{ raw: RawRingRun; command: string[]; elapsedMs: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dilbench-ring-'));
  const output = path.join(dir, 'rank0.json');
  const marker = env.marker ?? `dilbench-ring-${randomUUID()}`;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const args = [
    ...launcherArgs(env.launcher, o.ranks, o.launcherArgs, isRoot),
    env.rankExecutable,
    ...rankArgs(o, seqLen, output, marker),
    ...(env.extraRankArgs ?? []),
  ];
  try {
    const r = await launch({
      command: env.launcher.path,
      args,
      env: launcherEnv(env.launcher, env.processEnv),
      timeoutMs: o.timeout * 1000,
      marker,
      signal: env.signal,
    });
    const what = `${o.ranks} ranks, ${seqLen} tokens`;
    const left = r.killedLeftovers.length
      ? `; killed ${r.killedLeftovers.length} leftover rank process(es)`
      : '';
    if (r.timedOut) {
      throw new DistributedRunError(
        `distributed ring (${what}) did not finish within --timeout ${o.timeout} s (a rank hung or died without the launcher noticing); ` +
          `all ranks were stopped${left}. Launcher stderr:\n  ${stderrTail(r.stderr) || '(empty)'}`,
      );
    }
    if (r.exitCode !== 0) {
      throw new DistributedRunError(
        `distributed ring (${what}) failed: ${path.basename(env.launcher.path)} exited with ${r.exitCode ?? r.signal}${left}.${launcherFailureHint(r.stderr)} Launcher stderr:\n  ${stderrTail(r.stderr) || '(empty)'}`,
      );
    }
    let raw: RawRingRun;
    try {
      raw = JSON.parse(readFileSync(output, 'utf8')) as RawRingRun;
    } catch (e) {
      throw new DistributedRunError(
        `distributed ring (${what}): rank 0 wrote no readable result (${e instanceof Error ? e.message : String(e)})`,
      );
    }
    return { raw, command: [env.launcher.path, ...args], elapsedMs: r.elapsedMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The simulated ring (or ring-dilated) at the same P on `device`: on the CPU one thread (as one
 * rank), on CUDA the simulated ring kernel on one GPU; projected onto `GBps`.
 */
export async function singleProcessProjection(
  binding: NativeBinding,
  o: DistributedRingOptions,
  seqLen: number,
  GBps: number,
  device: 'cpu' | 'cuda' = 'cpu',
): Promise<RingProjection | null> {
  const session = await binding.createSession(
    {
      implementation: o.implementation,
      device,
      dtype: 'fp32',
      batch: o.batchSize,
      heads: o.heads,
      kvHeads: o.kvHeads,
      seqLen,
      headDim: o.headDim,
      causal: o.causal,
      seed: o.seed,
      ringSize: o.ranks,
      ...(o.segmentLengths
        ? { segmentLengths: o.segmentLengths, dilationRates: o.dilationRates }
        : {}),
    },
    { threads: 1, useMemoryPool: true, usePatternCache: false, memoryLimitBytes: 0 },
  );
  try {
    const runs: KernelTelemetry[] = [];
    for (let i = 0; i < o.warmup + o.runs; i++) {
      await session.sample(1, false);
      const t = session.telemetry?.();
      if (i >= o.warmup && t?.stepRankNs) runs.push(t);
    }
    if (!runs.length) return null;
    const link = { name: 'ping-pong (measured)', gbps: GBps * 8, GBps };
    const p = projectRing(medianTelemetry(runs), [link]);
    const where = device === 'cuda' ? 'one process, one GPU' : 'one process, one thread';
    if (p)
      p.basis =
        `simulated ${o.implementation} (${where}, ranks one after another), element-wise median of ${runs.length} iteration(s), projected onto the ping-pong bandwidth: ` +
        p.basis;
    return p;
  } finally {
    session.dispose();
  }
}

export interface DistributedProgress {
  (message: string): void;
}

/** The device a rank 0 JSON ran on: its transport says (files of the first version are CPU ranks). */
export function rankOutputDevice(raw: Pick<RawRingRun, 'transport'>): 'cpu' | 'cuda' {
  return raw.transport === 'nccl' || raw.transport === 'cuda-aware-mpi' ? 'cuda' : 'cpu';
}

/** The transport of a rank 0 JSON, in words, for params.transport. */
export function transportLabel(
  raw: Pick<RawRingRun, 'transport' | 'mpiLibrary'>,
  flavour: string,
): string {
  if (raw.transport === 'nccl')
    return `NCCL send/recv (bootstrapped through MPI: ${raw.mpiLibrary})`;
  if (raw.transport === 'cuda-aware-mpi')
    return `CUDA-aware MPI point-to-point on device buffers (${flavour}: ${raw.mpiLibrary})`;
  return `MPI point-to-point (${flavour}: ${raw.mpiLibrary})`;
}

function rowFor(
  raw: RawRingRun,
  m: DistributedMeasurement,
  check: RawRingRun['layouts'][number]['check'],
  flavour: string,
): ResultRow {
  const partner = check.against !== 'float64-reference';
  const tol = toleranceFor('fp32', {}, partner);
  const validated = check.against !== 'none';
  const passed =
    validated && check.finite && check.maxAbsError <= tol.maxAbs && check.relL2Error <= tol.relL2;
  const stats = summarize(m.wallMs);
  // files of the first version (ring only) carry no flops
  const flops =
    raw.flopsPerIteration ??
    4 *
      raw.headDim *
      raw.batch *
      raw.heads *
      (raw.causal ? (raw.seqLen * (raw.seqLen + 1)) / 2 : raw.seqLen * raw.seqLen);
  const telemetry: KernelTelemetry = {
    valid: true,
    ringSize: raw.ranks,
    stepRankNs: m.perStep.map((s) => s.computeMs.map((ms) => ms * 1e6)),
    stepRankBytesSent: m.perStep.map((s) => s.bytesSent),
  } as KernelTelemetry;
  return {
    implementation: raw.implementation ?? 'ring',
    device: rankOutputDevice(raw),
    dtype: 'fp32',
    batch: raw.batch,
    heads: raw.heads,
    kvHeads: raw.kvHeads,
    headDim: raw.headDim,
    seqLen: raw.seqLen,
    effectiveSeqLen: raw.seqLen,
    causal: raw.causal,
    status: validated && !passed ? 'failed' : 'ok',
    reason:
      validated && !passed
        ? `gathered output differs from ${check.against}: max abs ${check.maxAbsError}, rel L2 ${check.relL2Error} (tolerance ${tol.maxAbs}, ${tol.relL2})`
        : null,
    ...(validated && !passed ? { errorCode: 'ERR_DILBENCH_VALIDATION' } : {}),
    samplesMs: m.wallMs,
    stats,
    warmupIterations: raw.warmup,
    stopReason: 'fixed-runs',
    peakMemoryBytes: null,
    estimatedMemoryBytes: 0,
    tokensPerSecond: stats.medianMs > 0 ? (raw.batch * raw.seqLen) / (stats.medianMs / 1e3) : null,
    gflops: stats.medianMs > 0 ? flops / (stats.medianMs * 1e6) : null,
    flopsPerIteration: flops,
    bytesPerIteration: 0,
    threads: raw.threadsPerRank,
    simdLevel: raw.simdLevel as ResultRow['simdLevel'],
    telemetry,
    ...(validated
      ? {
          validation: {
            against: check.against,
            maxAbsError: check.maxAbsError,
            relL2Error: check.relL2Error,
            passed,
            tolerance: tol,
          },
        }
      : {}),
    params: {
      ringSize: raw.ranks,
      measured: true,
      distributed: true,
      layout: m.layout,
      ...(raw.segmentLengths
        ? { segmentLengths: raw.segmentLengths, dilationRates: raw.dilationRates }
        : {}),
      transport: transportLabel(raw, flavour),
      transportKind: raw.transport ?? 'mpi',
      threadsPerRank: raw.threadsPerRank,
      progressPolls: raw.progressPolls,
      ...(validated ? {} : { validation: `not validated: ${check.reason}` }),
    },
    distributed: m,
  };
}

export interface DistributedRunResult {
  file: ResultFile;
  written: WrittenFiles;
  /** the launch that failed (the run stopped there; the rows before it and a failed row are written) */
  error?: DistributedRunError;
}

function failedRow(o: DistributedRingOptions, seqLen: number, e: DistributedRunError): ResultRow {
  const shape: RowShape = {
    implementation: o.implementation,
    device: o.device === 'cuda' ? 'cuda' : 'cpu',
    dtype: 'fp32',
    batch: o.batchSize,
    heads: o.heads,
    kvHeads: o.kvHeads,
    headDim: o.headDim,
    seqLen,
    causal: o.causal,
    threads: 1,
  };
  return unmeasuredRow(shape, 'failed', e.message, {
    errorCode: e.code,
    params: {
      ringSize: o.ranks,
      measured: false,
      distributed: true,
      layout: o.layouts.join(','),
      transportKind: o.device === 'cuda' ? o.gpuTransport : 'mpi',
    },
  });
}

/** Reads a rank 0 JSON (dilbench-ring-rank --output); throws naming the file when it is not one. */
export function readRankOutput(file: string): RawRingRun {
  let raw: RawRingRun;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as RawRingRun;
  } catch (e) {
    throw new ConfigError(
      'fromRankOutput',
      file,
      'a JSON file written by dilbench-ring-rank --output',
      e instanceof Error ? e.message : String(e),
    );
  }
  if (raw?.format !== 'dilbench-ring-rank/1' || !Array.isArray(raw.layouts)) {
    throw new ConfigError(
      'fromRankOutput',
      file,
      'a JSON file written by dilbench-ring-rank --output (format dilbench-ring-rank/1)',
    );
  }
  return raw;
}

/** The options a rank 0 JSON was run with (for its projection and the result's config). */
function optionsOf(o: DistributedRingOptions, raw: RawRingRun): DistributedRingOptions {
  return {
    ...o,
    implementation: raw.implementation ?? 'ring',
    segmentLengths: raw.segmentLengths,
    dilationRates: raw.dilationRates,
    ranks: raw.ranks,
    totalTokens: [raw.seqLen],
    batchSize: raw.batch,
    heads: raw.heads,
    kvHeads: raw.kvHeads,
    headDim: raw.headDim,
    causal: raw.causal,
    seed: raw.seed,
    runs: raw.iterations,
    warmup: raw.warmup,
    layouts: raw.layouts.map((l) => l.layout),
  };
}

/** The whole `ring --distributed` run (or, with fromRankOutput, the result files of a run made elsewhere). */
export async function runDistributedRing(
  o: DistributedRingOptions,
  deps: {
    /** whose binding projects and describes the run, and whose addon file the GPU ranks load */
    dilbench: Dilbench;
    root?: string;
    env?: NodeJS.ProcessEnv;
    progress?: DistributedProgress;
    signal?: AbortSignal;
    /** tests: the GPU facts (executables, CUDA devices, launcher) instead of this machine's */
    gpuFacts?: GpuDistributedFacts;
  },
): Promise<DistributedRunResult> {
  const root = deps.root ?? packageRoot();
  const binding = deps.dilbench.binding;
  const imported = o.fromRankOutput ? readRankOutput(o.fromRankOutput) : null;
  // --device first: cuda that cannot run is bad input (exit 2) before anything else is looked at
  let selection: DeviceSelection | null = null;
  let launcher: LauncherInfo | null = null;
  let rankExecutable: string | null = null;
  if (imported) {
    const fileDevice = rankOutputDevice(imported);
    if (o.device !== undefined && o.device !== 'auto' && o.device !== fileDevice) {
      throw new ConfigError(
        'device',
        o.device,
        `${fileDevice} (the device the --from-rank-output file ran on: transport ${imported.transport ?? 'mpi'}), or leave --device out`,
      );
    }
    o = optionsOf(o, imported);
  } else {
    const wantsGpu = o.device === 'cuda' || o.device === 'auto';
    const facts = wantsGpu
      ? (deps.gpuFacts ??
        gpuDistributedFacts(
          root,
          binding,
          deps.dilbench.binaryOf(binding)?.path ?? null,
          deps.env,
          o.launcher,
        ))
      : null;
    const resolved = facts
      ? resolveDistributedDevice(
          {
            device: o.device,
            gpuTransport: o.gpuTransport,
            ranks: o.ranks,
            implementation: o.implementation,
            causal: o.causal,
            layouts: o.layoutsGiven ? o.layouts : undefined,
          },
          facts,
        )
      : null;
    selection = resolved?.selection ?? null;
    if (selection) deps.progress?.(`--device auto: ${selection.device} (${selection.reason})`);
    if (resolved?.device === 'cuda') {
      o = {
        ...o,
        device: 'cuda',
        gpuTransport: resolved.gpu!.transport,
        layouts: resolved.layouts,
      };
      launcher = facts!.launcher;
      rankExecutable = resolved.gpu!.rankExecutable;
    } else {
      if (o.device === 'auto' && resolved)
        o = { ...o, device: 'cpu', gpuTransport: undefined, layouts: resolved.layouts };
      const avail = distributedAvailability(root, deps.env, o.launcher);
      if (!avail.available || !avail.launcher || !avail.rankExecutable) {
        throw new DistributedRunError(`distributed runs are unavailable: ${avail.reason}`);
      }
      launcher = avail.launcher;
      rankExecutable = avail.rankExecutable;
    }
  }
  const device: 'cpu' | 'cuda' = imported
    ? rankOutputDevice(imported)
    : o.device === 'cuda'
      ? 'cuda'
      : 'cpu';
  // the result directory must take files before minutes of ranks run (exit 2 naming the flag)
  assertWritableDirectory(o.outputDir, 'outputDir');
  const createdAt = new Date().toISOString();
  const rows: ResultRow[] = [];
  const commands: string[][] = [];
  let error: DistributedRunError | undefined;
  for (const seqLen of o.totalTokens) {
    let raw: RawRingRun;
    if (imported) {
      raw = imported;
    } else {
      const on = device === 'cuda' ? `GPU ranks, ${o.gpuTransport}` : 'CPU ranks';
      deps.progress?.(
        `${o.implementation} --distributed: ${o.ranks} ranks (${on}), ${seqLen} tokens, layouts ${o.layouts.join(',')} (${launcher!.flavour} ${launcher!.path})`,
      );
      try {
        const launched = await launchRing(o, seqLen, {
          launcher: launcher!,
          rankExecutable: rankExecutable!,
          processEnv: deps.env,
          signal: deps.signal,
        });
        raw = launched.raw;
        commands.push(launched.command);
      } catch (e) {
        if (!(e instanceof DistributedRunError) || deps.signal?.aborted) throw e;
        // stop here, but keep what the earlier launches measured
        error = e;
        rows.push(failedRow(o, seqLen, e));
        break;
      }
    }
    for (const l of raw.layouts) {
      const m = analyzeLayout(raw, l);
      const row = rowFor(raw, m, l.check, launcher?.flavour ?? 'launched by the user');
      const projectionDevice = rankOutputDevice(raw);
      const noCudaHere = projectionDevice === 'cuda' ? cudaAvailability(binding.info()) : null;
      // The simulated ring runs causal problems in the zigzag layout only: a plain causal row has no
      // projection. The simulated ring-dilated runs plain chunks always.
      const simulatedLayout = o.causal && o.implementation === 'ring' ? 'zigzag' : 'plain';
      if (!o.projection) {
        row.projected = { kind: 'projected', skipped: 'projection not run (--no-projection)' };
      } else if (l.layout !== simulatedLayout) {
        row.projected = {
          kind: 'projected',
          skipped: 'the simulated ring runs causal problems in the zigzag layout only',
        };
      } else if (!m.pingPong.medianGBps || !Number.isFinite(m.pingPong.medianGBps)) {
        const why =
          raw.ranks === 1
            ? 'one rank'
            : 'no keys or values travel: every dilated segment lies inside one rank';
        row.projected = { kind: 'projected', skipped: `no link bandwidth measured (${why})` };
      } else if (noCudaHere && !noCudaHere.available) {
        row.projected = {
          kind: 'projected',
          skipped: `the GPU ranks' projection runs the simulated ring on CUDA, and here there is ${noCudaHere.reason}`,
        };
      } else {
        deps.progress?.(
          `  single-process projection (simulated ${o.implementation}, P=${o.ranks}, ${projectionDevice === 'cuda' ? 'one GPU' : 'one thread'})`,
        );
        const p = await singleProcessProjection(
          binding,
          o,
          seqLen,
          m.pingPong.medianGBps,
          projectionDevice,
        );
        // one link: the measured ping-pong bandwidth
        const projectedWallMs = p?.links[0]?.projectedWallMs;
        if (p && projectedWallMs !== undefined) {
          if (imported)
            p.basis = `computed on ${os.hostname()} (the ranks ran with rank 0 on ${raw.rank0Host}): ${p.basis}`;
          row.projected = {
            ...p,
            projectedWallMs,
            measuredWallMs: m.medianWallMs,
            /** (measured - projected) / projected */
            projectionError: (m.medianWallMs - projectedWallMs) / projectedWallMs,
          };
        }
      }
      rows.push(row);
    }
  }
  const file: ResultFile = {
    schemaVersion: SCHEMA_VERSION,
    suite: 'ring-distributed',
    runId: randomUUID(),
    createdAt,
    environment: collectEnvironment(binding),
    config: {
      distributed: true,
      device,
      ...(selection ? { deviceSelection: selection } : {}),
      ...(device === 'cuda'
        ? { gpuTransport: imported ? imported.transport : o.gpuTransport }
        : {}),
      implementation: o.implementation,
      ...(o.segmentLengths
        ? { segmentLengths: o.segmentLengths, dilationRates: o.dilationRates }
        : {}),
      ranks: o.ranks,
      totalTokens: o.totalTokens,
      batchSize: o.batchSize,
      heads: o.heads,
      kvHeads: o.kvHeads,
      headDim: o.headDim,
      causal: o.causal,
      layouts: o.layouts,
      runs: o.runs,
      warmup: o.warmup,
      ...(imported
        ? {
            fromRankOutput: path.resolve(o.fromRankOutput!),
            rank0Host: imported.rank0Host,
            mpiLibrary: imported.mpiLibrary,
          }
        : {
            check: o.check,
            launcher,
            launcherArgs: o.launcherArgs,
            rankExecutable,
            commands,
            timeoutSeconds: o.timeout,
            // transport settings that change what overlaps (unset: the MPI's default)
            mpiEnvironment: Object.fromEntries(
              Object.entries(deps.env ?? process.env).filter(([k]) =>
                /^(OMPI_MCA_|MPIR_CVAR_|UCX_)/.test(k),
              ),
            ),
          }),
    },
    results: rows,
  };
  const written = await writeResultFiles(file, o.outputDir);
  return { file, written, ...(error ? { error } : {}) };
}
