// The generic suite runner: plan -> measure -> stats -> rows. One failing point becomes a
// `failed` row and the rest go on; an AbortSignal stops the run between points (and the native
// run between iterations) and the file is marked `interrupted`.
import { randomUUID } from 'node:crypto';
import type {
  NativeBinding,
  NativeCancelToken,
  NativeImplementationInfo,
  NativePlan,
  NativeSessionOptions,
} from '../native/binding.js';
import { SCHEMA_VERSION, type ResultFile, type ResultRow } from '../results/types.js';
import { ConfigError, INVALID_CONFIG } from '../config/errors.js';
import { checkImplementations, DEFAULTS } from '../config/schema.js';
import { collectEnvironment, availableMemoryBytes } from '../env/environment.js';
import { calibrateRates } from '../plan/calibrate.js';
import { planPoints, type PlannedPoint } from '../plan/planner.js';
import { attachRoofline } from '../roofline/index.js';
import { takeSamples } from './sampling.js';
import type { CommonRunOptions, RunDependencies, SuiteContext, SuiteDefinition } from './types.js';

const CANCELLED = 'ERR_DILBENCH_CANCELLED';

function codeOf(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'ERR_DILBENCH_INTERNAL';
}
function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Implementations the device offers in fp32. */
export function availableImplementations(binding: NativeBinding, device: string): NativeImplementationInfo[] {
  return binding.listImplementations().filter((i) => i.device === device && i.dtypes.includes('fp32'));
}

/** native problem field -> option name */
const NATIVE_FIELDS: Record<string, string> = { batch: 'batchSize', seqLen: 'customLengths', implementation: 'implementations' };

const FIELD_HINTS: [RegExp, string][] = [
  [/head[_ -]?dim/i, 'headDim'],
  [/kv[_ -]?heads/i, 'kvHeads'],
  [/\bheads\b/i, 'heads'],
  [/seq[_ -]?len|length/i, 'customLengths'],
  [/batch/i, 'batchSize'],
  [/thread/i, 'threads'],
  [/implementation/i, 'implementations'],
];

/** Maps a native INVALID_CONFIG (which carries `field`) to a ConfigError naming the option. */
function nativeConfigError(e: unknown, problem: Record<string, unknown>): ConfigError {
  const msg = messageOf(e);
  const nativeField = (e as { field?: unknown })?.field;
  let field: string;
  let valueKey: string;
  if (typeof nativeField === 'string' && nativeField) {
    field = NATIVE_FIELDS[nativeField] ?? nativeField;
    valueKey = nativeField;
  } else {
    field = FIELD_HINTS.find(([re]) => re.test(msg))?.[1] ?? 'implementations';
    valueKey = field === 'batchSize' ? 'batch' : field === 'customLengths' ? 'seqLen' : field === 'implementations' ? 'implementation' : field;
  }
  return new ConfigError(field, problem[valueKey], `what ${String(problem.implementation)} supports`, msg);
}

function rowBase(p: PlannedPoint, plan: NativePlan | undefined, threads: number, simd: ResultRow['simdLevel'], params?: Record<string, unknown>): ResultRow {
  const pr = p.problem;
  const row: ResultRow = {
    implementation: pr.implementation,
    device: pr.device,
    dtype: pr.dtype,
    batch: pr.batch,
    heads: pr.heads,
    kvHeads: pr.kvHeads,
    headDim: pr.headDim,
    seqLen: pr.seqLen,
    effectiveSeqLen: plan?.effectiveSeqLen ?? pr.seqLen,
    causal: pr.causal,
    status: 'ok',
    reason: null,
    samplesMs: [],
    stats: null,
    peakMemoryBytes: null,
    estimatedMemoryBytes: plan?.totalBytes ?? 0,
    tokensPerSecond: null,
    gflops: null,
    gbps: null,
    flopsPerIteration: plan?.flops ?? 0,
    bytesPerIteration: plan?.bytesMoved ?? 0,
    threads,
    simdLevel: simd,
  };
  if (p.requestedBatch !== pr.batch) row.requestedBatch = p.requestedBatch;
  if (p.action !== 'fail') row.estimatedSeconds = p.estimatedSeconds;
  if (params && Object.keys(params).length) row.params = params;
  return row;
}

