// The generic suite runner: plan -> measure -> stats -> rows. One failing point becomes a
// `failed` row and the rest go on; an AbortSignal stops the run between points (and the native
// run between iterations) and the file is marked `interrupted`.
import { randomUUID } from 'node:crypto';
import type {
  DTypeName,
  NativeBinding,
  NativeCancelToken,
  NativeImplementationInfo,
  NativePlan,
  NativeProblem,
  NativeSession,
  NativeSessionOptions,
} from '../native/binding.js';
import { SCHEMA_VERSION, type PlanEntry, type ResultFile, type ResultRow } from '../results/types.js';
import { ConfigError, INVALID_CONFIG } from '../config/errors.js';
import { checkImplementations, DEFAULTS } from '../config/schema.js';
import { collectEnvironment, availableMemoryBytes } from '../env/environment.js';
import { calibrateRates } from '../plan/calibrate.js';
import { planPoint, type PlannedPoint, type RateModel } from '../plan/planner.js';
import { attachRooflines, matchingGpuPeak } from '../roofline/index.js';
import type { StoredGpuPeak } from '../roofline/peak-store.js';
import { sessionSampler } from '../measure/session-sampler.js';
import { CancelledError, takeSamples, toOutcome, toSamplingOptions, type SamplingOutcome, type SamplingRequest } from './sampling.js';
import { MIN_SAMPLES_ON_TIME, measureInterleaved } from '../measure/scheduler.js';
import { decodesCausally } from '../config/impl-params.js';
import type { Measurement } from '../measure/types.js';
import { formatBytes } from '../config/units.js';
import type { CommonRunOptions, RunDependencies, SuiteContext, SuiteDefinition, SuitePoint } from './types.js';
import { cudaAvailability, resolveDevice, runSides, sameSide, sideKey, sideUnavailableReason, type RunSide } from './sides.js';
import { buildSideComparisons } from './side-comparison.js';
import { computesExactDense } from '../implementations/descriptors.js';
import {
  interferenceBetween,
  summarizeRunInterference,
  type Interference,
  type InterferenceProbe,
} from '../measure/interference.js';
import { DriftRecorder, type PointDrift } from '../measure/drift.js';

const CANCELLED = 'ERR_DILBENCH_CANCELLED';
const UNSUPPORTED = 'ERR_DILBENCH_UNSUPPORTED';
const OUT_OF_MEMORY = 'ERR_DILBENCH_OUT_OF_MEMORY';

function codeOf(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'ERR_DILBENCH_INTERNAL';
}
function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Implementations the device offers in `dtype` (default fp32). */
export function availableImplementations(binding: NativeBinding, device: string, dtype: DTypeName = 'fp32'): NativeImplementationInfo[] {
  return binding.listImplementations().filter((i) => i.device === device && i.dtypes.includes(dtype));
}

/**
 * The implementations a run measures. One side: the named ones (each must exist on the device and
 * support the dtype, else a ConfigError), or every one that runs there. Several sides: the named
 * ones (each must exist on some device), or every one that runs on at least one side; where a
 * side cannot run one, its rows are skipped with the reason.
 */
