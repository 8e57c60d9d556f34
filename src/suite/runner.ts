// The generic suite runner: plan -> measure -> stats -> rows. One failing point becomes a
// `failed` row and the rest go on; an AbortSignal stops the run between points (and the native
// run between iterations) and the file is marked `interrupted`.
import { randomUUID } from 'node:crypto';
import type {
  NativeBinding,
  NativeCancelToken,
  NativeImplementationInfo,
  NativePlan,
  NativeProblem,
  NativeSession,
  NativeSessionOptions,
} from '../native/binding.js';
import { SCHEMA_VERSION, type ResultFile, type ResultRow } from '../results/types.js';
import { ConfigError, INVALID_CONFIG } from '../config/errors.js';
import { checkImplementations, DEFAULTS } from '../config/schema.js';
import { collectEnvironment, availableMemoryBytes } from '../env/environment.js';
import { calibrateRates } from '../plan/calibrate.js';
import { planPoints, type PlannedPoint } from '../plan/planner.js';
import { attachRoofline } from '../roofline/index.js';
import { CancelledError, takeSamples, toOutcome, toSamplingOptions, type SamplingOutcome, type SamplingRequest } from './sampling.js';
import { measureInterleaved } from '../measure/scheduler.js';
import type { Measurement } from '../measure/types.js';
import { formatBytes } from '../config/units.js';
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
function nativeConfigError(e: unknown, problem: Record<string, unknown>, sessionOptions: Record<string, unknown>): ConfigError {
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
  // The binding's argument errors carry what the field allows; the value is the problem's or,
  // for options such as threads, the session's.
  const allowed = (e as { allowed?: unknown })?.allowed;
  const value = problem[valueKey] ?? sessionOptions[valueKey];
  return new ConfigError(field, value, typeof allowed === 'string' ? allowed : `what ${String(problem.implementation)} supports`, msg);
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
    useMemoryPool: (options as { enableMemoryPool?: boolean }).enableMemoryPool !== false,
    usePatternCache: (options as { enablePatternCache?: boolean }).enablePatternCache !== false,
    memoryLimitBytes: budget,
  };
  const sessionOptionsOf = (i: number): NativeSessionOptions =>
    points[i].session ? { ...sessionOptions, ...points[i].session } : sessionOptions;
  const after = suite.afterMeasure
    ? (row: ResultRow, session: NativeSession, i: number, cancel?: NativeCancelToken) =>
        suite.afterMeasure!({ row, session, binding, point: points[i], options, cancel })
    : undefined;

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
      const ce = nativeConfigError(e, pt.problem as unknown as Record<string, unknown>, sessionOptions as unknown as Record<string, unknown>);
      if (options.implementations) throw ce;
      rejected.push(ce);
    }
  }
  if (rejected.length > 0 && rejected.length === checked.size) throw rejected[0];

  const request = samplingRequest(options);
  const adaptive = request.runs === undefined;
  const interleave = options.interleave === true;

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
    ...planIterations(request),
  }, rates);
  const estimates = planned.map((p) => (p.action === 'run' ? p.estimatedSeconds : 0));
  let remaining = estimates.reduce((a, b) => a + b, 0);
  emit({ type: 'plan', total: planned.length, runnable: planned.filter((p) => p.action === 'run').length, estimatedSeconds: remaining });

  const sampling = deps.sampling ?? takeSamples;
  const results: ResultRow[] = [];
  let interrupted = false;

  const groups = interleave ? groupByPoint(points) : points.map((_, i) => [i]);
  for (const group of groups) {
    if (signal?.aborted) {
      interrupted = true;
      break;
    }
    const started = Date.now();
    const rows: ResultRow[] = [];
    const runnable: { p: Extract<PlannedPoint, { action: 'run' }>; row: ResultRow; i: number }[] = [];
    for (const i of group) {
      const p = planned[i];
      const params = points[i].params;
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
        runnable.push({ p, row, i });
      }
      rows.push(row);
      if (group.length === 1 && p.action === 'run') {
        await measurePoint(binding, p, row, sessionOptionsOf(i), request, sampling, signal, after && ((r, s, c) => after(r, s, i, c)));
      }
    }
    if (group.length > 1 && runnable.length > 0) {
      // all sessions of the point alive at once: only when their memory fits the budget together
      const together = runnable.reduce((sum, r) => sum + r.p.plan.totalBytes, 0);
      if (runnable.length > 1 && together <= budget) {
        await measureInterleavedPoint(binding, runnable, sessionOptions, request, signal, {
          optionsOf: sessionOptionsOf,
          after: after && ((rw, s, i, c) => after(rw, s, i, c)),
        });
      } else {
        for (const r of runnable) {
          if (runnable.length > 1) {
            r.row.warnings = [
              ...(r.row.warnings ?? []),
              `not interleaved: the ${runnable.length} implementations of this point need ${formatBytes(together)} together, over the memory budget of ${formatBytes(budget)}; measured one after another`,
            ];
          }
          if (signal?.aborted) {
            markFailed(r.row, new CancelledError());
            continue;
          }
          await measurePoint(binding, r.p, r.row, sessionOptionsOf(r.i), request, sampling, signal, after && ((rw, s, c) => after(rw, s, r.i, c)));
        }
      }
    }
    for (let k = 0; k < group.length; k++) {
      const i = group[k];
      const row = rows[k];
      if (row.errorCode === CANCELLED) interrupted = true;
      results.push(row);
      remaining -= estimates[i];
      emit({ type: 'point-end', index: i, total: planned.length, row, elapsedSeconds: (Date.now() - started) / 1000 / group.length });
    }
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
  const measuredRows = peak ? results.map((r) => attachRoofline(r, peak)) : results;
  const rows = suite.finalize ? suite.finalize(measuredRows, options, ctx) : measuredRows;

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
      warmup: request.warmup,
      ...(request.runs !== undefined ? { runs: request.runs } : {}),
      sampling: adaptive ? 'adaptive' : 'fixed',
      ...(adaptive
        ? { targetRse: request.targetRse, minSamples: request.minSamples, maxSamples: request.maxSamples }
        : {}),
      maxTimeSeconds: request.maxTimeSeconds,
      cacheMode: request.cold ? 'cold' : 'hot',
      interleave,
      seed: options.seed,
      device: options.device,
      dtype: 'fp32',
    },
    results: rows,
  };
  emit({ type: 'done', file });
  return file;
}