export async function runSuite<O extends CommonRunOptions>(
  suite: SuiteDefinition<O>,
  options: O,
  deps: RunDependencies,
): Promise<ResultFile> {
  const { binding, signal, onProgress } = deps;
  const now = deps.now ?? (() => new Date());
  const emit = (e: Parameters<NonNullable<RunDependencies['onProgress']>>[0]) => {
    try {
      onProgress?.(e);
    } catch {
      /* a progress listener never stops a run */
    }
  };
  const createdAt = now().toISOString();
  const info = binding.info();

  if (options.device === 'cuda' && !(info.cuda?.compiled && info.cuda.deviceCount > 0)) {
    throw new ConfigError('device', 'cuda', 'cpu', info.cuda?.compiled ? 'no CUDA device found' : 'this build has no CUDA support');
  }
  const available = availableImplementations(binding, options.device).map((i) => i.name);
  const implementations = options.implementations ?? available;
  checkImplementations(implementations, available, options.device);

  const threads = options.threads > 0 ? options.threads : info.hardwareThreads;
  const ctx: SuiteContext = { implementations, threads };
  const points = suite.points(options, ctx);
  // default budget: half of the memory available on the device the kernels run on
  const deviceMemory =
    options.device === 'cuda'
      ? (info.cuda.devices[0]?.totalMemoryBytes ?? 0)
      : (deps.availableMemoryBytes ?? availableMemoryBytes());
  const budget = options.memoryBudget ?? Math.floor(deviceMemory / 2);
  const sessionOptions: NativeSessionOptions = {
    threads,
    useMemoryPool: true,
    usePatternCache: true,
    memoryLimitBytes: budget,
  };

  // Pre-flight: a problem the native side rejects as invalid at batch 1 is a config error (exit 2),
  // not a row per length. When the implementations were not named by the user, one that rejects
  // the shape while others accept it just gets its failed rows.
  const rejected: ConfigError[] = [];
  const checked = new Set<string>();
  for (const pt of points) {
    if (checked.has(pt.problem.implementation)) continue;
    checked.add(pt.problem.implementation);
    try {
      binding.plan({ ...pt.problem, batch: 1 }, sessionOptions);
    } catch (e) {
      if (codeOf(e) !== INVALID_CONFIG) continue;
      const ce = nativeConfigError(e, pt.problem as unknown as Record<string, unknown>);
      if (options.implementations) throw ce;
      rejected.push(ce);
    }
  }
  if (rejected.length > 0 && rejected.length === checked.size) throw rejected[0];

  const warmup = options.warmup ?? DEFAULTS.warmup;
  const runs = options.runs ?? DEFAULTS.runs;

  let rates = deps.rates;
  if (!rates) {
    emit({ type: 'calibrate', implementations });
    const longest = Math.max(1, ...points.map((p) => p.problem.seqLen));
    const base = points[0]?.problem;
    rates = base
      ? await calibrateRates(binding, base, implementations, sessionOptions, longest, signal)
      : { flopsPerSecond: () => 10e9 };
  }

  const planned = planPoints(binding, points.map((p) => p.problem), sessionOptions, {
    memoryBudgetBytes: budget,
    maxRunSeconds: options.maxRunSeconds,
    iterations: warmup + runs,
  }, rates);
  const estimates = planned.map((p) => (p.action === 'run' ? p.estimatedSeconds : 0));
  let remaining = estimates.reduce((a, b) => a + b, 0);
  emit({ type: 'plan', total: planned.length, runnable: planned.filter((p) => p.action === 'run').length, estimatedSeconds: remaining });

  const sampling = deps.sampling ?? takeSamples;
  const results: ResultRow[] = [];
  let interrupted = false;

  for (let i = 0; i < planned.length; i++) {
    if (signal?.aborted) {
      interrupted = true;
      break;
    }
    const p = planned[i];
    const params = points[i].params;
    const started = Date.now();
    emit({
      type: 'point-start',
      index: i,
      total: planned.length,
      implementation: p.problem.implementation,
      seqLen: p.problem.seqLen,
      batch: p.problem.batch,
      estimatedSeconds: estimates[i],
      remainingEstimatedSeconds: remaining,
    });
    let row: ResultRow;
    if (p.action === 'fail') {
      row = { ...rowBase(p, undefined, threads, info.simdLevel, params), status: 'failed', reason: p.reason, errorCode: p.errorCode };
    } else if (p.action === 'skip') {
      row = { ...rowBase(p, p.plan, threads, info.simdLevel, params), status: 'skipped', reason: p.reason };
    } else {
      row = rowBase(p, p.plan, threads, info.simdLevel, params);
      if (p.note) row.warnings = [p.note];
      await measurePoint(binding, p, row, sessionOptions, warmup, runs, sampling, signal);
      if (row.errorCode === CANCELLED) interrupted = true;
    }
    results.push(row);
    remaining -= estimates[i];
    emit({ type: 'point-end', index: i, total: planned.length, row, elapsedSeconds: (Date.now() - started) / 1000 });
    if (interrupted) break;
  }

  // Roofline: only against a peak measured on the same threads and SIMD level.
  let peak: NonNullable<ResultFile['environment']['peak']> | undefined;
  try {
    const stored = deps.loadPeak ? await deps.loadPeak() : null;
    if (stored && stored.threads === threads && stored.simdLevel === info.simdLevel) {
      peak = { fmaGflops: stored.fmaGflops, streamGBps: stored.streamGBps, threads: stored.threads, simdLevel: info.simdLevel };
    }
  } catch {
    peak = undefined;
  }
  const rows = peak ? results.map((r) => attachRoofline(r, peak)) : results;

  const file: ResultFile = {
    schemaVersion: SCHEMA_VERSION,
    suite: suite.name,
    runId: randomUUID(),
    createdAt,
    ...(interrupted ? { interrupted: true } : {}),
    environment: collectEnvironment(binding, peak ? { peak } : {}),
    config: {
      ...suite.config(options, ctx),
      implementations,
      threads,
      memoryBudgetBytes: budget,
      maxRunSeconds: options.maxRunSeconds,
      warmup,
      runs,
      sampling: 'fixed',
      seed: options.seed,
      device: options.device,
      dtype: 'fp32',
    },
    results: rows,
  };
  emit({ type: 'done', file });
  return file;
}

