// --repetitions R: the whole plan runs R times, each time in a fresh worker process (as pyperf
// does), so allocation, memory layout and process start-up vary between repetitions as they do
// between real runs. Repetition r of every point runs before repetition r+1 of any, so the
// repetitions of a point are spread over the run and sample its drift too. The R result files
// are merged into one: per row the repetitions' own samples, the pooled statistics.
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResultFile, ResultRow, RepetitionResult } from '../results/types.js';
import { tokensPerIteration } from '../results/rows.js';
import { summarize, median } from '../stats/summary.js';
import { attachRooflines } from '../roofline/index.js';
import { rowKey } from '../compare/compare.js';
import { summarizeRunInterference, type Interference } from '../measure/interference.js';
import { buildSideComparisons } from './side-comparison.js';
import type { RunSide } from './sides.js';
import type { ProgressEvent } from './types.js';

/** What a repetition worker is asked: the suite and its raw options (files, plots and history off). */
export interface RepetitionRequest {
  suite: string;
  options: Record<string, unknown>;
  /** the peak the parent found or measured (rows are placed against it) */
  peak?: import('../roofline/peak-store.js').StoredPeak;
}

/** Runs one repetition and resolves to its result file (default: runRepetitionInWorker). */
export type RepetitionRunner = (
  request: RepetitionRequest,
  opts: { signal?: AbortSignal; onProgress?: (e: ProgressEvent) => void },
) => Promise<ResultFile>;

/** Messages from a worker. */
export type WorkerMessage =
  | { type: 'progress'; event: ProgressEvent }
  | { type: 'result'; file: ResultFile }
  | { type: 'error'; message: string; code?: string };

/** The worker script: beside this module once compiled; from the sources (vitest), the compiled one in dist. */
export function workerScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const beside = join(here, 'repetition-worker.js');
  if (existsSync(beside)) return beside;
  const built = resolve(here, '../../dist/src/suite/repetition-worker.js');
  if (existsSync(built)) return built;
  throw new Error(
    `--repetitions: the worker script is missing (looked for ${beside} and ${built}); run \`npm run build:ts\``,
  );
}

/**
 * Runs one repetition in a fresh Node process. Progress events are forwarded; an abort asks the
 * worker to stop at its next iteration boundary (it then returns its partial, interrupted file).
 */
export function runRepetitionInWorker(
  request: RepetitionRequest,
  opts: { signal?: AbortSignal; onProgress?: (e: ProgressEvent) => void } = {},
): Promise<ResultFile> {
  return new Promise((resolvePromise, reject) => {
    const child = fork(workerScript(), [], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    let settled = false;
    const onAbort = () => child.connected && child.send({ type: 'abort' });
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const done = (f: () => void) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      f();
    };
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') opts.onProgress?.(m.event);
      else if (m.type === 'result') done(() => resolvePromise(m.file));
      else if (m.type === 'error')
        done(() => reject(Object.assign(new Error(m.message), m.code ? { code: m.code } : {})));
    });
    child.on('error', (e) => done(() => reject(e)));
    child.on('exit', (code, sig) =>
      done(() =>
        reject(
          new Error(
            `repetition worker exited (${sig ?? `code ${code}`}) before sending its result`,
          ),
        ),
      ),
    );
    child.send({ type: 'run', request });
  });
}

function repetitionInterference(reps: RepetitionResult[]): Interference | undefined {
  const measured = reps.flatMap((r) => (r.interference ? [r.interference] : []));
  if (measured.length === 0) return undefined;
  const flagged = measured.filter((i) => i.flagged);
  // the first repetition with the most other CPU use
  const worst = measured.reduce((w, i) => ((i.otherCpuPct ?? 0) > (w.otherCpuPct ?? 0) ? i : w));
  const base = flagged[0] ?? worst;
  return {
    ...base,
    flagged: flagged.length > 0,
    reason:
      flagged.length > 0
        ? `in ${flagged.length} of ${reps.length} repetitions: ${base.reason}`
        : null,
  };
}