/** The sampling request of a run: adaptive unless `runs` is given. */
export function samplingRequest(options: CommonRunOptions): SamplingRequest {
  const minSamples = options.minSamples ?? DEFAULTS.minSamples;
  return {
    warmup: options.warmup ?? DEFAULTS.warmup,
    runs: options.runs,
    targetRse: options.targetRse ?? DEFAULTS.targetRse,
    minSamples,
    maxSamples: options.maxSamples ?? Math.max(DEFAULTS.maxSamples, minSamples),
    maxTimeSeconds: options.maxTime ?? DEFAULTS.maxTime,
    cold: options.cold ?? DEFAULTS.cold,
    seed: options.seed,
  };
}

/** adaptive warm-up: the scheduler's minimum (6 after the cold start), for the estimate */
const ADAPTIVE_WARMUP_ESTIMATE = 7;
/** samples the scheduler always takes, even past --max-time */
const MIN_SAMPLES_FLOOR = 3;

/**
 * What the planner's time estimate assumes. Fixed runs: warm-up + runs iterations. Adaptive: at
 * most warm-up + max-samples iterations, bounded by --max-time per point (the scheduler stops
 * there), but never below the cold start and the few samples it always takes.
 */
export function planIterations(req: SamplingRequest): { iterations: number; timeCapSeconds?: number; minIterations?: number } {
  const warmup = req.warmup === 'adaptive' ? ADAPTIVE_WARMUP_ESTIMATE : Math.max(1, req.warmup);
  if (req.runs !== undefined) return { iterations: warmup + req.runs };
  const minSamples = req.minSamples ?? DEFAULTS.minSamples;
  return {
    iterations: warmup + (req.maxSamples ?? DEFAULTS.maxSamples),
    timeCapSeconds: req.maxTimeSeconds ?? DEFAULTS.maxTime,
    minIterations: (req.warmup === 'adaptive' ? 1 : warmup) + Math.min(minSamples, MIN_SAMPLES_FLOOR),
  };
}

/** Indices of the points that differ only by implementation, in first-seen order. */
function groupByPoint(points: { problem: NativeProblem; params?: Record<string, unknown> }[]): number[][] {
  const groups = new Map<string, number[]>();
  points.forEach((pt, i) => {
    const { implementation: _impl, ...rest } = pt.problem;
    const key = JSON.stringify([rest, pt.params ?? null]);
    const g = groups.get(key) ?? [];
    g.push(i);
    groups.set(key, g);
  });
  return [...groups.values()];
}

function markFailed(row: ResultRow, e: unknown): void {
  row.status = 'failed';
  row.reason = messageOf(e);
  row.errorCode = codeOf(e);
  row.samplesMs = [];
  row.stats = null;
}

