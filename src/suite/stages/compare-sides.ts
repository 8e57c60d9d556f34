// Stage 6 of runSuite: with several sides, each side against its baseline side
// (suite/side-comparison.ts); one side: nothing to compare.
import type { ResultRow, SideComparisons } from '../../results/types.js';
import { buildSideComparisons } from '../side-comparison.js';
import type { RunSide } from '../sides.js';

export function compareSides(
  rows: ResultRow[],
  sides: RunSide[],
  seed: number,
): SideComparisons | null {
  return sides.length > 1 ? buildSideComparisons(rows, sides, { seed }) : null;
}
