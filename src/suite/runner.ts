// The generic suite runner: a run is a sequence of named stages (src/suite/stages/), each a
// function with its own tests: resolve sides -> choose implementations -> plan -> sample ->
// summarise -> compare sides -> assemble. One failing point becomes a `failed` row and the rest
// go on; an AbortSignal stops the run between points (and the native run between iterations) and
// the file is marked `interrupted`.
import { summarizeRunInterference, interferenceBetween } from '../measure/interference.js';
import type { ResultFile, ResultRow } from '../results/types.js';
import { takeSamples } from './sampling.js';
import type {
  CommonRunOptions,
  ProgressEvent,
  RunDependencies,
  SuiteContext,
  SuiteDefinition,
} from './types.js';
import { resolveSides } from './stages/resolve-sides.js';
import { chooseRunImplementations } from './stages/implementations.js';
import {
  calibrateSides,
  deviceMemoryReader,
  layOutPoints,
  planEntryOf,
  planPoints,
  preflight,
  samplingRequest,
} from './stages/plan.js';
import { waitForQuiet } from './stages/quiet.js';
import { sleepMs } from '../measure/clock.js';
import { samplePoints, type AfterMeasure } from './stages/sample.js';
import { matchingPeaks, summariseRows } from './stages/summarise.js';
import { compareSides } from './stages/compare-sides.js';
import { assembleResultFile, dryRunFile, runConfigOf } from './stages/assemble.js';

export { availableImplementations } from './stages/implementations.js';
export { planIterations, samplingRequest } from './stages/plan.js';
export { MachineBusyError, QUIET_PROBE_SECONDS } from './stages/quiet.js';

export async function runSuite<O extends CommonRunOptions>(
  suite: SuiteDefinition<O>,
  requestedOptions: O,
  deps: RunDependencies,
): Promise<ResultFile> {
  const { binding, signal } = deps;
  const emit = (e: ProgressEvent) => {
    try {
      deps.onProgress?.(e);
    } catch {
      /* a progress listener never stops a run */
    }
  };
  const createdAt = (deps.now ?? (() => new Date()))().toISOString();
  const info = binding.info();

  // resolve sides -> choose implementations
  const resolved = resolveSides(requestedOptions, info, emit);
  const { options, sides, compareMode } = resolved;
  const { catalogue, whyNot, implementations } = chooseRunImplementations(
    binding,
    options.implementations,
    sides,
    resolved.cuda,
  );
  const threads = options.threads > 0 ? options.threads : info.hardwareThreads;
  const ctx: SuiteContext = { implementations, threads, binding };

  // plan: the points on every side, the pre-flight check, --require-quiet, calibration, the planner
  const deviceMemory = deviceMemoryReader(info, deps.availableMemoryBytes);
  const layout = layOutPoints(
    suite.points(options, ctx),
    sides,
    options,
    threads,
    whyNot,
    deviceMemory,
  );
  preflight(binding, layout, options.implementations !== undefined, compareMode);
  const request = samplingRequest(options);
  // interleaved by default (--no-interleave: one implementation after another)
  const interleave = options.interleave !== false;
  const probe = deps.interference ?? null;
  if (options.requireQuiet !== undefined && probe) {
    await waitForQuiet(probe, options.requireQuiet, deps.sleep ?? sleepMs, emit, signal);
  }
  const rates = await calibrateSides(
    binding,
    layout,
    sides,
    implementations,
    emit,
    deps.rates,
    signal,
  );
  const planned = planPoints(binding, layout, rates, request, options.maxRunSeconds, compareMode);
  const planEntries = planned.map(planEntryOf);
  const estimatedSeconds = planned.reduce(
    (sum, p) => sum + (p.action === 'run' ? p.estimatedSeconds : 0),
    0,
  );
  emit({
    type: 'plan',
    total: planned.length,
    runnable: planned.filter((p) => p.action === 'run').length,
    estimatedSeconds,
    points: planEntries,
  });
  const config = runConfigOf(suite.config(options, ctx), resolved, {
    implementations,
    threads,
    budgets: layout.budgets,
    request,
    interleave,
  });
  if (deps.dryRun) return dryRunFile(suite.name, createdAt, binding, config, planEntries);

  // sample
  const after: AfterMeasure | undefined = suite.afterMeasure
    ? (row, session, i, cancel) =>
        suite.afterMeasure!({ row, session, binding, point: layout.points[i]!, options, cancel })
    : undefined;
  const sampled = await samplePoints({
    binding,
    layout,
    sides,
    planned,
    request,
    interleave,
    threads,
    simdLevel: info.simdLevel,
    causal: !!(options as { causal?: boolean }).causal,
    after,
    sampling: deps.sampling ?? takeSamples,
    probe,
    emit,
    signal,
  });

  // summarise -> compare sides -> assemble
  const peaks = await matchingPeaks(
    deps.loadPeak,
    threads,
    info.simdLevel,
    info.cuda?.devices?.[0]?.name,
  );
  const finalize = (rs: ResultRow[]): ResultRow[] =>
    suite.finalize ? suite.finalize(rs, options, ctx) : rs;
  const { measuredRows, rows } = summariseRows(sampled.rows, {
    binding,
    catalogue,
    sides,
    peaks,
    finalize,
  });
  const comparisons = compareSides(rows, sides, options.seed);
  const interference =
    probe && sampled.runStart
      ? summarizeRunInterference(
          interferenceBetween(sampled.runStart, probe.snapshot(), probe.extras(), threads),
          rows,
        )
      : null;
  const file = assembleResultFile({
    suite: suite.name,
    createdAt,
    interrupted: sampled.interrupted,
    binding,
    peaks,
    measuredRows,
    environment: deps.environment,
    config,
    rows,
    comparisons,
    interference,
    drift: sampled.drift,
  });
  emit({ type: 'done', file });
  return file;
}