/** Fills an ok row from one point's measurement and its session. */
function fillRow(row: ResultRow, out: SamplingOutcome, session: NativeSession, sessionOptions: NativeSessionOptions): void {
  const plan = session.plan;
  const pool = session.poolStats();
  const seconds = out.stats.medianMs / 1000;
  Object.assign(row, {
    status: 'ok',
    reason: null,
    effectiveSeqLen: plan.effectiveSeqLen,
    flopsPerIteration: plan.flops,
    bytesPerIteration: plan.bytesMoved,
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
  // optional on the session (a fake binding may lack them)
  const cache = typeof session.patternCacheStats === 'function' ? session.patternCacheStats() : null;
  if (cache) row.patternCacheStats = cache;
  else delete row.patternCacheStats;
  const telemetry = typeof session.telemetry === 'function' ? session.telemetry() : null;
  if (telemetry && Object.keys(telemetry).length > 0) row.telemetry = telemetry;
}

async function measurePoint(
  binding: NativeBinding,
  p: Extract<PlannedPoint, { action: 'run' }>,
  row: ResultRow,
  sessionOptions: NativeSessionOptions,
  request: SamplingRequest,
  sampling: NonNullable<RunDependencies['sampling']>,
  signal?: AbortSignal,
  after?: (row: ResultRow, session: NativeSession, cancel?: NativeCancelToken) => Promise<void> | void,
): Promise<void> {
  let token: NativeCancelToken | undefined;
  const onAbort = () => token?.cancel();
  try {
    token = new binding.CancelToken();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) token.cancel();
    const session = await binding.createSession(p.problem, sessionOptions);
    try {
      const t = token;
      const sampler = { sample: (n: number, cold: boolean) => session.sample(n, cold, t) };
      const out = await sampling(sampler, request, signal);
      fillRow(row, out, session, sessionOptions);
      if (after) await after(row, session, t);
    } finally {
      session.dispose();
    }
  } catch (e) {
    markFailed(row, e);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * --interleave: the implementations of one point sampled in seeded, randomised round-robin
 * (measureInterleaved), all sessions alive together. A session that cannot be created fails its
 * row only; if the interleaved run itself fails (not a cancel), each is measured on its own.
 */
async function measureInterleavedPoint(
  binding: NativeBinding,
  group: { p: Extract<PlannedPoint, { action: 'run' }>; row: ResultRow; i?: number }[],
  sessionOptions: NativeSessionOptions,
  request: SamplingRequest,
  signal?: AbortSignal,
  perPoint?: {
    optionsOf?: (i: number) => NativeSessionOptions;
    after?: (row: ResultRow, session: NativeSession, i: number, cancel?: NativeCancelToken) => Promise<void> | void;
  },
): Promise<void> {
  let token: NativeCancelToken | undefined;
  const onAbort = () => token?.cancel();
  const live: { row: ResultRow; session: NativeSession; key: string; opts: NativeSessionOptions; i?: number }[] = [];
  // the suite's afterMeasure on a filled row; its failure fails that row only
  const afterOne = async (l: (typeof live)[number]) => {
    if (!perPoint?.after || l.i === undefined) return;
    try {
      await perPoint.after(l.row, l.session, l.i, token);
    } catch (e) {
      markFailed(l.row, e);
    }
  };
  try {
    token = new binding.CancelToken();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) token.cancel();
    const t = token;
    for (const [k, g] of group.entries()) {
      try {
        const opts = g.i !== undefined && perPoint?.optionsOf ? perPoint.optionsOf(g.i) : sessionOptions;
        const session = await binding.createSession(g.p.problem, opts);
        live.push({ row: g.row, session, key: String(k), opts, i: g.i });
      } catch (e) {
        markFailed(g.row, e);
      }
    }
    if (live.length === 0) return;
    const samplerOf = (session: NativeSession) => ({ sample: (n: number, cold: boolean) => session.sample(n, cold, t) });
    try {
      const samplers = new Map(live.map((l) => [l.key, samplerOf(l.session)]));
      const measured = await measureInterleaved(samplers, toSamplingOptions(request), signal, request.seed);
      for (const l of live) {
        fillRow(l.row, toOutcome(measured.get(l.key) as Measurement), l.session, l.opts);
        l.row.warnings = [...(l.row.warnings ?? []), `interleaved with ${live.length - 1} other implementation(s) of this point`];
      }
      for (const l of live) await afterOne(l);
    } catch (e) {
      if (codeOf(e) === CANCELLED || signal?.aborted) {
        for (const l of live) markFailed(l.row, e);
        return;
      }
      const why = messageOf(e);
      for (const l of live) {
        try {
          fillRow(l.row, await takeSamples(samplerOf(l.session), request, signal), l.session, l.opts);
          l.row.warnings = [...(l.row.warnings ?? []), `interleaved sampling failed (${why}); measured on its own`];
          await afterOne(l);
        } catch (e2) {
          markFailed(l.row, e2);
        }
      }
    }
  } catch (e) {
    for (const g of group) if (g.row.status === 'ok' && !g.row.stats) markFailed(g.row, e);
  } finally {
    for (const l of live) l.session.dispose();
    signal?.removeEventListener('abort', onAbort);
  }
}