async function measurePoint(
  binding: NativeBinding,
  p: Extract<PlannedPoint, { action: 'run' }>,
  row: ResultRow,
  sessionOptions: NativeSessionOptions,
  warmup: number,
  runs: number,
  sampling: NonNullable<RunDependencies['sampling']>,
  signal?: AbortSignal,
): Promise<void> {
  let token: NativeCancelToken | undefined;
  const onAbort = () => token?.cancel();
  try {
    token = new binding.CancelToken();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) token.cancel();
    const session = await binding.createSession(p.problem, sessionOptions);
    try {
      const plan = session.plan;
      row.effectiveSeqLen = plan.effectiveSeqLen;
      row.flopsPerIteration = plan.flops;
      row.bytesPerIteration = plan.bytesMoved;
      const sampler = { sample: (n: number, cold: boolean) => session.sample(n, cold, token) };
      const out = await sampling(sampler, { warmup, runs }, signal);
      const pool = session.poolStats();
      const seconds = out.stats.medianMs / 1000;
      Object.assign(row, {
        status: 'ok',
        reason: null,
        samplesMs: out.samplesMs,
        stats: out.stats,
        ...(out.coldStartMs !== undefined ? { coldStartMs: out.coldStartMs } : {}),
        warmupIterations: out.warmupIterations,
        stopReason: out.stopReason,
        cacheMode: out.cacheMode,
        peakMemoryBytes: pool.peakBytesInUse,
        tokensPerSecond: seconds > 0 ? (row.batch * plan.effectiveSeqLen) / seconds : null,
        gflops: seconds > 0 ? plan.flops / seconds / 1e9 : null,
        gbps: seconds > 0 ? plan.bytesMoved / seconds / 1e9 : null,
        memoryPool: sessionOptions.useMemoryPool,
        patternCache: sessionOptions.usePatternCache,
        pool,
      } satisfies Partial<ResultRow>);
      if (out.warnings?.length) row.warnings = [...(row.warnings ?? []), ...out.warnings];
    } finally {
      session.dispose();
    }
  } catch (e) {
    row.status = 'failed';
    row.reason = messageOf(e);
    row.errorCode = codeOf(e);
    row.samplesMs = [];
    row.stats = null;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
