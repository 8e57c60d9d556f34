// Stage 4 of runSuite: samples the planned points, a group at a time (the implementations of a
// point together when interleaving, the sides of a point together with several sides), each
// group's rows sharing the interference window and drift checkpoint they were sampled in. One
// failing point becomes a `failed` row and the rest go on; an AbortSignal stops the run between
// groups (and the native run between iterations), and the run is marked interrupted.
import type {
  NativeBinding,
  NativeCancelToken,
  NativePlan,
  NativeProblem,
  NativeSession,
  NativeSessionOptions,
} from '../../native/binding.js';
import type { PlannedPoint } from '../../plan/planner.js';
import type { ResultRow } from '../../results/types.js';
import { tokensPerIteration } from '../../results/rows.js';
import { decodesCausally } from '../../config/impl-params.js';
import { formatBytes } from '../../config/units.js';
import { elapsedMs, nowMs } from '../../measure/clock.js';
import { DriftRecorder, type PointDrift } from '../../measure/drift.js';
import {
  interferenceBetween,
  type CpuSnapshot,
  type InterferenceProbe,
} from '../../measure/interference.js';
import { measureInterleaved } from '../../measure/scheduler.js';
import { sessionSampler } from '../../measure/session-sampler.js';
import type { Measurement } from '../../measure/types.js';
import {
  CancelledError,
  takeSamples,
  toOutcome,
  toSamplingOptions,
  type SamplingOutcome,
  type SamplingRequest,
} from '../sampling.js';
import { runInTurn } from '../in-turn.js';
import type { RunSide } from '../sides.js';
import type { ProgressEvent, RunDependencies } from '../types.js';
import { CANCELLED, OUT_OF_MEMORY, codeOf, messageOf } from './errors.js';
import { budgetOf, sessionOptionsOf, type PointLayout } from './plan.js';

/** A suite's afterMeasure hook on point i's filled row, its session still alive. */
export type AfterMeasure = (
  row: ResultRow,
  session: NativeSession,
  i: number,
  cancel?: NativeCancelToken,
) => Promise<void> | void;

export interface SampleInputs {
  binding: NativeBinding;
  layout: PointLayout;
  sides: RunSide[];
  planned: PlannedPoint[];
  request: SamplingRequest;
  interleave: boolean;
  threads: number;
  simdLevel: ResultRow['simdLevel'];
  /** the run is not causal: a row that computed causally says so */
  causal: boolean;
  after?: AfterMeasure;
  sampling: NonNullable<RunDependencies['sampling']>;
  probe: InterferenceProbe | null;
  emit: (e: ProgressEvent) => void;
  signal?: AbortSignal;
}

export interface SampledRun {
  /** one row per point, in the order they were sampled */
  rows: ResultRow[];
  interrupted: boolean;
  /** the probe's reading before the first group (the run's interference window starts there) */
  runStart: CpuSnapshot | undefined;
  /** the drift sentinel where the build has it and a probe runs (off in fake-binding tests) */
  drift: DriftRecorder | null;
}

/** Samples every group of points; returns their rows, the drift series and whether it was interrupted. */
export async function samplePoints(x: SampleInputs): Promise<SampledRun> {
  const { binding, layout, sides, planned, request, threads, probe, emit, signal } = x;
  const { points, unavailable } = layout;
  const compareMode = sides.length > 1;
  // planned and estimates, like the layout's per-point arrays: one entry per point (index i)
  const estimates = planned.map((p) => (p.action === 'run' ? p.estimatedSeconds : 0));
  let remaining = estimates.reduce((a, b) => a + b, 0);
  const optionsOf = (i: number) => sessionOptionsOf(layout, i);
  const results: ResultRow[] = [];
  let interrupted = false;
  const runStart = probe?.snapshot();
  const drift =
    probe && typeof binding.fmaSentinel === 'function'
      ? new DriftRecorder(binding.fmaSentinel.bind(binding), threads)
      : null;
  let lastSentinel = Number.NaN;
  if (drift) {
    drift.start();
    lastSentinel = drift.referenceGflops();
  }
  let groupsDone = 0;

  // --interleave: the implementations of a point together; several sides: the sides of a point together
  const groups =
    x.interleave || compareMode
      ? groupByPoint(points, { implementations: x.interleave, sides: compareMode })
      : points.map((_, i) => [i]);
  const sampleGroup = async (group: number[]): Promise<void> => {
    const started = nowMs();
    const before = probe?.snapshot();
    const rows: ResultRow[] = [];
    const runnable: { p: Extract<PlannedPoint, { action: 'run' }>; row: ResultRow; i: number }[] =
      [];
    for (const i of group) {
      const p = planned[i]!;
      const params = withSkippedPrefill(points[i]!.params, p.problem, binding);
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
        row = {
          ...rowBase(p, undefined, threads, x.simdLevel, params),
          status: 'failed',
          reason: p.reason,
          errorCode: p.errorCode,
        };
      } else if (p.action === 'skip') {
        row = {
          ...rowBase(p, unavailable[i] === null ? p.plan : undefined, threads, x.simdLevel, params),
          status: 'skipped',
          reason: p.reason,
        };
        if (unavailable[i] !== null) delete row.estimatedSeconds;
      } else {
        row = rowBase(p, p.plan, threads, x.simdLevel, params);
        if (p.note) row.warnings = [p.note];
        runnable.push({ p, row, i });
      }
      if (row.causal && !x.causal && decodesCausally(row.implementation, binding)) {
        // say what was computed: the run is not causal, decoding is
        row.warnings = [
          ...(row.warnings ?? []),
          'computed causal (decoding is causal by definition) although the run is not',
        ];
      }
      rows.push(row);
      if (group.length === 1 && p.action === 'run') {
        await measurePoint(
          binding,
          p,
          row,
          optionsOf(i),
          request,
          x.sampling,
          signal,
          x.after && ((r, s, c) => x.after!(r, s, i, c)),
        );
      }
    }
    if (group.length > 1 && runnable.length > 0) {
      // all sessions of the point alive at once: only when their memory fits the budget together
      // (per device: a cuda side counts against the device's budget)
      const need = new Map<string, number>();
      for (const r of runnable)
        need.set(r.p.problem.device, (need.get(r.p.problem.device) ?? 0) + r.p.plan.totalBytes);
      const over = [...need.entries()].find(
        ([device, bytes]) => bytes > budgetOf(layout, sides, device),
      );
      const together = over ? over[1] : runnable.reduce((sum, r) => sum + r.p.plan.totalBytes, 0);
      const groupBudget = over ? budgetOf(layout, sides, over[0]) : layout.budgets[0]!;
      if (runnable.length > 1 && !over) {
        await measureInterleavedPoint(binding, runnable, layout.sessionOptions, request, signal, {
          optionsOf,
          after: x.after,
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
          await measurePoint(
            binding,
            r.p,
            r.row,
            optionsOf(r.i),
            request,
            x.sampling,
            signal,
            x.after && ((rw, s, c) => x.after!(rw, s, r.i, c)),
          );
        }
      }
    }
    // every row of the group shares the window it was sampled in
    const contention =
      probe && before
        ? interferenceBetween(before, probe.snapshot(), probe.extras(), threads)
        : null;
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
      emit({
        type: 'point-end',
        index: i,
        total: planned.length,
        row,
        elapsedSeconds: elapsedMs(started) / 1000 / group.length,
      });
    }
  };
  // the one loop over a run's units (in-turn.ts): once stopped (a cancelled row, or the signal)
  // the groups left are not sampled
  await runInTurn(groups, {
    stopped: () => interrupted || signal?.aborted === true,
    onInterrupted: () => {
      interrupted = true;
    },
    run: sampleGroup,
  });
  return { rows: results, interrupted, runStart, drift };
}