/** Pooled statistics and rates of a row from its repetitions. */
function pooledRow(
  first: ResultRow,
  reps: RepetitionResult[],
  failures: string[],
  seed: number | undefined,
): ResultRow {
  const samplesMs = reps.flatMap((r) => r.samplesMs);
  const stats = summarize(samplesMs, seed !== undefined ? { seed } : {});
  const seconds = stats.medianMs / 1000;
  const row: ResultRow = {
    ...first,
    samplesMs,
    stats,
    tokensPerSecond: seconds > 0 ? tokensPerIteration(first) / seconds : null,
    gflops: seconds > 0 ? first.flopsPerIteration / seconds / 1e9 : null,
    gbps: seconds > 0 ? first.bytesPerIteration / seconds / 1e9 : null,
    repetitions: reps,
  };
  delete row.roofline;
  const interference = repetitionInterference(reps);
  if (interference) row.interference = interference;
  else delete row.interference;
  if (failures.length)
    row.warnings = [
      ...(row.warnings ?? []),
      `${failures.length} of ${failures.length + reps.length} repetitions did not run: ${failures[0]}`,
    ];
  return row;
}

/**
 * One result file from the repetitions' files (in the order they ran): rows matched by
 * configuration; a row ok in at least one repetition is ok with those repetitions.
 */
export function mergeRepetitions(files: ResultFile[]): ResultFile {
  const first = files[0];
  if (!first) throw new RangeError('mergeRepetitions needs at least one file');
  const seed = typeof first.config.seed === 'number' ? first.config.seed : undefined;
  // per file: row key -> ok rows in file order (duplicates matched in order)
  // and how many of each key are taken so far
  const perFile = files.map((file) => {
    const okByKey = new Map<string, ResultRow[]>();
    for (const r of file.results)
      if (r.status === 'ok') okByKey.set(rowKey(r), [...(okByKey.get(rowKey(r)) ?? []), r]);
    return { file, okByKey, taken: new Map<string, number>() };
  });
  const rows: ResultRow[] = [];
  for (const r0 of first.results) {
    const k = rowKey(r0);
    const reps: RepetitionResult[] = [];
    const failures: string[] = [];
    let template: ResultRow | null = null;
    perFile.forEach(({ file, okByKey, taken }, fi) => {
      const n = taken.get(k) ?? 0;
      taken.set(k, n + 1);
      const ok = okByKey.get(k)?.[n];
      if (ok && ok.samplesMs.length > 0) {
        template ??= ok;
        reps.push({
          index: fi + 1,
          samplesMs: ok.samplesMs,
          medianMs: median(ok.samplesMs),
          ...(ok.stopReason ? { stopReason: ok.stopReason } : {}),
          ...(ok.interference ? { interference: ok.interference } : {}),
        });
      } else {
        const other = file.results.find((x) => rowKey(x) === k && x.status !== 'ok');
        failures.push(other?.reason ?? 'missing from that repetition');
      }
    });
    rows.push(template ? pooledRow(template, reps, failures, seed) : r0);
  }
  const env = first.environment;
  const merged = attachRooflines(rows, { cpu: env.peak, gpu: env.gpuPeak });
  // run-level interference: windows weighted by their length
  const runs = files
    .map((f) => f.interference?.run)
    .filter((x): x is Interference => x !== undefined);
  let interference: ResultFile['interference'];
  const [firstRun] = runs;
  if (firstRun) {
    const total = runs.reduce((s, r) => s + r.windowSeconds, 0) || 1;
    const mean = (pick: (r: Interference) => number | null) =>
      runs.some((r) => pick(r) === null)
        ? null
        : Math.round(
            (runs.reduce((s, r) => s + (pick(r) as number) * r.windowSeconds, 0) / total) * 10,
          ) / 10;
    const run: Interference = {
      ...firstRun,
      otherCpuPct: mean((r) => r.otherCpuPct),
      stealPct: mean((r) => r.stealPct),
      windowSeconds: total,
      flagged: runs.some((r) => r.flagged),
      reason: runs.find((r) => r.flagged)?.reason ?? firstRun.reason,
    };
    interference = summarizeRunInterference(run, merged);
  }
  const sides = first.config.sides as RunSide[] | undefined;
  const comparisons =
    sides && sides.length > 1 ? buildSideComparisons(merged, sides, { seed }) : null;
  const out: ResultFile = {
    ...first,
    runId: randomUUID(),
    ...(files.some((f) => f.interrupted) ? { interrupted: true } : {}),
    config: { ...first.config, repetitions: files.length, repetitionsInFreshProcesses: true },
    results: merged,
    ...(interference ? { interference } : {}),
  };
  if (comparisons) out.comparisons = comparisons;
  else delete out.comparisons;
  return out;
}
