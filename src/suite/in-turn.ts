// The one loop that runs a command's units one after another: runSuite's point groups (stages/
// sample.ts) and the device/dtype sides of `dilbench inference` and `dilbench scaling`. A unit
// that is not runnable is passed over; once the run is stopped (the AbortSignal, or the caller's
// own stop) every unit left is reported as interrupted, never run; a unit that throws is reported
// as failed and the others still run (without an onFailed the error ends the loop, as before).
import type { SideRecord } from '../results/types.js';

export interface InTurnOptions<T, R> {
  signal?: AbortSignal;
  /** units that are not run at all (a side that cannot run here); default: every unit */
  runnable?: (unit: T, index: number) => boolean;
  /** whether the run has stopped before the next unit; default: the signal aborted */
  stopped?: () => boolean;
  run: (unit: T, index: number) => Promise<R>;
  /** a runnable unit left unrun because the run had stopped */
  onInterrupted?: (unit: T, index: number) => void;
  /** a unit whose run threw; without it the error is thrown on */
  onFailed?: (unit: T, error: unknown, index: number) => void;
}

export interface InTurnResult<R> {
  /** what each unit that ran returned, in order */
  results: R[];
  /** the first error a unit threw (onFailed was told of every one) */
  firstError: unknown;
  /** some runnable unit was left unrun because the run had stopped */
  interrupted: boolean;
}

export async function runInTurn<T, R>(
  units: readonly T[],
  o: InTurnOptions<T, R>,
): Promise<InTurnResult<R>> {
  const stopped = o.stopped ?? (() => o.signal?.aborted === true);
  const results: R[] = [];
  let firstError: unknown;
  let interrupted = false;
  for (const [i, unit] of units.entries()) {
    if (o.runnable && !o.runnable(unit, i)) continue;
    if (stopped()) {
      interrupted = true;
      o.onInterrupted?.(unit, i);
      continue;
    }
    try {
      results.push(await o.run(unit, i));
    } catch (e) {
      if (!o.onFailed) throw e;
      firstError ??= e;
      o.onFailed(unit, e, i);
    }
  }
  return { results, firstError, interrupted };
}

/** Why a side was not run: the run was stopped first. */
export const INTERRUPTED_BEFORE_SIDE = 'interrupted before this side ran';

/** A side that failed at run time: skipped, with what failed. */
export function failedSide(side: SideRecord, error: unknown): SideRecord {
  const e = error as { message?: string; code?: string; field?: string };
  const what = [e.code, e.field ? `field ${e.field}` : ''].filter(Boolean).join(', ');
  return {
    device: side.device,
    dtype: side.dtype,
    status: 'skipped',
    reason: `failed at run time: ${e.message ?? String(error)}${what ? ` (${what})` : ''}`,
  };
}

/**
 * Runs the sides whose status is ok, in order, replacing entries of `sides` in place: after an
 * abort the sides not yet run become skipped (INTERRUPTED_BEFORE_SIDE); one that throws (e.g. the
 * device ran out of memory) becomes a skipped side saying what failed (`onFailed` is told) and the
 * others still run.
 */
export async function runEachSide<S extends SideRecord, R>(
  sides: (S | SideRecord)[],
  signal: AbortSignal | undefined,
  run: (side: S) => Promise<R>,
  onFailed: (skipped: SideRecord) => void,
): Promise<InTurnResult<R>> {
  const skipped = (side: SideRecord, reason: string): SideRecord => ({
    device: side.device,
    dtype: side.dtype,
    status: 'skipped',
    reason,
  });
  return runInTurn(sides, {
    signal,
    runnable: (side) => side.status === 'ok',
    run: (side) => run(side as S),
    onInterrupted: (side, i) => {
      sides[i] = skipped(side, INTERRUPTED_BEFORE_SIDE);
    },
    onFailed: (side, e, i) => {
      const failed = failedSide(side, e);
      sides[i] = failed;
      onFailed(failed);
    },
  });
}