/**
 * A kv-cache point whose prefill is skipped records its resolved split in row.params, so that
 * its tokens/s counts the decoded tokens (tokensPerIteration) and the row says what it timed.
 */
function withSkippedPrefill(
  params: Record<string, unknown> | undefined,
  problem: NativeProblem,
  binding: NativeBinding,
): Record<string, unknown> | undefined {
  if (problem.prefill !== 'skip' || typeof binding.resolvedParams !== 'function') return params;
  try {
    return { ...params, ...binding.resolvedParams(problem, 'kv-cache') };
  } catch {
    return params; // an invalid split: the point fails with the native error when planned
  }
}

/** The row of a planned point before it is measured (skipped and failed rows stay so). */
export function rowBase(
  p: PlannedPoint,
  plan: NativePlan | undefined,
  threads: number,
  simd: ResultRow['simdLevel'],
  params?: Record<string, unknown>,
): ResultRow {
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

/**
 * Indices of the points that differ only by implementation (`implementations`) and/or by device
 * and dtype (`sides`), in first-seen order.
 */
export function groupByPoint(
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

/** A row whose measurement failed: the error's message and code, no samples. */
export function markFailed(row: ResultRow, e: unknown): void {
  row.status = 'failed';
  row.reason = messageOf(e);
  row.errorCode = codeOf(e);
  row.samplesMs = [];
  row.stats = null;
  // a plugin that failed its pre-timing validation: the error figures on the row
  const validation = (e as { validation?: ResultRow['validation'] })?.validation;
  if (validation) row.validation = validation;
}

/** Fills an ok row from one point's measurement and its session. */
function fillRow(
  row: ResultRow,
  out: SamplingOutcome,
  session: NativeSession,
  sessionOptions: NativeSessionOptions,
): void {
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
    tokensPerSecond:
      seconds > 0
        ? tokensPerIteration({ ...row, effectiveSeqLen: plan.effectiveSeqLen }) / seconds
        : null,
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
  const cache =
    typeof session.patternCacheStats === 'function' ? session.patternCacheStats() : null;
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
  after?: (
    row: ResultRow,
    session: NativeSession,
    cancel?: NativeCancelToken,
  ) => Promise<void> | void,
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
    after?: (
      row: ResultRow,
      session: NativeSession,
      i: number,
      cancel?: NativeCancelToken,
    ) => Promise<void> | void;
  },
): Promise<void> {
  let token: NativeCancelToken | undefined;
  const onAbort = () => token?.cancel();
  const live: {
    row: ResultRow;
    session: NativeSession;
    key: string;
    opts: NativeSessionOptions;
    problem: NativeProblem;
    i?: number;
  }[] = [];
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
        const opts =
          g.i !== undefined && perPoint?.optionsOf ? perPoint.optionsOf(g.i) : sessionOptions;
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
      const measured = await measureInterleaved(
        samplers,
        toSamplingOptions(request),
        signal,
        request.seed,
      );
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
          fillRow(
            l.row,
            await takeSamples(samplerOf(l.session), request, signal),
            l.session,
            l.opts,
          );
          l.row.warnings = [
            ...(l.row.warnings ?? []),
            `interleaved sampling failed (${why}); measured on its own`,
          ];
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
