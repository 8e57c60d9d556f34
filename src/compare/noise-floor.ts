// The run-to-run noise floor of `dilbench compare` for rows measured once on each side, from the
// history of the same configuration: how far medians of identical configurations moved between
// earlier runs.
import { existsSync } from 'node:fs';
import { readHistory, type HistoryEntry } from '../history/index.js';
import { CompareInputError } from './load.js';
import { HISTORY_FLOOR_FACTOR, HISTORY_MIN_RUNS, rowKey } from './compare.js';

/**
 * Per row key: HISTORY_FLOOR_FACTOR x the standard deviation of log(median) over the earlier
 * runs of that configuration (ok rows not flagged for interference, the compared runs left
 * out), where at least HISTORY_MIN_RUNS runs exist.
 */
export function noiseFloorsOf(
  entries: readonly HistoryEntry[],
  excludeRunIds: readonly string[] = [],
): Map<string, number> {
  const byKey = new Map<string, Map<string, number>>();
  for (const e of entries) {
    if (excludeRunIds.includes(e.runId)) continue;
    const row = e.row;
    const med = row.stats?.medianMs;
    if (row.status !== 'ok' || !(typeof med === 'number' && med > 0) || row.interference?.flagged)
      continue;
    const k = rowKey(row);
    const runs = byKey.get(k) ?? new Map<string, number>();
    runs.set(e.runId, Math.log(med));
    byKey.set(k, runs);
  }
  const out = new Map<string, number>();
  for (const [k, runs] of byKey) {
    const logs = [...runs.values()];
    if (logs.length < HISTORY_MIN_RUNS) continue;
    const mean = logs.reduce((a, b) => a + b, 0) / logs.length;
    const sd = Math.sqrt(logs.reduce((a, b) => a + (b - mean) ** 2, 0) / (logs.length - 1));
    out.set(k, Math.expm1(HISTORY_FLOOR_FACTOR * sd));
  }
  return out;
}

/** Reads a history.jsonl (or the directory holding one); a missing file is a usage error naming it. */
export async function noiseFloorsFromHistory(
  path: string,
  excludeRunIds: readonly string[],
): Promise<Map<string, number>> {
  if (!existsSync(path))
    throw new CompareInputError(`cannot read --history ${path}: no such file or directory`);
  return noiseFloorsOf(readHistory(path), excludeRunIds);
}