function chooseImplementations(
  requested: string[] | undefined,
  sides: RunSide[],
  catalogue: NativeImplementationInfo[],
  whyNot: (side: RunSide, implementation: string) => string | null,
): string[] {
  const namesOn = (device: string) => [...new Set(catalogue.filter((i) => i.device === device).map((i) => i.name))];
  if (sides.length === 1) {
    const side = sides[0]!;
    const onDevice = namesOn(side.device);
    if (requested) {
      checkImplementations(requested, onDevice, side.device);
      for (const name of requested) {
        const why = whyNot(side, name);
        const dtypes = catalogue.find((i) => i.name === name && i.device === side.device)?.dtypes ?? [];
        if (why) throw new ConfigError('dtype', side.dtype, `${dtypes.join(', ')} for ${name} on ${side.device}`, why);
      }
      return requested;
    }
    const runnable = onDevice.filter((name) => whyNot(side, name) === null);
    if (runnable.length === 0 && onDevice.length > 0) {
      const offered = [...new Set(catalogue.filter((i) => i.device === side.device).flatMap((i) => i.dtypes))];
      throw new ConfigError('dtype', side.dtype, `${offered.join(', ')} on ${side.device}`, `no implementation supports ${side.dtype} on ${side.device}`);
    }
    return runnable;
  }
  const everywhere = [...new Set(sides.flatMap((s) => namesOn(s.device)))];
  if (requested) {
    checkImplementations(requested, everywhere, [...new Set(sides.map((s) => s.device))].join(' or '));
    return requested;
  }
  const runnable = everywhere.filter((name) => sides.some((s) => whyNot(s, name) === null));
  return runnable.length ? runnable : everywhere;
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
function nativeConfigError(e: unknown, problem: NativeProblem, sessionOptions: NativeSessionOptions): ConfigError {
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
  // the native field names are the problem's and the session options' keys
  const inProblem: Record<string, unknown> = { ...problem };
  const inSession: Record<string, unknown> = { ...sessionOptions };
  const value = inProblem[valueKey] ?? inSession[valueKey];
  return new ConfigError(field, value, typeof allowed === 'string' ? allowed : `what ${problem.implementation} supports`, msg);
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
  requestedOptions: O,
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

  // --device auto, then the sides (device, dtype) the plan runs on. `options` is one object for
  // the whole run (suites key their state on it) and carries the baseline side's device and dtype.
  const cuda = cudaAvailability(info);
  const selection = resolveDevice(requestedOptions.device, info);
  const sides = runSides(requestedOptions, selection.device);
  const compareMode = sides.length > 1;
  const firstSide = sides[0]!; // runSides gives one side per device x dtype, at least one
  const options = { ...requestedOptions, device: firstSide.device, dtype: firstSide.dtype } as O;
  if (!compareMode && options.device === 'cuda' && !cuda.available) {
    throw new ConfigError('device', 'cuda', 'cpu, auto', cuda.reason);
  }
  if (selection.requested === 'auto') emit({ type: 'note', message: `--device auto chose ${selection.device}: ${selection.reason.replace(/^auto: /, '')}` });
  if (compareMode && sides.some((s) => s.device === 'cuda') && !cuda.available) {
    emit({ type: 'note', message: `--compare-devices: ${cuda.reason} (\`dilbench doctor\` says which build loaded and why); every cuda row is recorded as skipped with this reason` });
  }
  const catalogue = binding.listImplementations();
  const whyNot = (side: RunSide, implementation: string) => sideUnavailableReason(side, implementation, catalogue, cuda);
  const implementations = chooseImplementations(options.implementations, sides, catalogue, whyNot);

  const threads = options.threads > 0 ? options.threads : info.hardwareThreads;
  const ctx: SuiteContext = { implementations, threads };
  const basePoints = suite.points(options, ctx);
  // several sides: every point once per side, the sides of a point next to each other
  const points: SuitePoint[] = compareMode
    ? basePoints.flatMap((pt) => sides.map((s) => ({ ...pt, problem: { ...pt.problem, device: s.device, dtype: s.dtype } })))
    : basePoints;
  // sideIndex, unavailable, planned, estimates and planEntries below: one entry per point (index i)
  const sideIndex = points.map((_, i) => (compareMode ? i % sides.length : 0));
  // why a point's side cannot run it (a skipped row), null when it can
  const unavailable: (string | null)[] = points.map((pt, i) => (compareMode ? whyNot(sides[sideIndex[i]!]!, pt.problem.implementation) : null));
  // default budget: half of the memory available on the device the kernels run on
  let hostMemory: number | undefined;
  const deviceMemory = (device: string): number =>
    device === 'cuda'
      ? (info.cuda?.devices?.[0]?.totalMemoryBytes ?? 0)
      : (hostMemory ??= deps.availableMemoryBytes ?? availableMemoryBytes());
  const budgets = sides.map((s) => options.memoryBudget ?? Math.floor(deviceMemory(s.device) / 2));
  const budget = budgets[0]!; // one per side
  const budgetOf = (device: string): number => budgets[sides.findIndex((s) => s.device === device)] ?? budget;
  const sessionOptions: NativeSessionOptions = {
    threads,
    useMemoryPool: (options as { enableMemoryPool?: boolean }).enableMemoryPool !== false,
    usePatternCache: (options as { enablePatternCache?: boolean }).enablePatternCache !== false,
    memoryLimitBytes: budget,
  };
  const sideSessionOptions = budgets.map((b) => ({ ...sessionOptions, memoryLimitBytes: b }));
  const sessionOptionsOf = (i: number): NativeSessionOptions => {
    const so = sideSessionOptions[sideIndex[i]!]!;
    const own = points[i]!.session;
    return own ? { ...so, ...own } : so;
  };
  const after = suite.afterMeasure
    ? (row: ResultRow, session: NativeSession, i: number, cancel?: NativeCancelToken) =>
        suite.afterMeasure!({ row, session, binding, point: points[i]!, options, cancel })
    : undefined;

  // Pre-flight: a problem the native side rejects as invalid at batch 1 is a config error (exit 2),
  // not a row per length. When the implementations were not named by the user, one that rejects
  // the shape while others accept it just gets its failed rows.
  // With several sides, one side rejecting a named implementation gives failed rows there.
  const rejected: ConfigError[] = [];
  const checked = new Set<string>();
  for (const [i, pt] of points.entries()) {
    if (unavailable[i] !== null) continue;
    const key = `${pt.problem.implementation}|${sideKey(pt.problem)}`;
    if (checked.has(key)) continue;
    checked.add(key);
    const so = sideSessionOptions[sideIndex[i]!]!;
    try {
      binding.plan({ ...pt.problem, batch: 1 }, so);
    } catch (e) {
      if (codeOf(e) !== INVALID_CONFIG) continue;
      const ce = nativeConfigError(e, pt.problem, so);
      if (options.implementations && !compareMode) throw ce;
      rejected.push(ce);
    }
  }
  if (rejected.length > 0 && rejected.length === checked.size) throw rejected[0];

  const request = samplingRequest(options);
  const adaptive = request.runs === undefined;
  // interleaved by default (--no-interleave: one implementation after another)
  const interleave = options.interleave !== false;
  const probe = deps.interference ?? null;
  if (options.requireQuiet !== undefined && probe) {
    await waitForQuiet(probe, options.requireQuiet, deps.sleep ?? sleepMs, emit, signal);
  }

  // one rate model per side (a cuda or bf16 side runs at other rates)
  const ratesBySide: RateModel[] = [];
  for (const [s, side] of sides.entries()) {
    if (deps.rates) {
      ratesBySide.push(deps.rates);
      continue;
    }
    const mine = points.filter((_, i) => sideIndex[i] === s && unavailable[i] === null);
    const impls = compareMode ? [...new Set(mine.map((p) => p.problem.implementation))] : implementations;
    if (compareMode && impls.length === 0) {
      ratesBySide.push({ flopsPerSecond: () => 10e9 });
      continue;
    }
    emit({ type: 'calibrate', implementations: impls, ...(compareMode ? { side: sideKey(side) } : {}) });
    const longest = Math.max(1, ...mine.map((p) => p.problem.seqLen));
    const base = mine[0]?.problem;
    ratesBySide.push(
      base ? await calibrateRates(binding, base, impls, sideSessionOptions[s]!, longest, signal) : { flopsPerSecond: () => 10e9 },
    );
  }

  const planned: PlannedPoint[] = points.map((pt, i) => {
    const s = sideIndex[i]!;
    if (unavailable[i] !== null) {
      return { action: 'skip', problem: pt.problem, requestedBatch: pt.problem.batch, estimatedSeconds: 0, reason: unavailable[i]! };
    }
    const limits = { memoryBudgetBytes: budgets[s]!, maxRunSeconds: options.maxRunSeconds, ...planIterations(request) };
    const p = planPoint(binding, pt.problem, sideSessionOptions[s]!, limits, ratesBySide[s]!);
    // a side the native core refuses (dtype or device unsupported there) is skipped, in its words
    if (compareMode && p.action === 'fail' && p.errorCode === UNSUPPORTED) {
      unavailable[i] = p.reason;
      return { action: 'skip', problem: p.problem, requestedBatch: p.requestedBatch, estimatedSeconds: 0, reason: p.reason };
    }
    return p;
  });
  const estimates = planned.map((p) => (p.action === 'run' ? p.estimatedSeconds : 0));
  let remaining = estimates.reduce((a, b) => a + b, 0);
  const planEntries = planned.map(planEntryOf);
  emit({ type: 'plan', total: planned.length, runnable: planned.filter((p) => p.action === 'run').length, estimatedSeconds: remaining, points: planEntries });
  // what the run was asked and how it samples: the same in a dry run's plan and in the results
  const runConfig: Record<string, unknown> = {
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
    ...(options.requireQuiet !== undefined ? { requireQuietSeconds: options.requireQuiet } : {}),
    seed: options.seed,
    device: compareMode ? [...new Set(sides.map((s) => s.device))].join(',') : options.device,
    dtype: compareMode ? [...new Set(sides.map((s) => s.dtype))].join(',') : options.dtype,
    ...(selection.requested === 'auto' ? { deviceSelection: selection } : {}),
    ...(compareMode
      ? {
          sides: sides.map((s, k) => ({
            ...s,
            memoryBudgetBytes: budgets[k],
            ...(s.device === 'cuda' && !cuda.available ? { available: false, reason: cuda.reason } : {}),
          })),
          // the sides of a point are sampled in seeded round-robin when their memory fits together
          sidesInterleaved: true,
          ...(options.compareDtypes ? { compareDtypes: options.compareDtypes } : {}),
          ...(options.compareDevices ? { compareDevices: true } : {}),
        }
      : {}),
  };
  if (deps.dryRun) {
    return {
      schemaVersion: SCHEMA_VERSION,
      suite: suite.name,
      runId: randomUUID(),
      createdAt,
      dryRun: true,
      environment: collectEnvironment(binding, {}),
      config: runConfig,
      results: [],
      plan: planEntries,
    };
  }

  const sampling = deps.sampling ?? takeSamples;
  const results: ResultRow[] = [];
  let interrupted = false;
  const runStart = probe?.snapshot();
  // the drift sentinel runs where the build has it, with the interference probe (off in fake-binding tests)
  const drift = probe && typeof binding.fmaSentinel === 'function' ? new DriftRecorder(binding.fmaSentinel.bind(binding), threads) : null;
  let lastSentinel = Number.NaN;
  if (drift) {
    drift.start();
    lastSentinel = drift.referenceGflops();
  }
  let groupsDone = 0;

  // --interleave: the implementations of a point together; several sides: the sides of a point together
  const groups = interleave || compareMode ? groupByPoint(points, { implementations: interleave, sides: compareMode }) : points.map((_, i) => [i]);
  for (const group of groups) {
    if (signal?.aborted) {
      interrupted = true;
      break;
    }
    const started = Date.now();
    const before = probe?.snapshot();
    const rows: ResultRow[] = [];
    const runnable: { p: Extract<PlannedPoint, { action: 'run' }>; row: ResultRow; i: number }[] = [];
    for (const i of group) {
      const p = planned[i]!;
      const params = points[i]!.params;
      emit({
        type: 'point-start',
        index: i,
        total: planned.length,
        implementation: p.problem.implementation,
        seqLen: p.problem.seqLen,
        batch: p.problem.batch,
        estimatedSeconds: estimates[i]!,
        remainingEstimatedSeconds: remaining,
      });
      let row: ResultRow;
      if (p.action === 'fail') {
        row = { ...rowBase(p, undefined, threads, info.simdLevel, params), status: 'failed', reason: p.reason, errorCode: p.errorCode };
      } else if (p.action === 'skip') {
        row = { ...rowBase(p, unavailable[i] === null ? p.plan : undefined, threads, info.simdLevel, params), status: 'skipped', reason: p.reason };
        if (unavailable[i] !== null) delete row.estimatedSeconds;
      } else {
        row = rowBase(p, p.plan, threads, info.simdLevel, params);
        if (p.note) row.warnings = [p.note];
        runnable.push({ p, row, i });
      }
      if (row.causal && !(options as { causal?: boolean }).causal && decodesCausally(row.implementation)) {
        // say what was computed: the run is not causal, decoding is
        row.warnings = [...(row.warnings ?? []), 'computed causal (decoding is causal by definition) although the run is not'];
      }
      rows.push(row);
      if (group.length === 1 && p.action === 'run') {
        await measurePoint(binding, p, row, sessionOptionsOf(i), request, sampling, signal, after && ((r, s, c) => after(r, s, i, c)));
      }
    }
    if (group.length > 1 && runnable.length > 0) {
      // all sessions of the point alive at once: only when their memory fits the budget together
      // (per device: a cuda side counts against the device's budget)
      const need = new Map<string, number>();
      for (const r of runnable) need.set(r.p.problem.device, (need.get(r.p.problem.device) ?? 0) + r.p.plan.totalBytes);
      const over = [...need.entries()].find(([device, bytes]) => bytes > budgetOf(device));
      const together = over ? over[1] : runnable.reduce((sum, r) => sum + r.p.plan.totalBytes, 0);
      const groupBudget = over ? budgetOf(over[0]) : budget;
      if (runnable.length > 1 && !over) {
        await measureInterleavedPoint(binding, runnable, sessionOptions, request, signal, {
          optionsOf: sessionOptionsOf,
          after,
        });
      } else {
        for (const r of runnable) {
          if (runnable.length > 1) {
            r.row.warnings = [
              ...(r.row.warnings ?? []),
              `not interleaved: the ${runnable.length} ${compareMode ? 'runs' : 'implementations'} of this point need ${formatBytes(together)} together${compareMode && over ? ` on ${over[0]}` : ''}, over the memory budget of ${formatBytes(groupBudget)}; measured one after another`,
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
    // every row of the group shares the window it was sampled in
    const contention = probe && before ? interferenceBetween(before, probe.snapshot(), probe.extras(), threads) : null;
    groupsDone++;
    let pointDrift: PointDrift | null = null;
    if (drift && rows.some((r) => r.status === 'ok')) {
      const now = drift.checkpoint(groupsDone);
      pointDrift = drift.pointDrift(lastSentinel, now);
      lastSentinel = now;
    }
    // rows: one per index of the group, in its order
    for (const [k, i] of group.entries()) {
      const row = rows[k]!;
      // its own field, not a warning: reports show it beside the status (interferenceNote)
      if (contention && row.status === 'ok' && row.stats) row.interference = contention;
      if (pointDrift && row.status === 'ok' && row.stats) row.drift = pointDrift;
      if (row.errorCode === CANCELLED) interrupted = true;
      // a side that runs out of memory cannot run this pair: skipped with the reason (the code kept)
      if (compareMode && row.status === 'failed' && row.errorCode === OUT_OF_MEMORY) {
        row.status = 'skipped';
        row.reason = `out of memory on ${row.device}: ${row.reason ?? ''}`;
      }
      results.push(row);
      remaining -= estimates[i]!;
      emit({ type: 'point-end', index: i, total: planned.length, row, elapsedSeconds: (Date.now() - started) / 1000 / group.length });
    }
    if (interrupted) break;
  }

  // Roofline: CPU rows only against a peak measured on the same threads and SIMD level, CUDA rows
  // only against a GPU peak measured on a GPU of the same name.
  let peak: NonNullable<ResultFile['environment']['peak']> | undefined;
  let gpuPeak: StoredGpuPeak | undefined;
  try {
    const stored = deps.loadPeak ? await deps.loadPeak() : null;
    if (stored && stored.threads === threads && stored.simdLevel === info.simdLevel) {
      peak = {
        fmaGflops: stored.fmaGflops,
        streamGBps: stored.streamGBps,
        threads: stored.threads,
        simdLevel: info.simdLevel,
        ...(stored.fmaGflopsRange && stored.streamGBpsRange
          ? { fmaGflopsRange: stored.fmaGflopsRange, streamGBpsRange: stored.streamGBpsRange, repeats: stored.repeats }
          : {}),
        ...(stored.measuredBy ? { measuredBy: stored.measuredBy } : {}),
      };
    }
    gpuPeak = matchingGpuPeak(stored?.gpu, info.cuda?.devices?.[0]?.name);
  } catch {
    peak = undefined;
    gpuPeak = undefined;
  }
  annotatePluginRows(results, catalogue, binding);
  const measuredRows = attachRooflines(results, { cpu: peak, gpu: gpuPeak });
  // several sides: the suite finalizes each side's rows on their own, as in a one-side run
  const finalize = (rs: ResultRow[]): ResultRow[] => (suite.finalize ? suite.finalize(rs, options, ctx) : rs);
  const rows = compareMode ? sides.flatMap((s) => finalize(measuredRows.filter((r) => sameSide(r, s)))) : finalize(measuredRows);
  const comparisons = compareMode ? buildSideComparisons(rows, sides, { seed: options.seed }) : null;
  const runInterference = probe && runStart ? summarizeRunInterference(interferenceBetween(runStart, probe.snapshot(), probe.extras(), threads), rows) : null;

  const file: ResultFile = {
    schemaVersion: SCHEMA_VERSION,
    suite: suite.name,
    runId: randomUUID(),
    createdAt,
    ...(interrupted ? { interrupted: true } : {}),
    environment: collectEnvironment(binding, {
      ...(peak ? { peak } : {}),
      ...(gpuPeak && measuredRows.some((r) => r.device === 'cuda') ? { gpuPeak } : {}),
      ...deps.environment,
    }),
    config: runConfig,
    results: rows,
    ...(comparisons ? { comparisons } : {}),
    ...(runInterference ? { interference: runInterference } : {}),
    ...(drift ? { driftSentinel: drift.finish(rows.filter((r) => r.drift?.flagged).length, rows.filter((r) => r.drift).length) } : {}),
  };
  emit({ type: 'done', file });
  return file;
}

function planEntryOf(p: PlannedPoint): PlanEntry {
  const pr = p.problem;
  return {
    implementation: pr.implementation,
    seqLen: pr.seqLen,
    device: pr.device ?? 'cpu',
    dtype: pr.dtype ?? 'fp32',
    batch: pr.batch,
    requestedBatch: p.requestedBatch,
    action: p.action,
    estimatedSeconds: p.action === 'fail' ? 0 : p.estimatedSeconds,
    memoryBytes: p.action !== 'fail' && p.plan ? p.plan.totalBytes : null,
    ...(p.action === 'run' ? (p.note ? { reason: p.note } : {}) : { reason: p.reason }),
  };
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
    // the cold call and the sample(s) the scheduler always takes, even past --max-time
    minIterations: 1 + Math.min(minSamples, MIN_SAMPLES_ON_TIME),
  };
}

/**
 * Indices of the points that differ only by implementation (`implementations`) and/or by device
 * and dtype (`sides`), in first-seen order.
 */
function groupByPoint(
  points: { problem: NativeProblem; params?: Record<string, unknown> }[],
  by: { implementations: boolean; sides: boolean } = { implementations: true, sides: false },
): number[][] {
  const groups = new Map<string, number[]>();
  points.forEach((pt, i) => {
    const rest: Partial<NativeProblem> = { ...pt.problem };
    if (by.implementations) delete rest.implementation;
    if (by.sides) {
      delete rest.device;
      delete rest.dtype;
    }
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
  // a plugin that failed its pre-timing validation: the error figures on the row
  const validation = (e as { validation?: ResultRow['validation'] })?.validation;
  if (validation) row.validation = validation;
}

/** Plugin rows: origin, where the counts come from, and `unvalidated` for an unknown function. */
function annotatePluginRows(rows: ResultRow[], catalogue: NativeImplementationInfo[], binding: NativeBinding): void {
  for (const row of rows) {
    const d = catalogue.find((i) => i.name === row.implementation);
    if (!d || (d.origin !== 'plugin' && d.origin !== 'python')) continue;
    row.origin = d.origin;
    row.function = d.function ?? null;
    row.exactDense = computesExactDense(row.implementation, row.causal, binding);
    if (d.countsSource && d.countsSource !== 'kernel') row.countsSource = d.countsSource;
    // Python allocates outside dilbench's memory pool: nothing measured, so nothing reported
    if (d.origin === 'python') row.peakMemoryBytes = null;
    if (!d.function) {
      row.unvalidated = true;
      row.warnings = [...(row.warnings ?? []), `unvalidated: plugin '${row.implementation}' declares no function dilbench knows, so its output was not checked`];
    }
  }
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
  if (out.smClock) row.smClock = out.smClock;
  else delete row.smClock;
  // optional on the session (a fake binding may lack them)
  const cache = typeof session.patternCacheStats === 'function' ? session.patternCacheStats() : null;
  if (cache) row.patternCacheStats = cache;
  else delete row.patternCacheStats;
  const telemetry = typeof session.telemetry === 'function' ? session.telemetry() : null;
  if (telemetry && Object.keys(telemetry).length > 0) row.telemetry = telemetry;
  // plugin sessions carry their pre-timing validation (src/plugins/isolated-binding.ts)
  const checked = (session as { validation?: ResultRow['validation'] | null }).validation;
  if (checked) row.validation = checked;
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
      const sampler = sessionSampler(session, t);
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
  const live: { row: ResultRow; session: NativeSession; key: string; opts: NativeSessionOptions; problem: NativeProblem; i?: number }[] = [];
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
        live.push({ row: g.row, session, key: String(k), opts, problem: g.p.problem, i: g.i });
      } catch (e) {
        markFailed(g.row, e);
      }
    }
    if (live.length === 0) return;
    const samplerOf = (session: NativeSession) => sessionSampler(session, t);
    try {
      const samplers = new Map(live.map((l) => [l.key, samplerOf(l.session)]));
      const measured = await measureInterleaved(samplers, toSamplingOptions(request), signal, request.seed);
      for (const l of live) {
        // interleaving is the default and recorded once (config.interleave, config.sidesInterleaved): no note per row
        fillRow(l.row, toOutcome(measured.get(l.key) as Measurement), l.session, l.opts);
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
          // a fresh session: the failure may have taken the old one with it (a plugin worker
          // that died), and one crashing implementation must cost its own row only
          try {
            l.session.dispose();
          } catch {
            /* already gone */
          }
          l.session = await binding.createSession(l.problem, l.opts);
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

/** How long one --require-quiet probe watches the machine, seconds. */
export const QUIET_PROBE_SECONDS = 1;

/** Thrown when --require-quiet gave up waiting; the CLI exits with EXIT_MACHINE_BUSY. */
export class MachineBusyError extends Error {
  readonly code = 'ERR_DILBENCH_MACHINE_BUSY';
  constructor(
    message: string,
    readonly interference: Interference,
  ) {
    super(message);
    this.name = 'MachineBusyError';
  }
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * --require-quiet: watches the machine in windows of QUIET_PROBE_SECONDS (this process idle)
 * until one is quiet by the point-flagging rule, for at most `maxWaitSeconds`; then refuses.
 */
async function waitForQuiet(
  probe: InterferenceProbe,
  maxWaitSeconds: number,
  sleep: (ms: number) => Promise<void>,
  emit: (e: { type: 'note'; message: string }) => void,
  signal?: AbortSignal,
): Promise<void> {
  let waited = 0;
  let said = false;
  for (;;) {
    if (signal?.aborted) throw new CancelledError();
    const a = probe.snapshot();
    await sleep(QUIET_PROBE_SECONDS * 1000);
    waited += QUIET_PROBE_SECONDS;
    const i = interferenceBetween(a, probe.snapshot(), probe.extras());
    if (!i.flagged) return;
    if (waited >= Math.max(maxWaitSeconds, QUIET_PROBE_SECONDS)) {
      throw new MachineBusyError(
        `--require-quiet: the machine is busy (${i.reason}) and did not become quiet within ${maxWaitSeconds} s; not started`,
        i,
      );
    }
    if (!said) {
      emit({ type: 'note', message: `--require-quiet: machine busy (${i.reason}); waiting up to ${maxWaitSeconds} s for it to become quiet` });
      said = true;
    }
  }
}
